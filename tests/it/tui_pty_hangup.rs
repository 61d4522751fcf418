//! End-to-end: the SSH session dies while a move runs. The real binary in a pseudo-terminal
//! starts a move of a big group with real keys; the move waits for a "GC" (a `flock(1)` on
//! PBS's move journal, which GC holds while it drains it) while the terminal goes away: the
//! pty master closed (the kernel hangs the terminal up and signals the session leader),
//! SIGHUP alone, or the master closed with the TUI not the session leader (no signal at
//! all, only EOF/EIO on the terminal). Each time the TUI must sit idle (no busy loop), finish
//! the move once GC lets go, exit 0 on its own, and the next start must say what it did.

use crate::support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use support::pty::Session;
use support::{HeldLock, Store, TreeSnapshot, exit_code, json, stderr, wait_until};

/// The TUI runs under a shell that leads the terminal's session and ignores the hangup, so
/// no SIGHUP reaches the TUI: it learns of the loss from its terminal only (what a lost SSH
/// session looks like when nothing passes the signal on).
const NO_SIGHUP: &str = "trap '' HUP; \"$0\" \"$@\"; exit $?";

/// A store with vm/100 at the root, `b` empty, and "GC" holding the move journal.
struct Case {
    s: Store,
    snapshots: usize,
    before: TreeSnapshot,
    gc: Option<HeldLock>,
}

impl Case {
    /// vm/100 with `snapshots` snapshots (one per second, oldest first).
    fn new(snapshots: usize) -> Self {
        let s = Store::empty(&["", "b"]);
        let times: Vec<String> = (0..snapshots)
            .map(|i| {
                let (h, m, sec) = (i / 3600, i / 60 % 60, i % 60);
                format!("2024-01-01T{h:02}:{m:02}:{sec:02}Z")
            })
            .collect();
        let refs: Vec<&str> = times.iter().map(String::as_str).collect();
        s.add_group("", "vm/100", "root@pam", &refs);
        let before = s.snapshot();
        let gc = HeldLock::flock(&s.store_locks().join("move-journal"), false);
        Self {
            s,
            snapshots,
            before,
            gc: Some(gc),
        }
    }

    fn state_dir(&self) -> std::path::PathBuf {
        self.s.tmp.path().join("state")
    }

    /// Whether a journal in the state dir has its group record: the move is about to take
    /// the move-journal lock that "GC" holds.
    fn move_planned(&self) -> bool {
        let Ok(rd) = std::fs::read_dir(self.state_dir().join("store1")) else {
            return false;
        };
        rd.filter_map(Result::ok)
            .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(r#""e":"group""#)))
    }

    fn snapshots_in(&self, ns: &str) -> usize {
        match std::fs::read_dir(self.s.group_dir(ns, "vm/100")) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .count(),
            Err(_) => 0,
        }
    }

    /// Marks vm/100, picks `b`, waits for the dry run and confirms: the move starts,
    /// prepares its first batch and waits for GC. Returns once the TUI (`pid`) is idle.
    fn start_move(&self, tui: &mut Session, pid: u32) {
        tui.wait_text("vm/100");
        tui.send("Gmp");
        tui.wait_text("Pickthetarget");
        std::thread::sleep(Duration::from_millis(300));
        tui.send("b\r");
        tui.wait_text("Willmove");
        tui.send("y");
        wait_until(|| self.move_planned());
        wait_until_idle(pid);
        assert_eq!(self.snapshots_in(""), self.snapshots, "nothing moved yet");
    }

