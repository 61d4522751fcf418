//! `undo` and `history` through the real binary: a move undone restores the datastore byte
//! for byte (contents, owners, notes, modes, uid/gid); undo by ID and undo of an undo; every
//! refusal is one clear line with exit 1 and changes nothing; a lock held by another process
//! (real flock) is exit 3 and changes nothing.

use crate::support;

use std::path::PathBuf;
use std::process::{Output, Stdio};

use pbs_mover::tree::{GroupId, Namespace};
use support::api::LockPaths;
use support::{HeldLock, Store, TreeSnapshot, error_line, exit_code, json, stderr};

const T: [&str; 3] = [
    "2024-01-01T00:00:00Z",
    "2024-01-02T00:00:00Z",
    "2024-01-03T00:00:00Z",
];

struct Fx {
    s: Store,
}

impl Fx {
    /// `prod` with two groups and a child namespace, `archive` empty, `vm/100` at the root.
    fn new() -> Self {
        let s = Store::empty(&["", "prod", "prod/db", "archive"]);
        s.add_group("", "vm/100", "root@pam", &T);
        std::fs::write(s.group_dir("", "vm/100").join("notes"), "vm notes\n").unwrap();
        s.add_group("prod", "host/web", "admin@pbs", &T[..2]);
        std::fs::write(s.group_dir("prod", "host/web").join("notes"), "web\n").unwrap();
        s.add_group("prod/db", "ct/200", "db@pbs", &T[..1]);
        backup_owned(&s.base);
        Self { s }
    }

    fn state(&self) -> PathBuf {
        self.s.tmp.path().join("state")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.s
            .cmd()
            .env("PBS_MOVER_STATE_DIR", self.state())
            .env_remove("PBS_MOVER_FAILPOINT")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(exit_code(&out), 0, "{args:?}: {}", stderr(&out));
        out
    }

    fn tree(&self) -> TreeSnapshot {
        self.s.snapshot()
    }

    /// The IDs `history --json` lists, oldest first.
    fn ids(&self) -> Vec<String> {
        let j = json(&self.ok(&["history", "--json"]));
        j["moves"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn group_lock(&self, ns: &str, group: &str) -> PathBuf {
        LockPaths::with_lock_dir(self.s.locks.clone(), "store1").group(
            &Namespace::parse(ns).unwrap(),
            &GroupId::parse(group).unwrap(),
        )
    }
}

/// Like a real datastore: everything `backup:backup` (when that user exists), so a restored
/// tree can be compared uid for uid with the original.
fn backup_owned(dir: &std::path::Path) {
    let out = std::process::Command::new("chown")
        .args(["-R", "backup:backup"])
        .arg(dir)
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!("no backup user here; the tree stays root-owned");
    }
}

/// Undo refused: exit 1, one line naming `needle`, the datastore untouched.
fn assert_refused(fx: &Fx, args: &[&str], needle: &str) {
    let before = fx.tree();
    let out = fx.run(args);
    assert_eq!(exit_code(&out), 1, "{args:?}: {}", stderr(&out));
    let line = error_line(&out);
    assert!(line.contains(needle), "{line}");
    assert_eq!(before, fx.tree(), "{args:?} changed the datastore");
}

#[test]
fn undo_last_of_a_group_move_restores_the_tree_byte_for_byte() {
    let fx = Fx::new();
    let before = fx.tree();
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    assert!(fx.s.group_dir("archive", "vm/100").is_dir());
    let out = fx.ok(&["undo", "--last", "--json"]);
    let j = json(&out);
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["op"], "undo");
    assert_eq!(j["moved"][0]["group"], "vm/100");
    assert_eq!(j["moved"][0]["ns"], "archive");
    assert_eq!(j["moved"][0]["target_ns"], "");
    assert_eq!(j["moved"][0]["snapshots"], 3);
    assert_eq!(
        before,
        fx.tree(),
        "contents, owners, notes, modes, owners restored"
    );
}

