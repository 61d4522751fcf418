//! End-to-end: the real binary in a pseudo-terminal moves a group and then a namespace with
//! real keystrokes; the datastore is checked on disk afterwards, and the terminal restored.

use crate::support;

use std::time::Duration;

use support::pty::Session;
use support::{Store, wait_until};

#[test]
fn moves_a_group_and_a_namespace_with_real_keys() {
    let s = Store::empty(&["a", "a/sub", "b"]);
    s.add_group("", "vm/100", "root@pam", &["2024-01-01T00:00:00Z"]);
    s.add_group("a", "ct/200", "root@pam", &["2024-01-01T00:00:00Z"]);
    s.add_group("a/sub", "host/web1", "root@pam", &["2024-01-01T00:00:00Z"]);
    let before = s.snapshot().snapshot_files();
    let mut tui = Session::start(&s, 80, 24, &[("NO_COLOR", "1")]);
    tui.wait_text("vm/100");

    // Group: bottom row (vm/100), mark, pick target "b", preview, confirm.
    tui.send("Gmp");
    tui.wait_text("Pickthetarget");
    std::thread::sleep(Duration::from_millis(300));
    tui.send("b\r");
    tui.wait_text("Dryrun");
    tui.wait_text("Willmove");
    tui.send("y");
    wait_until(|| s.group_dir("b", "vm/100").is_dir());
    tui.wait_count("finished", 1);

    // Namespace: top, down to "a", mark, pick new parent "b" (name stays "a"), confirm.
    tui.send("gjmp");
    tui.wait_text("Pickthenewparent");
    std::thread::sleep(Duration::from_millis(300));
    tui.send("b\r");
    std::thread::sleep(Duration::from_millis(500));
    tui.send("y");
    wait_until(|| s.group_dir("b/a/sub", "host/web1").is_dir());
    // The emptied source namespace goes last. Screen text cannot tell move #2's summary
    // from a redraw of move #1's (ratatui prints only changed cells), so the log is read
    // after the move's last step, with time for its final message.
    wait_until(|| !s.ns_dir("a").exists());
    tui.wait_count("finished", 2);
    std::thread::sleep(Duration::from_millis(500));
    tui.send("q");
    let status = tui.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    tui.assert_restored();

    assert!(!s.group_dir("", "vm/100").exists());
    assert!(s.group_dir("b", "vm/100").is_dir());
    assert!(s.group_dir("b/a", "ct/200").is_dir());
    assert!(!s.ns_dir("a").exists(), "emptied source namespace removed");
    assert_eq!(
        s.snapshot().snapshot_files(),
        before,
        "snapshot content changed"
    );
}
