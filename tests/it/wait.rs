//! `--wait[=SECS]`: a busy lock is waited for (nothing changed meanwhile) until it is free
//! or the time is up (then exit 3 as without it). The locks are real flocks and a real
//! fcntl lock held by other processes.

use std::time::{Duration, Instant};

use crate::support::{
    HeldLock, MOVE_VM100_TO_PROD, Store, exit_code, gid, json, require_root, stderr,
};
use pbs_mover::tree::Namespace;

/// Holds `held` for one second in another thread, then releases it.
fn release_after_a_second(held: HeldLock) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        drop(held);
    })
}

fn with_wait<'a>(args: &[&'a str], wait: &'a str) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.push(wait);
    v
}

#[test]
#[ignore = "needs root"]
fn move_group_waits_for_a_group_lock_released_after_a_second() {
    require_root();
    let s = Store::demo(10);
    let held = HeldLock::exclusive(&s.lock_paths().group(&Namespace::root(), &gid("vm/100")));
    let pid = held.pid;
    let releaser = release_after_a_second(held);
    let out = s.run(&with_wait(MOVE_VM100_TO_PROD, "--wait=60"));
    releaser.join().unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["moved"][0]["group"], "vm/100", "{j}");
    let err = stderr(&out);
    assert!(err.contains("waiting: "), "{err}");
    assert!(
        err.contains(&format!("PID {pid}")),
        "names the holder: {err}"
    );
    assert!(s.group_dir("prod", "vm/100").is_dir());
}

#[test]
#[ignore = "needs root"]
fn wait_with_a_limit_ends_busy_against_a_lock_never_released() {
    require_root();
    let s = Store::demo(10);
    let _held = HeldLock::exclusive(&s.lock_paths().group(&Namespace::root(), &gid("vm/100")));
    let before = s.snapshot();
    let started = Instant::now();
    let out = s.run(&with_wait(MOVE_VM100_TO_PROD, "--wait=1"));
    let took = started.elapsed();
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert_eq!(json(&out)["failed"][0]["reason"], "lock-conflict");
    assert!(took >= Duration::from_millis(900), "waited {took:?}");
    assert!(took < Duration::from_secs(30), "waited {took:?}");
    assert_eq!(s.snapshot(), before, "changed while waiting");
}

#[test]
#[ignore = "needs root"]
fn move_ns_waits_for_a_running_garbage_collection() {
    require_root();
    let s = Store::demo(10);
    let gc = HeldLock::fcntl_write(&s.base.join(".lock"));
    let releaser = release_after_a_second(gc);
    let out = s.run(&[
        "move-ns",
        "--ns",
        "prod",
        "--target-ns",
        "archive/prod",
        "--wait",
    ]);
    releaser.join().unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("garbage collection is running"), "{err}");
    assert!(s.ns_dir("archive/prod").is_dir());
}

#[test]
#[ignore = "needs root"]
fn resume_waits_for_the_lock_of_the_group_it_finishes() {
    require_root();
    let s = Store::empty(&["", "a"]);
    let times = [
        "2024-01-01T10:00:00Z",
        "2024-01-02T10:00:00Z",
        "2024-01-03T10:00:00Z",
    ];
    s.add_group("", "vm/100", "root@pam", &times);
    let mv = ["move-group", "--group", "vm/100", "--target-ns", "a"];
    s.cut_at(&s.state_dir(), "after-rename:1", &mv);
    let held = HeldLock::exclusive(&s.lock_paths().group(&Namespace::root(), &gid("vm/100")));
    let releaser = release_after_a_second(held);
    let out = s.run(&["resume", "--json", "--wait=60"]);
    releaser.join().unwrap();
    crate::support::assert_resumed(&out);
    assert!(stderr(&out).contains("waiting: "), "{}", stderr(&out));
    assert_eq!(s.snapshot_dirs("a", "vm/100").len(), 3);
}

#[test]
fn wait_takes_its_seconds_only_with_an_equals_sign() {
    let s = Store::demo(3);
    let out = s.run(&[
        "move-group",
        "--group",
        "vm/100",
        "--target-ns",
        "prod",
        "--wait",
        "5",
    ]);
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    let out = s.run(&[
        "move-group",
        "--group",
        "vm/100",
        "--target-ns",
        "prod",
        "--wait=x",
    ]);
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
}