#[test]
fn undo_last_of_a_namespace_move_restores_the_tree_byte_for_byte() {
    let fx = Fx::new();
    let before = fx.tree();
    fx.ok(&["move-ns", "--ns", "prod", "--target-ns", "archive/prod"]);
    assert!(!fx.s.ns_dir("prod").exists());
    assert!(fx.s.group_dir("archive/prod/db", "ct/200").is_dir());
    fx.ok(&["undo", "--last"]);
    assert_eq!(before, fx.tree());
}

#[test]
fn undo_by_id_takes_back_that_move_only() {
    let fx = Fx::new();
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    let after_first = fx.tree();
    fx.ok(&support::move_group_from("prod", "host/web", "archive"));
    let ids = fx.ids();
    assert_eq!(ids.len(), 2);
    let out = fx.ok(&["undo", &ids[1], "--json"]);
    assert_eq!(json(&out)["moved"][0]["group"], "host/web");
    assert_eq!(after_first, fx.tree(), "only the second move was undone");
    assert!(fx.s.group_dir("archive", "vm/100").is_dir());
}

#[test]
fn undo_of_an_undo_moves_it_again() {
    let fx = Fx::new();
    fx.ok(&["move-ns", "--ns", "prod", "--target-ns", "archive/prod"]);
    let moved = fx.tree();
    fx.ok(&["undo", "--last"]);
    assert!(fx.s.ns_dir("prod").is_dir());
    // The undo is a move of its own: the newest finished one, so --last takes it back.
    fx.ok(&["undo", "--last"]);
    assert_eq!(moved, fx.tree());
    assert_eq!(fx.ids().len(), 3);
}

#[test]
fn undo_dry_run_changes_nothing_and_shows_the_reverse() {
    let fx = Fx::new();
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    let moved = fx.tree();
    let out = fx.ok(&["undo", "--last", "--dry-run", "--json"]);
    let j = json(&out);
    assert_eq!(j["dry_run"], true, "{j}");
    assert_eq!(j["moved"][0]["ns"], "archive", "{j}");
    assert_eq!(moved, fx.tree());
    assert_eq!(fx.ids().len(), 1, "a dry run journals nothing");
}

#[test]
fn undo_refused_when_the_moved_group_changed() {
    let fx = Fx::new();
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    // A backup ran into the moved group afterwards.
    let snap =
        fx.s.group_dir("archive", "vm/100")
            .join("2024-02-01T00:00:00Z");
    std::fs::create_dir(&snap).unwrap();
    std::fs::write(snap.join("index.json.blob"), "new").unwrap();
    assert_refused(&fx, &["undo", "--last"], "changed since the move");
    // Dry run refuses the same way.
    assert_refused(
        &fx,
        &["undo", "--last", "--dry-run"],
        "changed since the move",
    );
}

#[test]
fn undo_refused_when_the_group_was_moved_again() {
    let fx = Fx::new();
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    let first = fx.ids()[0].clone();
    fx.ok(&support::move_group_from("archive", "vm/100", "prod"));
    assert_refused(&fx, &["undo", &first], "no longer in 'archive'");
}

#[test]
fn undo_refused_when_the_old_place_is_taken() {
    let fx = Fx::new();
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    fx.s.add_group("", "vm/100", "root@pam", &["2025-01-01T00:00:00Z"]);
    assert_refused(&fx, &["undo", "--last"], "exists again in '/'");
}

#[test]
fn undo_of_a_namespace_move_refused_when_a_group_was_added_to_it() {
    let fx = Fx::new();
    fx.ok(&["move-ns", "--ns", "prod", "--target-ns", "archive/prod"]);
    fx.s.add_group("archive/prod/db", "vm/7", "x@pbs", &T[..1]);
    assert_refused(
        &fx,
        &["undo", "--last"],
        "'vm/7' in 'archive/prod/db' was not part",
    );
}

#[test]
fn undo_of_a_namespace_move_refused_when_the_old_namespace_has_groups_again() {
    let fx = Fx::new();
    fx.ok(&["move-ns", "--ns", "prod", "--target-ns", "archive/prod"]);
    std::fs::create_dir_all(fx.s.ns_dir("prod")).unwrap();
    fx.s.add_group("prod", "vm/9", "x@pbs", &T[..1]);
    assert_refused(&fx, &["undo", "--last"], "holds group 'vm/9' again");
}

