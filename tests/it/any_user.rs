//! Who may run what: a `demo` works for any user and stays in its dir; a move, resume or
//! undo by a user who cannot hand files to backup:backup (not root, not `backup`) is refused
//! up front with one line, before any lock file exists, and its `--dry-run` and the TUI's
//! preview say the same. Switching users needs root: these tests hand their temp dir to
//! `nobody` (or `backup`) and run the binary as that user.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::host_paths::HOST_PATHS;
use crate::support::pty::Session;
use crate::support::{
    BIN, MOVE_NS_PROD_TO_ARCHIVE_DRY_RUN, MOVE_VM100_TO_PROD, Store, TreeSnapshot, exit_code, json,
    require_root, stderr, wait_until,
};

const REFUSAL: &str = "pbs-mover must run as root or as user 'backup' to move, resume or undo: \
                       it creates lock files and directories owned by backup:backup as PBS does \
                       (running as uid 65534 'nobody'); rerun it with sudo";

/// `(uid, gid)` of a user, from its passwd entry.
fn ids_of(name: &str) -> (u32, u32) {
    let user = nix::unistd::User::from_name(name)
        .unwrap()
        .unwrap_or_else(|| panic!("user {name}"));
    (user.uid.as_raw(), user.gid.as_raw())
}

fn nobody() -> (u32, u32) {
    let ids = ids_of("nobody");
    assert_eq!(ids.0, 65534, "REFUSAL names nobody's uid");
    ids
}

/// `chown -R uid:gid dir` (without following symlinks).
fn chown_tree(dir: &Path, (uid, gid): (u32, u32)) {
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).unwrap();
    if std::fs::symlink_metadata(dir).unwrap().is_dir() {
        for e in std::fs::read_dir(dir).unwrap() {
            chown_tree(&e.unwrap().path(), (uid, gid));
        }
    }
}

