//! Moves on a real filesystem datastore through the real binary, with locks held by other
//! processes, checksums of every file before and after, and the PBS side effects (move
//! journal, lock files, ownership).

use crate::support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use pbs_mover::tree::{Namespace, SnapshotTime};
use support::api::GROUP_RENAME_OFF_ENV;
use support::{HeldLock, Store, TreeSnapshot, exit_code, gid, json, ns, stderr};

/// `move-group vm/100` from `a` to `b` with `--json` (the merge tests' move).
const MOVE_A_VM100_TO_B: &[&str] = &[
    "move-group",
    "--ns",
    "a",
    "--group",
    "vm/100",
    "--target-ns",
    "b",
    "--json",
];

/// `move-group vm/100` from the root to `prod` with `--json` and `env`; must exit 0.
fn move_vm100_to_prod(store: &Store, env: &[(&str, &str)]) -> serde_json::Value {
    let out = store
        .cmd()
        .envs(env.iter().copied())
        .args(support::MOVE_VM100_TO_PROD)
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    json(&out)
}

#[test]
fn move_group_relocates_every_file_unchanged() {
    let store = Store::demo(40);
    let before = store.snapshot();
    let times = store.snapshot_dirs("", "vm/100");
    let owner_before = std::fs::read(store.group_dir("", "vm/100").join("owner")).unwrap();

    let j = move_vm100_to_prod(&store, &[]);
    assert_eq!(j["ok"], true);
    assert_eq!(j["op"], "move-group");
    assert_eq!(j["dry_run"], false);
    assert_eq!(j["moved"][0]["ns"], "");
    assert_eq!(j["moved"][0]["group"], "vm/100");
    assert_eq!(j["moved"][0]["target_ns"], "prod");
    assert_eq!(j["moved"][0]["snapshots"], times.len());
    assert_eq!(j["failed"].as_array().unwrap().len(), 0);
    assert!(j["error"].is_null());

    let after = store.snapshot();
    // Nothing lost, nothing changed: every snapshot file exists once with the same content.
    assert_eq!(before.snapshot_files(), after.snapshot_files());
    assert!(!store.group_dir("", "vm/100").exists());
    assert_eq!(store.snapshot_dirs("prod", "vm/100"), times);
    assert_eq!(
        std::fs::read(store.group_dir("prod", "vm/100").join("owner")).unwrap(),
        owner_before
    );
    // Everything else in the datastore is untouched.
    let untouched = |t: &TreeSnapshot| -> Vec<(String, support::Entry)> {
        t.0.iter()
            .filter(|(p, _)| {
                !p.starts_with("vm/100") && !p.starts_with("ns/prod/vm/100") && *p != "vm"
            })
            .map(|(p, e)| (p.clone(), e.clone()))
            .collect()
    };
    assert_eq!(untouched(&before), untouched(&after));
}

#[test]
fn move_journal_holds_the_new_index_paths() {
    let store = Store::demo(40);
    let out = store.run(&["move-group", "--group", "vm/100", "--target-ns", "prod"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let journal = std::fs::read_to_string(store.store_locks().join("move-journal")).unwrap();
    let mut lines: Vec<&str> = journal.lines().collect();
    lines.sort();
    let base = store.base.canonicalize().unwrap();
    let mut expected = Vec::new();
    for t in store.snapshot_dirs("prod", "vm/100") {
        let dir = base.join("ns/prod/vm/100").join(&t);
        for e in std::fs::read_dir(&dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".fidx") || name.ends_with(".didx") {
                expected.push(dir.join(name).display().to_string());
            }
        }
    }
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(
        lines,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for line in lines {
        assert!(
            std::path::Path::new(line).is_file(),
            "{line} exists after the move"
        );
    }
}

/// Snapshot dirs of a group dir, each with its index file (`root.pxar.didx`).
fn indexes_in(dir: &std::path::Path) -> Vec<(String, std::path::PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| SnapshotTime::parse(n).is_ok())
        .map(|n| {
            let p = dir.join(&n).join("root.pxar.didx");
            (n, p)
        })
        .collect()
}

/// PBS's GC phase 1 run in a loop against a move of several lock batches (the engine appends
/// a whole batch to the move journal before its renames): list index files, walk the target
/// group *before* the source (the order that misses a snapshot renamed in between), then
/// drain the journal. Every snapshot listed at the start must be marked by the walk or the
/// drain, or a real GC would sweep its chunks.
#[test]
fn simulated_gc_never_misses_a_moved_snapshot() {
    let store = Store::empty(&["src", "dst"]);
    let times: Vec<String> = (0..1300)
        .map(|i| SnapshotTime::from_epoch(1_600_000_000 + i * 60).to_string())
        .collect();
    let refs: Vec<&str> = times.iter().map(String::as_str).collect();
    store.add_group("src", "ct/200", "root@pam", &refs);
    let paths = store.lock_paths();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gc = {
        let (paths, stop) = (paths.clone(), stop.clone());
        let (src, dst) = (
            store.group_dir("src", "ct/200"),
            store.group_dir("dst", "ct/200"),
        );
        std::thread::spawn(move || {
            let mut lost = Vec::new();
            let mut cycles = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut listed = indexes_in(&src);
                listed.extend(indexes_in(&dst));
                std::thread::sleep(std::time::Duration::from_millis(2));
                let mut marked: std::collections::HashSet<String> =
                    indexes_in(&dst).into_iter().map(|(t, _)| t).collect();
                // The walk takes long between namespaces: renames land in between.
                std::thread::sleep(std::time::Duration::from_millis(5));
                marked.extend(indexes_in(&src).into_iter().map(|(t, _)| t));
                let _ = support::api::move_journal::drain_move_journal(&paths, |p| {
                    if p.exists() {
                        let t = p.parent().and_then(|d| d.file_name());
                        marked.extend(t.map(|t| t.to_string_lossy().into_owned()));
                    }
                    Ok(())
                });
                lost.extend(listed.into_iter().filter(|(t, _)| !marked.contains(t)));
                cycles += 1;
                // Phase 2 and the time until the next GC: far longer than one rename.
                std::thread::sleep(std::time::Duration::from_millis(40));
            }
            (lost, cycles)
        })
    };
    let out = store.run(&support::move_group_from("src", "ct/200", "dst"));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (lost, cycles) = gc.join().unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        indexes_in(&store.group_dir("dst", "ct/200")).len(),
        times.len()
    );
    assert!(cycles >= 1, "GC ran");
    assert!(
        lost.is_empty(),
        "{} snapshot(s) missed by a GC cycle, first {:?}",
        lost.len(),
        lost.first()
    );
}

