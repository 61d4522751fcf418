//! Background scans: what the UI asks the scanner for and what comes back.
//!
//! Requests run on `tokio::task::spawn_blocking` in the event loop, or inline in tests
//! (`run` is plain blocking code that reports through a callback).

use crate::tree::natural::group_cmp;
use crate::tree::scan::error::ScanError;
use crate::tree::{Datastore, GroupId, GroupInfo, Listing, Namespace, ScanWarning, SnapshotInfo};

/// Identifies one load of a node; a result whose generation no longer matches is stale
/// (the node was refreshed in the meantime) and is dropped.
pub type Generation = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanRequest {
    /// Child namespaces and groups (without sizes: those follow in a `Sizes` pass).
    Namespace {
        generation: Generation,
        ns: Namespace,
    },
    /// Sizes and protected counts of the given groups, reported in batches.
    Sizes {
        generation: Generation,
        ns: Namespace,
        groups: Vec<GroupId>,
    },
    /// Snapshots of one group with their files.
    Snapshots {
        generation: Generation,
        ns: Namespace,
        group: GroupId,
    },
}

#[derive(Debug, Clone)]
pub enum ScanResult {
    /// The first groups of a large namespace (in name order, without warnings), sent ahead
    /// of its whole listing so the tree shows them at once; `total` groups are coming.
    NamespacePart {
        generation: Generation,
        ns: Namespace,
        children: Vec<Namespace>,
        groups: Vec<GroupInfo>,
        total: usize,
    },
    /// The whole listing (also after a part): exactly what one read of the level gives.
    Namespace {
        generation: Generation,
        ns: Namespace,
        result: Result<(Listing<Namespace>, Listing<GroupInfo>), String>,
    },
    Sizes {
        generation: Generation,
        ns: Namespace,
        infos: Vec<GroupInfo>,
        warnings: Vec<ScanWarning>,
        /// The last batch of this pass.
        done: bool,
    },
    Snapshots {
        generation: Generation,
        ns: Namespace,
        group: GroupId,
        result: Result<Listing<SnapshotInfo>, String>,
    },
}

impl ScanResult {
    /// The last result of its request (a request may report several `Sizes` batches).
    pub fn is_final(&self) -> bool {
        match self {
            ScanResult::Sizes { done, .. } => *done,
            ScanResult::NamespacePart { .. } => false,
            _ => true,
        }
    }
}

/// Groups per `Sizes` batch: big enough to keep redraws rare, small enough that sizes appear
/// progressively on a large namespace.
const SIZE_BATCH: usize = 64;

/// Runs one request to completion, reporting results through `emit`.
pub fn run(ds: &Datastore, req: ScanRequest, emit: &mut dyn FnMut(ScanResult)) {
    match req {
        ScanRequest::Namespace { generation, ns } => {
            let result = list_namespace(ds, generation, &ns, emit);
            emit(ScanResult::Namespace {
                generation,
                ns,
                result: result.map_err(|e| e.to_string()),
            });
        }
        ScanRequest::Sizes {
            generation,
            ns,
            groups,
        } => run_sizes(ds, generation, ns, &groups, emit),
        ScanRequest::Snapshots {
            generation,
            ns,
            group,
        } => {
            let result = ds.list_snapshots(&ns, &group).map_err(|e| e.to_string());
            emit(ScanResult::Snapshots {
                generation,
                ns,
                group,
                result,
            });
        }
    }
}

/// Groups read and sent ahead of the rest of a large namespace: more than a screen
/// (the first page in name order), few enough to be read in a few milliseconds.
pub const FIRST_PART: usize = 128;

/// Below this many groups a namespace is listed in one go: a part would save nothing.
const STAGED_MIN_GROUPS: usize = 2 * FIRST_PART;

/// Lists one level: child namespaces and groups. A large one sends its first groups in name
/// order ahead as a [`ScanResult::NamespacePart`]; the listing returned is the same as one
/// read of the whole level (same items, warnings and order).
fn list_namespace(
    ds: &Datastore,
    generation: Generation,
    ns: &Namespace,
    emit: &mut dyn FnMut(ScanResult),
) -> Result<(Listing<Namespace>, Listing<GroupInfo>), ScanError> {
    let children = ds.list_child_namespaces(ns)?;
    let ids = ds.list_group_ids(ns)?;
    if ids.items.len() < STAGED_MIN_GROUPS {
        let infos = ds.group_infos(ns, &ids.items, false);
        let groups = ds.collect_groups(ns, ids, infos);
        return Ok((children, groups));
    }
    // The first page the tree shows (natural order), then the others.
    let mut order: Vec<usize> = (0..ids.items.len()).collect();
    order.sort_by(|&a, &b| group_cmp(&ids.items[a], &ids.items[b]));
    let (first, rest) = order.split_at(FIRST_PART);
    let pick =
        |part: &[usize]| -> Vec<GroupId> { part.iter().map(|&i| ids.items[i].clone()).collect() };
    let first_infos = ds.group_infos(ns, &pick(first), false);
    emit(ScanResult::NamespacePart {
        generation,
        ns: ns.clone(),
        children: children.items.clone(),
        groups: first_infos
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .flat_map(|l| l.items.iter().cloned())
            .collect(),
        total: ids.items.len(),
    });
    let rest_infos = ds.group_infos(ns, &pick(rest), false);
    // Back into the order of the ids, as one read of the level gives them.
    let mut slots: Vec<Option<Result<Listing<GroupInfo>, ScanError>>> =
        std::iter::repeat_with(|| None)
            .take(ids.items.len())
            .collect();
    for (&i, info) in order.iter().zip(first_infos.into_iter().chain(rest_infos)) {
        slots[i] = Some(info);
    }
    // Every index is in `order` exactly once, so every slot was filled above.
    let infos = slots.into_iter().flatten().collect();
    Ok((children, ds.collect_groups(ns, ids, infos)))
}

fn run_sizes(
    ds: &Datastore,
    generation: Generation,
    ns: Namespace,
    groups: &[GroupId],
    emit: &mut dyn FnMut(ScanResult),
) {
    let mut chunks = groups.chunks(SIZE_BATCH).peekable();
    if chunks.peek().is_none() {
        emit(ScanResult::Sizes {
            generation,
            ns,
            infos: Vec::new(),
            warnings: Vec::new(),
            done: true,
        });
        return;
    }
    while let Some(chunk) = chunks.next() {
        let mut infos = Vec::with_capacity(chunk.len());
        let mut warnings = Vec::new();
        for group in chunk {
            match ds.group_info(&ns, group, true) {
                Ok(listing) => {
                    infos.extend(listing.items);
                    // Owner/notes warnings were already reported by the namespace listing.
                    warnings.extend(listing.warnings.into_iter().filter(|w| !is_group_level(w)));
                }
                Err(e) => warnings.push(ScanWarning {
                    path: ds.group_path(&ns, group),
                    message: e.to_string(),
                }),
            }
        }
        emit(ScanResult::Sizes {
            generation,
            ns: ns.clone(),
            infos,
            warnings,
            done: chunks.peek().is_none(),
        });
    }
}

/// Warnings about the group directory itself (owner file, stray entries) rather than a
/// snapshot's contents; the size pass repeats them, so they are filtered out there.
fn is_group_level(w: &ScanWarning) -> bool {
    let is_time = |p: Option<&std::path::Path>| {
        p.and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .is_some_and(|n| crate::tree::SnapshotTime::parse(n).is_ok())
    };
    // `<snapshot>` itself (unreadable) or `<snapshot>/<file>` (odd entry) are snapshot-level.
    !(is_time(Some(&w.path)) || is_time(w.path.parent()))
}
