//! No empty group dirs, and no empty type dirs in a target namespace of a move of ours that
//! was interrupted: what a move cut short between creating the target group and its first
//! rename, or between emptying the source and removing it, leaves. (PBS itself leaves empty
//! type dirs behind when a group is forgotten or moved away, so those are not reported.)

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::inventory::Inventory;
use super::running::Running;
use super::{Finding, FindingKind};
use crate::ops::journal::crash::JournalEntry;

pub fn check(inv: &Inventory, journals: &[JournalEntry], running: &Running) -> Vec<Finding> {
    let mut out = Vec::new();
    for g in inv.groups.iter().filter(|g| g.snapshots.is_empty()) {
        out.push(Finding::new(
            FindingKind::EmptyGroup,
            &g.path,
            format!(
                "group {} in '{}' has no snapshots (left by an interrupted move?); \
                 `pbs-mover resume` removes one its move created, otherwise remove it by hand",
                g.group,
                g.ns.human()
            ),
        ));
    }
    let created = created_type_dirs(journals, running);
    for t in inv
        .type_dirs
        .iter()
        .filter(|t| t.empty && created.contains(&t.path))
    {
        out.push(Finding::new(
            FindingKind::EmptyTypeDir,
            &t.path,
            format!(
                "empty type dir in '{}', created by a move that was interrupted; remove it \
                 (rmdir)",
                t.ns.human()
            ),
        ));
    }
    out
}

/// Type dirs of target groups an interrupted move (not running) created.
fn created_type_dirs(journals: &[JournalEntry], running: &Running) -> BTreeSet<PathBuf> {
    journals
        .iter()
        .filter(|e| !e.is_finished() && !running.is_running(&e.id))
        .filter_map(|e| Some((e.begin()?.1.to_path_buf(), e.groups())))
        .flat_map(|(base, groups)| {
            groups
                .into_iter()
                .filter(|g| !g.target_existed)
                .map(move |g| base.join(g.target_ns.rel_path()).join(g.group.ty.as_str()))
        })
        .collect()
}