#[test]
fn undo_of_a_merge_is_refused() {
    let fx = Fx::new();
    fx.s.add_group("archive", "vm/100", "root@pam", &["2023-01-01T00:00:00Z"]);
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    assert_refused(&fx, &["undo", "--last"], "merged 3 snapshot(s)");
}

#[test]
fn undo_with_an_unknown_id_or_nothing_to_undo() {
    let fx = Fx::new();
    assert_refused(&fx, &["undo", "--last"], "no finished move to undo");
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    assert_refused(&fx, &["undo", "1-2-3-4"], "no move with ID '1-2-3-4'");
    let before = fx.tree();
    let out = fx.run(&["undo", "1-2-3-4", "--json"]);
    assert_eq!(exit_code(&out), 1);
    let j = json(&out);
    assert_eq!(j["ok"], false);
    assert_eq!(j["op"], "undo");
    assert!(j["error"].as_str().unwrap().contains("1-2-3-4"), "{j}");
    assert_eq!(before, fx.tree());
}

#[test]
fn undo_of_an_unfinished_move_asks_for_resume_first() {
    let fx = Fx::new();
    fx.s.cut_at(
        &fx.state(),
        "after-rename:1",
        &["move-group", "--group", "vm/100", "--target-ns", "archive"],
    );
    let id = fx.ids()[0].clone();
    assert_refused(&fx, &["undo", &id], "run 'pbs-mover resume' first");
    fx.ok(&["resume"]);
    // Finished by resume: the undo now restores the original tree.
    fx.ok(&["undo", &id]);
    assert!(fx.s.group_dir("", "vm/100").join(T[2]).is_dir());
    assert!(!fx.s.group_dir("archive", "vm/100").exists());
}

#[test]
fn undo_while_another_process_holds_the_group_lock_is_busy() {
    let fx = Fx::new();
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    let moved = fx.tree();
    let held = HeldLock::flock(&fx.group_lock("archive", "vm/100"), false);
    let out = fx.run(&["undo", "--last", "--json"]);
    assert_eq!(exit_code(&out), 3, "busy: {}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["ok"], false);
    assert_eq!(j["failed"][0]["reason"], "lock-conflict", "{j}");
    let msg = j["failed"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains(&held.pid.to_string()),
        "names the holder: {msg}"
    );
    assert_eq!(moved, fx.tree(), "nothing changed");
    drop(held);
    // Retried once the lock is gone, the same undo goes through.
    fx.ok(&["undo", "--last"]);
    assert!(fx.s.group_dir("", "vm/100").is_dir());
}

#[test]
fn history_lists_every_move_in_text_and_json() {
    let fx = Fx::new();
    let out = fx.ok(&["history"]);
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    fx.ok(&["move-ns", "--ns", "prod", "--target-ns", "archive/prod"]);
    fx.ok(&["undo", "--last"]);
    let j = json(&fx.ok(&["history", "--json"]));
    assert_eq!(j["ok"], true);
    assert_eq!(j["op"], "history");
    let moves = j["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 3, "{j}");
    assert_eq!(moves[0]["op"], "move-group vm/100 '' -> 'archive'");
    assert_eq!(moves[0]["status"], "ok");
    assert_eq!(moves[0]["groups"], 1);
    assert_eq!(moves[0]["snapshots_renamed"], 3);
    assert_eq!(moves[1]["op"], "move-ns 'prod' -> 'archive/prod'");
    assert_eq!(moves[1]["groups"], 2);
    assert_eq!(moves[2]["op"], "move-ns 'archive/prod' -> 'prod'");
    assert!(moves.iter().all(|m| m["started"].as_u64().unwrap() > 0));
    let text = String::from_utf8_lossy(&fx.ok(&["history"]).stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, m) in lines.iter().zip(moves) {
        assert!(line.starts_with(m["id"].as_str().unwrap()), "{line}");
        assert!(line.contains(m["op"].as_str().unwrap()), "{line}");
        assert!(line.contains("ok"), "{line}");
    }
    assert!(
        lines[0].ends_with("(1 group(s), 3 snapshot(s))"),
        "{}",
        lines[0]
    );
}