#[test]
#[ignore = "needs root"]
fn created_files_and_locks_are_owned_by_backup_with_pbs_modes() {
    support::require_root();
    let (uid, gid_) = support::backup_ids();
    let store = Store::demo(40);
    let out = store.run(&["move-ns", "--ns", "prod", "--target-ns", "archive/prod"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let check = |p: &std::path::Path, mode: u32| {
        let m = std::fs::symlink_metadata(p).unwrap();
        assert_eq!((m.uid(), m.gid()), (uid, gid_), "{}", p.display());
        assert_eq!(m.permissions().mode() & 0o7777, mode, "{}", p.display());
    };
    for dir in [
        "ns/archive/ns/prod",
        "ns/archive/ns/prod/vm",
        "ns/archive/ns/prod/vm/101",
    ] {
        check(&store.base.join(dir), 0o755);
    }
    check(&store.base.join("ns/archive/ns/prod/vm/101/owner"), 0o644);
    let locks = TreeSnapshot::of(&store.locks);
    assert!(!locks.0.is_empty());
    for (path, e) in &locks.0 {
        assert_eq!((e.uid, e.gid), (uid, gid_), "lock entry {path}");
        let want = if e.kind == 'd' { 0o755 } else { 0o660 };
        assert_eq!(e.mode, want, "lock entry {path}");
    }
    // Source snapshot/manifest locks and the source group locks were removed with the groups.
    let lp = store.lock_paths();
    assert!(!lp.group(&ns("prod"), &gid("vm/101")).exists());
    assert!(lp.group(&ns("archive/prod"), &gid("vm/101")).exists());
}

#[test]
fn lock_conflict_on_group_is_busy_and_changes_nothing() {
    let store = Store::demo(40);
    let held = HeldLock::flock(
        &store.lock_paths().group(&Namespace::root(), &gid("vm/100")),
        false,
    );
    let before = store.snapshot();
    let out = store.run(support::MOVE_VM100_TO_PROD);
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["ok"], false);
    assert_eq!(j["failed"][0]["reason"], "lock-conflict");
    let msg = j["failed"][0]["message"].as_str().unwrap();
    assert!(msg.contains(&format!("PID {}", held.pid)), "{msg}");
    assert!(msg.contains("group vm/100"), "{msg}");
    assert_eq!(before, store.snapshot());
}

#[test]
fn lock_conflict_on_one_snapshot_is_busy_and_changes_nothing() {
    let store = Store::demo(40);
    let times = store.snapshot_dirs("prod", "vm/101");
    let t = SnapshotTime::parse(&times[times.len() / 2]).unwrap();
    let _held = HeldLock::flock(
        &store.lock_paths().snapshot(&ns("prod"), &gid("vm/101"), &t),
        true,
    );
    // Nothing changes: no target group is left behind either.
    store.assert_busy(
        &support::move_group_from("prod", "vm/101", "dev"),
        &format!("snapshot vm/101/{t}"),
    );
}

#[test]
fn lock_conflict_on_ancestor_namespace_is_busy() {
    let store = Store::demo(40);
    let _held = HeldLock::flock(&store.lock_paths().ns_lock(&ns("prod")), false);
    store.assert_busy(
        &support::move_group_from("prod/db", "vm/102", "dev"),
        "namespace 'prod'",
    );
}

#[test]
fn running_garbage_collection_is_busy() {
    let store = Store::demo(10);
    let _gc = HeldLock::fcntl_write(&store.base.join(".lock"));
    store.assert_busy(
        &["move-group", "--group", "vm/100", "--target-ns", "prod"],
        "garbage collection is running",
    );
}

#[test]
fn merge_into_older_target_group_with_same_owner() {
    let store = Store::empty(&["a", "b"]);
    store.add_group(
        "a",
        "vm/100",
        "root@pam",
        &["2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"],
    );
    store.add_group("b", "vm/100", "root@pam", &["2024-01-01T00:00:00Z"]);
    std::fs::write(store.group_dir("a", "vm/100").join("notes"), "src notes").unwrap();
    let before = store.snapshot().snapshot_files();
    let out = store.run(MOVE_A_VM100_TO_B);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["moved"][0]["snapshots"], 2);
    assert_eq!(
        store.snapshot_dirs("b", "vm/100"),
        vec![
            "2024-01-01T00:00:00Z",
            "2025-02-01T00:00:00Z",
            "2025-03-01T00:00:00Z"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(store.group_dir("b", "vm/100").join("notes")).unwrap(),
        "src notes"
    );
    assert!(!store.group_dir("a", "vm/100").exists());
    assert_eq!(before, store.snapshot().snapshot_files());
}

#[test]
fn merge_keeps_target_notes_and_warns_when_they_differ() {
    let store = Store::empty(&["a", "b"]);
    store.add_group("a", "vm/100", "root@pam", &["2025-02-01T00:00:00Z"]);
    store.add_group("b", "vm/100", "root@pam", &["2024-01-01T00:00:00Z"]);
    std::fs::write(store.group_dir("a", "vm/100").join("notes"), "src").unwrap();
    std::fs::write(store.group_dir("b", "vm/100").join("notes"), "dst").unwrap();
    let out = store.run(MOVE_A_VM100_TO_B);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(
        json(&out)["warnings"][0]
            .as_str()
            .unwrap()
            .contains("keeping target's notes")
    );
    assert_eq!(
        std::fs::read_to_string(store.group_dir("b", "vm/100").join("notes")).unwrap(),
        "dst"
    );
    assert!(!store.group_dir("a", "vm/100").exists());
}

#[test]
fn merge_refusals_change_nothing() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "admin@pbs",
            &["2024-01-01T00:00:00Z"],
            "owner mismatch (source: root@pam, target: admin@pbs)",
        ),
        (
            "root@pam",
            &["2025-02-01T00:00:00Z"],
            "snapshot time mismatch",
        ),
        (
            "root@pam",
            &["2026-01-01T00:00:00Z"],
            "snapshot time mismatch",
        ),
    ];
    for (target_owner, target_times, needle) in cases {
        let store = Store::empty(&["a", "b"]);
        store.add_group(
            "a",
            "vm/100",
            "root@pam",
            &["2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"],
        );
        store.add_group("b", "vm/100", target_owner, target_times);
        let before = store.snapshot();
        let out = store.run(&support::move_group_from("a", "vm/100", "b"));
        assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
        assert_eq!(before, store.snapshot());
    }
}

