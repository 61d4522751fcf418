//! `undo`: reverses a finished move as a new move in the opposite direction, with every
//! check of a normal move (and its own journal, so an interrupted undo resumes too).
//!
//! Before anything runs, the datastore must still hold exactly what the move left: every
//! moved group at its target with the journaled snapshots, nothing new in a moved
//! namespace, and the old places free. Otherwise undo refuses and changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::ops::context::MoveContext;
use crate::ops::engine::move_group::move_group;
use crate::ops::engine::move_ns::move_namespace;
use crate::ops::engine::request::{MoveGroupRequest, MoveNsRequest};
use crate::ops::error::MoveError;
use crate::ops::journal::crash::{GroupProgress, JournalEntry};
use crate::ops::journal::record::{OpKind, Status};
use crate::ops::progress::Progress;
use crate::ops::report::MoveReport;
use crate::tree::{GroupId, Namespace, SnapshotTime};

/// The move that reverses a journaled one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reverse {
    Group(MoveGroupRequest),
    Namespace(MoveNsRequest),
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
        Some(s) if s.is_undoable() => {}
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
    // groups, so moving back only the merged ones is not possible. Only a group's first
    // record counts: a `resume` that finished a group records its own target as existing.
    if let Some(g) = first_records(entry)
        .into_values()
        .find(|g| g.target_existed && !g.renamed.is_empty())
    {
        return Err(MoveError::refused(format!(
            "cannot undo move {}: it merged {} snapshot(s) of group '{}' into the existing group in '{}'; \
             moving only those back is not supported - move them by hand",
            entry.id,
            g.renamed.len(),
            g.group,
            g.target_ns.human()
        )));
    }
    match op {
        OpKind::MoveGroup {
            ns,
            group,
            target_ns,
            ..
        } => Ok(Reverse::Group(MoveGroupRequest {
            ns: target_ns.clone(),
            group: group.clone(),
            target_ns: ns.clone(),
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
                ns: target_ns.clone(),
                target_ns: ns.clone(),
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
            .find(|e| e.status().is_some_and(Status::is_undoable))
            .ok_or_else(|| MoveError::refused("no finished move to undo in the journal")),
    }
}

/// (source ns, group, target ns) → the first journal record of that group in the move.
fn first_records(entry: &JournalEntry) -> BTreeMap<(String, String, String), GroupProgress> {
    let mut out = BTreeMap::new();
    for g in entry.groups() {
        // Keyed by the names' text: the order (and so the first refusal) stays as it was.
        out.entry((
            g.ns.to_string(),
            g.group.to_string(),
            g.target_ns.to_string(),
        ))
        .or_insert(g);
    }
    out
}

fn refuse(entry: &JournalEntry, why: String) -> MoveError {
    MoveError::refused(format!("cannot undo move {}: {why}", entry.id))
}

fn times(ctx: &MoveContext, ns: &Namespace, group: &GroupId) -> Result<Vec<String>, MoveError> {
    Ok(ctx
        .ds
        .list_snapshot_times(ns, group)?
        .iter()
        .map(SnapshotTime::to_string)
        .collect())
}

/// Refuses (changing nothing) unless the datastore still holds exactly what `entry` left:
/// each moved group at its target with the journaled snapshots and its old place free, and
/// for a namespace move no group in the moved subtree that the move did not bring there.
pub fn check_unchanged(ctx: &MoveContext, entry: &JournalEntry) -> Result<(), MoveError> {
    let ds = &ctx.ds;
    let mut moved = BTreeSet::new();
    for ((ns, group, target), first) in first_records(entry) {
        let (ns_p, group_p, target_p) = first.names();
        let at_target = ds.group_exists(&target_p, &group_p)?;
        let at_source = ds.group_exists(&ns_p, &group_p)?;
        let ended_ok = entry
            .groups()
            .iter()
            .rev()
            .find(|g| {
                g.ns.to_string() == ns
                    && g.group.to_string() == group
                    && g.target_ns.to_string() == target
            })
            .and_then(|g| g.done)
            .unwrap_or(false);
        if !ended_ok && !at_target {
            continue; // this group did not move (a partial move): nothing to take back
        }
        if !ended_ok && at_source {
            return Err(refuse(
                entry,
                format!(
                    "group '{group}' was only partly moved (part in '{}', part in '{}'); run 'pbs-mover resume' or move it by hand",
                    ns_p.human(),
                    target_p.human()
                ),
            ));
        }
        if !at_target {
            return Err(refuse(
                entry,
                format!(
                    "group '{group}' is no longer in '{}' (moved again or removed since)",
                    target_p.human()
                ),
            ));
        }
        let mut planned = first.snapshots.clone();
        planned.sort();
        if times(ctx, &target_p, &group_p)? != planned {
            return Err(refuse(
                entry,
                format!(
                    "group '{group}' in '{}' changed since the move (snapshots added or removed); move it back by hand",
                    target_p.human()
                ),
            ));
        }
        if at_source {
            return Err(refuse(
                entry,
                format!(
                    "group '{group}' exists again in '{}'; moving it back would merge into it",
                    ns_p.human()
                ),
            ));
        }
        moved.insert((target_p, group_p));
    }
    if let Some((OpKind::MoveNs { ns, target_ns, .. }, _, _)) = entry.begin() {
        let (source, target) = (ns.clone(), target_ns.clone());
        if !ds.namespace_exists(&target)? {
            return Err(refuse(
                entry,
                format!(
                    "namespace '{}' no longer exists (moved again or removed since)",
                    target.human()
                ),
            ));
        }
        for sub in ds.list_namespaces_recursive(&target, None)?.items {
            for group in ds.list_group_ids(&sub)?.items {
                if !moved.contains(&(sub.clone(), group.clone())) {
                    return Err(refuse(
                        entry,
                        format!(
                            "group '{group}' in '{}' was not part of the move (added since); move it out first",
                            sub.human()
                        ),
                    ));
                }
            }
        }
        if ds.namespace_exists(&source)? {
            for sub in ds.list_namespaces_recursive(&source, None)?.items {
                if let Some(group) = ds.list_group_ids(&sub)?.items.first() {
                    return Err(refuse(
                        entry,
                        format!(
                            "namespace '{}' holds group '{group}' again; moving '{}' back would merge into it",
                            sub.human(),
                            target.human()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Runs the reverse of `entry` after [`check_unchanged`]; then removes the empty type dir or
/// `ns` container the original move had to create, so the tree is as it was before.
pub fn undo(
    ctx: &MoveContext,
    entry: &JournalEntry,
    reverse: &Reverse,
    progress: &Progress,
) -> Result<MoveReport, MoveError> {
    let _op = ctx.begin_operation()?;
    check_unchanged(ctx, entry)?;
    let report = match reverse {
        Reverse::Group(req) => move_group(ctx, req, progress)?,
        Reverse::Namespace(req) => move_namespace(ctx, req, progress)?,
    };
    if report.failed.is_empty() {
        tidy(ctx, entry, reverse);
    }
    Ok(report)
}

/// Best effort, and only empty dirs (`rmdir`): a type dir (`vm/`) the original move created
/// in its target namespace, or the `ns/` container of a namespace it created.
fn tidy(ctx: &MoveContext, entry: &JournalEntry, reverse: &Reverse) {
    let ds = &ctx.ds;
    match reverse {
        Reverse::Group(req) => {
            let ours = first_records(entry).values().any(|g| !g.target_existed);
            if let Some(type_dir) = ds.group_path(&req.ns, &req.group).parent()
                && ours
            {
                let _ = std::fs::remove_dir(type_dir);
            }
        }
        Reverse::Namespace(req) => {
            if let Some(container) = ds.ns_path(&req.ns).parent()
                && !req.ns.is_root()
            {
                let _ = std::fs::remove_dir(container);
            }
        }
    }
}
