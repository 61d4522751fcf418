//! `resume`: finishes moves a crash cut short, from the operation journal and the disk.
//!
//! The disk is authoritative (a rename either happened or not); the journal says which
//! operation was running, which group was in flight, whether this move created its target
//! group, and (S3) which keys were copied. Repairs happen under the same PBS locks a move
//! takes; then the operation is simply run again, which moves whatever is still at the
//! source with every check of a normal move. Running it twice finds nothing to do.
//!
//! Besides interrupted operations, `resume` retries operations that ended `partial` or
//! `failed` (an I/O or S3 error, a lock held at the time): the fault is reported, nothing is
//! lost, and `resume` finishes the job once the cause is gone. A retry that moves nothing
//! and fails for another reason than a lock ends the operation as `gave-up`, so `resume`
//! does not repeat a failure that needs a person. Cancelled moves are never continued.

use std::collections::BTreeSet;
use std::fs;
use std::io;

use serde::Serialize;

use crate::ops::context::MoveContext;
use crate::ops::engine::move_group::{close_journal, move_group_locked};
use crate::ops::engine::move_ns::move_namespace_locked;
use crate::ops::engine::request::{MoveGroupRequest, MoveNsRequest};
use crate::ops::error::{MoveError, io_failed};
use crate::ops::journal::crash::{
    GroupProgress, JournalEntry, OpJournal, OpKind, Record, list_entries, state_dir,
};
use crate::ops::locks::flock::{LockMode, remove_lock_file};
use crate::ops::locks::move_set::{lock_group, lock_namespaces, take};
use crate::ops::progress::Progress;
use crate::ops::report::{FailReason, MoveReport, MovedGroup};
use crate::tree::backend::PreparedMove;
use crate::tree::model::{NOTES_FILE, OWNER_FILE};
use crate::tree::{GroupId, Namespace, SnapshotTime};

/// What `resume` did to one unfinished operation.
#[derive(Debug, Clone, Serialize)]
pub struct ResumedOp {
    pub id: String,
    pub op: String,
    pub actions: Vec<String>,
    /// "completed", "partial" (some groups are still at the source), "gave-up", "busy" or
    /// "failed".
    pub status: String,
    pub error: Option<String>,
}

#[derive(Debug, Default)]
pub struct ResumeOutcome {
    pub report: MoveReport,
    pub operations: Vec<ResumedOp>,
}

impl ResumeOutcome {
    pub fn busy(&self) -> bool {
        self.operations.iter().any(|o| o.status == "busy")
    }

    pub fn errors(&self) -> Vec<String> {
        self.operations
            .iter()
            .filter_map(|o| o.error.as_ref().map(|e| format!("{}: {e}", o.id)))
            .collect()
    }
}

/// Journal status of an operation whose retry by `resume` moved nothing and failed again.
pub const GAVE_UP: &str = "gave-up";

/// Whether `resume` still has work for this operation: it never ended (crash), or it ended
/// with groups left at the source by an error (`failed`: nothing moved; `partial`: some
/// did). `busy` (only locks were in the way, nothing changed), `refused`, `cancelled`,
/// `gave-up` and `ok` are final.
pub fn is_resumable(entry: &JournalEntry) -> bool {
    matches!(entry.status(), None | Some("partial" | "failed"))
}