#[test]
fn namespace_move_with_a_blocked_group_is_partial() {
    let store = Store::demo(40);
    let held = HeldLock::flock(
        &store.lock_paths().group(&ns("prod/db"), &gid("ct/118")),
        false,
    );
    let before = store.snapshot().snapshot_files();
    let out = store.run(support::MOVE_NS_PROD_TO_ARCHIVE);
    assert_eq!(exit_code(&out), 4, "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["ok"], false);
    let failed = j["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["ns"], "prod/db");
    assert_eq!(failed[0]["group"], "ct/118");
    assert_eq!(failed[0]["reason"], "lock-conflict");
    assert!(
        failed[0]["message"]
            .as_str()
            .unwrap()
            .contains(&held.pid.to_string())
    );
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("'ct/118' in 'prod/db'")
    );
    assert_eq!(j["moved"].as_array().unwrap().len(), 14);
    // The blocked group stays complete at the source; its namespaces are kept.
    assert!(store.group_dir("prod/db", "ct/118").join("owner").exists());
    assert!(store.ns_dir("prod").is_dir() && store.ns_dir("prod/db").is_dir());
    assert!(
        !store.ns_dir("prod/web").exists(),
        "fully moved namespaces are removed"
    );
    let kept: Vec<&str> = j["namespaces_kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["ns"].as_str().unwrap())
        .collect();
    assert!(
        kept.contains(&"prod/db") && kept.contains(&"prod"),
        "{kept:?}"
    );
    assert_eq!(before, store.snapshot().snapshot_files());
    drop(held);
    // Retrying after the lock is gone finishes the job.
    let out = store.run(support::MOVE_NS_PROD_TO_ARCHIVE);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(!store.ns_dir("prod").exists());
    assert!(store.group_dir("archive/prod/db", "ct/118").is_dir());
}

#[test]
fn namespace_move_keep_source_and_max_depth() {
    let store = Store::demo(40);
    let out = store.run(&[
        "move-ns",
        "--ns",
        "prod",
        "--target-ns",
        "staging/prod",
        "--max-depth",
        "1",
        "--keep-source",
        "--json",
    ]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    // prod (depth 0) and prod/db, prod/web (depth 1) move; prod/web/eu-west stays.
    let moved_ns: std::collections::BTreeSet<&str> = j["moved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ns"].as_str().unwrap())
        .collect();
    assert_eq!(
        moved_ns,
        ["prod", "prod/db", "prod/web"].into_iter().collect()
    );
    assert!(store.ns_dir("prod/web").is_dir(), "kept by --keep-source");
    assert!(
        store.group_dir("prod/web/eu-west", "vm/104").is_dir(),
        "beyond --max-depth"
    );
    assert!(store.group_dir("staging/prod/web", "vm/103").is_dir());
    assert!(!store.ns_dir("staging/prod/web/eu-west").exists());
}

#[test]
fn namespace_move_into_existing_target_merges_and_removes_source() {
    let store = Store::empty(&["a", "a/x", "b"]);
    store.add_group("a", "vm/1", "root@pam", &["2025-01-01T00:00:00Z"]);
    store.add_group("a/x", "ct/2", "root@pam", &["2025-01-01T00:00:00Z"]);
    store.add_group("b", "vm/1", "root@pam", &["2024-01-01T00:00:00Z"]);
    let out = store.run(&["move-ns", "--ns", "a", "--target-ns", "b", "--json"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["namespaces_created"], serde_json::json!(["b/x"]));
    assert_eq!(j["namespaces_removed"], serde_json::json!(["a/x", "a"]));
    assert_eq!(store.snapshot_dirs("b", "vm/1").len(), 2);
    assert!(store.group_dir("b/x", "ct/2").is_dir());
    assert!(!store.ns_dir("a").exists());
}

#[test]
fn dry_run_changes_nothing_not_even_lock_files() {
    let store = Store::demo(40);
    let before = store.snapshot();
    for args in [
        &[
            "move-group",
            "--group",
            "vm/100",
            "--target-ns",
            "prod",
            "--dry-run",
            "--json",
        ][..],
        support::MOVE_NS_PROD_TO_ARCHIVE_DRY_RUN,
    ] {
        let out = store.run(args);
        assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
        let j = json(&out);
        assert_eq!(j["dry_run"], true);
        assert!(!j["moved"].as_array().unwrap().is_empty());
        assert!(!j["plan"]["groups"].as_array().unwrap().is_empty());
    }
    assert_eq!(before, store.snapshot());
    assert!(
        !store.locks.exists(),
        "dry-run created {:?}",
        TreeSnapshot::of(&store.locks).0.keys()
    );
}

#[test]
fn dry_run_reports_lock_conflicts_and_merges() {
    let store = Store::demo(40);
    let lp = store.lock_paths();
    let _held = HeldLock::flock(&lp.group(&ns("prod/db"), &gid("vm/102")), false);
    let lock_tree = TreeSnapshot::of(&store.locks);
    let out = store.run(support::MOVE_NS_PROD_TO_ARCHIVE_DRY_RUN);
    assert_eq!(exit_code(&out), 4, "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["failed"][0]["group"], "vm/102");
    assert_eq!(j["failed"][0]["reason"], "lock-conflict");
    let created = j["plan"]["namespaces_to_create"].as_array().unwrap();
    assert_eq!(created.len(), 5);
    assert_eq!(
        lock_tree,
        TreeSnapshot::of(&store.locks),
        "dry-run left lock files behind"
    );
}

#[test]
fn progress_events_and_cancellation_leave_a_consistent_split() {
    use std::sync::{Arc, Mutex};
    use support::api::{
        CancelToken, MoveContext, MoveGroupRequest, Progress, ProgressEvent, move_group,
    };

    let store = Store::empty(&["a", "b"]);
    let times: Vec<String> = (1..=9).map(|d| format!("2025-01-0{d}T00:00:00Z")).collect();
    let refs: Vec<&str> = times.iter().map(String::as_str).collect();
    store.add_group("a", "vm/7", "root@pam", &refs);
    let before = store.snapshot().snapshot_files();
    let ds = store.locate();
    let ctx = MoveContext::filesystem(ds, &store.locks);
    let cancel = CancelToken::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let (ev, c) = (events.clone(), cancel.clone());
    let progress = Progress::new(
        move |e| {
            if let ProgressEvent::SnapshotMoved { done: 3, .. } = e {
                c.cancel();
            }
            ev.lock().unwrap().push(e);
        },
        cancel,
    );
    let req = MoveGroupRequest {
        ns: ns("a"),
        group: gid("vm/7"),
        target_ns: ns("b"),
        merge: true,
    };
    let report = move_group(&ctx, &req, &progress).unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].snapshots_moved, 3);
    assert_eq!(store.snapshot_dirs("b", "vm/7"), times[..3].to_vec());
    assert_eq!(store.snapshot_dirs("a", "vm/7"), times[3..].to_vec());
    assert!(store.group_dir("a", "vm/7").join("owner").exists());
    assert!(store.group_dir("b", "vm/7").join("owner").exists());
    assert_eq!(before, store.snapshot().snapshot_files());
    let events = events.lock().unwrap();
    assert!(matches!(
        events.first(),
        Some(ProgressEvent::Planned {
            groups: 1,
            snapshots: 9,
            ..
        })
    ));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ProgressEvent::GroupStarted { snapshots: 9, .. }))
    );
    assert!(matches!(
        events.last(),
        Some(ProgressEvent::Finished { .. })
    ));
    // A second run moves the rest: the split keeps the merge invariant valid.
    let report = move_group(&ctx, &req, &Progress::silent()).unwrap();
    assert!(report.is_complete());
    assert_eq!(store.snapshot_dirs("b", "vm/7"), times);
}

