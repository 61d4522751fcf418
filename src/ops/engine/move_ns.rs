//! The move-namespace operation (PBS `move_namespace`): target namespaces created parent-first,
//! every group's plan journaled with one sync, the groups moved one by one (a lock-conflicted
//! group retried once after the others), the emptied sources removed deepest-first.

use std::io;
use std::path::Path;
use std::sync::mpsc::sync_channel;

use crate::ops::context::MoveContext;
use crate::ops::engine::cleanup::{cleanup_plan, remove_namespace_flat};
use crate::ops::engine::group_plans::GroupPlans;
use crate::ops::engine::lock_and_move::{
    GroupFailure, GroupOpts, TreeChecked, lock_and_check_group, lock_and_move_group_journaled,
    move_locked_group_journaled,
};
use crate::ops::engine::move_group::{close_journal, finish, record};
use crate::ops::engine::plan::{merge_into_existing, namespace_mapping};
use crate::ops::engine::request::MoveNsRequest;
use crate::ops::engine::symlinks::left_by_move;
use crate::ops::error::MoveError;
use crate::ops::failpoint;
use crate::ops::journal::crash::OpJournal;
use crate::ops::journal::record::{OpKind, Record};
use crate::ops::locks::flock::LockMode;
use crate::ops::locks::move_set::lock_namespaces;
use crate::ops::progress::{Progress, ProgressEvent};
use crate::ops::report::{FailReason, KeptNamespace, MoveReport};
use crate::ops::safety::ownership::create_dir_all_owned;
use crate::tree::{GroupId, Namespace};

/// Moves a namespace subtree to its new path, group by group (PBS `move_namespace`).
/// `Err` means refused or busy before anything changed.
pub fn move_namespace(
    ctx: &MoveContext,
    req: &MoveNsRequest,
    progress: &Progress,
) -> Result<MoveReport, MoveError> {
    ctx.check_datastore()?;
    namespace_mapping(ctx, req)?;
    let _op = ctx.begin_operation()?;
    let _ns_guards = lock_namespaces(
        &ctx.locks,
        &[
            (req.ns.clone(), LockMode::Exclusive),
            (req.target_ns.clone(), LockMode::Exclusive),
        ],
    )?;
    let journal = OpJournal::begin(ctx, OpKind::from_ns(req))?;
    let result = move_namespace_locked(ctx, req, progress, journal.as_ref());
    close_journal(journal.as_ref(), &result);
    finish(result?, progress)
}

/// [`move_namespace`] once the namespace locks are held (also `resume`'s way of finishing one).
pub fn move_namespace_locked(
    ctx: &MoveContext,
    req: &MoveNsRequest,
    progress: &Progress,
    journal: Option<&OpJournal>,
) -> Result<MoveReport, MoveError> {
    // Re-run under the locks: the authoritative gate.
    let mapping = namespace_mapping(ctx, req)?;
    let mut report = MoveReport {
        merge_into_existing: merge_into_existing(ctx, req)?,
        ..MoveReport::default()
    };
    let mut groups = Vec::new();
    for (source, target) in &mapping {
        match ctx.ds.list_group_ids(source) {
            Ok(ids) => groups.extend(
                ids.items
                    .into_iter()
                    .map(|g| (source.clone(), g, target.clone())),
            ),
            Err(e) => {
                let msg = format!("failed to list groups in '{}': {e}", source.human());
                progress.warn(msg.clone());
                report.warnings.push(msg);
            }
        }
    }
    for left in left_by_move(ctx, req, &mapping) {
        progress.warn(left.message.clone());
        report.left_in_place.push(left);
    }
    // Read before the target namespaces exist: none of them holds a group or type dir yet.
    let plans = match journal {
        Some(_) => GroupPlans::read(ctx, groups.iter().map(|(ns, g, t)| (ns, g, t))),
        None => GroupPlans::default(),
    };
    let snapshots = groups
        .iter()
        .map(|(ns, g, _)| match plans.get(ns, g) {
            Some(plan) => plan.snapshots.len(),
            None => ctx.ds.list_snapshot_times(ns, g).map_or(0, |t| t.len()),
        })
        .sum();
    progress.emit(ProgressEvent::Planned {
        groups: groups.len(),
        snapshots,
        bytes: 0,
    });
    let created = create_target_namespaces(ctx, &mapping, &mut report, progress, journal)?;
    plans.record(journal)?;
    move_groups(ctx, req, groups, &plans, &mut report, progress, journal);
    let nothing_moved = report.moved.is_empty() && report.snapshots_moved() == 0;
    if nothing_moved && !report.is_complete() {
        // Nothing moved: take back the namespaces we created so nothing changed at all.
        remove_created(ctx, &created, &mut report);
    } else if req.delete_source {
        cleanup_sources(ctx, req, &mapping, &mut report, progress, journal)?;
    }
    Ok(report)
}

