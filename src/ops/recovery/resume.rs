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
//!
//! A batch of groups (`move-groups`) is finished like a namespace move: the group caught in
//! flight repaired, then every group of the batch still at the source moved again.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::ops::context::MoveContext;
use crate::ops::engine::move_group::{close_journal, move_group_locked};
use crate::ops::engine::move_groups::{announce, move_groups_locked};
use crate::ops::engine::move_ns::move_namespace_locked;
use crate::ops::engine::request::{MoveGroupRequest, MoveNsRequest};
use crate::ops::error::MoveError;
use crate::ops::journal::crash::{JournalEntry, OpJournal};
use crate::ops::journal::record::{OpKind, Record, Status};
use crate::ops::locks::flock::LockMode;
use crate::ops::locks::move_set::lock_namespaces;
use crate::ops::progress::Progress;
use crate::ops::recovery::pending::unfinished;
use crate::ops::recovery::repair::repair_groups;
use crate::ops::report::{FailReason, MoveReport};
use crate::tree::{GroupId, Namespace};

/// What `resume` did to one unfinished operation.
#[derive(Debug, Clone, Serialize)]
pub struct ResumedOp {
    pub id: String,
    pub op: String,
    pub actions: Vec<String>,
    pub status: ResumeStatus,
    pub error: Option<String>,
}

/// How one operation's resume ended (in `resume --json` as the kebab-case word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResumeStatus {
    Completed,
    /// Some groups are still at the source; a later `resume` retries them.
    Partial,
    /// This retry moved nothing and failed again: the journal is closed as `gave-up`.
    GaveUp,
    Busy,
    Failed,
}

impl ResumeStatus {
    fn of_error(e: &MoveError) -> Self {
        if e.is_busy() {
            Self::Busy
        } else {
            Self::Failed
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Partial => "partial",
            Self::GaveUp => "gave-up",
            Self::Busy => "busy",
            Self::Failed => "failed",
        }
    }
}

impl std::fmt::Display for ResumeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Default)]
pub struct ResumeOutcome {
    pub report: MoveReport,
    pub operations: Vec<ResumedOp>,
}

impl ResumeOutcome {
    pub fn busy(&self) -> bool {
        self.operations
            .iter()
            .any(|o| o.status == ResumeStatus::Busy)
    }

    pub fn errors(&self) -> Vec<String> {
        self.operations
            .iter()
            .filter_map(|o| o.error.as_ref().map(|e| format!("{}: {e}", o.id)))
            .collect()
    }
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
            status: ResumeStatus::Completed,
            error: None,
        };
        match OpJournal::reopen(&entry.path) {
            Ok(j) => {
                let r = resume_one(ctx, &entry, op, &j, progress, &mut done.actions);
                // The journal is closed even on failure: what is left is a consistent state
                // (or reported as an error), and the next resume re-checks from scratch.
                let gave_up = match &r {
                    Err(e) => {
                        done.status = ResumeStatus::of_error(e);
                        done.error = Some(e.to_string());
                        false
                    }
                    Ok(report) if !report.failed.is_empty() => {
                        let gave_up = retry && gives_up(report);
                        done.status = if gave_up {
                            ResumeStatus::GaveUp
                        } else {
                            ResumeStatus::Partial
                        };
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
                        status: Status::GaveUp,
                    });
                } else if !matches!(&r, Err(e) if e.is_busy()) {
                    close_journal(Some(&j), &r);
                }
                if let Ok(report) = r {
                    merge_report(&mut out.report, report);
                }
            }
            Err(e) => {
                done.status = ResumeStatus::of_error(&e);
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
        .map(|f| format!("{} in '{}': {}", f.group, f.ns.human(), f.message))
        .collect();
    format!(
        "{} group(s) still at the source: {}",
        groups.len(),
        groups.join("; ")
    )
}

fn merge_report(into: &mut MoveReport, from: MoveReport) {
    into.moved.extend(from.moved);
    into.failed.extend(from.failed);
    into.orphans.extend(from.orphans);
    into.warnings.extend(from.warnings);
    into.namespaces_created.extend(from.namespaces_created);
    into.namespaces_removed.extend(from.namespaces_removed);
    into.namespaces_kept.extend(from.namespaces_kept);
    into.left_in_place.extend(from.left_in_place);
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
                ns: ns.clone(),
                group: group.clone(),
                target_ns: target_ns.clone(),
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
                    move_group_locked(ctx, &req, None, progress, Some(journal))?,
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
                ns: ns.clone(),
                target_ns: target_ns.clone(),
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
        OpKind::MoveGroups {
            ns,
            groups,
            target_ns,
            merge,
        } => {
            let batch = BatchOp {
                ns,
                groups,
                target_ns,
                merge: *merge,
            };
            resume_batch(ctx, entry, &batch, journal, progress, actions)
        }
    }
}

/// A batch: the group caught in flight repaired, then each group still at the source moved.
fn resume_batch(
    ctx: &MoveContext,
    entry: &JournalEntry,
    batch: &BatchOp<'_>,
    journal: &OpJournal,
    progress: &Progress,
    actions: &mut Vec<String>,
) -> Result<MoveReport, MoveError> {
    let _ns_guards = lock_namespaces(
        &ctx.locks,
        &[
            (batch.ns.clone(), LockMode::Shared),
            (batch.target_ns.clone(), LockMode::Shared),
        ],
    )?;
    let mut report = repair_groups(ctx, entry, actions)?;
    let left = batch.still_at_source(ctx, entry)?;
    if !left.is_empty() {
        actions.push(format!(
            "moving what is still at the source of {} group(s) in '{}' to '{}'",
            left.len(),
            batch.ns.human(),
            batch.target_ns.human()
        ));
        announce(ctx, &left, progress);
        merge_report(
            &mut report,
            move_groups_locked(ctx, &left, false, progress, Some(journal))?,
        );
    }
    Ok(report)
}

/// The journaled batch of a [`OpKind::MoveGroups`], for `resume` and its dry run.
pub struct BatchOp<'a> {
    pub ns: &'a Namespace,
    pub groups: &'a [GroupId],
    pub target_ns: &'a Namespace,
    pub merge: bool,
}

impl BatchOp<'_> {
    /// The batch's groups still (or partly) at the source, in the batch's order, each as the
    /// request `resume` runs again: a target group this very batch created is merged into,
    /// even with --no-merge (the group was split by the interruption).
    pub fn still_at_source(
        &self,
        ctx: &MoveContext,
        entry: &JournalEntry,
    ) -> Result<Vec<MoveGroupRequest>, MoveError> {
        let records = entry.groups();
        let mut out = Vec::new();
        for group in self.groups {
            if !ctx.ds.group_exists(self.ns, group)? {
                continue;
            }
            let own_target = records
                .iter()
                .any(|g| &g.group == group && &g.ns == self.ns && !g.target_existed);
            out.push(MoveGroupRequest {
                ns: self.ns.clone(),
                group: group.clone(),
                target_ns: self.target_ns.clone(),
                merge: self.merge || own_target,
            });
        }
        Ok(out)
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
        let (ns, group, target_ns) = g.names();
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
            move_group_locked(ctx, &req, None, progress, Some(journal))?,
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
    for ns in entry.namespaces_removing() {
        if ctx.ds.namespace_exists(&ns)? {
            continue; // still there: kept, or removed by the cleanup of this resume
        }
        ctx.backend.remove_namespace(&ns)?;
        journal.record(&Record::NsRemoved { ns: ns.clone() })?;
        if !ctx.backend.is_local_only() {
            actions.push(format!("removed the bucket marker of namespace '{ns}'"));
        }
    }
    Ok(())
}
