//! `undo`: moves back exactly what a journaled move moved — the snapshots it renamed, group
//! by group, also out of groups and namespaces that existed before (merges), and for
//! cancelled and partial moves — then removes the type dirs, namespaces and `ns/` containers
//! it created (when empty) and puts notes back as they were.
//!
//! Before anything runs, every moved snapshot must be where the move left it and its old
//! place free; otherwise undo refuses and changes nothing. The undo's steps are journaled
//! after the move's own records (from `undo-begin` on), so the entry reads `undone` from
//! then on: `resume` leaves it alone, and an undo cut short is finished by running `undo`
//! again (it moves back what is still at the target).

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;

use crate::ops::context::MoveContext;
use crate::ops::engine::cleanup::remove_namespace_flat;
use crate::ops::engine::lock_and_move::{GroupFailure, Restore, lock_and_restore_snapshots};
use crate::ops::engine::move_group::record;
use crate::ops::engine::plan::{GroupPlan, MovePlan, NotesPlan};
use crate::ops::error::{MoveError, io_failed};
use crate::ops::journal::crash::{
    GroupProgress, JournalEntry, NotesStep, OpJournal, UndoState, format_time, now_secs, read_entry,
};
use crate::ops::journal::record::{OpKind, Record, Status};
use crate::ops::locks::flock::LockMode;
use crate::ops::locks::move_set::lock_namespaces;
use crate::ops::progress::{Progress, ProgressEvent};
use crate::ops::report::{FailReason, MoveReport};
use crate::ops::safety::ownership::{chown_backup, create_dir_all_owned};
use crate::tree::model::NOTES_FILE;
use crate::tree::{GroupId, Namespace, SnapshotTime};

/// What undoing one move does, checked against the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoPlan {
    pub groups: Vec<GroupUndo>,
    /// Source namespaces the move removed, parent-first: created again.
    pub namespaces_to_create: Vec<Namespace>,
    /// Namespaces the move created, deepest first: removed when empty.
    pub namespaces_to_remove: Vec<Namespace>,
    /// Namespaces whose `ns/` container the move created: removed when empty.
    containers_to_remove: Vec<Namespace>,
    /// (namespace, type) of type dirs the move created: removed when empty.
    type_dirs_to_remove: Vec<(Namespace, String)>,
    /// The namespaces to lock, and how.
    locks: Vec<(Namespace, LockMode)>,
}

/// One group's way back: `times` from `from` (the move's target) to `to` (its source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupUndo {
    pub from: Namespace,
    pub to: Namespace,
    pub group: GroupId,
    pub times: Vec<SnapshotTime>,
    /// The group at `from` was created by the move: it goes once emptied.
    pub created: bool,
    pub notes: NotesStep,
    pub owner: String,
}

fn refuse(entry: &JournalEntry, why: impl std::fmt::Display) -> MoveError {
    MoveError::refused(format!("cannot undo move {}: {why}", entry.id))
}

fn already_undone(entry: &JournalEntry, at: u64) -> MoveError {
    MoveError::refused(format!(
        "move {} was already undone (at {}); nothing changed",
        entry.id,
        format_time(at)
    ))
}

/// Whether the move changed anything `undo` could take back: snapshots, removed source
/// namespaces, or target namespaces it kept (a move that failed before anything moved
/// removed the ones it had created again).
pub fn moved_anything(entry: &JournalEntry) -> bool {
    let kept_created = matches!(
        entry.move_status(),
        Some(Status::Ok | Status::Partial | Status::Cancelled)
    ) && !entry.namespaces_created().is_empty();
    entry.groups().iter().any(|g| !g.renamed.is_empty())
        || !entry.namespaces_removed().is_empty()
        || kept_created
}

