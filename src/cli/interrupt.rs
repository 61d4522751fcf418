//! Ctrl-C and SIGTERM during a CLI move: the first cancels between snapshots through the
//! engine's cancel token (what moved stays moved, the journal says `cancelled`, exit 5); the
//! second ends the process at once, and the crash journal lets `resume` finish the move.

use anyhow::Context;
use nix::sys::signal::{SigSet, Signal};

use crate::ops::progress::CancelToken;

/// Said once, on the first signal.
pub const CANCELLING: &str =
    "cancelling after the current snapshot — press Ctrl-C again to abort at once";

/// Said on the second signal, just before the process ends.
pub const ABORTING: &str =
    "aborting at once: run 'pbs-mover resume' to finish the interrupted move";

/// Routes SIGINT and SIGTERM to a watcher thread for the rest of the process. Must run
/// before any other thread is started: threads inherit the signal mask set here, so no
/// thread but the watcher ever takes one of these signals (their default would kill the
/// process mid-snapshot).
pub fn install(cancel: CancelToken, say: impl Fn(&str) + Send + 'static) -> anyhow::Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.thread_block().context("cannot block SIGINT/SIGTERM")?;
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || watch(set, &cancel, say));
    if let Err(e) = spawned {
        // Without a watcher the signals would stay blocked: Ctrl-C would do nothing at all.
        let _ = set.thread_unblock();
        return Err(e).context("cannot start the signal watcher");
    }
    Ok(())
}

fn watch(set: SigSet, cancel: &CancelToken, say: impl Fn(&str)) {
    let mut cancelled = false;
    loop {
        let Ok(signal) = set.wait() else { continue };
        if !cancelled {
            cancelled = true;
            cancel.cancel();
            say(CANCELLING);
            continue;
        }
        say(ABORTING);
        // The shell's convention for a death by signal; locks are released by the kernel,
        // and the journal (written ahead) tells `resume` where the move stopped.
        std::process::exit(128 + signal as i32);
    }
}
