//! `resume --dry-run`: what `resume` would do to each unfinished operation, read from the
//! crash journal and the disk only. Nothing is locked, created or journaled.
//!
//! Per group a crash caught in flight: some of its journaled snapshots are already at the
//! target (resume *finishes* the group), or none is (resume *rolls back* what the move had
//! started — an empty target group it created, S3 copies not renamed yet — and moves the
//! group again). Then the operation's re-run, as a move dry-run plans it.

use serde::Serialize;

use crate::ops::context::MoveContext;
use crate::ops::engine::move_groups::plan_move_groups;
use crate::ops::engine::plan::{MovePlan, plan_move_group, plan_move_namespace};
use crate::ops::engine::request::{MoveGroupRequest, MoveNsRequest};
use crate::ops::error::MoveError;
use crate::ops::journal::crash::{GroupProgress, JournalEntry};
use crate::ops::journal::record::OpKind;
use crate::ops::recovery::leftover::hidden_new_group;
use crate::ops::recovery::pending::unfinished;
use crate::ops::recovery::repair::untouched_plan;
use crate::ops::recovery::resume::BatchOp;
use crate::ops::report::MoveReport;
use crate::tree::{GroupId, Namespace, SnapshotTime};

/// What `resume` would do to one group the crash caught in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupAction {
    /// Snapshots are already at the target: the rest follows them.
    Finish,
    /// Nothing reached the target yet: what the move started is undone, then it runs again.
    RollBack,
    /// A snapshot is in both namespaces: resume stops and leaves it to a person.
    Conflict,
}

#[derive(Debug, Clone, Serialize)]
pub struct InFlightGroup {
    pub ns: Namespace,
    pub group: GroupId,
    pub target_ns: Namespace,
    pub action: GroupAction,
    pub snapshots_at_target: usize,
    pub snapshots_at_source: usize,
}

/// What `resume` would do to one unfinished operation.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedResume {
    pub id: String,
    pub op: String,
    /// "interrupted" (crash) or the status a fault ended it with.
    pub state: String,
    pub in_flight: Vec<InFlightGroup>,
    /// One line per step, for people.
    pub actions: Vec<String>,
    /// Why the re-run would stop (a refusal or a lock held now), if it would.
    pub error: Option<String>,
    /// The re-run's own dry run, when there is something left at the source.
    #[serde(skip)]
    pub plan: Option<MovePlan>,
    /// A lock held right now would stop it (exit 3 for the real run).
    #[serde(skip)]
    pub busy: bool,
}

/// Plans `resume` for every unfinished operation of the datastore, oldest first.
pub fn plan_resume(ctx: &MoveContext) -> Result<Vec<PlannedResume>, MoveError> {
    ctx.check_datastore()?;
    let mut out = Vec::new();
    for entry in unfinished(ctx)? {
        let Some((op, _, _)) = entry.begin() else {
            continue; // torn before its first record: resume skips it too
        };
        out.push(plan_one(ctx, &entry, op)?);
    }
    Ok(out)
}

/// The report the real resume would produce if nothing changed meanwhile.
pub fn predicted_report(plans: &[PlannedResume]) -> MoveReport {
    let mut r = MoveReport::default();
    for p in plans.iter().filter_map(|p| p.plan.as_ref()) {
        let one = p.predicted_report();
        r.moved.extend(one.moved);
        r.failed.extend(one.failed);
        r.namespaces_created.extend(one.namespaces_created);
        r.namespaces_removed.extend(one.namespaces_removed);
        r.namespaces_kept.extend(one.namespaces_kept);
        r.warnings.extend(p.conflicts.iter().cloned());
    }
    r
}

