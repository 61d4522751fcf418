//! The real binary in a pseudo-terminal on a test datastore: keys in, screen text out.

use std::ffi::OsStr;
use std::io::{ErrorKind, Read, Write};
use std::num::NonZeroU16;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

use super::{BIN, Store};

pub const LEAVE_ALT_SCREEN: &str = "\x1b[?1049l";
pub const ENTER_ALT_SCREEN: &str = "\x1b[?1049h";

pub struct Session {
    child: Box<dyn Child + Send + Sync>,
    /// `None` once [`Session::hang_up`] closed the terminal.
    writer: Option<Box<dyn Write + Send>>,
    output: Arc<Mutex<Vec<u8>>>,
    /// The same bytes fed to a terminal emulator: what the screen shows now.
    screen: Arc<Mutex<vt100::Parser>>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// Tells the reader thread to let go of its copy of the master.
    stop: Arc<AtomicBool>,
    master: Option<Box<dyn MasterPty + Send>>,
}

impl Session {
    /// The TUI on `store` (its lock, config and state dirs, no user keymap) in a
    /// `cols`×`rows` terminal, with extra environment variables.
    pub fn start<K, V>(store: &Store, cols: u16, rows: u16, env: &[(K, V)]) -> Self
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        Self::spawn(store, cols, rows, env, None, &[])
    }

    /// Like [`Session::start`], with extra command-line arguments (e.g. `--no-mouse`).
    pub fn start_with_args<K, V>(
        store: &Store,
        cols: u16,
        rows: u16,
        env: &[(K, V)],
        args: &[&str],
    ) -> Self
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        Self::spawn(store, cols, rows, env, None, args)
    }

    /// Like [`Session::start`], but the TUI runs as a child of `sh -c script` (the binary
    /// and its arguments are `"$0" "$@"`): the shell, not the TUI, leads the terminal's
    /// session, which is what the kernel signals when the terminal hangs up.
    pub fn start_in_shell<K, V>(
        store: &Store,
        cols: u16,
        rows: u16,
        env: &[(K, V)],
        script: &str,
    ) -> Self
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        Self::spawn(store, cols, rows, env, Some(script), &[])
    }

    fn spawn<K, V>(
        store: &Store,
        cols: u16,
        rows: u16,
        env: &[(K, V)],
        script: Option<&str>,
        args: &[&str],
    ) -> Self
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = match script {
            Some(script) => {
                let mut sh = CommandBuilder::new("sh");
                sh.args(["-c", script, BIN]);
                sh
            }
            None => CommandBuilder::new(BIN),
        };
        cmd.arg("--path");
        cmd.arg(&store.base);
        cmd.arg("--lock-dir");
        cmd.arg(&store.locks);
        cmd.arg("--config-dir");
        cmd.arg(store.tmp.path().join("etc"));
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        // No user keymap from the machine running the tests.
        cmd.env("XDG_CONFIG_HOME", store.tmp.path().join("config"));
        cmd.env_remove("PBS_MOVER_FAILPOINT");
        // Its own operation journals, not the machine's.
        cmd.env("PBS_MOVER_STATE_DIR", store.tmp.path().join("state"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        // Our copy of the slave must go, or reading the master never sees the end.
        drop(pair.slave);
        let raw = pair.master.as_raw_fd().expect("a unix pty has a master fd");
        // SAFETY: the master owns this fd and lives until the end of the statement.
        let master_fd = unsafe { BorrowedFd::borrow_raw(raw) };
        // Non-blocking (shared by every copy of the master fd): a read blocked in the reader
        // thread would keep the master open, and `hang_up` could not close it.
        rustix::io::ioctl_fionbio(master_fd, true).unwrap();
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            NonZeroU16::new(rows).expect("a terminal has rows"),
            NonZeroU16::new(cols).expect("a terminal has columns"),
            0,
        )));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, shown, stopped) = (Arc::clone(&output), Arc::clone(&screen), Arc::clone(&stop));
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        // Screen first: whoever sees the bytes in `output` also sees them here.
                        shown.lock().unwrap().process(&buf[..n]);
                        sink.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        if stopped.load(Ordering::SeqCst) {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    // EIO: every process closed its side of the terminal.
                    Err(_) => break,
                }
            }
        });
        Self {
            child,
            writer: Some(writer),
            output,
            screen,
            reader: Some(reader),
            stop,
            master: Some(pair.master),
        }
    }

    /// Closes the terminal like a dropped SSH connection: every copy of the master goes, so
    /// the kernel hangs up the TUI's side. No signal is sent by the test itself.
    pub fn hang_up(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        self.writer = None;
        self.master = None;
    }

    /// Bytes printed so far.
    pub fn len(&self) -> usize {
        self.output.lock().unwrap().len()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// Waits until no output arrived for `quiet`, bounded by `timeout`.
    pub fn wait_quiet(&self, quiet: Duration, timeout: Duration) {
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

    /// Everything printed so far, escape sequences included.
    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// The printed text without escape sequences and without any white space: ratatui moves
    /// the cursor over unchanged cells instead of printing them.
    pub fn text(&self) -> String {
        strip_escapes(&self.raw()).split_whitespace().collect()
    }

    /// What the terminal shows now, without white space. Unlike [`Session::text`], a word
    /// is whole here even when ratatui printed only the cells that differ from the last frame.
    pub fn screen(&self) -> String {
        let contents = self.screen.lock().unwrap().screen().contents();
        contents.split_whitespace().collect()
    }

    /// Waits until `needle` (white space ignored) was printed `n` times or the screen shows
    /// it `n` times now. Bounded: 20 s.
    pub fn wait_count(&self, needle: &str, n: usize) {
        let needle: String = needle.split_whitespace().collect();
        let end = Instant::now() + Duration::from_secs(20);
        let seen = |s: &Self| {
            s.text().matches(&needle).count() >= n || s.screen().matches(&needle).count() >= n
        };
        while !seen(self) {
            assert!(
                Instant::now() < end,
                "'{needle}' not seen {n} time(s):\n{}\nthe screen now:\n{}",
                strip_escapes(&self.raw()),
                self.screen.lock().unwrap().screen().contents()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_text(&self, needle: &str) {
        self.wait_count(needle, 1);
    }

    /// Types `keys` one byte at a time, at a human's pace (no Esc-sequence ambiguity).
    pub fn send(&mut self, keys: &str) {
        let writer = self.writer.as_mut().expect("the terminal is open");
        for b in keys.bytes() {
            // The master is non-blocking: a full input queue says so instead of waiting.
            while let Err(e) = writer.write_all(&[b]) {
                assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
                std::thread::sleep(Duration::from_millis(10));
            }
            writer.flush().unwrap();
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Writes `bytes` in one write, as a terminal sends an escape sequence (a mouse report):
    /// sent byte by byte, a lone Esc would be read as the Esc key.
    pub fn send_raw(&mut self, bytes: &str) {
        let writer = self.writer.as_mut().expect("the terminal is open");
        writer.write_all(bytes.as_bytes()).unwrap();
        writer.flush().unwrap();
        std::thread::sleep(Duration::from_millis(60));
    }

    /// Waits for the process to end (killing it after `timeout`) and for its last output.
    pub fn wait_exit(&mut self, timeout: Duration) -> portable_pty::ExitStatus {
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

    /// The terminal was left in its normal screen after the last time it was entered.
    pub fn assert_restored(&self) {
        let raw = self.raw();
        let enter = raw
            .rfind(ENTER_ALT_SCREEN)
            .expect("entered the alternate screen");
        let leave = raw
            .rfind(LEAVE_ALT_SCREEN)
            .expect("left the alternate screen");
        assert!(leave > enter, "left before entering?");
    }
}

/// Drops CSI/OSC/other escape sequences, keeping the printed text.
pub fn strip_escapes(s: &str) -> String {
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
