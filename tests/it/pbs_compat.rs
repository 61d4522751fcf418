//! Safe beside every PBS version in the field, checked against real processes doing what
//! PBS's own code does:
//! - GC: PBS's `ProcessLocker::try_exclusive_lock` is `fcntl(F_SETLK, F_WRLCK)` on the
//!   whole `<store>/.lock`, failing at once when a writer holds F_RDLCK. A second process
//!   (this test process) tries exactly that all through a move and must never get it.
//! - PBS ≤ 3.3.4 locks: `lock_dir_noblock` = exclusive non-blocking flock(2) on the group
//!   or snapshot *directory* (`flock -x DIR`), and the old manifest lock file.
//! - Active operations: PBS's `task_tracking.rs` format and lock.
//! - Datastore roots: `.chunks/` and `.lock`, nothing else and nothing inside one.
//!
//! Runs as root (files chowned to backup:backup).

use crate::support;

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;
use support::{
    HeldLock, Store, epoch_times, error_line, exit_code, flocked, json, stderr, wait_until,
};

const PBS_3: &str = "3.2.4";
const PBS_4: &str = "4.2.3";
const VERSION_ENV: &str = "PBS_MOVER_PBS_VERSION";

/// Namespaces `a`, `b`; `a` holds vm/100 with `n` snapshots.
fn store_with_group(n: u64) -> Store {
    let s = Store::empty(&["a", "b"]);
    s.add_group(
        "a",
        "vm/100",
        "root@pam",
        &support::as_refs(&epoch_times(n)),
    );
    s
}

fn move_args() -> Vec<&'static str> {
    support::move_group_from("a", "vm/100", "b").to_vec()
}

fn run_as(s: &Store, version: &str, args: &[&str]) -> std::process::Output {
    s.cmd()
        .env(VERSION_ENV, version)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn spawn_as(s: &Store, version: &str, args: &[&str]) -> Child {
    s.cmd()
        .env(VERSION_ENV, version)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn whole_file(l_type: libc::c_int) -> libc::flock {
    libc::flock {
        l_type: l_type as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

/// PBS GC's attempt: F_SETLK F_WRLCK on the whole file. Released at once when it succeeds.
fn gc_would_start(lock: &File) -> bool {
    match fcntl(lock.as_fd(), FcntlArg::F_SETLK(&whole_file(libc::F_WRLCK))) {
        Ok(_) => {
            fcntl(lock.as_fd(), FcntlArg::F_SETLK(&whole_file(libc::F_UNLCK))).unwrap();
            true
        }
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => false,
        Err(e) => panic!("fcntl: {e}"),
    }
}

fn snapshot_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with('Z'))
            .count()
    })
}

/// From the move's first lock (the shared `.ns-lock` of its source) to its last rename (every
/// snapshot at the target), PBS's GC lock attempt keeps failing. Returns the attempts made.
fn assert_gc_excluded_during(
    s: &Store,
    version: &str,
    args: &[&str],
    first_lock: &Path,
    done: impl Fn() -> bool,
) -> usize {
    // PBS opens it read-write: F_WRLCK needs a writable fd.
    let lock = File::options()
        .read(true)
        .write(true)
        .open(s.base.join(".lock"))
        .unwrap();
    let mut child = spawn_as(s, version, args);
    let started = Instant::now();
    while !flocked(first_lock) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "move ended before its first lock was seen"
        );
        assert!(started.elapsed() < Duration::from_secs(20), "no lock taken");
    }
    // Until the mover exits; a GC lock granted after the last rename is the legitimate
    // end of the operation (it releases the lock just before exiting).
    let (mut attempts, mut got) = (0, 0);
    while child.try_wait().unwrap().is_none() {
        attempts += 1;
        if gc_would_start(&lock) {
            if done() {
                break;
            }
            got += 1;
        }
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(done(), "the move finished");
    assert_eq!(
        got, 0,
        "GC got its exclusive lock {got} of {attempts} times during the move"
    );
    assert!(attempts > 10, "only {attempts} GC attempts during the move");
    attempts
}