    /// GC lets go: the move runs to its end, the TUI exits 0 on its own, every snapshot is
    /// at the target once and unchanged, and the journal is closed as usual.
    fn finish(&mut self, tui: &mut Session) {
        drop(self.gc.take());
        let status = tui.wait_exit(Duration::from_secs(60));
        assert!(status.success(), "{status:?}");
        assert!(
            !self.s.group_dir("", "vm/100").exists(),
            "source left behind"
        );
        assert_eq!(self.snapshots_in("b"), self.snapshots);
        assert_eq!(
            self.s.snapshot().snapshot_files(),
            self.before.snapshot_files(),
            "every snapshot once, unchanged"
        );
        let history = self
            .s
            .cmd()
            .env("PBS_MOVER_STATE_DIR", self.state_dir())
            .args(["history", "--json"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(exit_code(&history), 0, "{}", stderr(&history));
        let moves = json(&history)["moves"].clone();
        assert_eq!(moves.as_array().map(Vec::len), Some(1), "{moves}");
        assert_eq!(moves[0]["status"], "ok", "{moves}");
    }

    /// The next start says what the move did after the terminal was lost and offers no
    /// resume (nothing is interrupted); the start after that no longer mentions it.
    fn next_start_reports(&self) {
        let mut tui = Session::start(&self.s, 100, 30, &[("NO_COLOR", "1")]);
        tui.wait_text("after the terminal was lost");
        tui.wait_text("vm/100 '' -> 'b': ok");
        tui.send("q");
        assert!(tui.wait_exit(Duration::from_secs(10)).success());
        assert!(!tui.text().contains("Interruptedmoves"), "{}", tui.text());
        let mut tui = Session::start(&self.s, 100, 30, &[("NO_COLOR", "1")]);
        tui.wait_text("Datastore store1.");
        tui.wait_quiet(Duration::from_millis(300), Duration::from_secs(10));
        tui.send("q");
        assert!(tui.wait_exit(Duration::from_secs(10)).success());
        assert!(!tui.text().contains("terminalwaslost"), "{}", tui.text());
    }
}

/// (state letter, utime + stime) from a /proc `stat` file: of a process (all its threads)
/// or of one thread.
fn parse_stat(path: &str) -> Option<(char, Duration)> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // /proc counts in USER_HZ, which is 100 on every Linux architecture.
    Some((state, Duration::from_millis(ticks * 10)))
}

fn cpu_time(pid: u32) -> Duration {
    parse_stat(&format!("/proc/{pid}/stat"))
        .expect("the TUI is running")
        .1
}

fn alive(pid: u32) -> bool {
    parse_stat(&format!("/proc/{pid}/stat")).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

/// (thread id, state, CPU time) of each thread of `pid`.
fn threads(pid: u32) -> Vec<(String, char, Duration)> {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter_map(|e| {
            let tid = e.file_name().to_string_lossy().into_owned();
            let (state, cpu) = parse_stat(&format!("/proc/{pid}/task/{tid}/stat"))?;
            // The thread's name says which part spins (main, tokio worker, tty watcher …).
            let comm =
                std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).unwrap_or_default();
            Some((format!("{tid} {}", comm.trim()), state, cpu))
        })
        .collect()
}

/// The only child of `pid` (the TUI under its shell).
fn child_of(pid: u32) -> u32 {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let mut child = None;
    wait_until(|| {
        child = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse().ok());
        child.is_some()
    });
    child.expect("waited for")
}

/// Waits until every thread of `pid` sleeps (state S) in 6 samples in a row, 50 ms apart:
/// the move has locked its first batch and polls GC's lock, the screen shows it. Threads
/// that compute (R) or wait for the disk (D) are not done, however little CPU they get on
/// a loaded machine.
fn wait_until_idle(pid: u32) {
    let end = Instant::now() + Duration::from_secs(20);
    let mut quiet = 0;
    while quiet < 6 {
        assert!(Instant::now() < end, "never idle: {:?}", threads(pid));
        std::thread::sleep(Duration::from_millis(50));
        let all_sleep = threads(pid).iter().all(|(_, state, _)| *state == 'S');
        quiet = if all_sleep { quiet + 1 } else { 0 };
    }
}

/// While the move waits for GC, the TUI without a terminal stays alive and uses (almost) no
/// CPU: a busy loop burns a core for the whole window. The bound, a third of the wall time,
/// is far above what waiting costs and far below a spinning thread even on a loaded 2-core
/// machine.
fn assert_idle_while_waiting(pid: u32) {
    let before = threads(pid);
    let cpu0 = cpu_time(pid);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let wall = t0.elapsed();
    assert!(
        alive(pid),
        "the TUI exited while its move was still waiting"
    );
    let used = cpu_time(pid).saturating_sub(cpu0);
    assert!(
        used < wall / 3,
        "busy loop: {used:?} of CPU in {wall:?} while the move waited; threads before \
         {before:?}, after {:?}",
        threads(pid)
    );
}

#[test]
fn a_closed_terminal_lets_the_move_finish_and_exits_0() {
    let mut c = Case::new(3_000);
    let mut tui = Session::start(&c.s, 80, 24, &[("NO_COLOR", "1")]);
    let pid = tui.pid().expect("child pid");
    c.start_move(&mut tui, pid);
    tui.hang_up();
    assert_idle_while_waiting(pid);
    c.finish(&mut tui);
    c.next_start_reports();
}

/// The variants differ only in how the terminal goes away: a smaller group (still two
/// batches) keeps them quick.
#[test]
fn sighup_lets_the_move_finish_and_nothing_is_drawn_after_it() {
    let mut c = Case::new(1_000);
    let mut tui = Session::start(&c.s, 80, 24, &[("NO_COLOR", "1")]);
    let pid = tui.pid().expect("child pid");
    c.start_move(&mut tui, pid);
    let target = rustix::process::Pid::from_raw(pid as i32).expect("non-zero pid");
    rustix::process::kill_process(target, rustix::process::Signal::HUP).unwrap();
    // Time for a frame that was being written when the signal came.
    std::thread::sleep(Duration::from_millis(500));
    let printed = tui.len();
    assert_idle_while_waiting(pid);
    c.finish(&mut tui);
    // The move's progress and summary would have been drawn, the restore sequences written.
    assert_eq!(tui.len(), printed, "output after SIGHUP");
    c.next_start_reports();
}

#[test]
fn a_closed_terminal_without_sighup_does_not_spin() {
    let mut c = Case::new(1_000);
    let mut tui = Session::start_in_shell(&c.s, 80, 24, &[("NO_COLOR", "1")], NO_SIGHUP);
    let pid = child_of(tui.pid().expect("shell pid"));
    c.start_move(&mut tui, pid);
    tui.hang_up();
    assert_idle_while_waiting(pid);
    c.finish(&mut tui);
    c.next_start_reports();
}
