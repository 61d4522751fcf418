//! What a move did: the JSON contract of DESIGN.md §2 plus details for people. Names are
//! typed; they serialize to their text form (`""` for the root namespace).

use serde::Serialize;

use crate::tree::backend::Orphan;
use crate::tree::{GroupId, Namespace};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailReason {
    LockConflict,
    Error,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovedGroup {
    pub ns: Namespace,
    pub group: GroupId,
    pub target_ns: Namespace,
    pub snapshots: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedGroup {
    pub ns: Namespace,
    pub group: GroupId,
    pub reason: FailReason,
    pub message: String,
    /// Snapshots that did move before the failure (time-ordered split; both groups valid).
    pub snapshots_moved: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptNamespace {
    pub ns: Namespace,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MoveReport {
    pub moved: Vec<MovedGroup>,
    pub failed: Vec<FailedGroup>,
    pub namespaces_created: Vec<Namespace>,
    pub namespaces_removed: Vec<Namespace>,
    pub namespaces_kept: Vec<KeptNamespace>,
    pub orphans: Vec<OrphanEntry>,
    pub warnings: Vec<String>,
    /// `move-ns` merged into this namespace, which existed before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_into_existing: Option<Namespace>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrphanEntry {
    pub key: String,
    pub error: String,
}

impl From<Orphan> for OrphanEntry {
    fn from(o: Orphan) -> Self {
        Self {
            key: o.key,
            error: o.error,
        }
    }
}

impl MoveReport {
    pub fn snapshots_moved(&self) -> usize {
        self.moved.iter().map(|m| m.snapshots).sum::<usize>()
            + self.failed.iter().map(|f| f.snapshots_moved).sum::<usize>()
    }

    /// Nothing failed.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}