#[test]
fn gc_cannot_start_between_the_first_lock_and_the_last_rename_of_a_group_move() {
    for version in [PBS_4, PBS_3] {
        let s = store_with_group(3000);
        // An older target snapshot: a merge, so every snapshot is renamed on its own.
        s.add_group("b", "vm/100", "root@pam", &["2020-01-01T00:00:00Z"]);
        let target = s.group_dir("b", "vm/100");
        let attempts = assert_gc_excluded_during(
            &s,
            version,
            &move_args(),
            &s.locks.join("store1/a/.ns-lock"),
            || snapshot_count(&target) == 3001,
        );
        eprintln!("PBS {version}: {attempts} GC attempts, all refused");
    }
}

#[test]
fn gc_cannot_start_during_a_namespace_move() {
    let s = Store::empty(&["src", "dst"]);
    let t = epoch_times(10);
    let refs: Vec<&str> = t.iter().map(String::as_str).collect();
    for i in 0..300 {
        s.add_group("src", &format!("vm/{}", 1000 + i), "root@pam", &refs);
    }
    let moved = s.ns_dir("dst/src");
    assert_gc_excluded_during(
        &s,
        PBS_3,
        &["move-ns", "--ns", "src", "--target-ns", "dst/src"],
        &s.locks.join("store1/src/.ns-lock"),
        || {
            let vm = moved.join("vm");
            std::fs::read_dir(&vm).map_or(0, |rd| rd.count()) == 300
                && (0..300).all(|i| snapshot_count(&vm.join(format!("{}", 1000 + i))) == 10)
        },
    );
}

/// GC already running: every operation that would change the datastore is busy (exit 3),
/// names GC's PID, and changes nothing.
#[test]
fn a_running_gc_makes_every_operation_busy_and_changes_nothing() {
    let s = store_with_group(3);
    let out = run_as(&s, PBS_4, &move_args());
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let back = [
        "move-group",
        "--ns",
        "b",
        "--group",
        "vm/100",
        "--target-ns",
        "a",
    ];
    let mut back_dry = back.to_vec();
    back_dry.push("--dry-run");
    assert_busy_while_gc_runs(
        &s,
        &[
            back.to_vec(),
            back_dry,
            vec!["move-ns", "--ns", "b", "--target-ns", "a/b"],
            vec!["undo", "--last"],
        ],
    );
    // Something left to resume: a move cut right after its rename.
    s.cut_at(&s.state_dir(), "after-rename", &back);
    assert_busy_while_gc_runs(&s, &[vec!["resume"]]);
    assert_eq!(exit_code(&run_as(&s, PBS_4, &["resume"])), 0);
}

fn assert_busy_while_gc_runs(s: &Store, commands: &[Vec<&str>]) {
    let gc = HeldLock::fcntl_write(&s.base.join(".lock"));
    let before = s.snapshot();
    let active_before = std::fs::read(active_ops_file(s)).ok();
    for args in commands {
        let out = run_as(s, PBS_3, args);
        assert_eq!(exit_code(&out), 3, "{args:?}: {}", stderr(&out));
        let line = error_line(&out);
        assert!(
            line.contains("garbage collection is running"),
            "{args:?}: {line}"
        );
        assert!(
            line.contains(&format!("PID {}", gc.pid)),
            "{args:?}: {line}"
        );
        assert_eq!(before, s.snapshot(), "{args:?} changed the datastore");
        let active = std::fs::read(active_ops_file(s)).ok();
        assert_eq!(
            active, active_before,
            "{args:?} registered an active operation"
        );
    }
}

/// PBS 3.2.4's `lock_dir_noblock` on the group dir (a running backup) and on a snapshot
/// dir (verify, reader): a move honours them when such a PBS may run, in dry runs too.
#[test]
fn old_scheme_dir_locks_are_honoured_for_pbs_before_3_3_5_and_unknown_versions() {
    let s = store_with_group(5);
    let snap = s.group_dir("a", "vm/100").join(&epoch_times(5)[2]);
    for dir in [s.group_dir("a", "vm/100"), snap] {
        let held = HeldLock::flock(&dir, false);
        let before = s.snapshot();
        for version in [PBS_3, "3.3.4-1", "unknown"] {
            for dry in [false, true] {
                let mut args = move_args();
                args.push("--json");
                if dry {
                    args.push("--dry-run");
                }
                let out = run_as(&s, version, &args);
                let j = json(&out);
                if dry {
                    let text = j.to_string();
                    assert!(
                        text.contains(&format!("PID {}", held.pid)),
                        "{version} dry run: {j}"
                    );
                    assert!(text.contains("PBS < 3.3.5"), "{version} dry run: {j}");
                } else {
                    assert_eq!(exit_code(&out), 3, "{version} {}: {j}", dir.display());
                    let msg = j["failed"][0]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                        + j["error"].as_str().unwrap_or_default();
                    assert!(msg.contains(&format!("PID {}", held.pid)), "{version}: {j}");
                    assert!(msg.contains(&dir.display().to_string()), "{version}: {j}");
                }
                assert_eq!(before, s.snapshot(), "{version} changed something");
            }
        }
        drop(held);
    }
}

