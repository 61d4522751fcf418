//! Several groups of one namespace into one target (`move-group` with several `--group`
//! values or a pattern, the TUI's batch of marked groups) as ONE journaled operation, the
//! way a namespace move runs its groups: every group's pre-flight first (a refused group is
//! a failed entry and stays out of the batch), then the namespace locks, one crash journal
//! ([`OpKind::MoveGroups`], durable before the first group lock) with every group's plan
//! (one sync, see [`GroupPlans`]) and the per-group records of each
//! [`lock_and_move_group_journaled`], and one final status. Reported as one
//! operation: one `planned` event with the totals, per-group results, one `finished`.

use crate::ops::context::MoveContext;
use crate::ops::engine::checks::check_move_group;
use crate::ops::engine::group_plans::GroupPlans;
use crate::ops::engine::lock_and_move::{
    GroupFailure, GroupOpts, TreeChecked, lock_and_move_group_journaled,
};
use crate::ops::engine::move_group::{close_journal, finish, record};
use crate::ops::engine::plan::{MovePlan, plan_move_group};
use crate::ops::engine::request::MoveGroupRequest;
use crate::ops::error::MoveError;
use crate::ops::journal::crash::OpJournal;
use crate::ops::journal::record::OpKind;
use crate::ops::locks::flock::LockMode;
use crate::ops::locks::move_set::lock_namespaces;
use crate::ops::progress::{Progress, ProgressEvent};
use crate::ops::report::{FailReason, MoveReport};
use crate::ops::safety::security::TreeDepth;
use crate::tree::{GroupId, Namespace};

/// Moves every group of `reqs` (all of one source namespace into one target, one merge
/// setting) as one journaled operation; a group that is refused, busy or fails is a failed
/// entry, the others go on. `Err` when the datastore or a namespace lock refuses (before
/// anything changed).
pub fn move_groups(
    ctx: &MoveContext,
    reqs: &[MoveGroupRequest],
    progress: &Progress,
) -> Result<MoveReport, MoveError> {
    ctx.check_datastore()?;
    let Some((ns, target_ns, merge)) = batch_of(reqs)? else {
        return finish(MoveReport::default(), progress);
    };
    announce(ctx, reqs, progress);
    let mut report = MoveReport::default();
    // Fail fast before anything is locked or journaled (each group is checked again under
    // its lock): a refused group is no part of the operation `resume` would run again.
    let mut ready = Vec::new();
    for req in reqs {
        let depth = TreeDepth::SnapshotsBeforeLock;
        match check_move_group(&ctx.ds, &req.ns, &req.target_ns, &req.group, merge, depth) {
            Ok(_) => ready.push(req.clone()),
            Err(e) => refused_early(&mut report, progress, req, e),
        }
    }
    if ready.is_empty() {
        return finish(report, progress);
    }
    let _op = ctx.begin_operation()?;
    let _ns_guards = lock_namespaces(
        &ctx.locks,
        &[
            (ns.clone(), LockMode::Shared),
            (target_ns.clone(), LockMode::Shared),
        ],
    )?;
    let groups: Vec<GroupId> = ready.iter().map(|r| r.group.clone()).collect();
    let journal = OpJournal::begin(ctx, OpKind::from_groups(&ns, &groups, &target_ns, merge))?;
    let result = move_groups_locked(ctx, &ready, true, progress, journal.as_ref());
    // The journal's status is the batch's own: the groups refused above are not in it.
    close_journal(journal.as_ref(), &result);
    absorb(&mut report, result?);
    finish(report, progress)
}