fn create_target_namespaces(
    ctx: &MoveContext,
    mapping: &[(Namespace, Namespace)],
    report: &mut MoveReport,
    progress: &Progress,
    journal: Option<&OpJournal>,
) -> Result<Vec<Namespace>, MoveError> {
    let mut created = Vec::new();
    // `mapping` is parent-first, so parents are created before their children.
    for (_, target) in mapping {
        if target.is_root() || ctx.ds.namespace_exists(target)? {
            continue;
        }
        // Durable before the namespace exists: `undo` removes only what this move created.
        if let Some(j) = journal {
            let container_existed = ctx.ds.ns_path(target).parent().is_some_and(Path::exists);
            j.record(&Record::NsCreated {
                ns: target.clone(),
                container_existed: Some(container_existed),
            })?;
        }
        ctx.backend.create_namespace(target).map_err(|e| {
            MoveError::failed(format!("failed to create target namespace '{target}': {e}"))
        })?;
        create_dir_all_owned(&ctx.ds.ns_path(target), &ctx.ds.base).map_err(|e: io::Error| {
            MoveError::failed(format!("failed to create target namespace '{target}': {e}"))
        })?;
        failpoint::hit("after-ns-create");
        progress.emit(ProgressEvent::NamespaceCreated { ns: target.clone() });
        report.namespaces_created.push(target.clone());
        created.push(target.clone());
    }
    Ok(created)
}

fn move_groups(
    ctx: &MoveContext,
    req: &MoveNsRequest,
    groups: Vec<(Namespace, GroupId, Namespace)>,
    plans: &GroupPlans,
    report: &mut MoveReport,
    progress: &Progress,
    journal: Option<&OpJournal>,
) {
    // Each group's full pre-flight runs under its group lock (there is no earlier one).
    let opts = |ns: &Namespace, group: &GroupId| GroupOpts {
        merge: req.merge,
        tree: TreeChecked::No,
        plan: plans.get(ns, group),
    };
    let deferred = first_pass(ctx, &groups, &opts, report, progress, journal);
    for (ns, group, target) in deferred {
        if progress.cancel.is_cancelled() {
            record_cancelled(report, progress, &ns, &group);
            continue;
        }
        let opts = opts(&ns, &group);
        let result =
            lock_and_move_group_journaled(ctx, &ns, &group, &target, opts, progress, journal);
        record(report, progress, &ns, &group, &target, result);
    }
}

