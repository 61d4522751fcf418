//! `resume --dry-run`: what resume would do to each cut move (finish or roll back each group
//! caught in flight, then move what is left), read from the journal and the disk, with
//! nothing changed: no snapshot, lock file or journal line.

use crate::support::{Store, TreeSnapshot, exit_code, json, require_root, stderr};

const MOVE: &[&str] = &["move-group", "--group", "vm/100", "--target-ns", "a"];

fn cut_store(failpoint: &str) -> Store {
    let s = Store::empty(&["", "a"]);
    let times = [
        "2024-01-01T10:00:00Z",
        "2024-01-02T10:00:00Z",
        "2024-01-03T10:00:00Z",
    ];
    s.add_group("", "vm/100", "root@pam", &times);
    s.cut_at(&s.state_dir(), failpoint, MOVE);
    s
}

/// Everything in the test's temp dir: datastore, lock dir and state dir.
fn everything(s: &Store) -> TreeSnapshot {
    TreeSnapshot::of(s.tmp.path())
}

fn dry_run(s: &Store) -> serde_json::Value {
    let before = everything(s);
    let out = s.run(&["resume", "--dry-run", "--json"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(everything(s), before, "resume --dry-run changed something");
    json(&out)
}

#[test]
#[ignore = "needs root"]
fn dry_run_of_a_group_cut_mid_move_says_finish_and_changes_nothing() {
    require_root();
    let s = cut_store("after-rename:1");
    let j = dry_run(&s);
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["op"], "resume");
    assert_eq!(j["dry_run"], true);
    assert_eq!(j["nothing_to_do"], false);
    let op = &j["operations"][0];
    assert!(op["op"].as_str().unwrap().contains("vm/100"), "{op}");
    assert_eq!(op["state"], "interrupted");
    assert_eq!(op["in_flight"][0]["action"], "finish", "{op}");
    assert_eq!(op["in_flight"][0]["snapshots_at_target"], 1, "{op}");
    assert_eq!(op["in_flight"][0]["snapshots_at_source"], 2, "{op}");
    assert_eq!(j["moved"][0]["snapshots"], 2, "the rest would follow: {j}");
    // The human form says the same, on stdout.
    let text = s.run(&["resume", "--dry-run"]);
    assert_eq!(exit_code(&text), 0, "{}", stderr(&text));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("finish group vm/100"), "{stdout}");
    // The real resume still finds the move and finishes it as planned.
    let done = s.run(&["resume", "--json"]);
    crate::support::assert_resumed(&done);
    assert_eq!(s.snapshot_dirs("a", "vm/100").len(), 3);
}

#[test]
#[ignore = "needs root"]
fn dry_run_of_a_move_cut_before_its_first_rename_says_roll_back() {
    require_root();
    let s = cut_store("after-owner:1");
    let j = dry_run(&s);
    let op = &j["operations"][0];
    assert_eq!(op["in_flight"][0]["action"], "roll-back", "{op}");
    assert_eq!(op["in_flight"][0]["snapshots_at_target"], 0, "{op}");
    let actions = op["actions"].to_string();
    assert!(
        actions.contains("remove the empty target group"),
        "{actions}"
    );
}

#[test]
#[ignore = "needs root"]
fn dry_run_with_nothing_to_resume_says_so() {
    require_root();
    let s = Store::empty(&["", "a"]);
    let j = dry_run(&s);
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["nothing_to_do"], true, "{j}");
    assert_eq!(j["operations"], serde_json::json!([]));
}
