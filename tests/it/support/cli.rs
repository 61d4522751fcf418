//! The real binary's outputs: exit codes, stderr, the one JSON line, the one error line, and
//! the argument lists several suites share.

use std::process::Output;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_pbs-mover");

/// Fails a root-only test (marked `#[ignore = "needs root"]`) that was run without root,
/// instead of letting it pass without testing anything.
pub fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root: run it as root with `--run-ignored all` (as .ci/run does)"
    );
}

pub fn exit_code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Where the human results of a command go (diagnostics go to stderr).
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn json(o: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "exactly one JSON line on stdout, got: {text:?}"
    );
    serde_json::from_str(lines[0]).unwrap()
}

/// Exactly one `error: ` line on stderr and no panic; returns that line.
pub fn error_line(o: &Output) -> String {
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "exactly one error line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    lines[0].to_string()
}

/// `resume --json` that found one cut move and completed it; returns its JSON.
pub fn assert_resumed(o: &Output) -> serde_json::Value {
    let j = json(o);
    assert_eq!(exit_code(o), 0, "resume: {j} {}", stderr(o));
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["nothing_to_do"], false, "{j}");
    assert_eq!(j["operations"][0]["status"], "completed", "{j}");
    assert!(!j["moved"].as_array().unwrap().is_empty(), "{j}");
    j
}

/// A (text) `resume` with nothing left to do, saying so (a result: on stdout).
pub fn assert_nothing_to_resume(o: &Output) {
    assert_eq!(exit_code(o), 0, "{}", stderr(o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("nothing to resume"), "{out} {}", stderr(o));
}

/// `move-group vm/100 → prod` with `--json`: the demo store's usual move.
pub const MOVE_VM100_TO_PROD: &[&str] = &[
    "move-group",
    "--group",
    "vm/100",
    "--target-ns",
    "prod",
    "--json",
];

/// `move-ns src → other/moved` with merging off (crash harness scenario).
pub const MOVE_NS_NO_MERGE: &[&str] = &[
    "move-ns",
    "--ns",
    "src",
    "--target-ns",
    "other/moved",
    "--no-merge",
];

/// `move-ns prod → archive/prod` with `--json` (the demo store's usual namespace move).
pub const MOVE_NS_PROD_TO_ARCHIVE: &[&str] = &[
    "move-ns",
    "--ns",
    "prod",
    "--target-ns",
    "archive/prod",
    "--json",
];

/// [`MOVE_NS_PROD_TO_ARCHIVE`] with `--dry-run`.
pub const MOVE_NS_PROD_TO_ARCHIVE_DRY_RUN: &[&str] = &[
    "move-ns",
    "--ns",
    "prod",
    "--target-ns",
    "archive/prod",
    "--dry-run",
    "--json",
];

/// `move-group --ns ns --group group --target-ns target`.
pub fn move_group_from<'a>(ns: &'a str, group: &'a str, target: &'a str) -> [&'a str; 7] {
    [
        "move-group",
        "--ns",
        ns,
        "--group",
        group,
        "--target-ns",
        target,
    ]
}
