//! End-to-end: the real binary in a pseudo-terminal. It must draw the tree, stay silent when
//! idle, quit on `q` with status 0 and leave the terminal restored (also after a panic).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pbs_mover::demo::{DemoSpec, create_demo};
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

const LEAVE_ALT_SCREEN: &str = "\x1b[?1049l";
const ENTER_ALT_SCREEN: &str = "\x1b[?1049h";

struct Session {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    output: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    _master: Box<dyn MasterPty + Send>,
    _dir: tempfile::TempDir,
}

fn start(cols: u16, rows: u16, env: &[(&str, &str)]) -> Session {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store1");
    std::fs::create_dir(&store).unwrap();
    let spec = DemoSpec {
        groups: 40,
        full_chunk_store: false,
    };
    create_demo(&store, spec).unwrap();
    let pair = native_pty_system()
        .openpty(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_pbs-mover"));
    cmd.arg("--path");
    cmd.arg(&store);
    cmd.arg("--lock-dir");
    cmd.arg(dir.path().join("locks"));
    cmd.arg("--config-dir");
    cmd.arg(dir.path().join("no-config"));
    cmd.env("TERM", "xterm-256color");
    // No user keymap from the machine running the tests.
    cmd.env("XDG_CONFIG_HOME", dir.path().join("config"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = pair.slave.spawn_command(cmd).unwrap();
    // Our copy of the slave must go, or reading the master never sees the end.
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let writer = pair.master.take_writer().unwrap();
    let output = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&output);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    Session {
        child,
        writer,
        output,
        reader: Some(reader),
        _master: pair.master,
        _dir: dir,
    }
}

impl Session {
    fn raw(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    fn len(&self) -> usize {
        self.output.lock().unwrap().len()
    }

    /// Spaces are ignored: ratatui moves the cursor over unchanged cells instead of
    /// printing them, so "go to the bottom" may arrive as "gotothebottom".
    fn wait_for_text(&self, needle: &str, timeout: Duration) {
        let needle: String = needle.split_whitespace().collect();
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            let text: String = strip_escapes(&self.raw()).split_whitespace().collect();
            if text.contains(&needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "'{needle}' not seen within {timeout:?}; screen text:\n{}",
            strip_escapes(&self.raw())
        );
    }

    /// Waits until no output arrived for `quiet`, bounded by `timeout`.
    fn wait_quiet(&self, quiet: Duration, timeout: Duration) {
        let end = Instant::now() + timeout;
        let mut last = (self.len(), Instant::now());
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
            let n = self.len();
            if n != last.0 {
                last = (n, Instant::now());
            } else if last.1.elapsed() >= quiet {
                return;
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    fn wait_exit(&mut self, timeout: Duration) -> portable_pty::ExitStatus {
        let end = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Collect whatever the child wrote last (the restore sequences).
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return status;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("no exit within {timeout:?}; output:\n{}", self.raw());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Drops CSI/OSC/other escape sequences, keeping the printed text.
fn strip_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                for c in chars.by_ref() {
                    if c == '\x07' {
                        break;
                    }
                }
            }
            // Charset selection like ESC ( B has one more byte.
            Some('(' | ')') => {
                chars.next();
            }
            _ => {}
        }
    }
    out
}

fn assert_restored(raw: &str) {
    let enter = raw
        .rfind(ENTER_ALT_SCREEN)
        .expect("entered the alternate screen");
    let leave = raw
        .rfind(LEAVE_ALT_SCREEN)
        .expect("left the alternate screen");
    assert!(leave > enter, "left before entering?");
    assert!(raw[leave..].contains(LEAVE_ALT_SCREEN));
}

#[test]
fn shows_the_tree_stays_quiet_when_idle_and_quits_on_q() {
    let mut s = start(80, 24, &[]);
    s.wait_for_text("customers", Duration::from_secs(20));
    s.wait_for_text("vm/100", Duration::from_secs(20));
    // Let the size pass land, then nothing may be written while nobody types.
    s.wait_quiet(Duration::from_millis(300), Duration::from_secs(10));
    let before = s.len();
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        s.len(),
        before,
        "output while idle: redraw without a change"
    );
    s.send(b"q");
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    let raw = s.raw();
    assert_restored(&raw);
    assert!(
        raw.trim_end_matches(['\r', '\n'])
            .ends_with(LEAVE_ALT_SCREEN),
        "output does not end with leaving the alternate screen: {:?}",
        &raw[raw.len().saturating_sub(80)..]
    );
}

#[test]
fn keys_work_end_to_end_with_no_color() {
    let mut s = start(80, 24, &[("NO_COLOR", "1")]);
    s.wait_for_text("customers", Duration::from_secs(20));
    s.send(b"?");
    s.wait_for_text("go to the bottom", Duration::from_secs(10));
    s.send(b"\x1b");
    // Esc alone is ambiguous to crossterm for a moment; then Ctrl-C quits from anywhere.
    std::thread::sleep(Duration::from_millis(200));
    s.send(b"\x03");
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    let raw = s.raw();
    assert_restored(&raw);
    // No colour was set: SGR 30–38, 40–48, 90–97, 100–107 (39/49 only reset to default).
    let colour =
        regex::Regex::new(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])[;m]").unwrap();
    assert!(!colour.is_match(&raw), "colour output under NO_COLOR");
}

#[test]
fn too_small_terminal_shows_a_message_and_still_quits() {
    let mut s = start(40, 12, &[]);
    s.wait_for_text("need 60x16", Duration::from_secs(20));
    s.send(b"q");
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

#[test]
fn panic_restores_the_terminal() {
    let mut s = start(80, 24, &[("PBS_MOVER_EXIT_AFTER_FIRST_FRAME", "panic")]);
    let status = s.wait_exit(Duration::from_secs(20));
    assert!(!status.success());
    let raw = s.raw();
    assert_restored(&raw);
    let leave = raw.rfind(LEAVE_ALT_SCREEN).unwrap();
    // The panic message is printed after the restore, where the user can read it.
    assert!(raw[leave..].contains("panicked"), "{raw:?}");
}

#[test]
fn sigterm_restores_the_terminal() {
    let mut s = start(80, 24, &[]);
    s.wait_for_text("customers", Duration::from_secs(20));
    let pid = s.child.process_id().expect("child pid") as i32;
    let pid = rustix::process::Pid::from_raw(pid).expect("non-zero pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert_restored(&s.raw());
}
