#!/usr/bin/env python3
"""Mutation test of doclinks on a real tree, in a git copy (docs/doclinks.md,
"On real trees"). Not part of the build or of CI: it needs a real tree.

usage: mutation-test.py NAME [PAGES] [HEADINGS] [SEED]
  with DOCLINKS (the binary, default target/release/doclinks) and
  CORPORA (the folder holding NAME, default /work/corpora) in the environment.

Copies CORPORA/NAME to /tmp/mut/NAME, commits it, renames / moves (within the
same content folder or version) / re-cases PAGES linked pages with git mv and
rewords HEADINGS linked headings, commits, then runs `doclinks check
--list-links` and `doclinks fix`, and measures recall, precision and whether
each high-confidence fix leads to the page's or heading's new place (judged by
a second `check --list-links`).
"""
import json, os, random, re, shutil, subprocess, sys, collections

B = os.path.abspath(os.environ.get('DOCLINKS', 'target/release/doclinks'))
name = sys.argv[1]
n_pages = int(sys.argv[2]) if len(sys.argv) > 2 else 40
n_head = int(sys.argv[3]) if len(sys.argv) > 3 else 15
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
rng = random.Random(seed)
src = os.path.join(os.environ.get('CORPORA', '/work/corpora'), name)
dst = f'/tmp/mut/{name}'
shutil.rmtree(dst, ignore_errors=True)
os.makedirs('/tmp/mut', exist_ok=True)
shutil.copytree(src, dst, symlinks=True)

def git(*args, check=True):
    return subprocess.run(['git', '-c', 'user.name=m', '-c', 'user.email=m@x', '-c', 'commit.gpgsign=false', *args],
                          cwd=dst, check=check, capture_output=True, text=True).stdout

def check():
    out = subprocess.run([B, 'check', '--format', 'json', '--list-links', '--report-only'], cwd=dst,
                         capture_output=True, text=True)
    return json.loads(out.stdout)

git('init', '-q'); git('add', '-A'); git('commit', '-q', '-m', 'base')
base = check()
links = [l for l in base['links'] if l['leads_to'] == 'file']
inbound = collections.defaultdict(list)
for l in links:
    if l['path'].endswith('.md') and l['path'] != l['file']:
        inbound[l['path']].append(l)
def eligible(p):
    b = os.path.basename(p).lower()
    return not (b.startswith('_') or b in ('index.md', 'readme.md', 'summary.md', 'toc.md') or '/includes/' in p)
pages = [p for p in sorted(inbound) if eligible(p)]
rng.shuffle(pages)
chosen = pages[:n_pages]
moved = {}   # old path -> new path
kinds = {}
dirs = sorted({os.path.dirname(p) for p in inbound})
for i, p in enumerate(chosen):
    d, b = os.path.split(p)
    stem, ext = os.path.splitext(b)
    kind = ['rename', 'move', 'case'][i % 3]
    if kind == 'rename':
        new = os.path.join(d, f'{stem}-moved{ext}')
    elif kind == 'move':
        def top(x):
            parts = x.split('/')
            for i, part in enumerate(parts):
                if part.startswith('version-'):
                    return '/'.join(parts[:i + 1])
            return parts[0]
        siblings = [x for x in dirs if x != d and top(x) == top(d)]
        if not siblings:
            kind = 'rename'; new = os.path.join(d, f'{stem}-moved{ext}')
        else:
            target = rng.choice(siblings)
            new = os.path.join(target, b)
            if os.path.exists(os.path.join(dst, new)):
                new = os.path.join(target, f'{stem}-moved{ext}')
    else:
        new = os.path.join(d, stem[:1].upper() + stem[1:].replace('-', '-', 1) + ext)
        if new == p:
            new = os.path.join(d, stem.upper() + ext)
    if os.path.exists(os.path.join(dst, new)) or new in moved.values():
        continue
    git('mv', p, new)
    moved[p] = new
    kinds[p] = kind

# Reword headings that links point at (in pages not moved).
frag_links = [l for l in links if '#' in l['target'] and l['path'].endswith('.md') and l['path'] not in moved
              and not l['target'].startswith('#tab/')]
by_page = collections.defaultdict(set)
for l in frag_links:
    by_page[l['path']].add(l['target'].split('#', 1)[1])
reworded = {}   # (page, old fragment)
pages_h = sorted(by_page)
rng.shuffle(pages_h)
for page in pages_h[:n_head]:
    text = open(os.path.join(dst, page), encoding='utf-8', errors='surrogateescape').read()
    lines = text.split('\n')
    frags = sorted(by_page[page])
    frag = rng.choice(frags)
    # The heading whose GitHub-style slug is the fragment (approximately).
    def slug(t):
        t = re.sub(r'\{[^}]*\}\s*$', '', t).strip().lower()
        t = re.sub(r'[^\w\- ]', '', t)
        return t.replace(' ', '-')
    for j, line in enumerate(lines):
        m = re.match(r'^(#{1,6})\s+(.*?)\s*$', line)
        if m and slug(m.group(2)) == frag.lower() and '{' not in m.group(2):
            lines[j] = f'{m.group(1)} {m.group(2)} updated'
            reworded[(page, frag)] = j
            break
    else:
        continue
    open(os.path.join(dst, page), 'w', encoding='utf-8', errors='surrogateescape').write('\n'.join(lines))
