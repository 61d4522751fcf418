//! End-to-end: the real binary in a pseudo-terminal on a 2,000-group demo datastore finds a
//! group three namespace levels down with `/` (nothing below the root was expanded) and
//! moves it with real keystrokes; the datastore is checked on disk afterwards.

use crate::support;

use std::time::Duration;

use pbs_mover::tree::Namespace;
use support::pty::Session;
use support::{Store, wait_until};

#[test]
fn finds_a_group_three_levels_down_in_2000_groups_and_moves_it() {
    let s = Store::demo(2000);
    let deep = Namespace::parse("customers/acme/site-1").unwrap();
    let ds = s.locate();
    let group = ds.list_group_ids(&deep).unwrap().items[0].to_string();
    let before = s.snapshot_dirs("customers/acme/site-1", &group);
    let mut tui = Session::start(&s, 80, 24, &[("NO_COLOR", "1")]);
    tui.wait_text("customers");
    // The namespace path narrows the id to the one group down there.
    tui.send(&format!("/site-1 {group}"));
    // The hit once the index is built (typing may come before: the first part of the root
    // is shown before the build starts); the cursor goes to it then.
    tui.wait_text("1of1matches");
    // The frame after the last keystroke and after the levels on the way are listed
    // (screen diffs: wait for calm, not for text). "1 of 1" may already show for a prefix
    // of the query, and under a loaded CI the listings of the levels down to the hit draw
    // nothing for several hundred ms: a short calm could end before the cursor is there.
    tui.wait_quiet(Duration::from_millis(1500), Duration::from_secs(30));
    tui.send("\r");
    // The picker names what `m` marked: the group the search put the cursor on.
    tui.send("mp");
    tui.wait_text(&format!("Pickthetargetforgroup{group}"));
    std::thread::sleep(Duration::from_millis(300));
    tui.send("scratch\r");
    tui.wait_text("Willmove");
    tui.send("y");
    wait_until(|| s.group_dir("scratch", &group).is_dir());
    tui.wait_count("finished", 1);
    std::thread::sleep(Duration::from_millis(300));
    tui.send("q");
    let status = tui.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    tui.assert_restored();
    assert!(!s.group_dir("customers/acme/site-1", &group).exists());
    assert_eq!(s.snapshot_dirs("scratch", &group), before);
}
