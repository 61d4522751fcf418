//! `undo`: reverses a finished move as a new move in the opposite direction, with every
//! check of a normal move (and its own journal, so an interrupted undo resumes too).

use super::error::MoveError;
use super::op_journal::{JournalEntry, OpKind};
use super::plan::{MoveGroupRequest, MoveNsRequest};
use crate::tree::{GroupId, Namespace};

/// The move that reverses a journaled one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reverse {
    Group(MoveGroupRequest),
    Namespace(MoveNsRequest),
}

fn parse(s: &str) -> Result<Namespace, MoveError> {
    Namespace::parse(s).map_err(|e| MoveError::refused(format!("operation journal: {e}")))
}

/// Plans the reverse of `entry`, or says clearly why it cannot be undone.
pub fn reverse_of(entry: &JournalEntry) -> Result<Reverse, MoveError> {
    let Some((op, _, _)) = entry.begin() else {
        return Err(MoveError::refused(format!(
            "move {} has no readable journal",
            entry.id
        )));
    };
    match entry.status() {
        Some("ok" | "partial") => {}
        Some(other) => {
            return Err(MoveError::refused(format!(
                "move {} ended '{other}': nothing to undo",
                entry.id
            )));
        }
        None => {
            return Err(MoveError::refused(format!(
                "move {} is unfinished; run 'pbs-mover resume' first",
                entry.id
            )));
        }
    }
    // A merge put snapshots into a group that already had some; the engine moves whole
    // groups, so moving back only the merged ones is not possible.
    if let Some(g) = entry
        .groups()
        .iter()
        .find(|g| g.target_existed && !g.renamed.is_empty())
    {
        return Err(MoveError::refused(format!(
            "cannot undo move {}: it merged {} snapshot(s) of group '{}' into the existing group in '{}'; \
             moving only those back is not supported - move them by hand",
            entry.id,
            g.renamed.len(),
            g.group,
            if g.target_ns.is_empty() {
                "/"
            } else {
                &g.target_ns
            }
        )));
    }
    match op {
        OpKind::MoveGroup {
            ns,
            group,
            target_ns,
            ..
        } => Ok(Reverse::Group(MoveGroupRequest {
            ns: parse(target_ns)?,
            group: GroupId::parse(group).map_err(|e| MoveError::refused(e.to_string()))?,
            target_ns: parse(ns)?,
            merge: false,
        })),
        OpKind::MoveNs {
            ns,
            target_ns,
            max_depth,
            ..
        } => {
            if !entry.namespaces_created().contains(target_ns) {
                return Err(MoveError::refused(format!(
                    "cannot undo move {}: namespace '{target_ns}' existed before the move, so moving it back would take groups that were there before",
                    entry.id
                )));
            }
            Ok(Reverse::Namespace(MoveNsRequest {
                ns: parse(target_ns)?,
                target_ns: parse(ns)?,
                max_depth: *max_depth,
                delete_source: true,
                merge: false,
            }))
        }
    }
}

/// `--last`: the newest move that can be undone; `ID`: that move.
pub fn pick<'a>(
    entries: &'a [JournalEntry],
    id: Option<&str>,
) -> Result<&'a JournalEntry, MoveError> {
    match id {
        Some(id) => entries.iter().find(|e| e.id == id).ok_or_else(|| {
            MoveError::refused(format!(
                "no move with ID '{id}' in the journal (see 'pbs-mover history')"
            ))
        }),
        None => entries
            .iter()
            .rev()
            .find(|e| matches!(e.status(), Some("ok" | "partial")))
            .ok_or_else(|| MoveError::refused("no finished move to undo in the journal")),
    }
}
