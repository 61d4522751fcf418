//! `--wait[=SECS]`: a busy datastore (a lock held, GC running, another move — everything
//! that ends in exit 3) is waited for instead of given up on.
//!
//! The wait polls the operation's own dry run, which creates nothing (not even a lock file),
//! with a short backoff; the operation itself starts only once the dry run sees nothing
//! busy. A conflict that appears between that look and the operation's first lock ends the
//! operation busy as without `--wait` (nothing changed), and it is waited for again while
//! time is left. Ctrl-C during the wait ends it: nothing was changed (exit 5).

use std::time::{Duration, Instant};

use crate::ops::engine::plan::MovePlan;
use crate::ops::error::MoveError;
use crate::ops::progress::CancelToken;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How long `--wait` waits: not at all (no flag), without limit (bare `--wait`), or up to
/// SECS seconds (`--wait=SECS`; `--wait=0` looks once, like no flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitLimit {
    No,
    Forever,
    UpTo(Duration),
}

impl WaitLimit {
    pub fn from_arg(arg: Option<Option<u64>>) -> Self {
        match arg {
            None => Self::No,
            Some(None) => Self::Forever,
            Some(Some(secs)) => Self::UpTo(Duration::from_secs(secs)),
        }
    }

    fn describe(self) -> String {
        match self {
            Self::No => "not waiting".into(),
            Self::Forever => "no time limit, Ctrl-C ends it".into(),
            Self::UpTo(d) => format!("up to {}s", d.as_secs()),
        }
    }
}

/// How a wait ended.
#[derive(Debug, PartialEq, Eq)]
pub enum WaitEnd {
    /// Nothing busy (or no `--wait`): run the operation.
    Free,
    /// Still busy at the deadline: run the operation, which ends busy (exit 3) as without
    /// `--wait`, with its own message and JSON.
    TimedOut,
    /// Ctrl-C while waiting; nothing was changed.
    Cancelled(String),
}

/// One `--wait` for one command: the deadline runs from the command's start.
pub struct Waiter {
    limit: WaitLimit,
    deadline: Option<Instant>,
    backoff: Duration,
    /// The reason last said, so that a long wait says each new reason once.
    said: Option<String>,
}

impl Waiter {
    pub fn new(limit: WaitLimit) -> Self {
        let deadline = match limit {
            WaitLimit::UpTo(d) => Some(Instant::now() + d),
            WaitLimit::No | WaitLimit::Forever => None,
        };
        Self {
            limit,
            deadline,
            backoff: FIRST_BACKOFF,
            said: None,
        }
    }

    pub fn enabled(&self) -> bool {
        self.limit != WaitLimit::No
    }

    fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Whether a busy outcome of the operation itself is worth waiting for once more.
    pub fn again(&self) -> bool {
        self.enabled() && !self.expired()
    }

    /// Waits while `busy` names something busy. `say` tells the person (stderr).
    pub fn until_free(
        &mut self,
        cancel: &CancelToken,
        say: &dyn Fn(&str),
        mut busy: impl FnMut() -> Option<String>,
    ) -> WaitEnd {
        if !self.enabled() {
            return WaitEnd::Free;
        }
        loop {
            let Some(reason) = busy() else {
                if self.said.take().is_some() {
                    say("no longer busy; starting");
                }
                return WaitEnd::Free;
            };
            if cancel.is_cancelled() {
                return WaitEnd::Cancelled(format!(
                    "cancelled while waiting ({reason}); nothing was changed"
                ));
            }
            if self.expired() {
                return WaitEnd::TimedOut;
            }
            if self.said.as_deref() != Some(reason.as_str()) {
                say(&format!("waiting: {reason} ({})", self.limit.describe()));
                self.said = Some(reason);
            }
            self.sleep(cancel);
        }
    }

    /// One backoff step, cut short by the deadline or Ctrl-C.
    fn sleep(&mut self, cancel: &CancelToken) {
        let mut step = self.backoff;
        if let Some(d) = self.deadline {
            step = step.min(d.saturating_duration_since(Instant::now()));
        }
        let end = Instant::now() + step;
        while Instant::now() < end && !cancel.is_cancelled() {
            std::thread::sleep(Duration::from_millis(20).min(step));
        }
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

/// What is busy according to a move's dry run: a refusal that is only a lock, a namespace
/// lock held, or a lock of one of its groups held. A plan that fails otherwise is no reason
/// to wait (the operation reports it).
pub fn busy_in_plan(plan: &Result<MovePlan, MoveError>) -> Option<String> {
    match plan {
        Err(e) if e.is_busy() => Some(e.to_string()),
        Err(_) => None,
        Ok(p) => p
            .conflicts
            .first()
            .or_else(|| p.groups.iter().find_map(|g| g.conflicts.first()))
            .cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_wait_has_no_limit_and_a_number_is_seconds() {
        assert_eq!(WaitLimit::from_arg(None), WaitLimit::No);
        assert_eq!(WaitLimit::from_arg(Some(None)), WaitLimit::Forever);
        assert_eq!(
            WaitLimit::from_arg(Some(Some(5))),
            WaitLimit::UpTo(Duration::from_secs(5))
        );
    }

    #[test]
    fn a_wait_ends_when_free_says_each_reason_once_and_times_out() {
        let cancel = CancelToken::new();
        let said = std::cell::RefCell::new(Vec::new());
        let say = |l: &str| said.borrow_mut().push(l.to_string());
        let mut n = 0;
        let mut w = Waiter::new(WaitLimit::Forever);
        let end = w.until_free(&cancel, &say, || {
            n += 1;
            (n < 3).then(|| "group locked by PID 7".to_string())
        });
        assert_eq!(end, WaitEnd::Free);
        assert_eq!(said.borrow().len(), 2, "{:?}", said.borrow());
        assert!(said.borrow()[0].contains("PID 7"));

        let mut w = Waiter::new(WaitLimit::UpTo(Duration::from_millis(150)));
        let end = w.until_free(&cancel, &say, || Some("GC running".into()));
        assert_eq!(end, WaitEnd::TimedOut);

        cancel.cancel();
        let mut w = Waiter::new(WaitLimit::Forever);
        let end = w.until_free(&cancel, &say, || Some("GC running".into()));
        assert!(matches!(end, WaitEnd::Cancelled(m) if m.contains("GC running")));
    }
}
