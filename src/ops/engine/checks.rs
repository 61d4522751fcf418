//! PBS's pre-flight checks for moves, with PBS's error texts. They run before anything is
//! locked (fail fast) and again after locking (the authoritative gate).

use crate::ops::error::MoveError;
use crate::ops::recovery::leftover::is_empty_leftover;
use crate::ops::safety::security::{GroupRead, TreeDepth, preflight_group};
use crate::tree::names::MAX_NAMESPACE_DEPTH;
use crate::tree::{Datastore, GroupId, Namespace, SnapshotTime};

/// `check_move_group`; returns whether the target group already exists (a merge).
pub fn check_move_group(
    ds: &Datastore,
    source_ns: &Namespace,
    target_ns: &Namespace,
    group: &GroupId,
    merge: bool,
    depth: TreeDepth,
) -> Result<bool, MoveError> {
    check_move_group_read(ds, source_ns, target_ns, group, merge, depth).map(|c| c.target_exists)
}

/// What [`check_move_group_read`] found.
#[derive(Debug)]
pub struct GroupChecked {
    /// The target group exists (a merge).
    pub target_exists: bool,
    /// The source group as the check read it; `None` if its dir vanished meanwhile.
    pub read: Option<GroupRead>,
}

/// [`check_move_group`], handing back what it read of the source group, so that a move
/// under the group lock need not read the group dir and owner again.
pub fn check_move_group_read(
    ds: &Datastore,
    source_ns: &Namespace,
    target_ns: &Namespace,
    group: &GroupId,
    merge: bool,
    depth: TreeDepth,
) -> Result<GroupChecked, MoveError> {
    if source_ns == target_ns {
        return Err(MoveError::refused(
            "source and target namespace must be different",
        ));
    }
    // A real group dir implies a real source namespace dir above it (both are `real_dir`,
    // which checks every component): its own check is only needed to name what is missing.
    // Opened at once where one openat2 can tell: the pre-flight lists that fd.
    let opened = ds.open_group_dir(source_ns, group);
    if opened.is_none() && !matches!(ds.group_exists(source_ns, group), Ok(true)) {
        check_namespaces_then_group(ds, source_ns, target_ns, group)?;
    } else {
        check_target_namespace(ds, target_ns)?;
    }
    // An empty dir without owner (left by an older version's interrupted move) is no
    // group: the move removes it under the target lock and creates the group anew.
    let exists =
        ds.group_exists(target_ns, group)? && !is_empty_leftover(&ds.group_path(target_ns, group));
    if exists && !merge {
        return Err(MoveError::refused(format!(
            "group '{group}' already exists in target namespace '{}' and merge-group is disabled",
            target_ns.human()
        )));
    }
    // Symlinks, corrupt owners, odd notes: refused here, before any lock (security.rs).
    let read = preflight_group(ds, source_ns, target_ns, group, depth, opened)?;
    Ok(GroupChecked {
        target_exists: exists,
        read,
    })
}

/// PBS's order of the existence checks: source namespace, target namespace, source group.
fn check_namespaces_then_group(
    ds: &Datastore,
    source_ns: &Namespace,
    target_ns: &Namespace,
    group: &GroupId,
) -> Result<(), MoveError> {
    if !ds.namespace_exists(source_ns)? {
        return Err(MoveError::refused(format!(
            "source namespace '{}' does not exist",
            source_ns.human()
        )));
    }
    check_target_namespace(ds, target_ns)?;
    if !ds.group_exists(source_ns, group)? {
        return Err(MoveError::refused(format!(
            "group '{group}' does not exist in namespace '{}'",
            source_ns.human()
        )));
    }
    Ok(())
}

/// Checked for every group even under the move's exclusive namespace lock: released PBS
/// takes no namespace lock, so its namespace delete can remove an empty target meanwhile.
fn check_target_namespace(ds: &Datastore, target_ns: &Namespace) -> Result<(), MoveError> {
    if !ds.namespace_exists(target_ns)? {
        return Err(MoveError::refused(format!(
            "target namespace '{}' does not exist",
            target_ns.human()
        )));
    }
    Ok(())
}

/// The refusal for a group whose owner file is missing or unreadable (PBS's get_owner fails).
pub fn no_owner(ns: &Namespace, group: &GroupId) -> MoveError {
    MoveError::refused(format!(
        "group '{group}' in '{}' has no readable owner file; fix it before moving",
        ns.human()
    ))
}

/// PBS's merge invariants: same owner, and every target snapshot strictly older than the
/// oldest source snapshot (so the merged group stays a clean time-ordered sequence).
pub fn check_merge(
    ds: &Datastore,
    source_ns: &Namespace,
    target_ns: &Namespace,
    group: &GroupId,
    source_owner: &str,
    source_times: &[SnapshotTime],
) -> Result<(), MoveError> {
    let prefix = format!(
        "cannot merge group '{group}' from '{}' into '{}'",
        source_ns.human(),
        target_ns.human()
    );
    let target_owner = ds.read_owner(target_ns, group)?.unwrap_or_default();
    if target_owner != source_owner {
        return Err(MoveError::refused(format!(
            "{prefix}: owner mismatch (source: {source_owner}, target: {target_owner})"
        )));
    }
    let Some(oldest) = source_times.first() else {
        return Ok(());
    };
    let target_times = ds.list_snapshot_times(target_ns, group)?;
    if let Some(conflict) = target_times.iter().rev().find(|t| *t >= oldest) {
        return Err(MoveError::refused(format!(
            "{prefix}: snapshot time mismatch (oldest source snapshot {oldest}, conflicting target snapshot {conflict})"
        )));
    }
    Ok(())
}

/// `check_move_namespace`: target is the new path of the source (like `mv`).
pub fn check_move_namespace(
    ds: &Datastore,
    source: &Namespace,
    target: &Namespace,
) -> Result<(), MoveError> {
    if source.is_root() {
        return Err(MoveError::refused("cannot move root namespace"));
    }
    if source == target {
        return Err(MoveError::refused(
            "source and target namespace must be different",
        ));
    }
    if !ds.namespace_exists(source)? {
        return Err(MoveError::refused(format!(
            "source namespace '{source}' does not exist"
        )));
    }
    if let Some(parent) = target.parent()
        && !ds.namespace_exists(&parent)?
    {
        return Err(MoveError::refused(format!(
            "target parent namespace '{}' does not exist",
            parent.human()
        )));
    }
    if source.contains(target).is_some() {
        return Err(MoveError::refused(format!(
            "cannot move namespace '{source}' into its own subtree (target: '{target}')"
        )));
    }
    Ok(())
}

/// The deepest namespace of the moved subtree must still fit below the target.
pub fn check_depth_limit(
    source: &Namespace,
    target: &Namespace,
    namespaces: &[Namespace],
) -> Result<(), MoveError> {
    let sub_depth = namespaces
        .iter()
        .map(Namespace::depth)
        .max()
        .map_or(0, |d| d.saturating_sub(source.depth()));
    if sub_depth + target.depth() > MAX_NAMESPACE_DEPTH {
        return Err(MoveError::refused(format!(
            "namespace depth limit exceeded: source subtree depth ({sub_depth}) + target depth ({}) would exceed max ({MAX_NAMESPACE_DEPTH})",
            target.depth()
        )));
    }
    Ok(())
}
