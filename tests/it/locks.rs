//! Real flocks held by another process (`flock(1)` from util-linux), checked against our
//! lock layer: conflicts and their holders, shared/exclusive compatibility, the double
//! stat, ownership and modes, dry-run probes, namespace locks and the move journal.
//! Runs as root (chown to backup:backup).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use std::thread;
use std::time::{Duration, Instant};

use crate::support::{self, HeldLock};
use pbs_mover::tree::names::{GroupId, Namespace, SnapshotTime};
use support::api::{
    LockError, LockKind, LockMode, LockPaths, lock, move_journal, ns_lock, ownership,
};

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    paths: LockPaths,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let paths = LockPaths::with_lock_dir(root.join("locks"), "store1");
    Fixture {
        _tmp: tmp,
        root,
        paths,
    }
}

fn ns(s: &str) -> Namespace {
    Namespace::parse(s).unwrap()
}

fn group(s: &str) -> GroupId {
    GroupId::parse(s).unwrap()
}

fn time(s: &str) -> SnapshotTime {
    SnapshotTime::parse(s).unwrap()
}

fn backup() -> (u32, u32) {
    support::backup_ids()
}

fn owner_mode(path: &Path) -> (u32, u32, u32) {
    let m = fs::symlink_metadata(path).unwrap();
    (m.uid(), m.gid(), m.permissions().mode() & 0o7777)
}

/// Every entry below `dir` with owner, mode, size and inode, to prove nothing changed.
fn tree_listing(dir: &Path) -> BTreeMap<PathBuf, (u32, u32, u32, u64, u64)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            out.insert(
                p.clone(),
                (m.uid(), m.gid(), m.permissions().mode(), m.len(), m.ino()),
            );
            if m.is_dir() {
                todo.push(p);
            }
        }
    }
    out
}

/// The ids PBS's files get are user and group `backup` as this host's passwd and group
/// files define them (34:34 on Debian, but not asserted: another host may differ), read
/// here without NSS, independently of the lookup under test.
#[test]
fn backup_ids_match_passwd_and_group() {
    let id_of = |file: &str, field: usize| -> Option<u32> {
        std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f[0] == "backup")
            .map(|f| f[field].parse().unwrap())
    };
    let expected = id_of("/etc/passwd", 2).zip(id_of("/etc/group", 2));
    assert_eq!(ownership::backup_ids(), expected);
}

#[test]
fn conflict_names_foreign_holder() {
    let f = fixture();
    let (a, vm100) = (ns("a"), group("vm/100"));
    drop(lock::lock_group(&f.paths, &a, &vm100).unwrap());
    let path = f.paths.group(&a, &vm100);
    let holder = HeldLock::exclusive(&path);

    let err = lock::lock_group(&f.paths, &a, &vm100).unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let h = err.holder().expect("holder found in /proc/locks");
    assert_eq!(h.pid, holder.pid());
    assert_eq!(h.comm, "flock");
    assert_eq!(h.kind, LockKind::Write);
    let msg = err.to_string();
    let want = format!(
        "group vm/100 in namespace 'a' is locked by PID {} ({})",
        h.pid, h.comm
    );
    assert!(msg.starts_with(&want), "{msg}");
    assert!(
        msg.ends_with(&format!("(lock file {})", path.display())),
        "{msg}"
    );

    assert!(
        lock::probe_group(&f.paths, &a, &vm100)
            .unwrap_err()
            .is_conflict()
    );

    // A timeout waits, then still reports the conflict.
    let started = Instant::now();
    let err = lock::lock_file(&path, LockMode::Shared, Duration::from_millis(300)).unwrap_err();
    assert!(err.is_conflict());
    assert!(started.elapsed() >= Duration::from_millis(290));

    drop(holder);
    lock::lock_group(&f.paths, &a, &vm100).unwrap();
}

#[test]
fn conflict_is_distinguishable_from_io_errors() {
    let f = fixture();
    fs::create_dir_all(f.paths.store_dir()).unwrap();
    // A regular file where the namespace lock directory should be.
    fs::write(f.paths.store_dir().join("a"), b"").unwrap();
    let err = lock::lock_group(&f.paths, &ns("a"), &group("vm/1")).unwrap_err();
    assert!(!err.is_conflict());
    assert!(matches!(err, LockError::Io { .. }), "{err}");
}

