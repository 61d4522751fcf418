//! End-to-end in a pseudo-terminal: a mouse click (an SGR mouse report, as xterm sends it)
//! selects a tree row, `--no-mouse` turns the mouse off and leaves the keys working, mouse
//! capture is undone on exit, and an idle TUI uses no CPU (its event loop blocks).

use crate::support;

use std::time::Duration;

use support::Store;
use support::pty::Session;

/// xterm's "report mouse buttons, SGR encoding" on and off, as crossterm writes them.
const MOUSE_ON: &str = "\x1b[?1000h";
const MOUSE_OFF: &str = "\x1b[?1000l";

/// A left click at 1-based column `x`, row `y`: press and release.
fn sgr_click(x: u16, y: u16) -> String {
    format!("\x1b[<0;{x};{y}M\x1b[<0;{x};{y}m")
}

/// Row 5 (1-based) of the 80×24 screen is the tree's third row: `customers` in the demo.
/// Selected, it is drawn as `> + customers` (the cursor marker, visible without colour).
const CUSTOMERS: (u16, u16) = (8, 5);

#[test]
fn a_click_selects_a_row_and_mouse_capture_is_undone_on_exit() {
    let store = Store::demo(40);
    let mut s = Session::start(&store, 80, 24, &[("NO_COLOR", "1")]);
    s.wait_text("customers");
    s.wait_quiet(Duration::from_millis(300), Duration::from_secs(10));
    assert!(s.raw().contains(MOUSE_ON), "mouse capture not enabled");
    assert_eq!(s.text().matches(">+customers").count(), 0);
    let (x, y) = CUSTOMERS;
    s.send_raw(&sgr_click(x, y));
    s.wait_text("> + customers");
    s.send("q");
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    s.assert_restored();
    let raw = s.raw();
    assert!(
        raw.rfind(MOUSE_OFF) > raw.rfind(MOUSE_ON),
        "mouse capture left on"
    );
}

#[test]
fn no_mouse_ignores_clicks_and_keys_still_work() {
    let store = Store::demo(40);
    let mut s = Session::start_with_args(&store, 80, 24, &[("NO_COLOR", "1")], &["--no-mouse"]);
    s.wait_text("customers");
    s.wait_quiet(Duration::from_millis(300), Duration::from_secs(10));
    assert!(
        !s.raw().contains(MOUSE_ON),
        "--no-mouse still captures the mouse"
    );
    let (x, y) = CUSTOMERS;
    s.send_raw(&sgr_click(x, y));
    s.wait_quiet(Duration::from_millis(300), Duration::from_secs(10));
    assert_eq!(
        s.text().matches(">+customers").count(),
        0,
        "a click selected a row with --no-mouse"
    );
    s.send("jj");
    s.wait_text("> + customers");
    s.send("q");
    assert!(s.wait_exit(Duration::from_secs(10)).success());
    s.assert_restored();
}

/// utime + stime of `pid` in clock ticks (all its threads).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit(')').next().unwrap();
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn idle_tui_uses_no_cpu() {
    let store = Store::demo(40);
    let mut s = Session::start(&store, 80, 24, &[("NO_COLOR", "1")]);
    s.wait_text("customers");
    s.wait_quiet(Duration::from_millis(500), Duration::from_secs(10));
    let pid = s.pid().expect("the TUI's pid");
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(pid) - before;
    // A loop that polls would use a tick (10 ms) every few ms: hundreds over 3 s. Blocked
    // in epoll it uses none; two ticks leave room for a stray timer of the runtime.
    assert!(used <= 2, "{used} clock ticks of CPU in 3 idle seconds");
    s.send("q");
    assert!(s.wait_exit(Duration::from_secs(10)).success());
}
