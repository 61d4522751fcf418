//! `move-group` with several groups as ONE journaled operation (the `move-groups` kind):
//! exactly one journal file per batch with the batch op and a record per group; `history`
//! lists it as one entry with the report's counts; a partial batch (a group lock held by
//! another process) and a batch cut by a crash and finished by `resume` are undone byte for
//! byte; `resume --dry-run` plans the rest of a cut batch. Real binary, real files, real
//! flocks.

use crate::support;

use std::path::PathBuf;

use pbs_mover::tree::{GroupId, Namespace};
use support::api::{
    CancelToken, GROUP_RENAME_OFF_ENV, MoveContext, MoveGroupRequest, Progress, ProgressEvent,
    move_groups, pending,
};
use support::{HeldLock, Store, exit_code, json, stderr};

const T: [&str; 3] = [
    "2024-01-01T00:00:00Z",
    "2024-02-01T00:00:00Z",
    "2024-03-01T00:00:00Z",
];

/// a: vm/100 (3 snapshots, notes), vm/101 (2), vm/150 (1), ct/100 (1); b: empty. Everything
/// `backup:backup` where that user exists, so an undone tree compares uid for uid.
fn store() -> Store {
    let s = Store::empty(&["", "a", "b"]);
    s.add_group("a", "vm/100", "root@pam", &T);
    std::fs::write(s.group_dir("a", "vm/100").join("notes"), "vm notes\n").unwrap();
    s.add_group("a", "vm/101", "root@pam", &T[..2]);
    s.add_group("a", "vm/150", "root@pam", &T[..1]);
    s.add_group("a", "ct/100", "root@pam", &T[..1]);
    let _ = std::process::Command::new("chown")
        .args(["-R", "backup:backup"])
        .arg(&s.base)
        .output();
    s
}

const BATCH: &[&str] = &[
    "move-group",
    "--ns",
    "a",
    "--group",
    "vm/1*",
    "--group",
    "ct/100",
    "--target-ns",
    "b",
];

fn journals(s: &Store) -> Vec<PathBuf> {
    support::journals_in(&s.state_dir())
}

