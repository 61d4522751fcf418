//! Lock files and lock dirs an interrupted move of ours left behind. PBS's own lock files
//! are normal and never reported: only the lock paths of snapshots, groups and namespaces a
//! move of ours touched and never ended (interrupted, not running) are looked at, and only
//! where their snapshot, group or namespace is gone from that place (a move that ends
//! removes exactly those; PBS 3.x's own empty group-level dirs stay, as PBS leaves them).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::running::Running;
use super::{Finding, FindingKind};
use crate::ops::context::MoveContext;
use crate::ops::journal::crash::JournalEntry;
use crate::ops::journal::record::OpKind;
use crate::tree::{GroupId, Namespace, SnapshotTime};

pub fn check(ctx: &MoveContext, journals: &[JournalEntry], running: &Running) -> Vec<Finding> {
    let mut snapshots = BTreeSet::new();
    let mut groups = BTreeSet::new();
    let mut namespaces = BTreeSet::new();
    for e in journals
        .iter()
        .filter(|e| !e.is_finished() && !running.is_running(&e.id))
    {
        for g in e.groups() {
            for ns in [&g.ns, &g.target_ns] {
                groups.insert((ns.clone(), g.group.clone()));
                for t in g
                    .snapshots
                    .iter()
                    .filter_map(|t| SnapshotTime::parse(t).ok())
                {
                    snapshots.insert((ns.clone(), g.group.clone(), t));
                }
            }
            namespaces.insert(g.ns.clone());
        }
        if let Some((OpKind::MoveNs { ns, .. }, _, _)) = e.begin() {
            namespaces.insert(ns.clone());
        }
    }
    let mut out = Vec::new();
    for (ns, group, time) in &snapshots {
        snapshot_residue(ctx, ns, group, time, &mut out);
    }
    for (ns, group) in &groups {
        if !ctx.ds.group_path(ns, group).exists() {
            let path = ctx.locks.group(ns, group);
            report_file(
                &path,
                &format!("group {group} in '{}'", ns.human()),
                &mut out,
            );
        }
    }
    for ns in namespaces.iter().filter(|n| !n.is_root()) {
        if !ctx.ds.ns_path(ns).exists() {
            let path = ctx.locks.ns_lock(ns);
            report_file(&path, &format!("namespace '{ns}'"), &mut out);
        }
    }
    out
}

fn snapshot_residue(
    ctx: &MoveContext,
    ns: &Namespace,
    group: &GroupId,
    time: &SnapshotTime,
    out: &mut Vec<Finding>,
) {
    if ctx.ds.snapshot_path(ns, group, time).exists() {
        return; // the snapshot is here: its lock files are PBS's business
    }
    let what = format!("snapshot {group}/{time} in '{}'", ns.human());
    let locks = &ctx.locks;
    for path in [
        locks.snapshot(ns, group, time),
        locks.manifest(ns, group, time),
        locks.old_manifest(ns, group, time),
    ] {
        report_file(&path, &what, out);
    }
    // PBS 3.x's old scheme: the dirs of the manifest lock file, removed after a move.
    let old = locks.old_manifest(ns, group, time);
    if let Some(dir) = old.parent() {
        report_empty_dir(dir, &what, out);
    }
}

fn report_file(path: &Path, what: &str, out: &mut Vec<Finding>) {
    if path.is_file() && !out.iter().any(|f| f.path == path) {
        out.push(Finding::new(
            FindingKind::LockResidue,
            path,
            format!(
                "lock file of {what}, which is no longer there, left by an interrupted move; \
                 `pbs-mover resume` removes it (or remove it while no PBS task runs)"
            ),
        ));
    }
}

fn report_empty_dir(dir: &Path, what: &str, out: &mut Vec<Finding>) {
    let empty = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
    if empty && !dir.is_symlink() && !out.iter().any(|f| f.path == dir) {
        out.push(Finding::new(
            FindingKind::LockResidue,
            PathBuf::from(dir),
            format!("empty lock dir of {what}, which is no longer there; remove it (rmdir)"),
        ));
    }
}
