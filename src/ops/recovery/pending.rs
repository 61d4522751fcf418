//! The operations `resume` would finish, found in the crash journal, and their summary for a
//! prompt (the TUI asks at start) and for listings.

use std::collections::BTreeSet;

use crate::ops::context::MoveContext;
use crate::ops::error::MoveError;
use crate::ops::journal::crash::{JournalEntry, list_entries};
use crate::ops::journal::record::{OpKind, Status};
use crate::tree::Namespace;

/// Whether `resume` still has work for this operation: it never ended (crash), or it ended
/// with groups left at the source by an error (`failed`: nothing moved; `partial`: some
/// did). `busy` (only locks were in the way, nothing changed), `refused`, `cancelled`,
/// `gave-up` and `ok` are final.
pub fn is_resumable(entry: &JournalEntry) -> bool {
    entry.status().is_none_or(Status::is_resumable)
}

/// Operations `resume` would finish on this datastore, oldest first.
pub fn unfinished(ctx: &MoveContext) -> Result<Vec<JournalEntry>, MoveError> {
    let Some(state) = ctx.journal_dir() else {
        return Ok(Vec::new());
    };
    Ok(list_entries(state, &ctx.ds.name, &ctx.ds.base)?
        .into_iter()
        .filter(is_resumable)
        .collect())
}

/// One operation `resume` would finish, summarised for a prompt (the TUI at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMove {
    pub id: String,
    /// "move-group" or "move-ns".
    pub kind: &'static str,
    /// `vm/100 in 'a'` or `'a/b'`.
    pub source: String,
    pub target: String,
    /// "interrupted" (crash), or the journal status of a move a fault cut short.
    pub state: String,
    pub groups_done: usize,
    pub groups_total: usize,
    pub snapshots_moved: usize,
    /// Namespaces whose listing `resume` may change (sources, targets and their parents).
    pub namespaces: Vec<Namespace>,
}

/// [`unfinished`], summarised.
pub fn pending(ctx: &MoveContext) -> Result<Vec<PendingMove>, MoveError> {
    Ok(unfinished(ctx)?.iter().filter_map(summarise).collect())
}

fn summarise(entry: &JournalEntry) -> Option<PendingMove> {
    let (op, _, _) = entry.begin()?;
    let (kind, source, target, ns, target_ns) = match op {
        OpKind::MoveGroup {
            ns,
            group,
            target_ns,
            ..
        } => (
            "move-group",
            format!("{group} in '{}'", ns.human()),
            format!("'{}'", target_ns.human()),
            ns,
            target_ns,
        ),
        OpKind::MoveNs { ns, target_ns, .. } => (
            "move-ns",
            format!("'{}'", ns.human()),
            format!("'{}'", target_ns.human()),
            ns,
            target_ns,
        ),
    };
    let mut namespaces = Vec::new();
    for n in [ns, target_ns] {
        namespaces.extend(n.parent());
        namespaces.push(n.clone());
    }
    namespaces.sort();
    namespaces.dedup();
    let (groups_done, groups_total, snapshots_moved) = progress_of(entry);
    Some(PendingMove {
        id: entry.id.clone(),
        kind,
        source,
        target,
        state: entry
            .status()
            .map_or_else(|| "interrupted".to_string(), |s| s.to_string()),
        groups_done,
        groups_total,
        snapshots_moved,
        namespaces,
    })
}

/// How far an operation got, for listings: (groups done, groups planned, snapshots moved).
pub fn progress_of(entry: &JournalEntry) -> (usize, usize, usize) {
    let mut keys = BTreeSet::new();
    let mut done = BTreeSet::new();
    let mut renamed = 0;
    for g in entry.groups() {
        let key = (g.ns.clone(), g.group.clone());
        if g.done == Some(true) {
            done.insert(key.clone());
        }
        renamed += g.renamed.len();
        keys.insert(key);
    }
    (done.len(), keys.len(), renamed)
}
