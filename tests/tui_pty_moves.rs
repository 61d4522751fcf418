//! End-to-end: the real binary in a pseudo-terminal moves a group and then a namespace with
//! real keystrokes; the datastore is checked on disk afterwards, and the terminal restored.

mod support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use support::{Store, wait_until};

const LEAVE_ALT_SCREEN: &str = "\x1b[?1049l";

/// Output so far, with escape sequences and spaces removed (ratatui skips unchanged cells).
fn text(out: &Mutex<Vec<u8>>) -> String {
    let raw = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
    let esc = regex::Regex::new(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()].|.)").unwrap();
    esc.replace_all(&raw, "").split_whitespace().collect()
}

fn wait_text(out: &Mutex<Vec<u8>>, needle: &str) {
    wait_count(out, needle, 1);
}

/// Waits until `needle` was printed `n` times (short words: diffs split long ones).
fn wait_count(out: &Mutex<Vec<u8>>, needle: &str, n: usize) {
    let end = Instant::now() + Duration::from_secs(20);
    while text(out).matches(needle).count() < n {
        assert!(Instant::now() < end, "'{needle}' not seen:\n{}", text(out));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn moves_a_group_and_a_namespace_with_real_keys() {
    let s = Store::empty(&["a", "a/sub", "b"]);
    s.add_group("", "vm/100", "root@pam", &["2024-01-01T00:00:00Z"]);
    s.add_group("a", "ct/200", "root@pam", &["2024-01-01T00:00:00Z"]);
    s.add_group("a/sub", "host/web1", "root@pam", &["2024-01-01T00:00:00Z"]);
    let before = s.snapshot().snapshot_files();
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(support::BIN);
    for a in ["--path", s.base.to_str().unwrap(), "--lock-dir"] {
        cmd.arg(a);
    }
    cmd.arg(&s.locks);
    cmd.arg("--config-dir");
    cmd.arg(s.tmp.path().join("etc"));
    cmd.env("TERM", "xterm-256color");
    cmd.env("NO_COLOR", "1");
    cmd.env("XDG_CONFIG_HOME", s.tmp.path().join("config"));
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let mut writer = pair.master.take_writer().unwrap();
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&out);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let mut send = |keys: &str| {
        for b in keys.bytes() {
            writer.write_all(&[b]).unwrap();
            writer.flush().unwrap();
            // One key per read: a human's pace, and no Esc-sequence ambiguity.
            std::thread::sleep(Duration::from_millis(60));
        }
    };
    wait_text(&out, "vm/100");

    // Group: bottom row (vm/100), mark, pick target "b", preview, confirm.
    send("Gmp");
    wait_text(&out, "Pickthetarget");
    std::thread::sleep(Duration::from_millis(300));
    send("b\r");
    wait_text(&out, "Dryrun");
    wait_text(&out, "Willmove");
    send("y");
    wait_until(|| s.group_dir("b", "vm/100").is_dir());
    wait_count(&out, "finished", 1);

    // Namespace: top, down to "a", mark, pick new parent "b" (name stays "a"), confirm.
    send("gjmp");
    wait_text(&out, "Pickthenewparent");
    std::thread::sleep(Duration::from_millis(300));
    send("b\r");
    std::thread::sleep(Duration::from_millis(500));
    send("y");
    wait_until(|| s.group_dir("b/a/sub", "host/web1").is_dir());
    wait_count(&out, "finished", 2);
    send("q");

    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < end, "no exit after q:\n{}", text(&out));
        std::thread::sleep(Duration::from_millis(20));
    };
    reader.join().unwrap();
    assert!(status.success(), "{status:?}");
    let raw = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
    assert!(raw.contains(LEAVE_ALT_SCREEN), "terminal not restored");

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