fn plan_one(
    ctx: &MoveContext,
    entry: &JournalEntry,
    op: &OpKind,
) -> Result<PlannedResume, MoveError> {
    let mut p = PlannedResume {
        id: entry.id.clone(),
        op: op.describe(),
        state: entry
            .status()
            .map_or_else(|| "interrupted".to_string(), |s| s.to_string()),
        in_flight: Vec::new(),
        actions: Vec::new(),
        error: None,
        plan: None,
        busy: false,
    };
    let groups = entry.groups();
    let caught = groups
        .iter()
        .filter(|g| g.done.is_none() && !untouched_plan(ctx, g));
    for g in caught {
        let f = in_flight(ctx, g)?;
        p.actions.push(describe(&f, g.target_existed));
        let hidden = hidden_new_group(&ctx.ds.group_path(&f.target_ns, &f.group));
        if hidden.is_dir() {
            p.actions.push(format!(
                "remove the half-built target group {} (not visible yet)",
                hidden.display()
            ));
        }
        p.in_flight.push(f);
    }
    let rerun = match op {
        OpKind::MoveGroup {
            ns,
            group,
            target_ns,
            merge,
        } => {
            if !ctx.ds.group_exists(ns, group)? {
                None
            } else {
                p.actions.push(format!(
                    "move what is still at the source of group {group} in '{}' to '{}'",
                    ns.human(),
                    target_ns.human()
                ));
                let own_target = entry.groups().iter().any(|g| !g.target_existed);
                let req = MoveGroupRequest {
                    ns: ns.clone(),
                    group: group.clone(),
                    target_ns: target_ns.clone(),
                    merge: *merge || own_target,
                };
                Some(plan_move_group(ctx, &req))
            }
        }
        OpKind::MoveNs {
            ns,
            target_ns,
            max_depth,
            delete_source,
            merge,
        } => {
            if !ctx.ds.namespace_exists(ns)? {
                None
            } else {
                p.actions.push(format!(
                    "move what is still in source namespace '{}' to '{}'",
                    ns.human(),
                    target_ns.human()
                ));
                let req = MoveNsRequest {
                    ns: ns.clone(),
                    target_ns: target_ns.clone(),
                    max_depth: *max_depth,
                    delete_source: *delete_source,
                    // Groups this move created are merged into by resume, even with
                    // --no-merge: the plan must not refuse them.
                    merge: *merge || entry.groups().iter().any(|g| !g.target_existed),
                };
                Some(plan_move_namespace(ctx, &req))
            }
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
            let left = batch.still_at_source(ctx, entry)?;
            if left.is_empty() {
                None
            } else {
                p.actions.push(format!(
                    "move what is still at the source of {} group(s) in '{}' to '{}'",
                    left.len(),
                    ns.human(),
                    target_ns.human()
                ));
                Some(plan_move_groups(ctx, &left))
            }
        }
    };
    match rerun {
        None => p
            .actions
            .push("nothing left at the source: close the journal".into()),
        Some(Ok(plan)) => {
            p.busy = !plan.conflicts.is_empty();
            if p.busy {
                p.error = Some(plan.conflicts.join("; "));
            }
            p.plan = Some(plan);
        }
        Some(Err(e)) => {
            p.busy = e.is_busy();
            p.error = Some(e.to_string());
        }
    }
    if let Some(conflict) = p
        .in_flight
        .iter()
        .find(|f| f.action == GroupAction::Conflict)
    {
        p.error.get_or_insert_with(|| {
            format!(
                "group {} has snapshots in both '{}' and '{}'; resume would stop there",
                conflict.group,
                conflict.ns.human(),
                conflict.target_ns.human()
            )
        });
    }
    Ok(p)
}

/// Where the journaled snapshots of a group in flight are now.
fn in_flight(ctx: &MoveContext, g: &GroupProgress) -> Result<InFlightGroup, MoveError> {
    let (ns, group, target_ns) = g.names();
    let (mut at_source, mut at_target, mut both) = (0, 0, false);
    for t in &g.snapshots {
        let time = SnapshotTime::parse(t)
            .map_err(|e| MoveError::failed(format!("operation journal: {e}")))?;
        let src = ctx.ds.snapshot_path(&ns, &group, &time).exists();
        let dst = ctx.ds.snapshot_path(&target_ns, &group, &time).exists();
        at_source += usize::from(src);
        at_target += usize::from(dst);
        both |= src && dst;
    }
    let action = match (both, at_target) {
        (true, _) => GroupAction::Conflict,
        (false, 0) => GroupAction::RollBack,
        (false, _) => GroupAction::Finish,
    };
    Ok(InFlightGroup {
        ns,
        group,
        target_ns,
        action,
        snapshots_at_target: at_target,
        snapshots_at_source: at_source,
    })
}

fn describe(f: &InFlightGroup, target_existed: bool) -> String {
    let what = format!(
        "group {} ('{}' → '{}')",
        f.group,
        f.ns.human(),
        f.target_ns.human()
    );
    match f.action {
        GroupAction::Finish => format!(
            "finish {what}: {} snapshot(s) already at the target, {} still at the source",
            f.snapshots_at_target, f.snapshots_at_source
        ),
        GroupAction::RollBack if target_existed => format!(
            "roll back {what}: nothing renamed yet; discard unfinished copies, then move it again"
        ),
        GroupAction::RollBack => format!(
            "roll back {what}: nothing renamed yet; remove the empty target group it created, \
             then move it again"
        ),
        GroupAction::Conflict => {
            format!("stop at {what}: a snapshot is in both namespaces; check it by hand")
        }
    }
}