// ----- groups that move with one rename of their dir -----

fn inode(p: &std::path::Path) -> u64 {
    std::fs::symlink_metadata(p).unwrap().ino()
}

#[test]
#[ignore = "needs root"]
fn a_group_as_pbs_creates_it_moves_whole_with_one_rename() {
    support::require_root();
    let store = Store::demo(40);
    std::fs::write(store.group_dir("", "vm/100").join("notes"), "n\n").unwrap();
    store.own_groups_as_pbs();
    let src = store.group_dir("", "vm/100");
    let (dir_ino, owner_ino) = (inode(&src), inode(&src.join("owner")));
    let times = store.snapshot_dirs("", "vm/100");
    let before = store.snapshot();

    let j = move_vm100_to_prod(&store, &[]);
    assert_eq!(j["moved"][0]["snapshots"], times.len());
    assert_eq!(before.snapshot_files(), store.snapshot().snapshot_files());
    let dst = store.group_dir("prod", "vm/100");
    // The very same dir and owner file: one rename, no new owner, nothing freed.
    assert_eq!(inode(&dst), dir_ino);
    assert_eq!(inode(&dst.join("owner")), owner_ino);
    assert_eq!(std::fs::read_to_string(dst.join("notes")).unwrap(), "n\n");
    assert_eq!(store.snapshot_dirs("prod", "vm/100"), times);
    assert!(!src.exists());

    // PBS's side effects as for a snapshot-by-snapshot move.
    let lp = store.lock_paths();
    assert!(!lp.group(&Namespace::root(), &gid("vm/100")).exists());
    assert!(lp.group(&ns("prod"), &gid("vm/100")).exists());
    for t in &times {
        let t = SnapshotTime::parse(t).unwrap();
        assert!(!lp.snapshot(&Namespace::root(), &gid("vm/100"), &t).exists());
    }
    let journal = std::fs::read_to_string(store.store_locks().join("move-journal")).unwrap();
    let base = store.base.canonicalize().unwrap();
    let mut expected: Vec<String> = times
        .iter()
        .flat_map(|t| std::fs::read_dir(base.join("ns/prod/vm/100").join(t)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "fidx" || x == "didx"))
        .map(|p| p.display().to_string())
        .collect();
    expected.sort();
    let mut lines: Vec<&str> = journal.lines().collect();
    lines.sort();
    assert!(!expected.is_empty());
    assert_eq!(
        lines, expected,
        "every index recorded for GC before the rename"
    );
}

