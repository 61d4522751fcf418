//! Test-only crash points: `PBS_MOVER_FAILPOINT=<step>:<n>` aborts the process at the n-th
//! time the named step boundary is passed (`<step>:*` = every hit counts, same as `:1`).
//! `<step>:<n>=<ERRNO>` (EROFS, ENOSPC, EIO) at a boundary passed with [`io`] makes the n-th
//! pass fail with that error instead: a fault at exactly one system call. `<step>:<n>=STOP`
//! stops the process there (SIGSTOP) until the test, having changed the datastore under
//! it, sends SIGCONT: a race window held open.
//!
//! Compiled in always so the crash harness tests the real binary; the variable is read once,
//! so an unset variable costs one `OnceLock` load and a branch per boundary.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable the crash harness sets.
pub const ENV: &str = "PBS_MOVER_FAILPOINT";

struct Armed {
    step: String,
    at: u64,
    action: Action,
    hits: AtomicU64,
}

/// What an armed fail-point does when reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Abort,
    /// Fail the call at an [`io`] boundary with this errno.
    Fail(i32),
    /// SIGSTOP: wait for the test's SIGCONT.
    Stop,
}

fn action_named(name: &str) -> Action {
    match name {
        "EROFS" => Action::Fail(30),
        "ENOSPC" => Action::Fail(28),
        "EIO" => Action::Fail(5),
        "STOP" => Action::Stop,
        _ => Action::Abort,
    }
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var(ENV).ok()?;
            let (step, n) = spec.split_once(':').unwrap_or((spec.as_str(), "1"));
            let (n, action) = match n.split_once('=') {
                Some((n, a)) => (n, action_named(a)),
                None => (n, Action::Abort),
            };
            Some(Armed {
                step: step.to_string(),
                at: n.parse().unwrap_or(1).max(1),
                action,
                hits: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Passes the step boundary `step`; aborts (no destructors, no flushing: like SIGKILL) when
/// the fail-point armed for it is reached, or stops until SIGCONT when armed with `STOP`.
pub fn hit(step: &str) {
    let Some(a) = armed() else { return };
    if a.step != step || matches!(a.action, Action::Fail(_)) {
        return;
    }
    if a.hits.fetch_add(1, Ordering::SeqCst) + 1 != a.at {
        return;
    }
    if a.action == Action::Stop {
        eprintln!("failpoint {step}:{} reached; stopped", a.at);
        // Failing to stop only loses the test its window, which it then reports.
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
        return;
    }
    eprintln!("failpoint {step}:{} reached; aborting", a.at);
    std::process::abort();
}

/// Passes the step boundary `step` right before an I/O call: an armed `<step>:<n>=<ERRNO>`
/// fails the n-th pass with that error (the caller returns it as the call's own); an armed
/// `<step>:<n>` aborts there as [`hit`] does.
pub fn io(step: &str) -> std::io::Result<()> {
    let Some(a) = armed() else { return Ok(()) };
    let Action::Fail(errno) = a.action else {
        hit(step);
        return Ok(());
    };
    if a.step == step && a.hits.fetch_add(1, Ordering::SeqCst) + 1 == a.at {
        return Err(std::io::Error::from_raw_os_error(errno));
    }
    Ok(())
}
