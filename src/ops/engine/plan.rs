//! Dry-run plans: exactly what a move would do, every refusal and every lock conflict
//! visible now. Building a plan creates nothing — not even a lock file.

use serde::Serialize;

use crate::ops::context::MoveContext;
use crate::ops::engine::checks::{
    check_depth_limit, check_merge, check_move_group, check_move_namespace,
};
use crate::ops::engine::request::{MoveGroupRequest, MoveNsRequest};
use crate::ops::error::MoveError;
use crate::ops::locks::flock::LockMode;
use crate::ops::locks::move_set::{probe_group_move, probe_namespaces};
use crate::ops::report::{FailReason, FailedGroup, MoveReport, MovedGroup};
use crate::ops::safety::security::TreeDepth;
use crate::tree::backend::{ObjectStats, SnapshotRef};
use crate::tree::model::NOTES_FILE;
use crate::tree::names::MAX_NAMESPACE_DEPTH;
use crate::tree::{GroupId, Namespace, SnapshotTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotesPlan {
    None,
    Move,
    KeepTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupPlan {
    pub ns: Namespace,
    pub group: GroupId,
    pub target_ns: Namespace,
    pub snapshots: usize,
    pub oldest: Option<String>,
    pub newest: Option<String>,
    /// The target group exists: snapshots are merged into it.
    pub merge: bool,
    pub owner: Option<String>,
    pub notes: NotesPlan,
    /// Local files and bytes renamed.
    pub files: u64,
    pub bytes: u64,
    /// Bucket objects and bytes copied then deleted (S3 datastores).
    pub s3_objects: u64,
    pub s3_bytes: u64,
    /// The move would be refused for this reason.
    pub refusal: Option<String>,
    /// Locks held right now by someone else.
    pub conflicts: Vec<String>,
}

impl GroupPlan {
    /// The plan of moving `group` before anything about it is known: nothing to move yet.
    pub fn new(ns: &Namespace, group: &GroupId, target_ns: &Namespace) -> Self {
        Self {
            ns: ns.clone(),
            group: group.clone(),
            target_ns: target_ns.clone(),
            snapshots: 0,
            oldest: None,
            newest: None,
            merge: false,
            owner: None,
            notes: NotesPlan::None,
            files: 0,
            bytes: 0,
            s3_objects: 0,
            s3_bytes: 0,
            refusal: None,
            conflicts: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MovePlan {
    pub groups: Vec<GroupPlan>,
    pub namespaces_to_create: Vec<Namespace>,
    pub namespaces_to_remove: Vec<Namespace>,
    pub namespaces_kept: Vec<crate::ops::report::KeptNamespace>,
    /// Namespace-level conflicts: the whole move would be busy.
    pub conflicts: Vec<String>,
    /// `move-ns` into a namespace that exists: its groups are merged into it (PBS's
    /// semantics), and this names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_into_existing: Option<Namespace>,
}

impl MovePlan {
    pub fn snapshots(&self) -> usize {
        self.groups.iter().map(|g| g.snapshots).sum()
    }

    /// Bucket objects and bytes the move copies (S3 datastores; zero otherwise).
    pub fn s3_copies(&self) -> ObjectStats {
        let mut total = ObjectStats::default();
        for g in &self.groups {
            total += ObjectStats {
                objects: g.s3_objects,
                bytes: g.s3_bytes,
            };
        }
        total
    }

    /// The report the real move would produce if nothing changed meanwhile.
    pub fn predicted_report(&self) -> MoveReport {
        let mut r = MoveReport::default();
        for g in &self.groups {
            let failure = match (&g.refusal, g.conflicts.first()) {
                (Some(msg), _) => Some((FailReason::Error, msg.clone())),
                (None, Some(msg)) => Some((FailReason::LockConflict, msg.clone())),
                (None, None) => None,
            };
            match failure {
                Some((reason, message)) => r.failed.push(FailedGroup {
                    ns: g.ns.clone(),
                    group: g.group.clone(),
                    reason,
                    message,
                    snapshots_moved: 0,
                    refused: reason == FailReason::Error,
                }),
                None => r.moved.push(MovedGroup {
                    ns: g.ns.clone(),
                    group: g.group.clone(),
                    target_ns: g.target_ns.clone(),
                    snapshots: g.snapshots,
                }),
            }
        }
        r.namespaces_created = self.namespaces_to_create.clone();
        r.namespaces_removed = self.namespaces_to_remove.clone();
        r.namespaces_kept = self.namespaces_kept.clone();
        r.merge_into_existing = self.merge_into_existing.clone();
        r
    }
}

/// Plans one group move from `ns` to `target_ns` (no namespace locks). `target_created`:
/// the move itself creates the target namespace first (namespace moves).
pub fn plan_group(
    ctx: &MoveContext,
    ns: &Namespace,
    group: &GroupId,
    target_ns: &Namespace,
    merge: bool,
    target_created: bool,
) -> GroupPlan {
    let mut plan = GroupPlan::new(ns, group, target_ns);
    let times = match fill_group_plan(ctx, ns, group, target_ns, merge, target_created, &mut plan) {
        Ok(times) => times,
        Err(e) => {
            plan.refusal = Some(e.to_string());
            return plan;
        }
    };
    let conflicts = probe_group_move(ctx, ns, group, target_ns, &times);
    plan.conflicts = conflicts.into_iter().map(|e| e.to_string()).collect();
    plan
}

fn fill_group_plan(
    ctx: &MoveContext,
    ns: &Namespace,
    group: &GroupId,
    target_ns: &Namespace,
    merge: bool,
    target_created: bool,
    plan: &mut GroupPlan,
) -> Result<Vec<SnapshotTime>, MoveError> {
    let ds = &ctx.ds;
    plan.merge = if target_created {
        false
    } else {
        check_move_group(
            ds,
            ns,
            target_ns,
            group,
            merge,
            TreeDepth::SnapshotsBeforeLock,
        )?
    };
    let owner = ds.read_owner(ns, group)?;
    plan.owner = owner.clone();
    let snapshots = ds.list_snapshots(ns, group)?.items;
    let times: Vec<SnapshotTime> = snapshots.iter().map(|s| s.time.clone()).collect();
    plan.snapshots = times.len();
    plan.oldest = times.first().map(ToString::to_string);
    plan.newest = times.last().map(ToString::to_string);
    for s in &snapshots {
        plan.files += s.files.len() as u64 + u64::from(s.protected);
        plan.bytes += s.size;
    }
    let has_notes = |n: &Namespace| ds.group_path(n, group).join(NOTES_FILE).is_file();
    plan.notes = match (has_notes(ns), plan.merge && has_notes(target_ns)) {
        (false, _) => NotesPlan::None,
        (true, false) => NotesPlan::Move,
        (true, true) => NotesPlan::KeepTarget,
    };
    let owner = owner.ok_or_else(|| crate::ops::engine::checks::no_owner(ns, group))?;
    if plan.merge {
        check_merge(ds, ns, target_ns, group, &owner, &times)?;
    }
    let mut s3 = ObjectStats::default();
    if !ctx.backend.is_local_only() {
        for t in &times {
            let src = SnapshotRef {
                ns: ns.clone(),
                group: group.clone(),
                time: t.clone(),
            };
            s3 += ctx.backend.plan_snapshot(&src)?;
        }
    }
    plan.s3_objects = s3.objects;
    plan.s3_bytes = s3.bytes;
    Ok(times)
}

/// Dry-run of `move-group`.
pub fn plan_move_group(ctx: &MoveContext, req: &MoveGroupRequest) -> Result<MovePlan, MoveError> {
    ctx.check_datastore()?;
    let conflicts = probe_namespaces(
        &ctx.locks,
        &[
            (req.ns.clone(), LockMode::Shared),
            (req.target_ns.clone(), LockMode::Shared),
        ],
    );
    let group = plan_group(ctx, &req.ns, &req.group, &req.target_ns, req.merge, false);
    Ok(MovePlan {
        groups: vec![group],
        conflicts,
        ..Default::default()
    })
}

/// The namespaces a namespace move covers: the source and its children down to `max_depth`.
pub fn attempted_namespaces(
    ctx: &MoveContext,
    req: &MoveNsRequest,
) -> Result<Vec<Namespace>, MoveError> {
    let depth = req.max_depth.unwrap_or(MAX_NAMESPACE_DEPTH);
    Ok(ctx
        .ds
        .list_namespaces_recursive(&req.ns, Some(depth))?
        .items)
}

/// Validates a namespace move and returns (source → target) for every covered namespace.
pub fn namespace_mapping(
    ctx: &MoveContext,
    req: &MoveNsRequest,
) -> Result<Vec<(Namespace, Namespace)>, MoveError> {
    check_move_namespace(&ctx.ds, &req.ns, &req.target_ns)?;
    let attempted = attempted_namespaces(ctx, req)?;
    check_depth_limit(&req.ns, &req.target_ns, &attempted)?;
    attempted
        .into_iter()
        .map(|ns| {
            let target = ns
                .map_prefix(&req.ns, &req.target_ns)
                .map_err(|e| MoveError::refused(e.to_string()))?;
            Ok((ns, target))
        })
        .collect()
}

/// The target of a namespace move when it exists already (the move merges into it).
pub fn merge_into_existing(
    ctx: &MoveContext,
    req: &MoveNsRequest,
) -> Result<Option<Namespace>, MoveError> {
    let target = &req.target_ns;
    let exists = target.is_root() || ctx.ds.namespace_exists(target)?;
    Ok(exists.then(|| target.clone()))
}

/// "merging into existing namespace 'X'", as the plan, the move and the TUI say it.
pub fn merge_into_existing_text(ns: &Namespace) -> String {
    format!("merging into existing namespace '{}'", ns.human())
}

/// Dry-run of `move-ns`.
pub fn plan_move_namespace(ctx: &MoveContext, req: &MoveNsRequest) -> Result<MovePlan, MoveError> {
    ctx.check_datastore()?;
    let mapping = namespace_mapping(ctx, req)?;
    let mut plan = MovePlan {
        conflicts: probe_namespaces(
            &ctx.locks,
            &[
                (req.ns.clone(), LockMode::Exclusive),
                (req.target_ns.clone(), LockMode::Exclusive),
            ],
        ),
        ..Default::default()
    };
    plan.merge_into_existing = merge_into_existing(ctx, req)?;
    for (_, target) in &mapping {
        if !target.is_root() && !ctx.ds.namespace_exists(target)? {
            plan.namespaces_to_create.push(target.clone());
        }
    }
    for (source, target) in &mapping {
        for group in ctx.ds.list_group_ids(source)?.items {
            let target_created = plan.namespaces_to_create.contains(target);
            plan.groups.push(plan_group(
                ctx,
                source,
                &group,
                target,
                req.merge,
                target_created,
            ));
        }
    }
    if req.delete_source {
        let attempted: Vec<Namespace> = mapping.iter().map(|(s, _)| s.clone()).collect();
        let blocked: Vec<Namespace> = plan
            .groups
            .iter()
            .filter(|g| g.refusal.is_some() || !g.conflicts.is_empty())
            .map(|g| g.ns.clone())
            .collect();
        let cleanup = crate::ops::engine::cleanup::cleanup_plan(ctx, req, &attempted, &blocked)?;
        plan.namespaces_to_remove = cleanup.remove.clone();
        plan.namespaces_kept = cleanup.kept;
    }
    Ok(plan)
}