#[test]
#[ignore = "needs root"]
fn groups_unlike_what_pbs_creates_move_snapshot_by_snapshot() {
    support::require_root();
    // Off switch: the same group, a new dir at the target.
    let store = Store::demo(40);
    store.own_groups_as_pbs();
    let ino = inode(&store.group_dir("", "vm/100"));
    move_vm100_to_prod(&store, &[(GROUP_RENAME_OFF_ENV, "1")]);
    assert_ne!(inode(&store.group_dir("prod", "vm/100")), ino);

    // Something besides snapshots, owner and notes: it stays behind with the source group.
    let store = Store::demo(40);
    store.own_groups_as_pbs();
    let src = store.group_dir("", "vm/100");
    std::fs::write(src.join("stray.txt"), "x").unwrap();
    let ino = inode(&src);
    let j = move_vm100_to_prod(&store, &[]);
    assert_ne!(inode(&store.group_dir("prod", "vm/100")), ino);
    assert!(src.join("stray.txt").is_file());
    let warnings = j["warnings"].to_string();
    assert!(warnings.contains("stray.txt"), "{warnings}");

    // Owned by root where PBS would own it: the target gets PBS's own dir and owner file.
    let (uid, gid_) = support::backup_ids();
    let store = Store::demo(40);
    let ino = inode(&store.group_dir("", "vm/100"));
    move_vm100_to_prod(&store, &[]);
    let dst = store.group_dir("prod", "vm/100");
    assert_ne!(inode(&dst), ino);
    for p in [dst.clone(), dst.join("owner")] {
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert_eq!((m.uid(), m.gid()), (uid, gid_), "{}", p.display());
    }
}

#[test]
#[ignore = "needs root"]
fn a_whole_group_move_blocked_by_a_snapshot_lock_changes_nothing() {
    support::require_root();
    let store = Store::demo(40);
    store.own_groups_as_pbs();
    let times = store.snapshot_dirs("", "vm/100");
    let t = SnapshotTime::parse(&times[times.len() / 2]).unwrap();
    let _held = HeldLock::flock(
        &store
            .lock_paths()
            .snapshot(&Namespace::root(), &gid("vm/100"), &t),
        true,
    );
    std::fs::create_dir(store.base.join("ns/empty")).unwrap();
    let before = store.snapshot();
    let out = store.run(&["move-group", "--group", "vm/100", "--target-ns", "empty"]);
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("snapshot vm/100/{t}")),
        "{}",
        stderr(&out)
    );
    // Not even the type dir (`vm/`) it made for the target is left.
    assert_eq!(before, store.snapshot());
}