/// Operations `resume` would finish on this datastore, oldest first.
pub fn unfinished(ctx: &MoveContext) -> Result<Vec<JournalEntry>, MoveError> {
    let Some(state) = state_dir() else {
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
            format!("{group} in '{}'", human(ns)),
            format!("'{}'", human(target_ns)),
            ns,
            target_ns,
        ),
        OpKind::MoveNs { ns, target_ns, .. } => (
            "move-ns",
            format!("'{}'", human(ns)),
            format!("'{}'", human(target_ns)),
            ns,
            target_ns,
        ),
    };
    let mut namespaces = Vec::new();
    for n in [ns, target_ns] {
        if let Ok(n) = Namespace::parse(n) {
            namespaces.extend(n.parent());
            namespaces.push(n);
        }
    }
    namespaces.sort();
    namespaces.dedup();
    let (groups_done, groups_total, snapshots_moved) = progress_of(entry);
    Some(PendingMove {
        id: entry.id.clone(),
        kind,
        source,
        target,
        state: entry.status().unwrap_or("interrupted").to_string(),
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

/// Finishes every unfinished operation of the datastore.
pub fn resume(ctx: &MoveContext, progress: &Progress) -> Result<ResumeOutcome, MoveError> {
    ctx.check_datastore()?;
    let entries = unfinished(ctx)?;
    // Counted as a write (and GC kept out) only when there is something to finish.
    let _op = match entries.is_empty() {
        true => None,
        false => Some(ctx.begin_operation()?),
    };
    let mut out = ResumeOutcome::default();
    for entry in entries {
        let Some((op, _, _)) = entry.begin() else {
            continue; // a journal torn before its first record: nothing was done
        };
        // Ended with failures (not a crash): this run is a retry of what is left.
        let retry = entry.is_finished();
        let mut done = ResumedOp {
            id: entry.id.clone(),
            op: op.describe(),
            actions: Vec::new(),
            status: "completed".into(),
            error: None,
        };
        match OpJournal::reopen(&entry.path) {
            Ok(j) => {
                let r = resume_one(ctx, &entry, op, &j, progress, &mut done.actions);
                // The journal is closed even on failure: what is left is a consistent state
                // (or reported as an error), and the next resume re-checks from scratch.
                let gave_up = match &r {
                    Err(e) => {
                        done.status = if e.is_busy() { "busy" } else { "failed" }.into();
                        done.error = Some(e.to_string());
                        false
                    }
                    Ok(report) if !report.failed.is_empty() => {
                        let gave_up = retry && gives_up(report);
                        done.status = if gave_up { GAVE_UP } else { "partial" }.into();
                        done.error = Some(still_at_source(report));
                        if gave_up {
                            done.actions.push(
                                "gave up: this retry moved nothing; move what is left by hand \
                                 once the cause is fixed"
                                    .into(),
                            );
                        }
                        gave_up
                    }
                    Ok(_) => false,
                };
                let _ = j.record(&Record::Resumed {
                    actions: done.actions.clone(),
                });
                if gave_up {
                    let _ = j.record(&Record::Done {
                        status: GAVE_UP.into(),
                    });
                } else if !matches!(&r, Err(e) if e.is_busy()) {
                    close_journal(Some(&j), &r);
                }
                if let Ok(report) = r {
                    merge_report(&mut out.report, report);
                }
            }
            Err(e) => {
                done.status = if e.is_busy() { "busy" } else { "failed" }.into();
                done.error = Some(e.to_string());
            }
        }
        out.operations.push(done);
    }
    Ok(out)
}

/// A retry that moved nothing and failed for another reason than a lock held right now.
fn gives_up(report: &MoveReport) -> bool {
    report.moved.is_empty()
        && report.snapshots_moved() == 0
        && report
            .failed
            .iter()
            .any(|f| f.reason != FailReason::LockConflict)
}

fn still_at_source(report: &MoveReport) -> String {
    let groups: Vec<String> = report
        .failed
        .iter()
        .map(|f| format!("{} in '{}': {}", f.group, human(&f.ns), f.message))
        .collect();
    format!(
        "{} group(s) still at the source: {}",
        groups.len(),
        groups.join("; ")
    )
}

fn human(ns: &str) -> &str {
    if ns.is_empty() { "/" } else { ns }
}

fn merge_report(into: &mut MoveReport, from: MoveReport) {
    into.moved.extend(from.moved);
    into.failed.extend(from.failed);
    into.orphans.extend(from.orphans);
    into.warnings.extend(from.warnings);
    into.namespaces_created.extend(from.namespaces_created);
    into.namespaces_removed.extend(from.namespaces_removed);
    into.namespaces_kept.extend(from.namespaces_kept);
}

fn parse_ns(s: &str) -> Result<Namespace, MoveError> {
    Namespace::parse(s).map_err(|e| MoveError::failed(format!("operation journal: {e}")))
}

fn resume_one(
    ctx: &MoveContext,
    entry: &JournalEntry,
    op: &OpKind,
    journal: &OpJournal,
    progress: &Progress,
    actions: &mut Vec<String>,
) -> Result<MoveReport, MoveError> {
    match op {
        OpKind::MoveGroup {
            ns,
            group,
            target_ns,
            merge,
        } => {
            // A target group this very move created is merged into, even with --no-merge.
            let own_target = entry.groups().iter().any(|g| !g.target_existed);
            let req = MoveGroupRequest {
                ns: parse_ns(ns)?,
                group: GroupId::parse(group)
                    .map_err(|e| MoveError::failed(format!("operation journal: {e}")))?,
                target_ns: parse_ns(target_ns)?,
                merge: *merge || own_target,
            };
            let _ns_guards = lock_namespaces(
                &ctx.locks,
                &[
                    (req.ns.clone(), LockMode::Shared),
                    (req.target_ns.clone(), LockMode::Shared),
                ],
            )?;
            let mut report = repair_groups(ctx, entry, actions)?;
            if ctx.ds.group_exists(&req.ns, &req.group)? {
                actions.push(format!(
                    "moving what is still at the source of group {} in '{}'",
                    req.group,
                    req.ns.human()
                ));
                merge_report(
                    &mut report,
                    move_group_locked(ctx, &req, false, progress, Some(journal))?,
                );
            }
            Ok(report)
        }
        OpKind::MoveNs {
            ns,
            target_ns,
            max_depth,
            delete_source,
            merge,
        } => {
            let req = MoveNsRequest {
                ns: parse_ns(ns)?,
                target_ns: parse_ns(target_ns)?,
                max_depth: *max_depth,
                delete_source: *delete_source,
                merge: *merge,
            };
            let _ns_guards = lock_namespaces(
                &ctx.locks,
                &[
                    (req.ns.clone(), LockMode::Exclusive),
                    (req.target_ns.clone(), LockMode::Exclusive),
                ],
            )?;
            let mut report = repair_groups(ctx, entry, actions)?;
            if !req.merge {
                complete_own_groups(ctx, entry, progress, journal, actions, &mut report)?;
            }
            if ctx.ds.namespace_exists(&req.ns)? {
                actions.push(format!(
                    "moving what is still in source namespace '{}' to '{}'",
                    req.ns, req.target_ns
                ));
                merge_report(
                    &mut report,
                    move_namespace_locked(ctx, &req, progress, Some(journal))?,
                );
            }
            finish_ns_removals(ctx, entry, journal, actions)?;
            // A group whose completion failed above fails the re-run too: report it once.
            let mut failed = BTreeSet::new();
            report
                .failed
                .retain(|f| failed.insert((f.ns.clone(), f.group.clone())));
            Ok(report)
        }
    }
}

/// `--no-merge` namespace moves: a group cut short (crash, error) is split between its source
/// and the target group this very move created. The re-run would refuse it ("exists and
/// merging is disabled"), so it is finished here first: what is still at the source is
/// merged into the group we created, with PBS's merge checks (same owner, only newer
/// snapshots). If those checks fail now, both halves stay as they are (each a consistent
/// group) and the group is reported as failed.
fn complete_own_groups(
    ctx: &MoveContext,
    entry: &JournalEntry,
    progress: &Progress,
    journal: &OpJournal,
    actions: &mut Vec<String>,
    report: &mut MoveReport,
) -> Result<(), MoveError> {
    let mut seen = BTreeSet::new();
    for g in entry.groups() {
        // The first record of a group says whether the target existed before this move.
        let key = (g.ns.clone(), g.group.clone(), g.target_ns.clone());
        if !seen.insert(key) || g.target_existed {
            continue;
        }
        let (ns, group, target_ns) = g.parsed()?;
        if !ctx.ds.group_exists(&ns, &group)? || !ctx.ds.group_exists(&target_ns, &group)? {
            continue;
        }
        actions.push(format!(
            "completing group {group}: moving what is still in '{}' into the group this move created in '{}'",
            ns.human(),
            target_ns.human()
        ));
        let req = MoveGroupRequest {
            ns,
            group,
            target_ns,
            merge: true,
        };
        merge_report(
            report,
            move_group_locked(ctx, &req, false, progress, Some(journal))?,
        );
    }
    Ok(())
}

/// A removal interrupted between the namespace dir's rmdir and its bucket marker's delete:
/// the dir is gone, so no listing finds it again; only the journal knows the marker is left.
fn finish_ns_removals(
    ctx: &MoveContext,
    entry: &JournalEntry,
    journal: &OpJournal,
    actions: &mut Vec<String>,
) -> Result<(), MoveError> {
    for name in entry.namespaces_removing() {
        let ns = parse_ns(&name)?;
        if ctx.ds.namespace_exists(&ns)? {
            continue; // still there: kept, or removed by the cleanup of this resume
        }
        ctx.backend.remove_namespace(&ns)?;
        journal.record(&Record::NsRemoved { ns: name.clone() })?;
        if ctx.backend.kind() != "filesystem" {
            actions.push(format!("removed the bucket marker of namespace '{name}'"));
        }
    }
    Ok(())
}

/// Repairs every group whose move was in flight (no `group-done` record).
fn repair_groups(
    ctx: &MoveContext,
    entry: &JournalEntry,
    actions: &mut Vec<String>,
) -> Result<MoveReport, MoveError> {
    let mut report = MoveReport::default();
    for g in entry.groups().iter().filter(|g| g.done.is_none()) {
        let (ns, group, target_ns) = g.parsed()?;
        let at_target = GroupRepair {
            ctx,
            g,
            ns: &ns,
            group: &group,
            target_ns: &target_ns,
            actions: &mut *actions,
        }
        .run()?;
        if at_target > 0 && !ctx.ds.group_exists(&ns, &group)? {
            // Completed by the repair alone: the rerun will not list it.
            report.moved.push(MovedGroup {
                ns: ns.to_string(),
                group: group.to_string(),
                target_ns: target_ns.to_string(),
                snapshots: at_target,
            });
        }
    }
    Ok(report)
}

struct GroupRepair<'a> {
    ctx: &'a MoveContext,
    g: &'a GroupProgress,
    ns: &'a Namespace,
    group: &'a GroupId,
    target_ns: &'a Namespace,
    actions: &'a mut Vec<String>,
}

impl GroupRepair<'_> {
    /// Returns how many journaled snapshots are at the target.
    fn run(mut self) -> Result<usize, MoveError> {
        let ctx = self.ctx;
        let locks = &ctx.locks;
        let what = format!("group {} in namespace '{}'", self.group, self.ns.human());
        let source_guard = lock_group(ctx, self.ns, self.group, &what)?;
        let target_guard = lock_group(ctx, self.target_ns, self.group, &format!("target {what}"))?;
        let mut at_target = 0;
        for t in &self.g.snapshots {
            if self.repair_snapshot(t)? {
                at_target += 1;
            }
        }
        if at_target == 0 {
            self.remove_created_target()?;
        }
        self.finish_source_destroy()?;
        // Lock files of groups that do not exist (any more) are not left behind.
        for ns in [self.ns, self.target_ns] {
            if !ctx.ds.group_path(ns, self.group).exists() {
                remove_lock_file(&locks.group(ns, self.group));
            }
        }
        drop(source_guard);
        drop(target_guard);
        Ok(at_target)
    }

    fn copied(&self, t: &str) -> Option<PreparedMove> {
        self.g
            .copied
            .iter()
            .rev()
            .find(|(ct, _, _)| ct == t)
            .map(|(_, src, dst)| PreparedMove {
                copied_keys: dst.clone(),
                source_keys: src.clone(),
                stats: Default::default(),
            })
    }

    /// One journaled snapshot; returns whether it is at the target.
    fn repair_snapshot(&mut self, t: &str) -> Result<bool, MoveError> {
        let ctx = self.ctx;
        let ds = &ctx.ds;
        let time = SnapshotTime::parse(t)
            .map_err(|e| MoveError::failed(format!("operation journal: {e}")))?;
        let src = ds.snapshot_path(self.ns, self.group, &time).exists();
        let dst = ds.snapshot_path(self.target_ns, self.group, &time).exists();
        match (src, dst) {
            (false, true) => {
                self.finish_renamed(t, &time)?;
                Ok(true)
            }
            (true, false) => {
                // Copies made before the crash are discarded; the rerun copies again.
                if let Some(prep) = self.copied(t) {
                    let orphans = self.ctx.backend.discard_copy(&prep);
                    self.actions.push(format!(
                        "discarded the target copies of snapshot {}/{t} (not renamed yet){}",
                        self.group,
                        orphan_note(orphans.len())
                    ));
                }
                Ok(false)
            }
            (true, true) => Err(MoveError::failed(format!(
                "snapshot {}/{t} exists in both '{}' and '{}'; left alone, check it by hand",
                self.group,
                self.ns.human(),
                self.target_ns.human()
            ))),
            (false, false) => {
                self.actions.push(format!(
                    "snapshot {}/{t} is in neither namespace any more (pruned after the crash?)",
                    self.group
                ));
                Ok(false)
            }
        }
    }

    /// After the rename: source objects (S3) and stale source lock files.
    fn finish_renamed(&mut self, t: &str, time: &SnapshotTime) -> Result<(), MoveError> {
        let deleted = self.g.deleted.iter().any(|d| d == t);
        if !deleted && let Some(prep) = self.copied(t) {
            let orphans = self.ctx.backend.delete_source(&prep);
            self.actions.push(format!(
                "deleted the source objects of moved snapshot {}/{t}{}",
                self.group,
                orphan_note(orphans.len())
            ));
        }
        let ctx = self.ctx;
        let locks = &ctx.locks;
        for path in [
            locks.manifest(self.ns, self.group, time),
            locks.snapshot(self.ns, self.group, time),
            locks.old_manifest(self.ns, self.group, time),
        ] {
            if path.exists() {
                // PBS removes a lock file while holding it; waiters re-check the inode.
                let guard = take(
                    &path,
                    LockMode::Exclusive,
                    &format!("snapshot {}/{t}", self.group),
                )?;
                remove_lock_file(&path);
                drop(guard);
                self.actions
                    .push(format!("removed stale lock file {}", path.display()));
            }
        }
        Ok(())
    }

    /// "Target group created but nothing moved": remove it again (only what we created).
    fn remove_created_target(&mut self) -> Result<(), MoveError> {
        if self.g.target_existed {
            return Ok(());
        }
        let dir = self.ctx.ds.group_path(self.target_ns, self.group);
        let Ok(rd) = fs::read_dir(&dir) else {
            return Ok(());
        };
        let names: Vec<String> = rd
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if names.iter().any(|n| n != OWNER_FILE) {
            return Ok(()); // notes or snapshots: not an empty group of ours any more
        }
        remove_if_present(&dir.join(OWNER_FILE))?;
        fs::remove_dir(&dir).map_err(|e| io_failed("cannot remove", &dir, e))?;
        let orphans = self.ctx.backend.remove_group(self.target_ns, self.group);
        remove_lock_file(&self.ctx.locks.group(self.target_ns, self.group));
        self.actions.push(format!(
            "removed the empty target group {} in '{}' the interrupted move had created{}",
            self.group,
            self.target_ns.human(),
            orphan_note(orphans.len())
        ));
        Ok(())
    }

    /// The source group was emptied; its destroy (owner, notes, dir, bucket objects) may be
    /// half done. Notes still at the source move first when the target has none.
    fn finish_source_destroy(&mut self) -> Result<(), MoveError> {
        let ctx = self.ctx;
        let ds = &ctx.ds;
        let dir = ds.group_path(self.ns, self.group);
        let exists = dir.exists();
        if exists {
            let has_owner = dir.join(OWNER_FILE).exists();
            let has_snapshots = !ds.list_snapshot_times(self.ns, self.group)?.is_empty();
            if has_owner || has_snapshots {
                return Ok(()); // a normal group: the rerun moves it with every check
            }
            self.move_notes_if_needed()?;
            remove_if_present(&dir.join(NOTES_FILE))?;
            fs::remove_dir(&dir).map_err(|e| io_failed("cannot remove group dir", &dir, e))?;
        }
        let orphans = self.ctx.backend.remove_group(self.ns, self.group);
        if exists || self.ctx.backend.kind() != "filesystem" {
            self.actions.push(format!(
                "finished removing the emptied source group {} in '{}'{}",
                self.group,
                self.ns.human(),
                orphan_note(orphans.len())
            ));
        }
        Ok(())
    }

    fn move_notes_if_needed(&mut self) -> Result<(), MoveError> {
        let ds = &self.ctx.ds;
        let src = ds.group_path(self.ns, self.group).join(NOTES_FILE);
        let dst = ds.group_path(self.target_ns, self.group).join(NOTES_FILE);
        if !src.is_file() || dst.exists() {
            return Ok(());
        }
        let notes = fs::read(&src).map_err(|e| io_failed("cannot read", &src, e))?;
        self.ctx
            .backend
            .put_notes(self.target_ns, self.group, &notes)?;
        fs::rename(&src, &dst).map_err(|e| io_failed("cannot move notes", &src, e))?;
        self.actions
            .push(format!("moved the notes of group {}", self.group));
        Ok(())
    }
}

fn remove_if_present(path: &std::path::Path) -> Result<(), MoveError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_failed("cannot remove", path, e)),
        _ => Ok(()),
    }
}

fn orphan_note(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} object(s) could not be deleted and are left as orphans)")
    }
}
