//! `undo` and `history` through the real binary: a move undone restores the datastore byte
//! for byte (contents, owners, notes, modes, uid/gid), also merges into existing groups and
//! namespaces and partial moves; undo by ID; a second undo is refused; every refusal is one
//! clear line with exit 1 and changes nothing; a lock held by another process (real flock)
//! is exit 3 and changes nothing; `history` shows times, durations, counts and undone marks.

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
#[ignore = "needs root"]
fn second_undo_says_already_undone_and_changes_nothing() {
    support::require_root();
    let fx = Fx::new();
    let before = fx.tree();
    fx.ok(&["move-ns", "--ns", "prod", "--target-ns", "archive/prod"]);
    fx.ok(&["undo", "--last"]);
    assert_eq!(before, fx.tree());
    let id = fx.ids()[0].clone();
    assert_refused(&fx, &["undo", &id], "already undone");
    // `--last` skips undone moves: an undo is never redone by it.
    assert_refused(&fx, &["undo", "--last"], "undone already");
    // An older move is still `--last`'s once the newer one is undone.
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    fx.ok(&[
        "move-group",
        "--ns",
        "archive",
        "--group",
        "vm/100",
        "--target-ns",
        "prod",
    ]);
    fx.ok(&["undo", "--last"]);
    fx.ok(&["undo", "--last"]);
    assert_eq!(before, fx.tree());
    assert_eq!(
        fx.ids().len(),
        3,
        "an undo is no move of its own in the history"
    );
}

#[test]
#[ignore = "needs root"]
fn undo_of_a_merge_into_an_existing_group_restores_the_tree_byte_for_byte() {
    support::require_root();
    let fx = Fx::new();
    // The target group has an older snapshot and no notes: the source's notes move along.
    fx.s.add_group("archive", "vm/100", "root@pam", &["2023-01-01T00:00:00Z"]);
    backup_owned(&fx.s.base);
    let before = fx.tree();
    let out = fx.ok(&[
        "move-group",
        "--group",
        "vm/100",
        "--target-ns",
        "archive",
        "--json",
    ]);
    assert_eq!(json(&out)["moved"][0]["snapshots"], 3);
    assert_eq!(fx.s.snapshot_dirs("archive", "vm/100").len(), 4);
    assert!(!fx.s.group_dir("", "vm/100").exists());
    let out = fx.ok(&["undo", "--last", "--json"]);
    let j = json(&out);
    assert_eq!(j["moved"][0]["snapshots"], 3, "{j}");
    assert_eq!(before, fx.tree(), "owner, notes, modes, uid/gid as before");
}

#[test]
#[ignore = "needs root"]
fn undo_of_a_merge_puts_back_the_notes_the_target_kept_out() {
    support::require_root();
    let fx = Fx::new();
    fx.s.add_group("archive", "vm/100", "root@pam", &["2023-01-01T00:00:00Z"]);
    let target_notes = fx.s.group_dir("archive", "vm/100").join("notes");
    std::fs::write(&target_notes, "archive's own notes\n").unwrap();
    backup_owned(&fx.s.base);
    let before = fx.tree();
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    assert_eq!(
        std::fs::read_to_string(&target_notes).unwrap(),
        "archive's own notes\n"
    );
    fx.ok(&["undo", "--last"]);
    assert_eq!(before, fx.tree(), "both groups' notes as they were");
}

