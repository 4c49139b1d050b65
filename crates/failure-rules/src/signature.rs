//! Signatures and rule ids: `Type: normalized message`, plus the in-app frames of a
//! traceback, hashed with the normalizer version into `rule_<sha256>`.

use sha2::{Digest, Sha256};

use crate::normalize::{NORMALIZER_VERSION, Scratch, normalize_into};

/// A signature cut into the parts template mining treats differently: the type and
/// the frames never vary, the message tokens may.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Parts {
    /// `ValueError` (without the colon), or empty for a bare log line.
    pub(crate) ty: String,
    /// The normalized message.
    pub(crate) body: String,
    /// `mod:func > mod:func`, or empty.
    pub(crate) frames: String,
}

impl Parts {
    pub(crate) fn render(&self) -> String {
        let mut s = String::with_capacity(self.ty.len() + self.body.len() + self.frames.len() + 5);
        if !self.ty.is_empty() {
            s.push_str(&self.ty);
            s.push_str(": ");
        }
        s.push_str(&self.body);
        if !self.frames.is_empty() {
            s.push_str(" @ ");
            s.push_str(&self.frames);
        }
        s
    }
}

/// Computes signatures, reusing its buffers between calls.
#[derive(Debug, Default)]
pub(crate) struct Signer {
    scratch: Scratch,
    out: String,
}

impl Signer {
    /// The parts of the signature of one error.
    pub(crate) fn parts(
        &mut self,
        error_type: &str,
        message: &str,
        traceback: Option<&str>,
    ) -> Parts {
        let ty = error_type.trim();
        let frames = traceback.map(in_app_frames).unwrap_or_default();
        // With a traceback, Sentry-style: the first message line only.
        let message = if traceback.is_some_and(|t| !t.trim().is_empty()) {
            message.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
        } else {
            message
        };
        normalize_into(message, &mut self.out, &mut self.scratch);
        Parts { ty: ty.to_owned(), body: self.out.clone(), frames }
    }

    /// The normalized body only, in the signer's buffer.
    pub(crate) fn normalize_line(&mut self, line: &str) -> &str {
        normalize_into(line, &mut self.out, &mut self.scratch);
        &self.out
    }
}

/// `ValueError: rest` → (`ValueError`, `rest`), when the first word is an exception type.
pub(crate) fn split_type(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start();
    // The type is the first word, ending in `:`.
    let colon = match line.as_bytes().iter().position(|&c| c == b' ') {
        Some(space) if space > 0 && line.as_bytes()[space - 1] == b':' => space - 1,
        None if line.ends_with(':') => line.len() - 1,
        _ => return None,
    };
    let ty = &line[..colon];
    let looks_like_type = !ty.is_empty()
        && ty.as_bytes()[0].is_ascii_alphabetic()
        && ty.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'$'))
        && ["Error", "Exception", "Warning", "Exit", "Interrupt", "Fault", "Failure"]
            .iter()
            .any(|end| ty.len() > end.len() && ty.ends_with(end));
    looks_like_type.then(|| (ty, line.get(colon + 2..).unwrap_or("")))
}

/// The signature of one error: `Type: normalized message` (and ` @ frames`).
pub fn signature(error_type: &str, message: &str, traceback: Option<&str>) -> String {
    Signer::default().parts(error_type, message, traceback).render()
}

/// The rule id of a signature: `rule_` and the SHA-256 of the normalizer version and
/// the signature, so that new normalization rules give new ids.
pub fn rule_id(signature: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(NORMALIZER_VERSION.as_bytes());
    hasher.update(b"\n");
    hasher.update(signature.as_bytes());
    let digest = hasher.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(5 + 64);
    id.push_str("rule_");
    for byte in digest {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 15)]));
    }
    id
}

/// Frames of library code are left out of a signature: they are the same for every
/// caller and change with library versions.
fn is_library_path(path: &str) -> bool {
    let p = path.replace('\\', "/");
    [
        "site-packages/",
        "dist-packages/",
        "/lib/python",
        "<frozen",
        "/usr/lib/",
        "/rustc/",
        "/.cargo/registry/",
        "/node_modules/",
    ]
    .iter()
    .any(|m| p.contains(m))
        || p.starts_with('<')
}

fn is_library_java(class: &str) -> bool {
    [
        "java.",
        "javax.",
        "sun.",
        "jdk.",
        "kotlin.",
        "scala.",
        "org.junit.",
        "org.springframework.",
        "org.apache.",
    ]
    .iter()
    .any(|m| class.starts_with(m))
}

/// The in-app frames of a Python or Java traceback as `module:function`, in the order
/// the traceback lists them (Python: outermost first; Java: innermost first), without
/// line numbers.
pub(crate) fn in_app_frames(traceback: &str) -> String {
    let mut frames: Vec<String> = Vec::new();
    for line in traceback.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("File \"") {
            // Python: File "/app/handlers.py", line 42, in get_user
            let Some(end) = rest.find('"') else { continue };
            let path = &rest[..end];
            let func = rest.rsplit_once(", in ").map(|(_, f)| f.trim()).unwrap_or("?");
            if is_library_path(path) {
                continue;
            }
            let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
            let mut module = file.strip_suffix(".py").unwrap_or(file);
            if module == "__init__" {
                module = path.rsplit(['/', '\\']).nth(1).unwrap_or(module);
            }
            frames.push(format!("{module}:{func}"));
        } else if let Some(rest) = line.strip_prefix("at ") {
            // Java: at com.example.Service.load(Service.java:42)
            let Some(open) = rest.find('(') else { continue };
            let qualified = &rest[..open];
            if is_library_java(qualified) {
                continue;
            }
            if let Some((class, method)) = qualified.rsplit_once('.') {
                frames.push(format!("{class}:{method}"));
            }
        }
    }
    frames.join(" > ")
}
