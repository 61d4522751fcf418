//! Moves of ours that never ended and whose process is gone: `resume` finishes them. A move
//! that ended `partial` or `failed` left a consistent datastore (what is left is at the
//! source): a note that `resume` retries it, not a finding.

use super::running::Running;
use super::{Finding, FindingKind};
use crate::ops::journal::crash::JournalEntry;
use crate::ops::recovery::pending::is_resumable;

pub fn check(
    journals: &[JournalEntry],
    running: &Running,
    notes: &mut Vec<String>,
) -> Vec<Finding> {
    for e in journals
        .iter()
        .filter(|e| e.is_finished() && is_resumable(e))
    {
        if let (Some((op, _, _)), Some(status)) = (e.begin(), e.status()) {
            notes.push(format!(
                "move {} ({}) ended {status}; `pbs-mover resume` retries what is left",
                e.id,
                op.describe()
            ));
        }
    }
    journals
        .iter()
        .filter(|e| !e.is_finished() && !running.is_running(&e.id))
        .filter_map(|e| {
            let (op, _, _) = e.begin()?;
            let state = "was interrupted";
            Some(Finding::new(
                FindingKind::UnfinishedMove,
                &e.path,
                format!(
                    "move {} ({}) {state}; `pbs-mover resume` finishes it (`resume --dry-run` shows how)",
                    e.id,
                    op.describe()
                ),
            ))
        })
        .collect()
}