fn history(s: &Store) -> Vec<serde_json::Value> {
    let out = s.run(&["history", "--json"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    json(&out)["moves"].as_array().unwrap().clone()
}

fn ok(s: &Store, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = s.run(&a);
    assert_eq!(exit_code(&out), 0, "{args:?}: {}", stderr(&out));
    json(&out)
}

#[test]
#[ignore = "needs root"]
fn a_cli_batch_is_one_journal_with_the_batch_op_and_one_history_entry() {
    support::require_root();
    let s = store();
    ok(&s, BATCH);
    let files = journals(&s);
    assert_eq!(files.len(), 1, "one journal for the whole batch: {files:?}");
    let recs = support::journal_records(&files[0]);
    let op = &recs[0]["op"];
    assert_eq!(recs[0]["e"], "begin");
    assert_eq!(op["kind"], "move-groups", "{op}");
    assert_eq!(op["ns"], "a");
    assert_eq!(op["target_ns"], "b");
    assert_eq!(
        op["groups"],
        serde_json::json!(["vm/100", "vm/101", "vm/150", "ct/100"]),
        "the batch, in the order it moves"
    );
    let groups: Vec<&str> = recs
        .iter()
        .filter(|r| r["e"] == "group")
        .map(|r| r["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["vm/100", "vm/101", "vm/150", "ct/100"]);
    assert_eq!(recs.last().unwrap()["e"], "done");
    assert_eq!(recs.last().unwrap()["status"], "ok");
    let h = history(&s);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["status"], "ok");
    assert_eq!(h[0]["groups"], 4);
    assert_eq!(h[0]["snapshots_renamed"], 7);
    let described = h[0]["op"].as_str().unwrap();
    assert!(
        described.starts_with("move-group of 4 groups (vm/100, vm/101, vm/150, …) 'a' -> 'b'"),
        "{described}"
    );
    support::assert_nothing_to_resume(&s.run(&["resume"]));
    // A single exact --group is the plain move-group operation, as it always was.
    ok(
        &s,
        &[
            "move-group",
            "--ns",
            "b",
            "--group",
            "vm/150",
            "--target-ns",
            "a",
        ],
    );
    let files = journals(&s);
    assert_eq!(files.len(), 2);
    assert_eq!(
        support::journal_records(&files[1])[0]["op"]["kind"],
        "move-group"
    );
}

#[test]
#[ignore = "needs root"]
fn a_partial_batch_is_one_entry_and_undo_restores_the_tree_byte_for_byte() {
    support::require_root();
    let s = store();
    let before = s.snapshot();
    let lock = s.lock_paths().group(
        &Namespace::parse("a").unwrap(),
        &GroupId::parse("vm/150").unwrap(),
    );
    let held = HeldLock::flock(&lock, false);
    let mut args = BATCH.to_vec();
    args.push("--json");
    let out = s.run(&args);
    assert_eq!(exit_code(&out), 4, "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["moved"].as_array().unwrap().len(), 3, "{j}");
    assert_eq!(j["failed"][0]["group"], "vm/150", "{j}");
    assert_eq!(j["failed"][0]["reason"], "lock-conflict", "{j}");
    assert_eq!(journals(&s).len(), 1);
    let h = history(&s);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["status"], "partial");
    assert_eq!(h[0]["groups"], 3);
    assert_eq!(h[0]["snapshots_renamed"], 6);
    let undo = ok(&s, &["undo", "--last"]);
    assert_eq!(undo["moved"].as_array().unwrap().len(), 3, "{undo}");
    drop(held);
    assert_eq!(before, s.snapshot(), "the partial batch undone exactly");
    let h = history(&s);
    assert_eq!(h.len(), 1, "an undo is no entry of its own");
    assert_eq!(h[0]["undone"], true);
    // Undone: `resume` does not retry the group the lock kept back.
    let resumed = ok(&s, &["resume"]);
    assert_eq!(resumed["nothing_to_do"], true, "{resumed}");
    assert_eq!(before, s.snapshot());
}

#[test]
#[ignore = "needs root"]
fn resume_moves_the_rest_of_a_partial_batch_once_the_lock_is_gone() {
    support::require_root();
    let clean = store();
    ok(&clean, BATCH);
    let s = store();
    let lock = s.lock_paths().group(
        &Namespace::parse("a").unwrap(),
        &GroupId::parse("vm/150").unwrap(),
    );
    let held = HeldLock::flock(&lock, false);
    assert_eq!(exit_code(&s.run(BATCH)), 4);
    drop(held);
    let resumed = support::assert_resumed(&s.run(&["resume", "--json"]));
    assert_eq!(resumed["moved"][0]["group"], "vm/150", "{resumed}");
    assert_eq!(s.snapshot(), clean.snapshot());
    let h = history(&s);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["status"], "ok");
    assert_eq!(h[0]["groups"], 4);
}

#[test]
#[ignore = "needs root"]
fn a_batch_whose_namespace_is_locked_is_busy_and_journals_nothing() {
    support::require_root();
    let s = store();
    // Another process moves namespace `a` (PBS's exclusive namespace lock).
    let held = HeldLock::flock(
        &s.lock_paths().ns_lock(&Namespace::parse("a").unwrap()),
        false,
    );
    s.assert_busy(BATCH, "namespace");
    assert!(
        journals(&s).is_empty(),
        "busy before the journal: nothing to resume"
    );
    drop(held);
    ok(&s, BATCH);
    // The text listing names the batch once.
    let out = s.run(&["history"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("ok          move-group of 4 groups (vm/100, vm/101, vm/150, …) 'a' -> 'b'  (4 group(s), 7 snapshot(s))"),
        "{text}"
    );
}

/// Cut while the second group's snapshots move: vm/100's 3 renames, then vm/101's first.
const CUT: &str = "after-rename:4";

#[test]
#[ignore = "needs root"]
fn a_batch_cut_mid_way_is_planned_and_finished_by_resume_and_undone_exactly() {
    support::require_root();
    let clean = store();
    ok(&clean, BATCH);
    let s = store();
    let before = s.snapshot();
    // Snapshot by snapshot (no whole-group rename) so the cut splits a group.
    let out = s
        .cmd()
        .env(GROUP_RENAME_OFF_ENV, "1")
        .env("PBS_MOVER_FAILPOINT", CUT)
        .args(BATCH)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.code().is_none(), "not cut: {}", stderr(&out));
    assert_eq!(journals(&s).len(), 1);
    // The TUI's resume prompt lists it as one move of the whole batch.
    let ctx = MoveContext::filesystem(s.locate(), &s.locks).with_journal_dir(s.state_dir());
    let listed = pending(&ctx).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].kind, "move-group");
    assert_eq!(listed[0].source, "4 groups in 'a'");
    assert_eq!(listed[0].target, "'b'");
    assert_eq!(listed[0].state, "interrupted");
    assert_eq!(
        (listed[0].groups_done, listed[0].groups_total),
        (1, 4),
        "groups not reached yet count"
    );
    assert_eq!(listed[0].snapshots_moved, 4);
    let out = s.run(&["resume", "--dry-run", "--json"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let plan = json(&out);
    let op = &plan["operations"][0];
    assert!(
        op["op"]
            .as_str()
            .unwrap()
            .starts_with("move-group of 4 groups"),
        "{op}"
    );
    assert_eq!(op["state"], "interrupted");
    assert_eq!(op["in_flight"].as_array().unwrap().len(), 1, "{op}");
    assert_eq!(op["in_flight"][0]["group"], "vm/101", "{op}");
    assert_eq!(op["in_flight"][0]["action"], "finish", "{op}");
    assert_eq!(op["in_flight"][0]["snapshots_at_target"], 1, "{op}");
    let actions = op["actions"].to_string();
    assert!(
        actions.contains("move what is still at the source of 3 group(s) in 'a' to 'b'"),
        "{actions}"
    );
    let planned: Vec<&str> = plan["moved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["group"].as_str().unwrap())
        .collect();
    assert_eq!(planned, ["vm/101", "vm/150", "ct/100"], "{plan}");
    let resumed = s.run(&["resume", "--json"]);
    support::assert_resumed(&resumed);
    assert_eq!(
        s.snapshot(),
        clean.snapshot(),
        "resume finished the batch exactly as an uninterrupted run"
    );
    let h = history(&s);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["status"], "ok");
    assert_eq!(h[0]["groups"], 4);
    assert_eq!(h[0]["snapshots_renamed"], 7);
    ok(&s, &["undo", "--last"]);
    assert_eq!(before, s.snapshot(), "every group of the batch moved back");
}

#[test]
#[ignore = "needs root"]
fn a_batch_cancelled_after_its_first_group_is_undone_exactly() {
    support::require_root();
    let s = store();
    let before = s.snapshot();
    let ctx = MoveContext::filesystem(s.locate(), &s.locks).with_journal_dir(s.state_dir());
    let cancel = CancelToken::new();
    let token = cancel.clone();
    // The user cancels as soon as the first group is done (the engine checks between
    // snapshots and before each group).
    let progress = Progress::new(
        move |ev| {
            if matches!(ev, ProgressEvent::GroupDone { .. }) {
                token.cancel();
            }
        },
        cancel,
    );
    let reqs: Vec<MoveGroupRequest> = ["vm/100", "vm/101", "ct/100"]
        .iter()
        .map(|g| MoveGroupRequest {
            ns: Namespace::parse("a").unwrap(),
            group: GroupId::parse(g).unwrap(),
            target_ns: Namespace::parse("b").unwrap(),
            merge: true,
        })
        .collect();
    let report = move_groups(&ctx, &reqs, &progress).unwrap();
    assert_eq!(report.moved.len(), 1, "{report:?}");
    assert_eq!(report.failed.len(), 2, "{report:?}");
    assert_eq!(journals(&s).len(), 1);
    let h = history(&s);
    assert_eq!(h[0]["status"], "cancelled", "{h:?}");
    assert_eq!(h[0]["groups"], 1);
    assert!(s.group_dir("b", "vm/100").is_dir());
    // Cancelled on purpose: `resume` leaves it; `undo` takes back what it moved.
    let resumed = ok(&s, &["resume"]);
    assert_eq!(resumed["nothing_to_do"], true, "{resumed}");
    ok(&s, &["undo", "--last"]);
    assert_eq!(before, s.snapshot(), "the cancelled batch undone exactly");
}