/// `cmd` as `(uid, gid)` (std drops root's supplementary groups with the uid).
fn run_as(mut cmd: Command, (uid, gid): (u32, u32), args: &[&str]) -> Output {
    cmd.uid(uid)
        .gid(gid)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn host_state() -> Vec<(bool, TreeSnapshot)> {
    HOST_PATHS
        .iter()
        .map(|p| (Path::new(p).exists(), TreeSnapshot::of(Path::new(p))))
        .collect()
}

/// Every entry of `snap` is owned by `(uid, gid)`.
fn assert_owned_by(snap: &TreeSnapshot, (uid, gid): (u32, u32)) {
    for (path, e) in &snap.0 {
        assert_eq!((e.uid, e.gid), (uid, gid), "{path}");
    }
}

/// A store readable by everyone (tempdirs are 0700), files root-owned as the tests write them.
fn readable_store() -> Store {
    let s = Store::demo(10);
    std::fs::set_permissions(s.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    s
}

#[test]
#[ignore = "needs root"]
fn demo_as_nobody_creates_everything_inside_its_dir_and_its_own() {
    require_root();
    let ids = nobody();
    let tmp = tempfile::tempdir().unwrap();
    chown_tree(tmp.path(), ids);
    let dir = tmp.path().join("demo");
    let before = host_state();
    let mut cmd = Command::new(BIN);
    // The defaults, as a user would have them: /run/proxmox-backup/locks, /var/lib/pbs-mover.
    cmd.env_remove("PBS_MOVER_LOCK_DIR")
        .env_remove("PBS_MOVER_STATE_DIR")
        .current_dir(tmp.path());
    let out = run_as(
        cmd,
        ids,
        &[
            "demo",
            "--no-tui",
            "--groups",
            "3",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        dir.to_str().unwrap()
    );
    let entries: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["demo"], "demo wrote beside its dir");
    assert!(dir.join(".chunks").is_dir());
    assert!(dir.join(".pbs-mover-demo/locks").is_dir());
    assert!(dir.join(".pbs-mover-demo/state").is_dir());
    assert_owned_by(&TreeSnapshot::of(tmp.path()), ids);
    assert_eq!(host_state(), before, "demo wrote to the host's own dirs");
}

/// The demo's TUI as `nobody`, with the default lock and state dirs: a move works (nothing
/// to chown), its locks and journal stay inside the demo dir, all owned by `nobody`.
#[test]
#[ignore = "needs root"]
fn demo_tui_as_nobody_moves_inside_its_dir() {
    require_root();
    let ids = nobody();
    // The pty session's own dirs (config, XDG) live in this store's temp dir.
    let s = Store::empty(&[]);
    let dir = s.tmp.path().join("demo");
    chown_tree(s.tmp.path(), ids);
    let before = host_state();
    let script = format!(
        r#"unset PBS_MOVER_LOCK_DIR PBS_MOVER_STATE_DIR; exec setpriv --reuid={} --regid={} --clear-groups "$0" demo --groups 3 --dir '{}'"#,
        ids.0,
        ids.1,
        dir.display()
    );
    let mut tui = Session::start_in_shell(&s, 80, 24, &[("NO_COLOR", "1")], &script);
    tui.wait_text("vm/100");
    // The bottom row is the root's only group, vm/100: mark, pick "scratch", preview, confirm.
    tui.send("Gmp");
    tui.wait_text("Pickthetarget");
    std::thread::sleep(Duration::from_millis(300));
    tui.send("scratch\r");
    tui.wait_text("Willmove");
    tui.send("y");
    wait_until(|| dir.join("ns/scratch/vm/100").is_dir());
    tui.wait_count("finished", 1);
    std::thread::sleep(Duration::from_millis(300));
    tui.send("q");
    let status = tui.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}\n{}", tui.text());
    assert!(!dir.join("vm/100").exists());
    let journals = TreeSnapshot::of(&dir.join(".pbs-mover-demo/state"));
    assert!(
        journals.0.keys().any(|k| k.ends_with(".jsonl")),
        "no journal in the demo's state dir: {:?}",
        journals.0.keys()
    );
    assert!(
        !TreeSnapshot::of(&dir.join(".pbs-mover-demo/locks"))
            .0
            .is_empty(),
        "the move's lock files went elsewhere"
    );
    assert_owned_by(&TreeSnapshot::of(&dir), ids);
    assert_eq!(
        host_state(),
        before,
        "the demo wrote to the host's own dirs"
    );
}

/// As root the demo keeps creating what it creates owned backup:backup, now inside its dir.
#[test]
#[ignore = "needs root"]
fn demo_as_root_keeps_its_lock_dir_inside_and_owned_by_backup() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let before = host_state();
    let out = Command::new(BIN)
        .env_remove("PBS_MOVER_LOCK_DIR")
        .env_remove("PBS_MOVER_STATE_DIR")
        .args(["demo", "--no-tui", "--groups", "3", "--dir"])
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let backup = ids_of("backup");
    for sub in [
        ".pbs-mover-demo",
        ".pbs-mover-demo/locks",
        ".pbs-mover-demo/state",
    ] {
        let m = std::fs::symlink_metadata(dir.join(sub)).unwrap();
        assert!(m.is_dir(), "{sub}");
        assert_eq!((m.uid(), m.gid()), backup, "{sub}");
    }
    assert_eq!(host_state(), before, "demo wrote to the host's own dirs");
}

