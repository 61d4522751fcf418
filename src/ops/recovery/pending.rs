//! The operations `resume` would finish, found in the crash journal, and their summary for a
//! prompt (the TUI asks at start) and for listings.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustix::fs::{FlockOperation, flock};

use crate::ops::context::MoveContext;
use crate::ops::error::MoveError;
use crate::ops::journal::crash::{JournalEntry, list_entries, pid_of};
use crate::ops::journal::record::{OpKind, Status};
use crate::tree::Namespace;

/// Whether `resume` still has work for this operation: it never ended (crash), or it ended
/// with groups left at the source by an error (`failed`: nothing moved; `partial`: some
/// did). `busy` (only locks were in the way, nothing changed), `refused`, `cancelled`,
/// `gave-up` and `ok` are final.
pub fn is_resumable(entry: &JournalEntry) -> bool {
    entry.status().is_none_or(Status::is_resumable)
}

/// Whether a process runs this operation right now: it holds the exclusive flock on its
/// journal file for as long as it runs (see `journal::crash`); a crash releases it. Asked
/// with a non-blocking shared flock that is let go at once: it never waits and never keeps
/// the running process (or a `resume` starting meanwhile) from anything but that instant.
pub fn is_running(path: &Path) -> bool {
    let file: std::io::Result<File> = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path);
    // A journal that cannot be opened is for `resume` to report, not a running move.
    let Ok(file) = file else { return false };
    flock(&file, FlockOperation::NonBlockingLockShared) == Err(rustix::io::Errno::WOULDBLOCK)
}

/// Journals with work left for `resume` (resumable, or running: see [`is_running`]), oldest
/// first, each with whether it runs now.
fn open_entries(ctx: &MoveContext) -> Result<Vec<(JournalEntry, bool)>, MoveError> {
    let Some(state) = ctx.journal_dir() else {
        return Ok(Vec::new());
    };
    Ok(list_entries(state, &ctx.ds.name, &ctx.ds.base)?
        .into_iter()
        .filter(is_resumable)
        .map(|e| {
            let running = is_running(&e.path);
            (e, running)
        })
        .collect())
}

/// Operations `resume` would finish on this datastore, oldest first. One that another
/// process is running right now is not among them: it is not interrupted (see [`running`]).
pub fn unfinished(ctx: &MoveContext) -> Result<Vec<JournalEntry>, MoveError> {
    Ok(open_entries(ctx)?
        .into_iter()
        .filter_map(|(e, running)| (!running).then_some(e))
        .collect())
}

/// Operations running right now in some process (journal flock held), oldest first, with
/// that process's PID when the journal id tells it.
pub fn running(ctx: &MoveContext) -> Result<Vec<(JournalEntry, Option<u32>)>, MoveError> {
    Ok(open_entries(ctx)?
        .into_iter()
        .filter_map(|(e, running)| {
            let pid = pid_of(&e.id);
            running.then_some((e, pid))
        })
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
    /// "interrupted" (crash), the journal status of a move a fault cut short, or
    /// "running in PID N".
    pub state: String,
    /// Another process runs it right now: shown, never offered for resume.
    pub running: bool,
    pub groups_done: usize,
    pub groups_total: usize,
    pub snapshots_moved: usize,
    /// Namespaces whose listing `resume` may change (sources, targets and their parents).
    pub namespaces: Vec<Namespace>,
}

/// [`unfinished`] and [`running`] operations, summarised, oldest first.
pub fn pending(ctx: &MoveContext) -> Result<Vec<PendingMove>, MoveError> {
    Ok(open_entries(ctx)?
        .iter()
        .filter_map(|(e, running)| summarise(e, *running))
        .collect())
}

/// "running in PID N" (or "running in another process" when the id has no PID).
pub fn running_label(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("running in PID {pid}"),
        None => "running in another process".to_string(),
    }
}

fn summarise(entry: &JournalEntry, running: bool) -> Option<PendingMove> {
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
        OpKind::MoveGroups {
            ns,
            groups,
            target_ns,
            ..
        } => (
            "move-group",
            format!("{} groups in '{}'", groups.len(), ns.human()),
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
        state: match (running, entry.status()) {
            (true, _) => running_label(pid_of(&entry.id)),
            (false, None) => "interrupted".to_string(),
            (false, Some(s)) => s.to_string(),
        },
        running,
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
    // A batch names its groups up front: those not reached yet count too.
    let planned = match entry.begin() {
        Some((OpKind::MoveGroups { ns, groups, .. }, _, _)) => groups
            .iter()
            .filter(|g| !keys.contains(&(ns.clone(), (*g).clone())))
            .count(),
        _ => 0,
    };
    (done.len(), keys.len() + planned, renamed)
}