#[test]
#[ignore = "needs root"]
fn move_ns_into_an_existing_namespace_says_so_and_undo_restores_it_byte_for_byte() {
    support::require_root();
    let fx = Fx::new();
    // `archive` holds a group of its own and one that `prod`'s merges into.
    fx.s.add_group("archive", "vm/300", "x@pbs", &T[..1]);
    fx.s.add_group(
        "archive",
        "host/web",
        "admin@pbs",
        &["2023-06-01T00:00:00Z"],
    );
    backup_owned(&fx.s.base);
    let before = fx.tree();
    let args = ["move-ns", "--ns", "prod", "--target-ns", "archive"];
    // Human results may go to either stream (issue 16.6 moves them to stdout).
    let said = |o: &Output| format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(o));
    let plan = fx.ok(&[&args[..], &["--dry-run"]].concat());
    assert!(
        said(&plan).contains("merging into existing namespace 'archive'"),
        "{}",
        said(&plan)
    );
    let plan = json(&fx.ok(&[&args[..], &["--dry-run", "--json"]].concat()));
    assert_eq!(plan["merge_into_existing"], "archive", "{plan}");
    assert_eq!(plan["plan"]["merge_into_existing"], "archive", "{plan}");
    let out = fx.ok(&args);
    assert!(
        said(&out).contains("merging into existing namespace 'archive'"),
        "{}",
        said(&out)
    );
    assert!(!fx.s.ns_dir("prod").exists());
    assert_eq!(fx.s.snapshot_dirs("archive", "host/web").len(), 3);
    assert!(fx.s.group_dir("archive/db", "ct/200").is_dir());
    fx.ok(&["undo", "--last"]);
    assert_eq!(
        before,
        fx.tree(),
        "archive as before, prod back, archive/db gone"
    );
}

#[test]
#[ignore = "needs root"]
fn undo_of_a_namespace_move_keeps_a_group_added_since_and_moves_back_the_rest() {
    support::require_root();
    let fx = Fx::new();
    fx.ok(&["move-ns", "--ns", "prod", "--target-ns", "archive/prod"]);
    fx.s.add_group("archive/prod/db", "vm/7", "x@pbs", &T[..1]);
    let out = fx.ok(&["undo", "--last", "--json"]);
    let j = json(&out);
    assert_eq!(j["moved"].as_array().unwrap().len(), 2, "{j}");
    let warnings = j["warnings"].to_string();
    assert!(warnings.contains("kept namespace 'archive/prod/db'"), "{j}");
    assert!(fx.s.group_dir("prod", "host/web").is_dir());
    assert!(fx.s.group_dir("prod/db", "ct/200").is_dir());
    assert!(fx.s.group_dir("archive/prod/db", "vm/7").is_dir());
}

#[test]
#[ignore = "needs root"]
fn undo_of_a_namespace_move_moves_back_beside_a_group_created_since_in_the_old_namespace() {
    support::require_root();
    let fx = Fx::new();
    fx.ok(&["move-ns", "--ns", "prod", "--target-ns", "archive/prod"]);
    std::fs::create_dir_all(fx.s.ns_dir("prod")).unwrap();
    fx.s.add_group("prod", "vm/9", "x@pbs", &T[..1]);
    fx.ok(&["undo", "--last"]);
    assert!(fx.s.group_dir("prod", "host/web").is_dir());
    assert!(fx.s.group_dir("prod/db", "ct/200").is_dir());
    assert!(
        fx.s.group_dir("prod", "vm/9").is_dir(),
        "the new group stays"
    );
    assert!(!fx.s.ns_dir("archive/prod").exists());
}

#[test]
#[ignore = "needs root"]
fn undo_refused_when_a_moved_snapshot_is_back_at_its_old_place() {
    support::require_root();
    let fx = Fx::new();
    fx.s.add_group("archive", "vm/100", "root@pam", &["2023-01-01T00:00:00Z"]);
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    // Someone put a snapshot of that time back at the source.
    fx.s.add_group("", "vm/100", "root@pam", &T[..1]);
    assert_refused(
        &fx,
        &["undo", "--last"],
        "vm/100/2024-01-01T00:00:00Z is in both",
    );
}

