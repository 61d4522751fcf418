//! Several groups of one namespace into one target (`move-group` with several `--group`
//! values or a glob): one [`move_group`] after the other, each under its own crash journal
//! (an interrupted one is resumed like any single group move), reported as one operation:
//! one `planned` event with the totals, per-group results, one `finished` report.

use crate::ops::context::MoveContext;
use crate::ops::engine::move_group::move_group;
use crate::ops::engine::plan::{MovePlan, plan_move_group};
use crate::ops::engine::request::MoveGroupRequest;
use crate::ops::error::MoveError;
use crate::ops::progress::{Progress, ProgressEvent};
use crate::ops::report::{FailReason, FailedGroup, MoveReport};

/// Moves every group of `reqs`; a group that is refused or busy is a failed entry, the
/// others go on. `Err` only when the datastore itself refuses (before anything moved).
pub fn move_groups(
    ctx: &MoveContext,
    reqs: &[MoveGroupRequest],
    progress: &Progress,
) -> Result<MoveReport, MoveError> {
    ctx.check_datastore()?;
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
    let inner = per_group(progress);
    let mut report = MoveReport::default();
    for req in reqs {
        if progress.cancel.is_cancelled() {
            let msg = "cancelled before it started; it stays at the source".to_string();
            fail(&mut report, &inner, req, FailReason::Cancelled, msg);
            continue;
        }
        match move_group(ctx, req, &inner) {
            Ok(r) => absorb(&mut report, r),
            Err(e) => {
                let reason = match &e {
                    MoveError::Cancelled => FailReason::Cancelled,
                    e if e.is_busy() => FailReason::LockConflict,
                    _ => FailReason::Error,
                };
                fail(&mut report, &inner, req, reason, e.to_string());
            }
        }
    }
    progress.emit(ProgressEvent::Finished {
        report: report.clone(),
    });
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

/// The batch's own progress minus each group's `planned` and `finished`: the batch sends
/// those once.
fn per_group(progress: &Progress) -> Progress {
    let outer = progress.clone();
    Progress::new(
        move |ev| match ev {
            ProgressEvent::Planned { .. } | ProgressEvent::Finished { .. } => {}
            ev => outer.emit(ev),
        },
        progress.cancel.clone(),
    )
}

fn absorb(into: &mut MoveReport, r: MoveReport) {
    into.moved.extend(r.moved);
    into.failed.extend(r.failed);
    into.orphans.extend(r.orphans);
    into.warnings.extend(r.warnings);
}

fn fail(
    report: &mut MoveReport,
    progress: &Progress,
    req: &MoveGroupRequest,
    reason: FailReason,
    message: String,
) {
    progress.emit(ProgressEvent::GroupFailed {
        ns: req.ns.clone(),
        group: req.group.clone(),
        reason,
        message: message.clone(),
    });
    report.failed.push(FailedGroup {
        ns: req.ns.clone(),
        group: req.group.clone(),
        reason,
        message,
        snapshots_moved: 0,
        // Each group's own journal already closed with its own status.
        refused: false,
    });
}