#[test]
fn shared_and_exclusive_compatibility() {
    let f = fixture();
    let (root, g, t) = (
        Namespace::root(),
        group("ct/7"),
        time("2025-07-14T14:20:02Z"),
    );
    drop(lock::lock_snapshot(&f.paths, &root, &g, &t, LockMode::Shared).unwrap());
    let path = f.paths.snapshot(&root, &g, &t);

    let reader = HeldLock::shared(&path);
    let ours = lock::lock_snapshot(&f.paths, &root, &g, &t, LockMode::Shared).unwrap();
    lock::probe_snapshot(&f.paths, &root, &g, &t, LockMode::Shared).unwrap();
    let err = lock::lock_snapshot(&f.paths, &root, &g, &t, LockMode::Exclusive).unwrap_err();
    assert!(err.is_conflict());
    assert!(
        err.to_string()
            .starts_with("snapshot ct/7/2025-07-14T14:20:02Z in namespace '/' is locked by")
    );
    // Our own shared lock must not be reported as the holder.
    assert_eq!(
        err.holder().map(|h| (h.pid, h.kind)),
        Some((reader.pid(), LockKind::Read))
    );
    drop((ours, reader));

    let writer = HeldLock::exclusive(&path);
    let err = lock::lock_snapshot(&f.paths, &root, &g, &t, LockMode::Shared).unwrap_err();
    assert_eq!(
        err.holder().map(|h| (h.pid, h.kind)),
        Some((writer.pid(), LockKind::Write))
    );
    drop(writer);
    lock::lock_snapshot(&f.paths, &root, &g, &t, LockMode::Exclusive).unwrap();
}

#[test]
fn double_stat_follows_a_replaced_lock_file() {
    let f = fixture();
    let (a, g) = (ns("a"), group("host/my-pc"));
    drop(lock::lock_group(&f.paths, &a, &g).unwrap());
    let path = f.paths.group(&a, &g);
    let old_ino = fs::metadata(&path).unwrap().ino();
    let holder = HeldLock::exclusive(&path);

    let waiter = {
        let path = path.clone();
        thread::spawn(move || lock::lock_file(&path, LockMode::Exclusive, Duration::from_secs(10)))
    };
    // Let the waiter open the old inode and start polling it.
    thread::sleep(Duration::from_millis(300));
    // What PBS does on destroy: unlink while holding the lock; then someone recreates it.
    fs::remove_file(&path).unwrap();
    fs::write(&path, b"").unwrap();
    let new_ino = fs::metadata(&path).unwrap().ino();
    assert_ne!(old_ino, new_ino);
    drop(holder);

    let guard = waiter.join().unwrap().unwrap();
    assert_eq!(guard.file().metadata().unwrap().ino(), new_ino);
    // And it really excludes others on the live file.
    assert!(
        lock::probe(&path, LockMode::Shared)
            .unwrap_err()
            .is_conflict()
    );
}

#[test]
#[ignore = "needs root"]
fn lock_files_and_dirs_are_owned_by_backup() {
    support::require_root();
    let f = fixture();
    let (uid, gid) = backup();
    let tmp_before = owner_mode(&f.root);
    let deep = ns("ns1/ns2");
    let g = lock::lock_manifest(
        &f.paths,
        &deep,
        &group("vm/100"),
        &time("2022-05-02T08:11:33Z"),
    )
    .unwrap();
    assert_eq!(
        g.path(),
        f.root
            .join(r"locks/store1/ns1:ns2/vm-100-2022\x2d05\x2d02T08\x3a11\x3a33Z-.index.json.lck")
    );
    assert_eq!(owner_mode(g.path()), (uid, gid, 0o660));
    assert_eq!(fs::metadata(g.path()).unwrap().len(), 0);
    for dir in ["locks", "locks/store1", "locks/store1/ns1:ns2"] {
        assert_eq!(owner_mode(&f.root.join(dir)), (uid, gid, 0o755), "{dir}");
    }
    // The pre-existing directory we created into is not ours to chown.
    assert_eq!(owner_mode(&f.root), tmp_before);

    // A lock file someone else created (flock(1) as root) keeps its owner and mode.
    let foreign = f.paths.group(&deep, &group("vm/200"));
    drop(HeldLock::exclusive(&foreign));
    let before = owner_mode(&foreign);
    assert_eq!(before.0, 0);
    drop(lock::lock_file(&foreign, LockMode::Exclusive, Duration::ZERO).unwrap());
    assert_eq!(owner_mode(&foreign), before);
}

#[test]
fn probes_create_nothing() {
    let f = fixture();
    let held = f.paths.group(&ns("a"), &group("vm/1"));
    drop(lock::lock_file(&held, LockMode::Exclusive, Duration::ZERO).unwrap());
    let _holder = HeldLock::exclusive(&held);
    let before = tree_listing(&f.root);

    let t = time("2025-01-01T00:00:00Z");
    lock::probe_group(&f.paths, &ns("x/y/z"), &group("vm/2")).unwrap();
    lock::probe_snapshot(&f.paths, &ns("a"), &group("vm/2"), &t, LockMode::Exclusive).unwrap();
    lock::probe(
        &f.paths.manifest(&ns("q"), &group("vm/2"), &t),
        LockMode::Exclusive,
    )
    .unwrap();
    ns_lock::probe_namespace_exclusive(&f.paths, &ns("a/b/c/d")).unwrap();
    ns_lock::probe_namespace_shared(&f.paths, &ns("n")).unwrap();
    assert!(
        lock::probe_group(&f.paths, &ns("a"), &group("vm/1"))
            .unwrap_err()
            .is_conflict()
    );

    assert_eq!(tree_listing(&f.root), before);
}

