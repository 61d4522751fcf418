//! End-to-end: a move is killed by a fail-point, the real TUI starts in a pseudo-terminal,
//! prompts about the interrupted move, the user accepts, and the move is finished on disk by
//! the same engine as `pbs-mover resume` (which afterwards has nothing left to do).

use crate::support;

use std::process::Stdio;
use std::time::Duration;

use support::pty::Session;
use support::{Store, exit_code, json, stderr, wait_until};

const T: [&str; 4] = [
    "2024-01-01T00:00:00Z",
    "2024-02-01T00:00:00Z",
    "2024-03-01T00:00:00Z",
    "2024-04-01T00:00:00Z",
];

#[test]
fn the_tui_prompts_at_start_and_resumes_an_interrupted_namespace_move() {
    let s = Store::empty(&["", "prod", "prod/db", "archive"]);
    s.add_group("prod", "vm/100", "root@pam", &T);
    std::fs::write(s.group_dir("prod", "vm/100").join("notes"), "vm\n").unwrap();
    s.add_group("prod/db", "ct/200", "root@pam", &T[..2]);
    let before = s.snapshot().snapshot_files();
    let state = s.tmp.path().join("state");
    s.cut_at(
        &state,
        "after-rename:2",
        &["move-ns", "--ns", "prod", "--target-ns", "archive/prod"],
    );
    // Split: two snapshots of vm/100 moved, two still at the source.
    assert!(s.group_dir("prod", "vm/100").join(T[3]).is_dir());
    assert!(s.group_dir("archive/prod", "vm/100").join(T[0]).is_dir());

    let mut tui = Session::start(&s, 80, 24, &[("PBS_MOVER_STATE_DIR", &state)]);
    tui.wait_text("Interrupted moves");
    tui.wait_text("'prod' → 'archive/prod'");
    // Both groups of the move count: the plan names them up front.
    tui.wait_text("interrupted: 0/2 group(s) done, 2 snapshot(s) moved");
    tui.wait_text(">[ Later ]<");
    // Nothing runs before the user says so.
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.group_dir("prod", "vm/100").is_dir());
    tui.send("y");
    wait_until(|| !s.ns_dir("prod").exists());
    // Ratatui prints only changed cells, so short words are safest to wait for.
    tui.wait_text("finished");
    std::thread::sleep(Duration::from_millis(500));
    tui.send("q");
    let status = tui.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    tui.assert_restored();

    assert_eq!(before, s.snapshot().snapshot_files(), "every snapshot once");
    assert!(s.group_dir("archive/prod", "vm/100").join(T[3]).is_dir());
    assert!(s.group_dir("archive/prod/db", "ct/200").is_dir());
    assert_eq!(
        std::fs::read_to_string(s.group_dir("archive/prod", "vm/100").join("notes")).unwrap(),
        "vm\n"
    );
    let again = s
        .cmd()
        .env("PBS_MOVER_STATE_DIR", &state)
        .args(["resume", "--json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(exit_code(&again), 0, "{}", stderr(&again));
    assert_eq!(json(&again)["nothing_to_do"], true, "the TUI finished it");
}

#[test]
fn later_leaves_the_move_alone_and_r_offers_it_again() {
    let s = Store::empty(&["", "b"]);
    s.add_group("", "vm/7", "root@pam", &T);
    let state = s.tmp.path().join("state");
    s.cut_at(
        &state,
        "after-rename:1",
        &["move-group", "--group", "vm/7", "--target-ns", "b"],
    );
    let split = s.snapshot();
    let mut tui = Session::start(&s, 80, 24, &[("PBS_MOVER_STATE_DIR", &state)]);
    tui.wait_text("vm/7 in '/' → 'b'");
    // Enter presses the focused button: Later.
    tui.send("\r");
    tui.wait_text("left as they are");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(split, s.snapshot(), "Later changed the datastore");
    // R brings the prompt back; Tab + Enter resumes.
    tui.send("R");
    tui.wait_count("Interrupted moves", 2);
    tui.send("\t\r");
    wait_until(|| !s.group_dir("", "vm/7").exists());
    tui.wait_text("finished");
    std::thread::sleep(Duration::from_millis(500));
    tui.send("q");
    assert!(tui.wait_exit(Duration::from_secs(10)).success());
    assert!(s.group_dir("b", "vm/7").join(T[3]).is_dir());
}