/// A group large enough to be locked and read on two threads, and released on two: a lock
/// held on a snapshot in its last, partial part of 128 refuses the move with nothing
/// changed; once it is gone, the group moves with one rename, every snapshot's index is in
/// PBS's GC journal, and no source lock file is left (each removed before its lock closed).
#[test]
#[ignore = "needs root"]
fn a_large_group_moved_whole_is_locked_read_and_released_on_two_threads() {
    support::require_root();
    let times = support::epoch_times(1100);
    let store = Store::empty(&["", "prod"]);
    store.add_group("", "vm/100", "root@pam", &support::as_refs(&times));
    store.own_groups_as_pbs();
    let lp = store.lock_paths();
    let lock = |t: &str| {
        lp.snapshot(
            &Namespace::root(),
            &gid("vm/100"),
            &SnapshotTime::parse(t).unwrap(),
        )
    };
    let held = HeldLock::flock(&lock(&times[1050]), true);
    let before = store.snapshot();
    let out = store.run(&["move-group", "--group", "vm/100", "--target-ns", "prod"]);
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("snapshot vm/100/{}", times[1050])),
        "{}",
        stderr(&out)
    );
    assert_eq!(before, store.snapshot());
    drop(held);

    let ino = inode(&store.group_dir("", "vm/100"));
    let j = move_vm100_to_prod(&store, &[]);
    assert_eq!(j["moved"][0]["snapshots"], times.len());
    assert_eq!(inode(&store.group_dir("prod", "vm/100")), ino);
    assert_eq!(store.snapshot_dirs("prod", "vm/100"), times);
    assert_eq!(before.snapshot_files(), store.snapshot().snapshot_files());
    let left: Vec<&String> = times.iter().filter(|t| lock(t).exists()).collect();
    assert!(
        left.is_empty(),
        "{} source lock files left, the first {:?}",
        left.len(),
        left.first()
    );
    let journal = std::fs::read_to_string(store.store_locks().join("move-journal")).unwrap();
    let base = store.base.canonicalize().unwrap().join("ns/prod/vm/100");
    let mut expected: Vec<String> = times
        .iter()
        .map(|t| base.join(t).join("root.pxar.didx").display().to_string())
        .collect();
    expected.sort();
    let mut lines: Vec<&str> = journal.lines().collect();
    lines.sort();
    assert_eq!(
        lines, expected,
        "every index recorded for GC before the rename"
    );
}

/// A group of more snapshots than PBS locks in one batch (512) moves whole when the open
/// file limit lets this process lock them all, and snapshot by snapshot in batches when not.
#[test]
#[ignore = "needs root"]
fn a_group_beyond_one_lock_batch_moves_whole_only_within_the_fd_limit() {
    support::require_root();
    let times: Vec<String> = (0..600)
        .map(|i| SnapshotTime::from_epoch(1_700_000_000 + i * 60).to_string())
        .collect();
    let refs: Vec<&str> = times.iter().map(String::as_str).collect();
    // prlimit may lower the hard limit but only root with CAP_SYS_RESOURCE may raise it.
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let mut cases = vec![("700".to_string(), false)];
    if hard >= 1000 {
        cases.push((hard.min(4096).to_string(), true));
    }
    for (limit, whole) in cases {
        let store = Store::empty(&["", "prod"]);
        store.add_group("", "vm/100", "root@pam", &refs);
        store.own_groups_as_pbs();
        let ino = inode(&store.group_dir("", "vm/100"));
        let before = store.snapshot();
        let mut c = std::process::Command::new("prlimit");
        c.arg(format!("--nofile={limit}:{limit}")).arg("--");
        // The store's environment too: its state dir, never the machine's.
        for (k, v) in store.cmd().get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        let out = c
            .arg(support::BIN)
            .args(store.cmd().get_args())
            .args(["move-group", "--group", "vm/100", "--target-ns", "prod"])
            .output()
            .unwrap();
        assert_eq!(exit_code(&out), 0, "limit {limit}: {}", stderr(&out));
        assert_eq!(before.snapshot_files(), store.snapshot().snapshot_files());
        assert_eq!(store.snapshot_dirs("prod", "vm/100"), times);
        let same = inode(&store.group_dir("prod", "vm/100")) == ino;
        assert_eq!(same, whole, "limit {limit}");
    }
}