/// Every operation that creates files, as `nobody`, on a store it can read: exit 1, one line,
/// and not a byte changed anywhere in the test's dirs (no lock dir, no journal, no namespace).
#[test]
#[ignore = "needs root"]
fn moves_resume_and_undo_as_nobody_are_refused_before_anything_is_touched() {
    require_root();
    let s = readable_store();
    // A journaled move to undo (as root, as an admin would have made it).
    let out = s.run(&["move-group", "--group", "vm/100", "--target-ns", "staging"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let locks_before = TreeSnapshot::of(&s.locks);
    let before = TreeSnapshot::of(s.tmp.path());
    let commands: &[&[&str]] = &[
        &[
            "move-group",
            "--ns",
            "prod",
            "--group",
            "vm/101",
            "--target-ns",
            "dev",
        ],
        &[
            "move-group",
            "--ns",
            "staging",
            "--group",
            "vm/100",
            "--target-ns",
            "prod",
        ],
        &["move-ns", "--ns", "prod", "--target-ns", "archive/prod"],
        &["resume"],
        &["undo", "--last"],
    ];
    for args in commands {
        let out = run_as(s.cmd(), nobody(), args);
        assert_eq!(exit_code(&out), 1, "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), format!("error: {REFUSAL}\n"), "{args:?}");
        assert_eq!(
            TreeSnapshot::of(s.tmp.path()),
            before,
            "{args:?} touched something"
        );
    }
    assert_eq!(TreeSnapshot::of(&s.locks), locks_before);
}

/// Before the very first operation the lock dir does not exist: it is not created either.
#[test]
#[ignore = "needs root"]
fn a_refused_move_creates_no_lock_dir() {
    require_root();
    let s = readable_store();
    let before = TreeSnapshot::of(s.tmp.path());
    let out = run_as(s.cmd(), nobody(), MOVE_VM100_TO_PROD);
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    assert_eq!(json(&out)["error"], REFUSAL);
    assert!(!s.locks.exists(), "lock dir created");
    assert!(!s.state_dir().exists(), "state dir created");
    assert_eq!(TreeSnapshot::of(s.tmp.path()), before);
}

/// `--dry-run` says what the real move would: the refusal, human and `--json`, exit 1 as for
/// every refusal a dry run can see.
#[test]
#[ignore = "needs root"]
fn dry_runs_as_nobody_report_the_same_refusal() {
    require_root();
    let s = readable_store();
    let before = TreeSnapshot::of(s.tmp.path());
    let out = run_as(
        s.cmd(),
        nobody(),
        &[
            "move-group",
            "--group",
            "vm/100",
            "--target-ns",
            "prod",
            "--dry-run",
        ],
    );
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    assert_eq!(stderr(&out), format!("error: {REFUSAL}\n"));
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
        MOVE_NS_PROD_TO_ARCHIVE_DRY_RUN,
    ] {
        let out = run_as(s.cmd(), nobody(), args);
        assert_eq!(exit_code(&out), 1, "{args:?}: {}", stderr(&out));
        let v = json(&out);
        assert_eq!(v["ok"], false, "{v}");
        assert_eq!(v["dry_run"], true, "{v}");
        assert_eq!(v["error"], REFUSAL, "{v}");
    }
    // Undo's dry run too (after a root move it could undo).
    let out = s.run(&["move-group", "--group", "vm/100", "--target-ns", "staging"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let after_move = TreeSnapshot::of(s.tmp.path());
    let out = run_as(
        s.cmd(),
        nobody(),
        &["undo", "--last", "--dry-run", "--json"],
    );
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    assert_eq!(json(&out)["error"], REFUSAL);
    assert_eq!(TreeSnapshot::of(s.tmp.path()), after_move);
    assert_ne!(before, after_move);
}

/// Reading stays open to every user who can read the datastore.
#[test]
#[ignore = "needs root"]
fn ls_and_history_work_as_nobody() {
    require_root();
    let s = readable_store();
    let before = TreeSnapshot::of(s.tmp.path());
    let out = run_as(s.cmd(), nobody(), &["ls", "--recursive", "--json"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["ok"], true);
    let out = run_as(s.cmd(), nobody(), &["history"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(TreeSnapshot::of(s.tmp.path()), before);
}

/// PBS's own user may move: the tree handed to `backup` as PBS keeps it, the move runs and
/// what it creates is backup's.
#[test]
#[ignore = "needs root"]
fn the_backup_user_may_move() {
    require_root();
    let s = readable_store();
    let backup = ids_of("backup");
    chown_tree(s.tmp.path(), backup);
    let out = run_as(s.cmd(), backup, MOVE_VM100_TO_PROD);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(s.group_dir("prod", "vm/100").is_dir());
    assert_owned_by(&TreeSnapshot::of(s.tmp.path()), backup);
}

/// The TUI's preview shows the refusal, and confirming is not offered a way around it.
#[test]
#[ignore = "needs root"]
fn the_tui_preview_as_nobody_shows_the_refusal() {
    require_root();
    let s = Store::empty(&["a", "b"]);
    s.add_group("", "vm/100", "root@pam", &["2024-01-01T00:00:00Z"]);
    let ids = nobody();
    std::fs::set_permissions(s.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = TreeSnapshot::of(s.tmp.path());
    let script = format!(
        r#"exec setpriv --reuid={} --regid={} --clear-groups "$0" "$@""#,
        ids.0, ids.1
    );
    let mut tui = Session::start_in_shell(&s, 100, 30, &[("NO_COLOR", "1")], &script);
    tui.wait_text("vm/100");
    tui.send("Gmp");
    tui.wait_text("Pickthetarget");
    std::thread::sleep(Duration::from_millis(300));
    tui.send("b\r");
    tui.wait_text("mustrunasrootorasuser'backup'");
    tui.send("y");
    std::thread::sleep(Duration::from_millis(500));
    tui.send("\x1bq");
    let status = tui.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}\n{}", tui.text());
    assert!(s.group_dir("", "vm/100").is_dir());
    assert_eq!(TreeSnapshot::of(s.tmp.path()), before);
}
