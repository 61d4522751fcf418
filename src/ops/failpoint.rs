//! Test-only crash points: `PBS_MOVER_FAILPOINT=<step>:<n>` aborts the process at the n-th
//! time the named step boundary is passed (`<step>:*` = every hit counts, same as `:1`).
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
    hits: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var(ENV).ok()?;
            let (step, n) = spec.split_once(':').unwrap_or((spec.as_str(), "1"));
            Some(Armed {
                step: step.to_string(),
                at: n.parse().unwrap_or(1).max(1),
                hits: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Passes the step boundary `step`; aborts (no destructors, no flushing: like SIGKILL) when
/// the fail-point armed for it is reached.
pub fn hit(step: &str) {
    let Some(a) = armed() else { return };
    if a.step != step {
        return;
    }
    if a.hits.fetch_add(1, Ordering::SeqCst) + 1 == a.at {
        eprintln!("failpoint {step}:{} reached; aborting", a.at);
        std::process::abort();
    }
}
