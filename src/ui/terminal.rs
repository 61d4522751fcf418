//! Entering and leaving the full-screen terminal mode, so that the user's shell is usable
//! again on every way out: normal exit, error return, and panic.

use std::io::{self, BufWriter, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Restores the terminal when dropped.
pub struct TerminalGuard {
    pub terminal: Terminal<Backend>,
}

impl TerminalGuard {
    /// Raw mode + alternate screen + hidden cursor, with a panic hook that undoes them.
    pub fn enter() -> anyhow::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        // From here on a failure must restore what was done so far.
        let setup = || -> anyhow::Result<Terminal<Backend>> {
            let mut out = BufWriter::with_capacity(64 * 1024, io::stdout());
            execute!(out, EnterAlternateScreen, cursor::Hide)?;
            Ok(Terminal::new(CrosstermBackend::new(out))?)
        };
        match setup() {
            Ok(terminal) => Ok(Self { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
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
    let _ = execute!(out, cursor::Show, LeaveAlternateScreen);
    let _ = disable_raw_mode();
    let _ = out.flush();
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
