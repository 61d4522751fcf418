//! Background reads of manifests and notes for the browser: the facts of a group's
//! snapshots (for the rows on screen) and the full notes text (for the notes popup).

use crate::ops::progress::CancelToken;
use crate::tree::manifest::{GroupFacts, read_facts, read_group_facts, read_group_notes};
use crate::tree::{Datastore, GroupId, Namespace, SnapshotTime};

/// Every snapshot manifest of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsRequest {
    pub ns: Namespace,
    pub group: GroupId,
}

#[derive(Debug, Clone)]
pub struct FactsResult {
    pub ns: Namespace,
    pub group: GroupId,
    pub result: Result<GroupFacts, String>,
}

/// The notes of a group (its `notes` file) or of one snapshot (its manifest's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotesRequest {
    pub ns: Namespace,
    pub group: GroupId,
    pub time: Option<SnapshotTime>,
}

#[derive(Debug, Clone)]
pub struct NotesResult {
    pub request: NotesRequest,
    /// `Ok(None)`: there are no notes.
    pub result: Result<Option<String>, String>,
}

pub fn read_group(ds: &Datastore, req: FactsRequest) -> FactsResult {
    let result = read_group_facts(ds, &req.ns, &req.group).map_err(|e| e.to_string());
    FactsResult {
        ns: req.ns,
        group: req.group,
        result,
    }
}

/// Groups one event of [`read_groups`] carries.
pub const GROUPS_BATCH: usize = 32;

/// Reads the manifests of `groups` of `ns` (a namespace's size), handing the results on
/// `GROUPS_BATCH` at a time until `cancel` says stop; `true` when every group was read.
pub fn read_groups(
    ds: &Datastore,
    ns: &Namespace,
    groups: &[GroupId],
    cancel: &CancelToken,
    sink: &mut dyn FnMut(Vec<FactsResult>),
) -> bool {
    for chunk in groups.chunks(GROUPS_BATCH) {
        if cancel.is_cancelled() {
            return false;
        }
        let batch = chunk
            .iter()
            .map(|g| {
                read_group(
                    ds,
                    FactsRequest {
                        ns: ns.clone(),
                        group: g.clone(),
                    },
                )
            })
            .collect();
        sink(batch);
    }
    true
}

pub fn read_notes(ds: &Datastore, request: NotesRequest) -> NotesResult {
    let result = match &request.time {
        None => read_group_notes(&ds.group_path(&request.ns, &request.group)),
        Some(t) => read_facts(&ds.snapshot_path(&request.ns, &request.group, t)).map(|f| f.notes),
    };
    NotesResult {
        request,
        result: result.map_err(|e| format!("manifest: {e}")),
    }
}