/// `ID`: that move; `--last`: the newest move that moved something and is not undone (an
/// undo is no entry of its own, so `--last` never redoes a move).
pub fn pick<'a>(
    entries: &'a [JournalEntry],
    id: Option<&str>,
) -> Result<&'a JournalEntry, MoveError> {
    if let Some(id) = id {
        return entries.iter().find(|e| e.id == id).ok_or_else(|| {
            MoveError::refused(format!(
                "no move with ID '{id}' in the journal (see 'pbs-mover history')"
            ))
        });
    }
    let candidate = |e: &&JournalEntry| {
        e.begin().is_some()
            && !matches!(e.undo_state(), UndoState::Undone { .. })
            && (e.move_status().is_none() || moved_anything(e))
    };
    entries.iter().rev().find(candidate).ok_or_else(|| {
        let undone = entries
            .iter()
            .any(|e| matches!(e.undo_state(), UndoState::Undone { .. }));
        MoveError::refused(if undone {
            "no finished move to undo in the journal: every move that changed something is undone already"
        } else {
            "no finished move to undo in the journal"
        })
    })
}

/// Plans the undo of `entry` from its records and the disk, or says clearly why not.
pub fn plan_undo(ctx: &MoveContext, entry: &JournalEntry) -> Result<UndoPlan, MoveError> {
    let Some((op, _, _)) = entry.begin() else {
        return Err(refuse(entry, "its journal has no readable beginning"));
    };
    let continuing = match entry.undo_state() {
        UndoState::Undone { at } => return Err(already_undone(entry, at)),
        UndoState::Incomplete => true,
        UndoState::NotUndone => false,
    };
    match entry.move_status() {
        None => {
            return Err(MoveError::refused(format!(
                "move {} is unfinished; run 'pbs-mover resume' first",
                entry.id
            )));
        }
        Some(s) if !moved_anything(entry) => {
            return Err(MoveError::refused(format!(
                "move {} ended '{s}' and moved nothing: nothing to undo",
                entry.id
            )));
        }
        Some(_) => {}
    }
    let mut groups = Vec::new();
    let mut type_dirs = Vec::new();
    for g in entry.moved_groups() {
        if g.renamed.is_empty() {
            continue; // nothing of it moved (cancelled or failed before its first snapshot)
        }
        if g.type_existed == Some(false) {
            type_dirs.push((g.target_ns.clone(), g.group.ty.as_str().to_string()));
        }
        if let Some(u) = plan_group(ctx, entry, &g, continuing)? {
            groups.push(u);
        }
    }
    let mut namespaces_to_create = existing(ctx, entry.namespaces_removed(), false)?;
    namespaces_to_create.sort_by_key(Namespace::depth);
    for u in &groups {
        if !namespaces_to_create.contains(&u.to) && !ctx.ds.namespace_exists(&u.to)? {
            return Err(refuse(
                entry,
                format!(
                    "namespace '{}' that group '{}' came from no longer exists; create it first",
                    u.to.human(),
                    u.group
                ),
            ));
        }
    }
    let mut namespaces_to_remove = existing(ctx, entry.namespaces_created(), true)?;
    namespaces_to_remove.sort_by_key(|ns| std::cmp::Reverse(ns.depth()));
    let mut containers = entry.containers_created();
    containers.sort_by_key(|ns| std::cmp::Reverse(ns.depth()));
    Ok(UndoPlan {
        groups,
        namespaces_to_create,
        namespaces_to_remove,
        containers_to_remove: containers,
        type_dirs_to_remove: type_dirs,
        locks: locks_of(op),
    })
}

/// The namespaces of `list` that exist now (`exist`) or do not.
fn existing(
    ctx: &MoveContext,
    list: Vec<Namespace>,
    exist: bool,
) -> Result<Vec<Namespace>, MoveError> {
    let mut out = Vec::new();
    for ns in list {
        if ctx.ds.namespace_exists(&ns)? == exist {
            out.push(ns);
        }
    }
    Ok(out)
}

fn locks_of(op: &OpKind) -> Vec<(Namespace, LockMode)> {
    match op {
        OpKind::MoveGroup { ns, target_ns, .. } | OpKind::MoveGroups { ns, target_ns, .. } => vec![
            (ns.clone(), LockMode::Shared),
            (target_ns.clone(), LockMode::Shared),
        ],
        OpKind::MoveNs { ns, target_ns, .. } => vec![
            (ns.clone(), LockMode::Exclusive),
            (target_ns.clone(), LockMode::Exclusive),
        ],
    }
}