git('add', '-A'); git('commit', '-q', '-m', 'mutations')
after = check()

def new_file(f):
    return moved.get(f, f)

base_find = {(new_file(f['file']), f['line'], f['column']) for f in base['findings']}
after_find = {(f['file'], f['line'], f['column']): f for f in after['findings']}
after_links = {(l['file'], l['line'], l['column']): l for l in after['links']}

# Expected breaks: links to moved pages, links from moved pages, fragments into reworded headings.
expected = {}
for l in links:
    key = (new_file(l['file']), l['line'], l['column'])
    target_new = new_file(l['path'])
    frag = l['target'].split('#', 1)[1] if '#' in l['target'] else None
    cause = None
    if l['path'] in moved:
        cause = kinds[l['path']]
    elif l['file'] in moved and not l['target'].startswith(('/', '#', '~')) and os.path.dirname(l['file']) != os.path.dirname(moved[l['file']]):
        cause = 'linking page moved'
    if frag and (l['path'], frag) in reworded:
        cause = cause or 'reworded'
    if cause and key not in base_find:
        expected[key] = (cause, target_new, l)

hits = miss = still_ok = 0
misses = []
for key, (cause, target_new, l) in expected.items():
    if key in after_find:
        hits += 1
    else:
        al = after_links.get(key)
        if al and al['leads_to'] == 'file' and al['path'] == target_new and cause != 'reworded':
            still_ok += 1    # the platform still resolves it (case-insensitive paths)
            if os.environ.get('SHOW_OK'): print('OK', cause, key, l['target'], al['path'])
        else:
            miss += 1; misses.append((cause, key, l['target'], al and al['leads_to'], al and al['path']))
new_findings = [k for k in after_find if k not in base_find]
unexplained = [k for k in new_findings if k not in expected]

# Apply the high fixes, then judge them with the resolver.
fixout = subprocess.run([B, 'fix', '--format', 'json'], cwd=dst, capture_output=True, text=True).stdout
applied = json.loads(fixout)
json.dump({'moved': moved, 'kinds': kinds, 'reworded': [list(k) for k in reworded], 'changes': applied['changes']}, open(f'/tmp/mut-{name}-fixes.json', 'w'), indent=1)
final = check()
final_links = {(l['file'], l['line'], l['column']): l for l in final['links']}
final_find = {(f['file'], f['line'], f['column']) for f in final['findings']}
right = wrong = 0
wrongs = []
for c in applied['changes']:
    key = (c['file'], c['line'], c['column'])
    exp = expected.get(key)
    # Earlier fixes on the line shift columns: find the link by its new text.
    fl = next((l for l in final['links'] if l['file'] == c['file'] and l['line'] == c['line'] and l['target'] == c['new']), None)
    ok = fl is not None and fl['leads_to'] in ('file',) and (fl['file'], fl['line'], fl['column']) not in final_find
    if exp:
        cause, target_new, _ = exp
        ok = ok and fl['path'] == target_new
    if ok:
        right += 1
    else:
        wrong += 1; wrongs.append((c, exp and exp[0], fl))
broken_expected = hits
high_right = sum(1 for c in applied['changes'] if (c['file'], c['line'], c['column']) in expected) - sum(1 for w in wrongs if w[1])
print(json.dumps({
    'tree': name, 'platform': after['platform']['name'],
    'pages_mutated': len(moved), 'kinds': collections.Counter(kinds.values()), 'headings_reworded': len(reworded),
    'expected_breaks': len(expected), 'reported': hits, 'still_resolving_on_platform': still_ok, 'missed': miss,
    'recall': round(hits / max(1, hits + miss), 4),
    'new_findings': len(new_findings), 'unexplained_new_findings': len(unexplained),
    'precision': round(1 - len(unexplained) / max(1, len(new_findings)), 4),
    'high_fixes_applied': len(applied['changes']), 'high_fixes_right': right, 'high_fixes_wrong': wrong,
    'breaks_repaired_high_and_right': round(high_right / max(1, hits), 4),
}, default=dict, indent=1))
for m in misses[:10]: print('MISS', m)
for k in unexplained[:10]: print('UNEXPLAINED', k, after_find[k]['target'], after_find[k]['kind'])
for w in wrongs[:15]: print('WRONG', w)
if os.environ.get('SHOW_LOW'):
    for key, (cause, target_new, l) in expected.items():
        f = after_find.get(key)
        if f and (not f['fix'] or f['fix']['confidence'] != 'high'):
            print('NOTHIGH', cause, key, f['kind'], f['target'], f['fix'] and (f['fix']['new_target'], f['fix']['confidence'], f['fix']['reason']))
