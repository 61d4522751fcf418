//! Entering and leaving the full-screen terminal mode, so that the user's shell is usable
//! again on every way out: normal exit, error return, and panic. And letting go of a
//! terminal that is gone (a dropped SSH connection) without touching it again.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::event::{PollFd, PollFlags};
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::stdio::{dup2_stderr, dup2_stdin, dup2_stdout};
use tokio::sync::oneshot;

use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// A whole frame goes out in one write (fewer packets over SSH).
pub type Backend = CrosstermBackend<BufWriter<Stdout>>;

/// Whether the terminal is currently in TUI mode; makes restoring idempotent, so the panic
/// hook and the guard's `Drop` can both call it.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether mouse capture was turned on, so restoring turns it off (a shell left reporting
/// mouse moves prints escape codes at every click).
static MOUSE: AtomicBool = AtomicBool::new(false);

/// Button presses and the wheel (xterm mode 1000) in SGR encoding (1006). Not crossterm's
/// `EnableMouseCapture`, which also asks for every pointer motion (1002/1003): bytes over
/// SSH for each move of the mouse, and nothing here needs drags or hovering.
const MOUSE_CAPTURE_ON: &[u8] = b"\x1b[?1000h\x1b[?1006h";
const MOUSE_CAPTURE_OFF: &[u8] = b"\x1b[?1006l\x1b[?1000l";

/// Restores the terminal when dropped.
pub struct TerminalGuard {
    pub terminal: Terminal<Backend>,
    /// Whether stdout and stderr are the terminal, asked at the start: a hung-up terminal
    /// no longer answers the question.
    stdout_tty: bool,
    stderr_tty: bool,
}

impl TerminalGuard {
    /// Raw mode + alternate screen + hidden cursor (+ mouse capture when `mouse`), with a
    /// panic hook that undoes them.
    pub fn enter(mouse: bool) -> anyhow::Result<Self> {
        install_panic_hook();
        keys_from_stdin();
        let stdout_tty = io::stdout().is_terminal();
        let stderr_tty = io::stderr().is_terminal();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        // From here on a failure must restore what was done so far.
        let setup = || -> anyhow::Result<Terminal<Backend>> {
            let mut out = BufWriter::with_capacity(64 * 1024, io::stdout());
            execute!(out, EnterAlternateScreen, cursor::Hide)?;
            if mouse {
                MOUSE.store(true, Ordering::SeqCst);
                out.write_all(MOUSE_CAPTURE_ON)?;
            }
            Ok(Terminal::new(CrosstermBackend::new(out))?)
        };
        match setup() {
            Ok(terminal) => Ok(Self {
                terminal,
                stdout_tty,
                stderr_tty,
            }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    /// Lets go of a terminal that is gone (hung up, or reading or writing it failed)
    /// without writing another byte to it: restoring it is pointless and every write fails.
    pub fn abandon(self) {
        // restore() and the panic hook have nothing left to do.
        ACTIVE.store(false, Ordering::SeqCst);
        cut_off(self.stdout_tty, self.stderr_tty);
        // Dropping would flush the frame buffer and show the cursor (ratatui's Drop prints
        // to stderr when that fails): writes to the dead terminal. The frame buffer leaks
        // until the process ends, after its moves.
        std::mem::forget(self);
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // Also tells ratatui the cursor is visible, so its own Drop writes nothing after us.
        let _ = self.terminal.show_cursor();
        let _ = self.terminal.backend_mut().flush();
        restore();
    }
}

/// Leaves TUI mode if it is active. Errors are ignored: there is nothing better to do with
/// a broken terminal than to try every step.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    if MOUSE.swap(false, Ordering::SeqCst) {
        let _ = out.write_all(MOUSE_CAPTURE_OFF);
    }
    let _ = execute!(out, cursor::Show, LeaveAlternateScreen);
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// crossterm reads keys from stdin when it is a terminal, else from a `/dev/tty` fd of its
/// own that nothing else can reach. Making stdin the terminal leaves one fd to cut off in
/// [`TerminalGuard::abandon`]. Without a terminal nothing changes: raw mode fails next.
fn keys_from_stdin() {
    if io::stdin().is_terminal() {
        return;
    }
    if let Ok(tty) = OpenOptions::new().read(true).write(true).open("/dev/tty") {
        let _ = dup2_stdin(&tty);
    }
}

/// Points stdin at a pipe that never delivers a byte, and stdout and stderr (where they were
/// the terminal) at `/dev/null`. Stray writes (a late message, a panic) go nowhere instead of
/// failing. Best effort: failing here leaves only the failing writes that this avoids.
fn cut_off(stdout_tty: bool, stderr_tty: bool) {
    cut_off_stdin();
    let Ok(null) = OpenOptions::new().write(true).open("/dev/null") else {
        return;
    };
    if stdout_tty {
        let _ = dup2_stdout(&null);
    }
    if stderr_tty {
        let _ = dup2_stderr(&null);
    }
}

/// crossterm 0.29's reader retries a read that fails with anything but EAGAIN/EINTR, or
/// returns EOF, without end: on a hung-up terminal (EIO) whichever thread is reading spins,
/// and when that is the thread that runs the event loop nothing else can stop it. So the
/// moment a hangup is seen (by [`Hangup`]'s thread, while the loop may be stuck in that
/// read), stdin becomes the read end of an empty non-blocking pipe whose write end stays
/// open: the read gets EAGAIN, crossterm gives up the loop, and its edge-triggered poll has
/// nothing more to report. Once per process; later calls do nothing.
fn cut_off_stdin() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Ok((read, write)) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)
        && dup2_stdin(&read).is_ok()
    {
        // The write end stays open for the rest of the process: never EOF, only EAGAIN.
        std::mem::forget(write);
    }
}

/// Notices the terminal hanging up: its pty master closed, as when an SSH connection drops.
/// crossterm never reports it (its reader retries the failing read), and SIGHUP goes only
/// to the session leader, which may be a shell that ignores it or does not pass it on.
pub struct Hangup(oneshot::Receiver<()>);

impl Hangup {
    /// Watches stdin, the terminal crossterm reads (see [`keys_from_stdin`]), from a thread
    /// of its own blocked in poll(2) with no events asked for: only a hangup or an error
    /// wakes it, never a key, and it never reads (crossterm gets every byte).
    pub fn watch() -> io::Result<Self> {
        let fd = io::stdin().as_fd().try_clone_to_owned()?;
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("tty-hangup".into())
            .spawn(move || {
                if wait_for_hangup(&fd) {
                    // First, so a reader already spinning on the dead terminal stops.
                    cut_off_stdin();
                    let _ = tx.send(());
                }
            })?;
        Ok(Self(rx))
    }

    /// Returns once the terminal reports a hangup or an error.
    pub async fn hung_up(&mut self) {
        if (&mut self.0).await.is_err() {
            // The watch itself failed: SIGHUP and failing I/O still tell of a loss.
            std::future::pending::<()>().await;
        }
    }
}

/// Blocks until `fd` reports POLLHUP or POLLERR (poll always reports those); `false` when
/// poll itself fails, which says nothing about the terminal.
fn wait_for_hangup(fd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::empty())];
    loop {
        match rustix::event::poll(&mut fds, None) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => return true,
            Err(_) => return false,
        }
    }
}

fn install_panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let was_active = ACTIVE.load(Ordering::SeqCst);
        // Restore first, so the message is readable and the shell usable.
        restore();
        previous(info);
        if was_active {
            // A panic on a worker thread would otherwise leave the UI running on a terminal
            // that is no longer in raw mode: stop instead of limping on.
            std::process::exit(101);
        }
    }));
}