/// Every group once, in order, each locked and checked on a second thread while the one
/// before it moves (reads only: no group's move changes another's source or target group,
/// see `LockedGroup`). Returns the groups a lock kept from starting, for a second try.
fn first_pass<'g>(
    ctx: &MoveContext,
    groups: &'g [(Namespace, GroupId, Namespace)],
    opts: &(dyn Fn(&Namespace, &GroupId) -> GroupOpts<'g> + Sync),
    report: &mut MoveReport,
    progress: &Progress,
    journal: Option<&OpJournal>,
) -> Vec<(Namespace, GroupId, Namespace)> {
    let mut deferred = Vec::new();
    std::thread::scope(|scope| {
        let (ahead_tx, ahead) = sync_channel(0);
        scope.spawn(move || {
            for (ns, group, target) in groups {
                let locked = lock_and_check_group(ctx, (ns, group, target), &opts(ns, group));
                if ahead_tx.send(locked).is_err() {
                    break;
                }
            }
        });
        for (k, (ns, group, target)) in groups.iter().enumerate() {
            if progress.cancel.is_cancelled() {
                for (ns, group, _) in &groups[k..] {
                    record_cancelled(report, progress, ns, group);
                }
                break;
            }
            let locked = ahead.recv().unwrap_or_else(|_| {
                Err(MoveError::failed(
                    "internal error: the group lock thread stopped",
                ))
            });
            let names = (ns, group, target);
            match move_locked_group_journaled(
                ctx,
                names,
                opts(ns, group),
                locked,
                progress,
                journal,
            ) {
                Err(f) if f.reason == FailReason::LockConflict && f.moved == 0 => {
                    progress.emit(ProgressEvent::GroupDeferred {
                        ns: ns.clone(),
                        group: group.clone(),
                        message: f.message,
                    });
                    deferred.push((ns.clone(), group.clone(), target.clone()));
                }
                result => record(report, progress, ns, group, target, result),
            }
        }
    });
    deferred
}

fn record_cancelled(report: &mut MoveReport, progress: &Progress, ns: &Namespace, group: &GroupId) {
    let failure = GroupFailure {
        reason: FailReason::Cancelled,
        message: "cancelled before this group started; it stays at the source".into(),
        moved: 0,
        refused: false,
    };
    record(report, progress, ns, group, ns, Err(failure));
}

fn cleanup_sources(
    ctx: &MoveContext,
    req: &MoveNsRequest,
    mapping: &[(Namespace, Namespace)],
    report: &mut MoveReport,
    progress: &Progress,
    journal: Option<&OpJournal>,
) -> Result<(), MoveError> {
    let attempted: Vec<Namespace> = mapping.iter().map(|(s, _)| s.clone()).collect();
    let failed: Vec<Namespace> = report
        .failed
        .iter()
        .map(|f| f.ns.clone())
        .chain(report.left_in_place.iter().map(|l| l.ns.clone()))
        .collect();
    let plan = cleanup_plan(ctx, req, &attempted, &failed)?;
    for kept in plan.kept {
        keep(report, progress, kept);
    }
    for ns in plan.remove {
        if let Some(j) = journal {
            // Durable before the dir goes: a crash between the rmdir and the bucket marker's
            // delete leaves nothing on disk that `resume` could re-plan the cleanup from.
            j.record(&Record::NsRemoving { ns: ns.clone() })?;
        }
        match remove_namespace_flat(ctx, &ns) {
            Ok(true) => {
                if let Some(j) = journal {
                    // Informational only, so not synced: `resume` re-plans the cleanup from
                    // disk, and without this line removes the (gone) bucket marker again.
                    let _ = j.record_unsynced(&Record::NsRemoved { ns: ns.clone() });
                }
                failpoint::hit("after-ns-remove");
                progress.emit(ProgressEvent::NamespaceRemoved { ns: ns.clone() });
                report.namespaces_removed.push(ns.clone());
            }
            Ok(false) => keep(
                report,
                progress,
                KeptNamespace {
                    ns: ns.clone(),
                    reason: "not empty after the move".into(),
                },
            ),
            Err(e) => keep(
                report,
                progress,
                KeptNamespace {
                    ns: ns.clone(),
                    reason: e.to_string(),
                },
            ),
        }
    }
    Ok(())
}

fn keep(report: &mut MoveReport, progress: &Progress, kept: KeptNamespace) {
    let ns = kept.ns.clone();
    progress.emit(ProgressEvent::NamespaceKept {
        ns,
        reason: kept.reason.clone(),
    });
    report.warnings.push(format!(
        "skipping source namespace '{}' cleanup: {}",
        kept.ns, kept.reason
    ));
    report.namespaces_kept.push(kept);
}

fn remove_created(ctx: &MoveContext, created: &[Namespace], report: &mut MoveReport) {
    for ns in created.iter().rev() {
        if let Ok(true) = remove_namespace_flat(ctx, ns) {
            report.namespaces_created.retain(|n| n != ns);
        }
    }
}