#[test]
fn pbs_from_3_3_5_uses_lock_files_only_and_the_dpkg_record_decides() {
    let s = store_with_group(3);
    let held = HeldLock::flock(&s.group_dir("a", "vm/100"), false);
    let status = s.tmp.path().join("dpkg-status");
    let record = |v: &str| {
        format!("Package: proxmox-backup-server\nStatus: install ok installed\nVersion: {v}\n\n")
    };
    // No override: the version comes from the dpkg database.
    std::fs::write(&status, record("3.2.4-1")).unwrap();
    let out = s
        .cmd()
        .env("PBS_MOVER_DPKG_STATUS", &status)
        .args(move_args())
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    let ls = s
        .cmd()
        .env("PBS_MOVER_DPKG_STATUS", &status)
        .args(["ls", "--json"])
        .output()
        .unwrap();
    assert_eq!(json(&ls)["pbs_version"], "3.2.4-1");
    assert_eq!(json(&ls)["lock_scheme"], "old+new");
    // No record at all: unknown, both schemes.
    std::fs::write(
        &status,
        "Package: zsh\nStatus: install ok installed\nVersion: 5.9\n",
    )
    .unwrap();
    let out = s
        .cmd()
        .env("PBS_MOVER_DPKG_STATUS", &status)
        .args(move_args())
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    let ls = s
        .cmd()
        .env("PBS_MOVER_DPKG_STATUS", &status)
        .args(["ls", "--json"])
        .output()
        .unwrap();
    assert_eq!(json(&ls)["pbs_version"], serde_json::Value::Null);
    // PBS 4: directory flocks mean nothing to it, and the move goes ahead.
    std::fs::write(&status, record("4.2.3-1")).unwrap();
    let out = s
        .cmd()
        .env("PBS_MOVER_DPKG_STATUS", &status)
        .args(move_args())
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(s.group_dir("b", "vm/100").is_dir());
    drop(held);
}

#[test]
fn the_old_manifest_lock_is_honoured_and_removed_after_the_move() {
    let s = store_with_group(2);
    let t = epoch_times(2);
    let old = |ns: &str, time: &str| {
        let mut p = s.locks.join("store1");
        if !ns.is_empty() {
            p = p.join("ns").join(ns);
        }
        p.join("vm/100")
            .join(time)
            .join(format!("{time}.index.json.lck"))
    };
    let held = HeldLock::flock(&old("a", &t[1]), false);
    let before = s.snapshot();
    let started = Instant::now();
    let out = run_as(&s, PBS_3, &move_args());
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "PBS waits 5 s for a manifest lock"
    );
    let line = error_line(&out);
    assert!(
        line.contains("manifest") && line.contains(&format!("PID {}", held.pid)),
        "{line}"
    );
    assert_eq!(before, s.snapshot());
    drop(held);
    let out = run_as(&s, PBS_3, &move_args());
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    for time in &t {
        assert!(
            !old("a", time).exists(),
            "stale old manifest lock of {time}"
        );
        assert!(!old("a", time).parent().unwrap().exists(), "its dir too");
    }
}

fn active_ops_file(s: &Store) -> PathBuf {
    s.tmp.path().join("run/active-operations/store1")
}