/// The groups of a batch, one after the other, once the namespace locks are held (also
/// `resume`'s way of finishing one). Each request carries its own `merge` (`resume` merges
/// into a target group this very batch created). `tree_checked`: see [`GroupOpts`].
/// No `planned`/`finished` events: the caller sends those.
pub fn move_groups_locked(
    ctx: &MoveContext,
    reqs: &[MoveGroupRequest],
    tree_checked: bool,
    progress: &Progress,
    journal: Option<&OpJournal>,
) -> Result<MoveReport, MoveError> {
    let plans = match journal {
        Some(_) => GroupPlans::read(ctx, reqs.iter().map(|r| (&r.ns, &r.group, &r.target_ns))),
        None => GroupPlans::default(),
    };
    plans.record(journal)?;
    let mut report = MoveReport::default();
    for req in reqs {
        let (ns, group, target) = (&req.ns, &req.group, &req.target_ns);
        if progress.cancel.is_cancelled() {
            let failure = GroupFailure {
                reason: FailReason::Cancelled,
                message: "cancelled before this group started; it stays at the source".into(),
                moved: 0,
                refused: false,
            };
            record(&mut report, progress, ns, group, target, Err(failure));
            continue;
        }
        let opts = GroupOpts {
            merge: req.merge,
            tree: if tree_checked {
                TreeChecked::Yes
            } else {
                TreeChecked::No
            },
            plan: plans.get(ns, group),
        };
        let result = lock_and_move_group_journaled(ctx, ns, group, target, opts, progress, journal);
        record(&mut report, progress, ns, group, target, result);
    }
    Ok(report)
}

/// The dry run of [`move_groups`]: every group's plan in one.
pub fn plan_move_groups(
    ctx: &MoveContext,
    reqs: &[MoveGroupRequest],
) -> Result<MovePlan, MoveError> {
    let mut plan = MovePlan::default();
    for req in reqs {
        let p = plan_move_group(ctx, req)?;
        plan.groups.extend(p.groups);
        for c in p.conflicts {
            if !plan.conflicts.contains(&c) {
                plan.conflicts.push(c);
            }
        }
    }
    Ok(plan)
}

/// The one source, target and merge setting of a batch; `None` for an empty one.
fn batch_of(reqs: &[MoveGroupRequest]) -> Result<Option<(Namespace, Namespace, bool)>, MoveError> {
    let Some(first) = reqs.first() else {
        return Ok(None);
    };
    let same = |r: &MoveGroupRequest| {
        r.ns == first.ns && r.target_ns == first.target_ns && r.merge == first.merge
    };
    if !reqs.iter().all(same) {
        return Err(MoveError::refused(
            "a batch moves groups of one namespace into one target namespace; \
             move the groups of each namespace as a batch of its own",
        ));
    }
    Ok(Some((
        first.ns.clone(),
        first.target_ns.clone(),
        first.merge,
    )))
}

/// The one `planned` event of a batch (or of what `resume` still moves of one).
pub(crate) fn announce(ctx: &MoveContext, reqs: &[MoveGroupRequest], progress: &Progress) {
    let snapshots = reqs
        .iter()
        .map(|r| {
            ctx.ds
                .list_snapshot_times(&r.ns, &r.group)
                .map_or(0, |t| t.len())
        })
        .sum();
    progress.emit(ProgressEvent::Planned {
        groups: reqs.len(),
        snapshots,
        bytes: 0,
    });
}

/// A group whose pre-flight failed: nothing of it was touched.
fn refused_early(
    report: &mut MoveReport,
    progress: &Progress,
    req: &MoveGroupRequest,
    e: MoveError,
) {
    let reason = if e.is_busy() {
        FailReason::LockConflict
    } else {
        FailReason::Error
    };
    let failure = GroupFailure {
        reason,
        message: e.to_string(),
        moved: 0,
        refused: matches!(e, MoveError::Refused(_)),
    };
    let (ns, group, target) = (&req.ns, &req.group, &req.target_ns);
    record(report, progress, ns, group, target, Err(failure));
}

fn absorb(into: &mut MoveReport, r: MoveReport) {
    into.moved.extend(r.moved);
    into.failed.extend(r.failed);
    into.orphans.extend(r.orphans);
    into.warnings.extend(r.warnings);
}
