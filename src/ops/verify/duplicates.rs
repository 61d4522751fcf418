//! No snapshot in two places: the same group and time in two namespaces means a move copied
//! without removing (or was repaired by hand), and PBS would back up, verify and prune both.

use std::collections::BTreeMap;

use super::inventory::Inventory;
use super::{Finding, FindingKind};
use crate::tree::{GroupId, Namespace, SnapshotTime};

pub fn check(inv: &Inventory) -> Vec<Finding> {
    let mut seen: BTreeMap<(&GroupId, &SnapshotTime), Vec<&Namespace>> = BTreeMap::new();
    for g in &inv.groups {
        for t in &g.snapshots {
            seen.entry((&g.group, t)).or_default().push(&g.ns);
        }
    }
    let mut out = Vec::new();
    for ((group, time), places) in seen.into_iter().filter(|(_, p)| p.len() > 1) {
        let names: Vec<String> = places.iter().map(|n| format!("'{}'", n.human())).collect();
        for ns in &places[1..] {
            let path = inv
                .groups
                .iter()
                .find(|g| g.ns == **ns && g.group == *group)
                .map(|g| g.path.join(time.as_str()))
                .unwrap_or_default();
            out.push(Finding::new(
                FindingKind::DuplicateSnapshot,
                path,
                format!(
                    "snapshot {group}/{time} is in {} namespaces ({}); keep one, remove the \
                     others by hand after checking them",
                    places.len(),
                    names.join(", ")
                ),
            ));
        }
    }
    out
}