/// The mover took its entry out again (PBS's file format: an empty list is left).
fn assert_no_active_entry(s: &Store) {
    match std::fs::read_to_string(active_ops_file(s)) {
        Ok(text) => assert_eq!(text, "[]"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
    }
}

/// Field 22 of /proc/PID/stat.
fn starttime(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

#[test]
fn a_move_counts_as_an_active_write_operation_while_it_runs() {
    let s = store_with_group(3000);
    s.add_group("b", "vm/100", "root@pam", &["2020-01-01T00:00:00Z"]);
    let mut child = spawn_as(&s, PBS_4, &move_args());
    let pid = child.id();
    let want = serde_json::json!([{
        "pid": pid,
        "starttime": starttime(pid),
        "active_operations": {"read": 0, "write": 1}
    }]);
    wait_until(|| {
        std::fs::read(active_ops_file(&s))
            .ok()
            .and_then(|d| serde_json::from_slice::<serde_json::Value>(&d).ok())
            == Some(want.clone())
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "seen while the move runs"
    );
    assert!(
        snapshot_count(&s.group_dir("a", "vm/100")) > 0,
        "seen before the last rename"
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_no_active_entry(&s);
    let dir = active_ops_file(&s).parent().unwrap().to_path_buf();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&dir), 0o750);
    assert_eq!(mode(&active_ops_file(&s)), 0o660);
    assert_eq!(mode(&dir.join("store1.lock")), 0o660);
    if let Some((uid, gid)) = support::api::ownership::backup_ids() {
        for p in [dir.clone(), active_ops_file(&s), dir.join("store1.lock")] {
            let m = std::fs::metadata(&p).unwrap();
            assert_eq!((m.uid(), m.gid()), (uid, gid), "{}", p.display());
        }
    }
}

#[test]
fn a_failed_or_busy_move_leaves_no_active_operation() {
    let s = store_with_group(3);
    // Merge refused under the locks: a target snapshot newer than the source's.
    s.add_group("b", "vm/100", "root@pam", &["2030-01-01T00:00:00Z"]);
    let out = run_as(&s, PBS_4, &move_args());
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    assert!(active_ops_file(&s).exists(), "it was registered");
    assert_no_active_entry(&s);
    // Busy under the locks: a snapshot locked by a task.
    let s = store_with_group(3);
    let t = epoch_times(3);
    let _held = HeldLock::flock(&s.group_dir("a", "vm/100").join(&t[1]), false);
    let out = run_as(&s, PBS_3, &move_args());
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert!(active_ops_file(&s).exists(), "it was registered");
    assert_no_active_entry(&s);
}

#[test]
fn registration_waits_for_pbs_holding_the_active_operations_lock() {
    let s = store_with_group(3);
    let dir = active_ops_file(&s).parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    let held = HeldLock::flock(&dir.join("store1.lock"), false);
    let child = spawn_as(&s, PBS_4, &move_args());
    std::thread::sleep(Duration::from_millis(700));
    assert!(!active_ops_file(&s).exists(), "written without PBS's lock");
    assert!(
        s.group_dir("a", "vm/100").is_dir(),
        "moved before it was counted"
    );
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(s.group_dir("b", "vm/100").is_dir());
    assert_no_active_entry(&s);
}

/// `--path` must name a datastore root; nothing is created anywhere when it does not.
#[test]
fn only_a_datastore_root_is_accepted_as_path() {
    let s = store_with_group(1);
    let before = s.snapshot();
    let empty = s.tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let file = s.tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let base = s.base.canonicalize().unwrap();
    let cases: Vec<(PathBuf, String)> = vec![
        (
            empty.clone(),
            format!(
                "{} is not a datastore root: .chunks/ and .lock missing",
                empty.canonicalize().unwrap().display()
            ),
        ),
        (
            s.ns_dir("a"),
            format!(
                "{} is inside datastore {}; use --path {} --ns a",
                base.join("ns/a").display(),
                base.display(),
                base.display()
            ),
        ),
        (file.clone(), "is not a directory".to_string()),
    ];
    for (path, want) in cases {
        for args in [
            vec!["move-group", "--group", "vm/100", "--target-ns", "b"],
            vec!["ls"],
            vec![],
        ] {
            let out = s
                .cmd_at(&path)
                .env(VERSION_ENV, PBS_4)
                .args(&args)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(
                exit_code(&out),
                1,
                "{args:?} {}: {}",
                path.display(),
                stderr(&out)
            );
            let line = error_line(&out);
            assert!(line.contains(&want), "{line}\nwant: {want}");
            assert!(!s.locks.exists(), "a lock dir was created");
            assert!(
                !active_ops_file(&s).exists(),
                "an active operation was registered"
            );
        }
    }
    assert_eq!(before, s.snapshot());
}
