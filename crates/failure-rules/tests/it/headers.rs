//! Header-aware normalization: a raw log line and its message column get one id;
//! `--header none` and `--header REGEX`; the header shape learnt by `--mine`.
//!
//! The lines are written in the shapes of common log formats (syslog, log4j,
//! bracketed, compact dates, `|` fields, epoch columns); what they test was seen on
//! real labelled logs: headers split events that their messages share.

use assert_cmd::cargo::CommandCargoExt as _;
use std::io::Write as _;
use std::process::{Command, Stdio};

/// `(signature, id)` of every input line.
fn normalize(args: &[&str], input: &str) -> Vec<(String, String)> {
    let mut c = Command::cargo_bin("failure-rules").expect("the failure-rules binary is built");
    let mut child = c
        .arg("normalize")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failure-rules runs");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("exits");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            let _ = f.next();
            let id = f.next().expect("id").to_owned();
            (f.next().unwrap_or("").to_owned(), id)
        })
        .collect()
}

/// (raw line, its message) in the shapes of common formats.
const PAIRS: &[(&str, &str)] = &[
    (
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown",
        "check pass; user unknown",
    ),
    ("Jul  1 09:00:55 host-10-1-2-3 kernel[0]: link up on en0", "link up on en0"),
    (
        "2015-10-18 18:01:47,978 INFO [IPC Server handler 3 on 80] org.example.Listener: Progress of attempt_1_2 is : 0.5",
        "Progress of attempt_1_2 is : 0.5",
    ),
    (
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38 terminating",
        "PacketResponder 1 for block blk_38 terminating",
    ),
    (
        "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
        "mod_jk child workerEnv in error state 6",
    ),
    ("20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579", "onStandStepChanged 3579"),
    (
        "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component is in the unavailable state",
        "1 Component is in the unavailable state",
    ),
    (
        "- 1117838570 2005.06.03 R02-M1-N0 2005-06-03-15.42.50.675872 R02-M1-N0 RAS KERNEL INFO instruction cache parity error corrected",
        "instruction cache parity error corrected",
    ),
];

#[test]
fn a_raw_line_and_its_message_share_an_id() {
    let raw: String = PAIRS.iter().map(|(r, _)| format!("{r}\n")).collect();
    let messages: String = PAIRS.iter().map(|(_, m)| format!("{m}\n")).collect();
    for mine in [false, true] {
        let args: &[&str] = if mine { &["--mine"] } else { &[] };
        let a = normalize(args, &raw);
        let b = normalize(args, &messages);
        assert_eq!(a, b, "mine: {mine}");
    }
}

#[test]
fn header_none_and_regex() {
    let line = "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown\n";
    let none = normalize(&["--header", "none"], line);
    assert!(none[0].0.starts_with("<TS> combo sshd(pam_unix)[<PID>]:"), "{none:?}");
    let regex = normalize(&["--header", r"\S+ +\S+ \S+ \S+ (?<message>.*)"], line);
    assert_eq!(regex[0].0, "sshd(pam_unix)[<PID>]: check pass; user <*>");
    let mut c = Command::cargo_bin("failure-rules").expect("built");
    let out = c.args(["normalize", "--header", "(oops"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid --header expression `(oops`"), "{stderr}");
}

#[test]
fn kinds_of_one_slot_share_an_id_but_print_typed() {
    let got = normalize(
        &[],
        "connection from 10.0.0.1 () at Sun Jul 17 15:09:15 2005\nconnection from 10.0.0.2 (host.example.com) at Sun Jul 17 15:09:16 2005\n",
    );
    assert_eq!(got[0].1, got[1].1);
    assert_eq!(got[0].0, "connection from <IP> () at <TS>");
    assert_eq!(got[1].0, "connection from <IP> (<HOST>) at <TS>");
}

#[test]
fn mining_learns_the_header_shape_for_lines_it_cannot_tell() {
    // Syslog lines; one of them has a component without the `:` (`cron restart
    // done`), so its own header cannot be told: the shape of the others is used.
    let mut input = String::new();
    for i in 0..9 {
        input.push_str(&format!("Jun 14 15:16:{i:02} combo su[1{i}]: session opened for root\n"));
    }
    input.push_str("Jun 14 15:17:00 combo cron restart done\n");
    input.push_str("restart done\n");
    let got = normalize(&["--mine"], &input);
    assert_eq!(got[9].0, "restart done", "{got:?}");
    assert_eq!(got[9].1, got[10].1);
    // Stateless, the unknown header stays part of the line.
    let got = normalize(&[], &input);
    assert_ne!(got[9].1, got[10].1);
}

#[test]
fn words_that_name_a_device_or_a_kind_stay() {
    let got = normalize(
        &[],
        "link up via interface ee0\nlink up via interface alt0\nauth failure; tty=ssh user=root\nauth failure; tty=ssh user=guest\n",
    );
    assert_eq!(got[0].0, "link up via interface ee0");
    assert_ne!(got[0].1, got[1].1);
    assert_eq!(got[2].0, "auth failure; tty=ssh user=root");
    assert_ne!(got[2].1, got[3].1);
}

/// What labelled real logs taught, as small fixtures written in their shapes: which
/// lines are one event (one id) and which are not, stateless and mined alike.
#[test]
fn what_labelled_logs_taught() {
    let same: &[(&str, &str)] = &[
        // One slot, other kinds of value.
        ("iar 00106570 dear 0245c1a8", "iar 0x00106570 dear 120"),
        // A list of one identifier, of any length.
        ("ask 10.0.0.1:50010 to delete  blk_-514 blk_77", "ask 10.0.0.2:50010 to delete  blk_8"),
        // A reverse-DNS job name is a value.
        (
            "com.example.daily.backup: scheduler told me to run this job; ignoring.",
            "org.example.heartbeat: scheduler told me to run this job; ignoring.",
        ),
    ];
    let apart: &[(&str, &str)] = &[
        // Word values of one key are kinds, not instances.
        (
            "auth failure; tty=ssh ruser= rhost=10.0.0.1  user=root",
            "auth failure; tty=ssh ruser= rhost=10.0.0.1  user=guest",
        ),
        // An interface name.
        (
            "link up on network 10.0.0.0 via interface ee0",
            "link up on network 10.0.0.0 via interface alt0",
        ),
    ];
    for mine in [false, true] {
        let args: &[&str] = if mine { &["--mine"] } else { &[] };
        for (a, b) in same {
            let got = normalize(args, &format!("{a}\n{b}\n"));
            assert_eq!(got[0].1, got[1].1, "mine {mine}: {got:?}");
        }
        for (a, b) in apart {
            let got = normalize(args, &format!("{a}\n{b}\n"));
            assert_ne!(got[0].1, got[1].1, "mine {mine}: {got:?}");
        }
    }
    // A few commands before the same words are as many events, even mined.
    let commands =
        "boot  (command 2616)\nwait  (command 4176)\nhalt  (command 3981)\nboot  (command 17)\n";
    let got = normalize(&["--mine"], commands);
    assert_eq!(got[0].1, got[3].1);
    assert_ne!(got[0].1, got[1].1);
    assert_ne!(got[1].1, got[2].1);
}