#[test]
fn ns_lock_exclusive_conflicts_with_foreign_shared_chain() {
    let f = fixture();
    let chain = [ns("a"), ns("a/b"), ns("a/b/c")];
    // Another process working in a/b/c holds shared locks on it and its ancestors.
    drop(ns_lock::lock_namespace_shared(&f.paths, &chain[2]).unwrap());
    let files: Vec<PathBuf> = chain.iter().map(|n| f.paths.ns_lock(n)).collect();
    let specs: Vec<(&Path, bool)> = files.iter().map(|p| (p.as_path(), true)).collect();
    let holder = HeldLock::chain(&specs);

    for (n, blocked) in [("a", "a"), ("a/b", "a/b"), ("a/b/c", "a/b/c")] {
        let err = ns_lock::lock_namespace_exclusive(&f.paths, &ns(n)).unwrap_err();
        assert!(err.is_conflict(), "{n}: {err}");
        assert!(
            err.to_string()
                .starts_with(&format!("namespace '{blocked}' is locked by PID")),
            "{err}"
        );
        assert_eq!(err.holder().map(|h| h.kind), Some(LockKind::Read));
        assert!(
            ns_lock::probe_namespace_exclusive(&f.paths, &ns(n))
                .unwrap_err()
                .is_conflict()
        );
    }
    // Shared users below, and structural work in a sibling subtree, are compatible.
    let below = ns_lock::lock_namespace_shared(&f.paths, &ns("a/b/c/d")).unwrap();
    assert_eq!(below.len(), 4);
    ns_lock::lock_namespace_exclusive(&f.paths, &ns("a/x")).unwrap();
    drop(holder);
    drop(below);
    ns_lock::lock_namespace_exclusive(&f.paths, &ns("a")).unwrap();
}

#[test]
fn ns_lock_shared_conflicts_with_foreign_exclusive_ancestor() {
    let f = fixture();
    drop(ns_lock::lock_namespace_exclusive(&f.paths, &ns("a")).unwrap());
    let holder = HeldLock::exclusive(&f.paths.ns_lock(&ns("a")));
    let err = ns_lock::lock_namespace_shared(&f.paths, &ns("a/b/c")).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "namespace 'a' (ancestor of 'a/b/c') is locked by PID {}",
            holder.pid()
        )),
        "{err}"
    );
    ns_lock::lock_namespace_shared(&f.paths, &ns("b/c")).unwrap();
}

#[test]
#[ignore = "needs root"]
fn move_journal_appends_lines_with_pbs_mode() {
    support::require_root();
    let f = fixture();
    let (uid, gid) = backup();
    let first = vec![
        PathBuf::from("/mnt/ds/ns/t/vm/100/2025-07-14T14:20:02Z/drive-scsi0.img.fidx"),
        PathBuf::from("/mnt/ds/ns/t/vm/100/2025-07-14T14:20:02Z/drive-scsi1.img.fidx"),
    ];
    move_journal::append_moved_indices(&f.paths, &first).unwrap();
    let journal = f.paths.move_journal();
    assert_eq!(journal, f.root.join("locks/store1/move-journal"));
    assert_eq!(owner_mode(&journal), (uid, gid, 0o660));

    // Appending waits for a GC (here: flock(1)) holding the journal lock, then goes through.
    let gc = HeldLock::exclusive(&journal);
    let second = vec![PathBuf::from(
        "/mnt/ds/ct/5/2025-07-14T14:20:02Z/root.pxar.didx",
    )];
    let appender = {
        let (paths, second) = (f.paths.clone(), second.clone());
        thread::spawn(move || move_journal::append_moved_indices(&paths, &second))
    };
    thread::sleep(Duration::from_millis(300));
    assert!(!appender.is_finished());
    drop(gc);
    appender.join().unwrap().unwrap();

    let text = fs::read_to_string(&journal).unwrap();
    assert_eq!(
        text,
        "/mnt/ds/ns/t/vm/100/2025-07-14T14:20:02Z/drive-scsi0.img.fidx\n\
         /mnt/ds/ns/t/vm/100/2025-07-14T14:20:02Z/drive-scsi1.img.fidx\n\
         /mnt/ds/ct/5/2025-07-14T14:20:02Z/root.pxar.didx\n"
    );
    let all: Vec<PathBuf> = first.into_iter().chain(second).collect();
    assert_eq!(move_journal::read_journal(&f.paths).unwrap(), all);

    let mut drained = Vec::new();
    move_journal::drain_move_journal(&f.paths, |p| {
        drained.push(p.to_path_buf());
        Ok(())
    })
    .unwrap();
    assert_eq!(drained, all);
    assert_eq!(fs::metadata(&journal).unwrap().len(), 0);
    assert_eq!(owner_mode(&journal), (uid, gid, 0o660));
}
