//! Background scans: what the UI asks the scanner for and what comes back.
//!
//! Requests run on `tokio::task::spawn_blocking` in the event loop, or inline in tests
//! (`run` is plain blocking code that reports through a callback).

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
            let result = list_namespace(ds, &ns);
            emit(ScanResult::Namespace {
                generation,
                ns,
                result,
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

fn list_namespace(
    ds: &Datastore,
    ns: &Namespace,
) -> Result<(Listing<Namespace>, Listing<GroupInfo>), String> {
    let children = ds.list_child_namespaces(ns).map_err(|e| e.to_string())?;
    let groups = ds.list_groups(ns, false).map_err(|e| e.to_string())?;
    Ok((children, groups))
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