fn times_in(
    ctx: &MoveContext,
    ns: &Namespace,
    group: &GroupId,
) -> Result<BTreeSet<String>, MoveError> {
    if !ctx.ds.namespace_exists(ns)? || !ctx.ds.group_exists(ns, group)? {
        return Ok(BTreeSet::new());
    }
    Ok(ctx
        .ds
        .list_snapshot_times(ns, group)?
        .iter()
        .map(|t| t.as_str().to_string())
        .collect())
}

/// One moved group: every snapshot it renamed must be at the target and not at the source
/// (or, continuing an interrupted undo, in exactly one of the two places).
fn plan_group(
    ctx: &MoveContext,
    entry: &JournalEntry,
    g: &GroupProgress,
    continuing: bool,
) -> Result<Option<GroupUndo>, MoveError> {
    let (src, group, dst) = g.names();
    let Some(owner) = g.owner.clone() else {
        return Err(refuse(
            entry,
            "it was journaled by an older pbs-mover that did not record exactly what it \
             created; move it back by hand with move-group/move-ns",
        ));
    };
    let at_target = times_in(ctx, &dst, &group)?;
    let at_source = times_in(ctx, &src, &group)?;
    let mut times = Vec::new();
    for t in &g.renamed {
        let place = (at_target.contains(t), at_source.contains(t));
        match place {
            (true, false) => times.push(t.clone()),
            (false, true) if continuing => {} // already moved back by the interrupted undo
            _ => return Err(refuse(entry, misplaced(g, t, place))),
        }
    }
    check_group_places(ctx, entry, g, &at_target, continuing)?;
    if times.is_empty() {
        return Ok(None);
    }
    let times = times
        .iter()
        .map(|t| SnapshotTime::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            refuse(
                entry,
                format!("unreadable snapshot time in its journal: {e}"),
            )
        })?;
    Ok(Some(GroupUndo {
        from: dst,
        to: src,
        group,
        times,
        created: !g.target_existed,
        notes: g.notes.clone(),
        owner,
    }))
}

/// Why snapshot `t` of `g` cannot go back, from (at the target, at the source).
fn misplaced(g: &GroupProgress, t: &str, place: (bool, bool)) -> String {
    let (src, group, dst) = (g.ns.human(), &g.group, g.target_ns.human());
    match place {
        (true, true) => {
            format!("snapshot {group}/{t} is in both '{dst}' and '{src}'; remove one by hand")
        }
        (false, true) => {
            format!("snapshot {group}/{t} exists again in '{src}'; moving it back would replace it")
        }
        _ => format!(
            "group '{group}' is no longer in '{dst}' with snapshot {t} (moved again or removed since)"
        ),
    }
}

/// The groups around the snapshots: a group the move created must hold nothing new, and a
/// source group the move removed must not be back.
fn check_group_places(
    ctx: &MoveContext,
    entry: &JournalEntry,
    g: &GroupProgress,
    at_target: &BTreeSet<String>,
    continuing: bool,
) -> Result<(), MoveError> {
    let (src, group, dst) = g.names();
    let moved: BTreeSet<&String> = g.renamed.iter().collect();
    if !g.target_existed && at_target.iter().any(|t| !moved.contains(t)) {
        return Err(refuse(
            entry,
            format!(
                "group '{group}' in '{}' changed since the move (snapshots added); move it back by hand",
                dst.human()
            ),
        ));
    }
    let source_removed = !continuing && g.done == Some(true);
    if source_removed && ctx.ds.namespace_exists(&src)? && ctx.ds.group_exists(&src, &group)? {
        return Err(refuse(
            entry,
            format!(
                "group '{group}' exists again in '{}'; moving it back would merge into it",
                src.human()
            ),
        ));
    }
    Ok(())
}