#[test]
#[ignore = "needs root"]
fn undo_of_a_partial_move_moves_back_what_moved() {
    support::require_root();
    let fx = Fx::new();
    let before = fx.tree();
    // Another process holds `prod/db`'s group lock throughout: that group stays behind.
    let held = HeldLock::flock(&fx.group_lock("prod/db", "ct/200"), false);
    let out = fx.run(&[
        "move-ns",
        "--ns",
        "prod",
        "--target-ns",
        "archive/prod",
        "--json",
    ]);
    assert_eq!(exit_code(&out), 4, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["moved"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["failed"][0]["group"], "ct/200", "{report}");
    let history = json(&fx.ok(&["history", "--json"]));
    assert_eq!(history["moves"][0]["status"], "partial", "{history}");
    assert_eq!(history["moves"][0]["groups"], 1, "{history}");
    assert_eq!(history["moves"][0]["snapshots_renamed"], 2, "{history}");
    fx.ok(&["undo", "--last"]);
    drop(held);
    assert_eq!(before, fx.tree());
    // Undone: `resume` does not retry the partial move any more.
    let resumed = json(&fx.ok(&["resume", "--json"]));
    assert_eq!(resumed["nothing_to_do"], true, "{resumed}");
    assert_eq!(before, fx.tree());
}

#[test]
#[ignore = "needs root"]
fn history_shows_dates_durations_counts_of_the_report_and_undone_marks() {
    support::require_root();
    let fx = Fx::new();
    let out = fx.ok(&["history"]);
    let empty = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        empty.starts_with("no moves in the journal of datastore 'store1'"),
        "{empty}"
    );
    let j = json(&fx.ok(&["history", "--json"]));
    assert_eq!(j["moves"].as_array().unwrap().len(), 0, "{j}");

    let r1 = json(&fx.ok(&[
        "move-group",
        "--group",
        "vm/100",
        "--target-ns",
        "archive",
        "--json",
    ]));
    let r2 = json(&fx.ok(&[
        "move-ns",
        "--ns",
        "prod",
        "--target-ns",
        "archive/prod",
        "--json",
    ]));
    fx.ok(&["undo", "--last"]);
    let j = json(&fx.ok(&["history", "--json"]));
    assert_eq!(j["ok"], true);
    assert_eq!(j["op"], "history");
    let moves = j["moves"].as_array().unwrap();
    assert_eq!(
        moves.len(),
        2,
        "the undo marks its move, it is no entry: {j}"
    );
    for (m, report) in moves.iter().zip([&r1, &r2]) {
        let reported = report["moved"].as_array().unwrap();
        assert_eq!(
            m["groups"].as_u64().unwrap() as usize,
            reported.len(),
            "{m}"
        );
        let snapshots: u64 = reported
            .iter()
            .map(|g| g["snapshots"].as_u64().unwrap())
            .sum();
        assert_eq!(m["snapshots_renamed"], snapshots, "{m}");
        assert_eq!(m["status"], "ok", "{m}");
        let started = m["started"].as_u64().unwrap();
        assert!(started > 1_700_000_000, "{m}");
        assert!(m["ended"].as_u64().unwrap() >= started, "{m}");
        assert!(m["duration_secs"].as_u64().unwrap() < 600, "{m}");
        assert!(m["started_at"].as_str().unwrap().ends_with('Z'), "{m}");
    }
    assert_eq!(moves[0]["op"], "move-group vm/100 '' -> 'archive'");
    assert_eq!(moves[0]["undone"], false);
    assert_eq!(moves[1]["op"], "move-ns 'prod' -> 'archive/prod'");
    assert_eq!(moves[1]["groups"], 2);
    assert_eq!(moves[1]["undone"], true);
    assert!(moves[1]["undone_at"].as_u64().is_some());

    let text = String::from_utf8_lossy(&fx.ok(&["history"]).stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for (line, m) in lines.iter().zip(moves) {
        assert!(line.starts_with(m["id"].as_str().unwrap()), "{line}");
        assert!(line.contains(m["started_at"].as_str().unwrap()), "{line}");
        assert!(line.contains(m["op"].as_str().unwrap()), "{line}");
        assert!(line.contains("  ok  "), "{line}");
    }
    assert!(
        lines[0].ends_with("(1 group(s), 3 snapshot(s))"),
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("UNDONE"), "{}", lines[0]);
    assert!(
        lines[1].contains("(2 group(s), 3 snapshot(s))  UNDONE at 20"),
        "{}",
        lines[1]
    );
}

#[test]
fn a_journal_of_the_previous_version_lists_and_undo_refuses_it_clearly() {
    let fx = Fx::new();
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    // Rewrite the journal as the previous version wrote it: no owner, type dir, end time.
    let dir = fx.state().join("store1");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let old: String = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .filter(|l| !l.contains(r#""e":"ended""#))
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if let Some(o) = v.as_object_mut() {
                o.remove("owner");
                o.remove("type_existed");
            }
            v.to_string() + "\n"
        })
        .collect();
    std::fs::write(&file, old).unwrap();
    let j = json(&fx.ok(&["history", "--json"]));
    assert_eq!(j["moves"][0]["status"], "ok", "{j}");
    assert_eq!(j["moves"][0]["groups"], 1, "{j}");
    assert_eq!(
        j["moves"][0]["duration_secs"],
        serde_json::Value::Null,
        "{j}"
    );
    let text = String::from_utf8_lossy(&fx.ok(&["history"]).stdout).into_owned();
    assert!(text.contains("      -  ok"), "{text}");
    assert_refused(&fx, &["undo", "--last"], "older pbs-mover");
}

#[test]
#[ignore = "needs root"]
fn an_undo_cut_short_by_a_crash_is_left_to_undo_and_finished_by_running_it_again() {
    support::require_root();
    let fx = Fx::new();
    fx.s.add_group("archive", "vm/100", "root@pam", &["2023-01-01T00:00:00Z"]);
    backup_owned(&fx.s.base);
    let before = fx.tree();
    fx.ok(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    let id = fx.ids()[0].clone();
    // Killed after the second snapshot went back.
    fx.s.cut_at(&fx.state(), "after-rename:2", &["undo", &id]);
    assert_eq!(fx.s.snapshot_dirs("", "vm/100").len(), 2);
    let h = json(&fx.ok(&["history", "--json"]));
    assert_eq!(h["moves"][0]["undo_incomplete"], true, "{h}");
    let text = String::from_utf8_lossy(&fx.ok(&["history"]).stdout).into_owned();
    assert!(text.contains("UNDO INCOMPLETE"), "{text}");
    // `resume` leaves a move being undone alone: it would move the snapshots forth again.
    let cut = fx.tree();
    let resumed = json(&fx.ok(&["resume", "--json"]));
    assert_eq!(resumed["nothing_to_do"], true, "{resumed}");
    assert_eq!(cut, fx.tree());
    let out = json(&fx.ok(&["undo", &id, "--json"]));
    assert_eq!(
        out["moved"][0]["snapshots"], 1,
        "the one still at the target: {out}"
    );
    assert_eq!(before, fx.tree());
    assert_refused(&fx, &["undo", &id], "already undone");
}

/// S3: the bucket's objects and the local cache are as before the move, byte for byte.
#[cfg(feature = "s3-server")]
fn assert_s3_undo_restores(args: &[&str]) {
    use support::s3::S3Store;
    let s = S3Store::demo(40);
    backup_owned(&s.store.base);
    let objects = s.objects();
    let cache = s.store.snapshot();
    let out = s.run(args);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_ne!(objects, s.objects(), "the move moved objects");
    let out = s.run(&["undo", "--last", "--json"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["ok"], true);
    assert_eq!(objects, s.objects(), "bucket as before");
    assert_same_tree(&cache, &s.store.snapshot());
    let out = s.run(&["undo", "--last"]);
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
}

#[cfg(feature = "s3-server")]
#[test]
#[ignore = "needs root"]
fn s3_undo_of_a_group_move_restores_bucket_and_cache() {
    support::require_root();
    assert_s3_undo_restores(support::MOVE_VM100_TO_PROD);
}

#[cfg(feature = "s3-server")]
#[test]
#[ignore = "needs root"]
fn s3_undo_of_a_namespace_move_restores_bucket_and_cache() {
    support::require_root();
    assert_s3_undo_restores(support::MOVE_NS_PROD_TO_ARCHIVE);
}

/// Equal trees, or the paths that differ (a whole demo tree is too long to read).
#[cfg(feature = "s3-server")]
fn assert_same_tree(before: &TreeSnapshot, after: &TreeSnapshot) {
    let differ: Vec<String> = before
        .0
        .iter()
        .filter(|(k, v)| after.0.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: {v:?} -> {:?}", after.0.get(k)))
        .chain(
            after
                .0
                .iter()
                .filter(|(k, _)| !before.0.contains_key(*k))
                .map(|(k, v)| format!("{k}: new {v:?}")),
        )
        .collect();
    assert!(differ.is_empty(), "cache differs:\n{}", differ.join("\n"));
}

#[cfg(feature = "s3-server")]
#[test]
#[ignore = "needs root"]
fn s3_undo_of_a_merge_into_an_existing_group_restores_bucket_and_cache() {
    support::require_root();
    use support::s3::S3Store;
    let store = Store::empty(&["", "archive"]);
    store.add_group("", "vm/100", "root@pam", &T);
    std::fs::write(store.group_dir("", "vm/100").join("notes"), "vm notes\n").unwrap();
    store.add_group("archive", "vm/100", "root@pam", &["2023-01-01T00:00:00Z"]);
    backup_owned(&store.base);
    let s = S3Store::upload(store);
    let objects = s.objects();
    let cache = s.store.snapshot();
    let out = s.run(&["move-group", "--group", "vm/100", "--target-ns", "archive"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(s.objects().contains_key("ns/archive/vm/100/notes"));
    let out = s.run(&["undo", "--last"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        objects,
        s.objects(),
        "bucket as before: notes back, none left at the target"
    );
    assert_same_tree(&cache, &s.store.snapshot());
}

#[test]
#[ignore = "needs root"]
fn undo_refused_when_the_old_namespace_of_a_group_is_gone() {
    support::require_root();
    let fx = Fx::new();
    fx.ok(&support::move_group_from("prod", "host/web", "archive"));
    // `prod` still holds `prod/db`: remove that and `prod` itself by hand.
    fx.ok(&["move-ns", "--ns", "prod/db", "--target-ns", "archive/db"]);
    std::fs::remove_dir_all(fx.s.ns_dir("prod")).unwrap();
    let first = fx.ids()[0].clone();
    assert_refused(
        &fx,
        &["undo", &first],
        "namespace 'prod' that group 'host/web' came from no longer exists",
    );
}

#[test]
#[ignore = "needs root"]
fn undo_of_a_move_of_an_empty_namespace_restores_it() {
    support::require_root();
    let fx = Fx::new();
    std::fs::create_dir_all(fx.s.ns_dir("scratch/tmp")).unwrap();
    backup_owned(&fx.s.base);
    let before = fx.tree();
    fx.ok(&[
        "move-ns",
        "--ns",
        "scratch",
        "--target-ns",
        "archive/scratch",
    ]);
    assert!(!fx.s.ns_dir("scratch").exists());
    assert!(fx.s.ns_dir("archive/scratch/tmp").is_dir());
    fx.ok(&["undo", "--last"]);
    assert_eq!(before, fx.tree());
}

#[cfg(feature = "s3-server")]
#[test]
#[ignore = "needs root"]
fn s3_undo_of_a_batch_restores_bucket_and_cache() {
    support::require_root();
    use support::s3::S3Store;
    let store = Store::empty(&["", "archive"]);
    for g in ["vm/100", "vm/101", "ct/200"] {
        store.add_group("", g, "root@pam", &T);
    }
    std::fs::write(store.group_dir("", "vm/100").join("notes"), "vm notes\n").unwrap();
    backup_owned(&store.base);
    let s = S3Store::upload(store);
    let objects = s.objects();
    let cache = s.store.snapshot();
    let out = s.run(&[
        "move-group",
        "--group",
        "*/*",
        "--target-ns",
        "archive",
        "--json",
    ]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["moved"].as_array().unwrap().len(), 3);
    assert_ne!(objects, s.objects(), "the batch moved objects");
    let out = s.run(&["undo", "--last", "--json"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["moved"].as_array().unwrap().len(), 3);
    assert_eq!(objects, s.objects(), "bucket as before");
    assert_same_tree(&cache, &s.store.snapshot());
}
