//! End-to-end: the real binary in a pseudo-terminal. It must draw the tree, stay silent when
//! idle, quit on `q` with status 0 and leave the terminal restored (also after a panic).

use crate::support;

use std::time::Duration;

use support::Store;
use support::pty::{LEAVE_ALT_SCREEN, Session};

/// The TUI on a 40-group demo datastore (the store must outlive the session).
fn start(cols: u16, rows: u16, env: &[(&str, &str)]) -> (Store, Session) {
    let store = Store::demo(40);
    let session = Session::start(&store, cols, rows, env);
    (store, session)
}

#[test]
fn shows_the_tree_stays_quiet_when_idle_and_quits_on_q() {
    let (_store, mut s) = start(80, 24, &[]);
    s.wait_text("customers");
    s.wait_text("vm/100");
    // Let the size pass land, then nothing may be written while nobody types.
    s.wait_quiet(Duration::from_millis(300), Duration::from_secs(10));
    let before = s.len();
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        s.len(),
        before,
        "output while idle: redraw without a change"
    );
    s.send("q");
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    s.assert_restored();
    let raw = s.raw();
    assert!(
        raw.trim_end_matches(['\r', '\n'])
            .ends_with(LEAVE_ALT_SCREEN),
        "output does not end with leaving the alternate screen: {:?}",
        &raw[raw.len().saturating_sub(80)..]
    );
}

#[test]
fn keys_work_end_to_end_with_no_color() {
    let (_store, mut s) = start(80, 24, &[("NO_COLOR", "1")]);
    s.wait_text("customers");
    s.send("?");
    s.wait_text("go to the bottom");
    s.send("\x1b");
    // Esc alone is ambiguous to crossterm for a moment; then Ctrl-C quits from anywhere.
    std::thread::sleep(Duration::from_millis(200));
    s.send("\x03");
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    s.assert_restored();
    let raw = s.raw();
    // No colour was set: SGR 30–38, 40–48, 90–97, 100–107 (39/49 only reset to default).
    let colour =
        regex::Regex::new(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])[;m]").unwrap();
    assert!(!colour.is_match(&raw), "colour output under NO_COLOR");
}

#[test]
fn too_small_terminal_shows_a_message_and_still_quits() {
    let (_store, mut s) = start(40, 12, &[]);
    s.wait_text("need 60x16");
    s.send("q");
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

#[test]
fn panic_restores_the_terminal() {
    let (_store, mut s) = start(80, 24, &[("PBS_MOVER_EXIT_AFTER_FIRST_FRAME", "panic")]);
    let status = s.wait_exit(Duration::from_secs(20));
    assert!(!status.success());
    s.assert_restored();
    let raw = s.raw();
    let leave = raw.rfind(LEAVE_ALT_SCREEN).unwrap();
    // The panic message is printed after the restore, where the user can read it.
    assert!(raw[leave..].contains("panicked"), "{raw:?}");
}

#[test]
fn sigterm_restores_the_terminal() {
    let (_store, mut s) = start(80, 24, &[]);
    s.wait_text("customers");
    let pid = s.pid().expect("child pid") as i32;
    let pid = rustix::process::Pid::from_raw(pid).expect("non-zero pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    s.assert_restored();
}