/// What happens to notes on the way back.
fn notes_plan(ctx: &MoveContext, u: &GroupUndo) -> NotesPlan {
    let has_notes = ctx
        .ds
        .group_path(&u.from, &u.group)
        .join(NOTES_FILE)
        .is_file();
    match &u.notes {
        NotesStep::Kept(_) => NotesPlan::KeepTarget,
        NotesStep::Moved => NotesPlan::Move,
        NotesStep::None if u.created && has_notes => NotesPlan::Move,
        NotesStep::None => NotesPlan::None,
    }
}

/// The dry run of [`undo`]: the plan as a move plan.
pub fn as_move_plan(ctx: &MoveContext, plan: &UndoPlan) -> MovePlan {
    let groups = plan
        .groups
        .iter()
        .map(|u| {
            let exists = ctx.ds.group_exists(&u.to, &u.group).unwrap_or(false);
            GroupPlan {
                snapshots: u.times.len(),
                oldest: u.times.first().map(ToString::to_string),
                newest: u.times.last().map(ToString::to_string),
                merge: exists,
                owner: Some(u.owner.clone()),
                notes: notes_plan(ctx, u),
                ..GroupPlan::new(&u.from, &u.group, &u.to)
            }
        })
        .collect();
    MovePlan {
        groups,
        namespaces_to_create: plan.namespaces_to_create.clone(),
        namespaces_to_remove: plan.namespaces_to_remove.clone(),
        ..MovePlan::default()
    }
}

/// Moves `entry` back after checking (under its locks) that nothing it moved changed.
pub fn undo(
    ctx: &MoveContext,
    entry: &JournalEntry,
    progress: &Progress,
) -> Result<MoveReport, MoveError> {
    ctx.check_datastore()?;
    let _op = ctx.begin_operation()?;
    let locks = plan_undo(ctx, entry)?.locks;
    let _ns_guards = lock_namespaces(&ctx.locks, &locks)?;
    // Held until the end: a second undo of the same move is busy, not a race.
    let journal = OpJournal::reopen(&entry.path)?;
    // Read again under the locks: the authoritative check.
    let entry = read_entry(&entry.path).map_err(|e| refuse(entry, e))?;
    let plan = plan_undo(ctx, &entry)?;
    journal.record(&Record::UndoBegin {
        started: now_secs(),
    })?;
    let result = run_plan(ctx, &plan, progress, &journal);
    let (ok, changed) = match &result {
        Ok(r) => (
            r.failed.is_empty(),
            r.snapshots_moved() > 0 || !r.namespaces_created.is_empty(),
        ),
        Err(_) => (false, true),
    };
    let _ = journal.record(&Record::UndoEnded {
        ok,
        changed,
        at: now_secs(),
    });
    let report = result?;
    crate::ops::engine::move_group::finish(report, progress)
}

fn run_plan(
    ctx: &MoveContext,
    plan: &UndoPlan,
    progress: &Progress,
    journal: &OpJournal,
) -> Result<MoveReport, MoveError> {
    let mut report = MoveReport::default();
    progress.emit(ProgressEvent::Planned {
        groups: plan.groups.len(),
        snapshots: plan.groups.iter().map(|g| g.times.len()).sum(),
        bytes: 0,
    });
    for ns in &plan.namespaces_to_create {
        create_namespace(ctx, ns)?;
        progress.emit(ProgressEvent::NamespaceCreated { ns: ns.clone() });
        report.namespaces_created.push(ns.clone());
    }
    for u in &plan.groups {
        if progress.cancel.is_cancelled() {
            let failure = GroupFailure {
                reason: FailReason::Cancelled,
                message: "cancelled before this group started; it stays where the move put it"
                    .into(),
                moved: 0,
                refused: false,
            };
            record(
                &mut report,
                progress,
                &u.from,
                &u.group,
                &u.from,
                Err(failure),
            );
            continue;
        }
        let names = (&u.from, &u.group, &u.to);
        let restore = Restore {
            times: &u.times,
            whole_group: u.created,
        };
        let result = lock_and_restore_snapshots(ctx, names, restore, progress, Some(journal));
        let ok = result.is_ok();
        record(&mut report, progress, &u.from, &u.group, &u.to, result);
        if ok && !u.created {
            restore_notes(ctx, u, &mut report)?;
        }
    }
    if report.failed.is_empty() && !progress.cancel.is_cancelled() {
        tidy(ctx, plan, &mut report, progress);
    }
    Ok(report)
}

