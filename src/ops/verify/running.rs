//! Whether a move runs now, so that `verify` does not report what a running move holds
//! (its lock files, its GC journal entries before their rename, its open journal).

use crate::ops::context::MoveContext;
use crate::ops::journal::crash::{JournalEntry, pid_of};
use crate::ops::locks::active_ops::{ActiveOpsPaths, proc_starttime, read_active};

pub struct Running {
    /// Ids of our journal entries whose process still runs and that have not ended.
    pub ours: Vec<String>,
    /// Some process counts as a write operation of the datastore (a move of PBS's own, a
    /// backup, or ours).
    pub any_writer: bool,
}

impl Running {
    pub fn of(ctx: &MoveContext, journals: &[JournalEntry]) -> Self {
        let ours: Vec<String> = journals
            .iter()
            .filter(|e| !e.is_finished() && is_alive(&e.id))
            .map(|e| e.id.clone())
            .collect();
        let any_writer = read_active(&ActiveOpsPaths::of(&ctx.locks))
            .map(|tasks| tasks.iter().any(|t| t.active_operations.write > 0))
            .unwrap_or(false);
        Self { ours, any_writer }
    }

    /// Whether the move of this journal entry runs now.
    pub fn is_running(&self, id: &str) -> bool {
        self.ours.iter().any(|o| o == id)
    }

    pub fn anything(&self) -> bool {
        self.any_writer || !self.ours.is_empty()
    }
}

fn is_alive(id: &str) -> bool {
    pid_of(id).is_some_and(|pid| pid != std::process::id() && proc_starttime(pid).is_some())
}