/// A symlinked group dir, type dir and child namespace in the source of a `move-ns`: each
/// listed in `failed` (reason "error", "symlink … left in place"), never followed, left
/// where it is; the real groups move; exit 4.
#[test]
fn move_ns_lists_symlinked_group_type_and_namespace_dirs_as_failed() {
    let store = Store::empty(&["", "src", "other"]);
    let t = ["2024-01-01T10:00:00Z"];
    store.add_group("src", "vm/1", "root@pam", &t);
    let outside = store.tmp.path().join("outside");
    let elsewhere = Store::empty(&["", "x"]);
    elsewhere.add_group("x", "vm/2", "root@pam", &t);
    elsewhere.add_group("x", "ct/3", "root@pam", &t);
    std::fs::rename(&elsewhere.base, &outside).unwrap();
    let links = [
        (outside.join("ns/x/vm/2"), store.ns_dir("src").join("vm/2")),
        (outside.join("ns/x/ct"), store.ns_dir("src").join("ct")),
        (outside.join("ns/x"), store.ns_dir("src").join("ns/linked")),
    ];
    std::fs::create_dir_all(store.ns_dir("src").join("ns")).unwrap();
    for (target, link) in &links {
        std::os::unix::fs::symlink(target, link).unwrap();
    }
    let outside_before = TreeSnapshot::of(&outside);
    // The dry run says the same, changing nothing.
    let before = store.snapshot();
    let dry = [
        "move-ns",
        "--ns",
        "src",
        "--target-ns",
        "other/src",
        "--dry-run",
        "--json",
    ];
    let out = store.run(&dry);
    assert_eq!(exit_code(&out), 4, "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["failed"].as_array().unwrap().len(), 3, "{j}");
    assert_eq!(store.snapshot(), before);
    let out = store.run(&[
        "move-ns",
        "--ns",
        "src",
        "--target-ns",
        "other/src",
        "--json",
    ]);
    assert_eq!(exit_code(&out), 4, "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["ok"], false, "{j}");
    assert_eq!(j["moved"][0]["group"], "vm/1", "{j}");
    let failed = j["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 3, "{j}");
    for f in failed {
        assert_eq!(f["reason"], "error", "{f}");
        assert_eq!(f["ns"], "src", "{f}");
        let msg = f["message"].as_str().unwrap();
        assert!(
            msg.contains("is a symlink") && msg.contains("left in place"),
            "{msg}"
        );
    }
    let paths: Vec<&str> = failed.iter().map(|f| f["path"].as_str().unwrap()).collect();
    for (_, link) in &links {
        assert!(paths.contains(&link.to_str().unwrap()), "{paths:?}");
        assert!(
            link.symlink_metadata().unwrap().is_symlink(),
            "left in place"
        );
    }
    assert_eq!(
        failed.iter().filter(|f| f["group"] == "vm/2").count(),
        1,
        "{j}"
    );
    assert!(j["error"].as_str().unwrap().contains("symlink"), "{j}");
    assert!(store.group_dir("other/src", "vm/1").is_dir());
    assert!(!store.ns_dir("other/src").join("vm/2").exists());
    assert!(store.ns_dir("src").is_dir(), "the source namespace is kept");
    assert_eq!(TreeSnapshot::of(&outside), outside_before, "never followed");
}

/// `/proc/PID/stat`'s state letter ('T': stopped).
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// `move-group vm/100` to `prod` stopped right after its pre-flight (the fail-point), the
/// oldest snapshot dir changed by `change` meanwhile (as a PBS pull re-syncing it would, under
/// the group lock the move only takes afterwards), then resumed. The snapshot dirs are
/// settled first, so the pre-flight's reads are stamped and trusted where unchanged.
fn move_with_change_after_preflight(
    env: &[(&str, &str)],
    change: impl FnOnce(&std::path::Path),
) -> (Store, std::process::Output) {
    use nix::sys::signal::{Signal, kill};
    let store = Store::demo(40);
    // Older than the stamp's settle time (5 s), so the pre-flight's reads count.
    std::thread::sleep(std::time::Duration::from_secs(6));
    let child = store
        .cmd()
        .envs(env.iter().copied())
        .env("PBS_MOVER_FAILPOINT", "after-preflight:1=STOP")
        .args(["move-group", "--group", "vm/100", "--target-ns", "prod"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while proc_state(child.id()) != Some('T') {
        assert!(
            std::time::Instant::now() < deadline,
            "never stopped after the pre-flight"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let oldest = store.snapshot_dirs("", "vm/100")[0].clone();
    change(&store.group_dir("", "vm/100").join(&oldest));
    kill(pid, Signal::SIGCONT).unwrap();
    let out = child.wait_with_output().unwrap();
    (store, out)
}

/// An index file added to a snapshot dir after the pre-flight read it is in PBS's GC move
/// journal all the same (on both move paths): the changed dir is read again under its lock.
#[test]
fn an_index_added_after_the_preflight_is_in_the_gc_journal() {
    for env in [&[][..], &[(GROUP_RENAME_OFF_ENV, "1")][..]] {
        let (store, out) = move_with_change_after_preflight(env, |snap| {
            std::fs::write(snap.join("late.img.fidx"), b"late").unwrap();
        });
        assert_eq!(exit_code(&out), 0, "{env:?}: {}", stderr(&out));
        let journal = std::fs::read_to_string(store.store_locks().join("move-journal")).unwrap();
        let oldest = store.snapshot_dirs("prod", "vm/100")[0].clone();
        let late = store
            .base
            .canonicalize()
            .unwrap()
            .join("ns/prod/vm/100")
            .join(oldest)
            .join("late.img.fidx");
        assert!(
            journal.lines().any(|l| l == late.display().to_string()),
            "{env:?}: {late:?} not in the journal:\n{journal}"
        );
    }
}

/// A symlink planted in a snapshot dir after the pre-flight read it is refused under the
/// lock, never moved or followed, and nothing moves.
#[test]
fn a_symlink_planted_after_the_preflight_is_refused_under_the_lock() {
    for env in [&[][..], &[(GROUP_RENAME_OFF_ENV, "1")][..]] {
        let (store, out) = move_with_change_after_preflight(env, |snap| {
            std::os::unix::fs::symlink("/etc/passwd", snap.join("evil.img.fidx")).unwrap();
        });
        assert_ne!(exit_code(&out), 0, "{env:?}");
        assert!(
            stderr(&out).contains("evil.img.fidx is a symlink"),
            "{env:?}: {}",
            stderr(&out)
        );
        assert!(store.group_dir("", "vm/100").exists(), "{env:?}");
        assert!(!store.group_dir("prod", "vm/100").exists(), "{env:?}");
    }
}

/// A group of many lock batches (128 each when locked ahead) moved snapshot by snapshot,
/// each batch locked on a second thread while the one before is renamed, with the 601st
/// snapshot held by another process: the four batches before its batch move and no later
/// one (the time-ordered split), the renamed snapshots' source lock files are gone, and no
/// lock file of a batch after the blocked one was ever made. Once the lock is gone, a retry
/// moves the rest and leaves no source lock file.
#[test]
fn a_held_snapshot_lock_stops_a_batched_move_after_the_batches_before_it() {
    let store = Store::empty(&["src", "dst"]);
    let times = support::epoch_times(1300);
    store.add_group("src", "vm/100", "root@pam", &support::as_refs(&times));
    let paths = store.lock_paths();
    let lock =
        |t: &str| paths.snapshot(&ns("src"), &gid("vm/100"), &SnapshotTime::parse(t).unwrap());
    let held = HeldLock::exclusive(&lock(&times[600]));
    let before = store.snapshot().snapshot_files();
    let run = || {
        store
            .cmd()
            .env(GROUP_RENAME_OFF_ENV, "1")
            .args(support::move_group_from("src", "vm/100", "dst"))
            .output()
            .unwrap()
    };
    let out = run();
    assert_ne!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("snapshot vm/100/{}", times[600])),
        "{}",
        stderr(&out)
    );
    assert_eq!(store.snapshot_dirs("dst", "vm/100"), times[..512]);
    assert_eq!(store.snapshot_dirs("src", "vm/100"), times[512..]);
    for t in &times[..512] {
        assert!(
            !lock(t).exists(),
            "renamed {t}: its source lock file is left"
        );
    }
    for t in &times[640..] {
        assert!(
            !lock(t).exists(),
            "{t}: a batch after the blocked one was locked"
        );
    }
    drop(held);
    let out = run();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(store.snapshot_dirs("dst", "vm/100"), times);
    assert!(
        times.iter().all(|t| !lock(t).exists()),
        "source lock files left"
    );
    assert_eq!(before, store.snapshot().snapshot_files());
}

/// Each group of a namespace move is locked and checked while the one before it moves (on a
/// second thread). What its `group` record says of the target's type dir is still what the
/// group found when its turn came (the first group of a type into a new namespace made it,
/// the next ones found it), and so equals its plan: one journal sync for the whole move.
#[test]
fn a_namespace_move_journals_each_group_as_the_groups_before_it_left_the_target() {
    // Every second group of a type into a namespace is checked while the first one makes
    // the type dir: 18 chances for a stale answer.
    let children = ["a", "b", "c", "d", "e", "f"];
    let mut namespaces = vec!["src".to_string()];
    namespaces.extend(children.iter().map(|c| format!("src/{c}")));
    let ns_refs: Vec<&str> = namespaces.iter().map(String::as_str).collect();
    let store = Store::empty(&ns_refs);
    let groups = ["ct/3", "ct/5", "host/h1", "host/h2", "vm/1", "vm/2"];
    for ns in &namespaces[1..] {
        for g in groups {
            store.add_group(ns, g, "root@pam", &["2024-01-01T10:00:00Z"]);
        }
    }
    let out = store.run(&["move-ns", "--ns", "src", "--target-ns", "dst"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let dir = store.state_dir();
    let journal = support::journals_in(&dir).pop().expect("a journal");
    let records = support::journal_records(&journal);
    // (target type dir, type_existed) in the order the groups moved.
    let of = |kind: &str| -> Vec<(String, bool)> {
        records
            .iter()
            .filter(|r| r["e"] == kind)
            .map(|r| {
                let ty = r["group"].as_str().unwrap().split('/').next().unwrap();
                let at = format!("{}/{ty}", r["target_ns"].as_str().unwrap());
                (at, r["type_existed"].as_bool().unwrap())
            })
            .collect()
    };
    let moved = of("group");
    assert_eq!(moved.len(), groups.len() * children.len(), "{journal:?}");
    let mut seen = std::collections::HashSet::new();
    for (type_dir, type_existed) in &moved {
        // Only the first group of each type into a namespace finds no type dir there.
        assert_eq!(
            *type_existed,
            !seen.insert(type_dir),
            "{type_dir}: {moved:?}"
        );
    }
    assert_eq!(of("group-planned"), moved, "{journal:?}");
}