fn create_namespace(ctx: &MoveContext, ns: &Namespace) -> Result<(), MoveError> {
    let fail = |e: &dyn std::fmt::Display| {
        MoveError::failed(format!("failed to create namespace '{ns}' again: {e}"))
    };
    ctx.backend.create_namespace(ns).map_err(|e| fail(&e))?;
    create_dir_all_owned(&ctx.ds.ns_path(ns), &ctx.ds.base).map_err(|e| fail(&e))
}

/// A merge's notes, as they were: moved onto the target → moved back; kept out by the
/// target's own → written to the source group again.
fn restore_notes(
    ctx: &MoveContext,
    u: &GroupUndo,
    report: &mut MoveReport,
) -> Result<(), MoveError> {
    let src = ctx.ds.group_path(&u.to, &u.group).join(NOTES_FILE);
    let at_target = ctx.ds.group_path(&u.from, &u.group).join(NOTES_FILE);
    if fs::symlink_metadata(&src).is_ok() {
        return Ok(()); // the source has notes (again): they stay
    }
    match &u.notes {
        NotesStep::None => Ok(()),
        NotesStep::Moved => {
            let Ok(notes) = fs::read(&at_target) else {
                report.warnings.push(format!(
                    "notes of group '{}' are no longer in '{}'; not moved back",
                    u.group,
                    u.from.human()
                ));
                return Ok(());
            };
            ctx.backend.put_notes(&u.to, &u.group, &notes)?;
            fs::rename(&at_target, &src).map_err(|e| io_failed("cannot move notes", &src, e))?;
            let orphans = ctx.backend.remove_notes(&u.from, &u.group);
            report.orphans.extend(orphans.into_iter().map(Into::into));
            Ok(())
        }
        NotesStep::Kept(notes) => {
            ctx.backend.put_notes(&u.to, &u.group, notes.as_bytes())?;
            write_notes(&src, notes.as_bytes())
        }
    }
}

fn write_notes(path: &std::path::Path, notes: &[u8]) -> Result<(), MoveError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|e| io_failed("cannot create notes", path, e))?;
    f.write_all(notes)
        .map_err(|e| io_failed("cannot write notes", path, e))?;
    chown_backup(path).map_err(|e| io_failed("cannot chown", path, e))
}

/// Only empty dirs go (`rmdir`), and only ones the move created: type dirs, then the
/// namespaces (deepest first), then their `ns/` containers.
fn tidy(ctx: &MoveContext, plan: &UndoPlan, report: &mut MoveReport, progress: &Progress) {
    for (ns, ty) in &plan.type_dirs_to_remove {
        let _ = fs::remove_dir(ctx.ds.ns_path(ns).join(ty));
    }
    for ns in &plan.namespaces_to_remove {
        match remove_namespace_flat(ctx, ns) {
            Ok(true) => {
                progress.emit(ProgressEvent::NamespaceRemoved { ns: ns.clone() });
                report.namespaces_removed.push(ns.clone());
            }
            Ok(false) => report.warnings.push(format!(
                "kept namespace '{ns}' the move created: it holds groups the move did not bring"
            )),
            Err(e) => report.warnings.push(e.to_string()),
        }
    }
    for ns in &plan.containers_to_remove {
        match fs::remove_dir(ctx.ds.ns_path(ns).join("ns")) {
            Err(e) if e.kind() != io::ErrorKind::NotFound && !is_not_empty(&e) => {
                report.warnings.push(e.to_string())
            }
            _ => {}
        }
    }
}

fn is_not_empty(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::DirectoryNotEmpty
}
