//! What a scan reports about namespaces, groups and snapshots.

use std::path::PathBuf;

use super::names::{GroupId, Namespace, SnapshotTime};

pub const OWNER_FILE: &str = "owner";
pub const NOTES_FILE: &str = "notes";
pub const MANIFEST_FILE: &str = "index.json.blob";
pub const PROTECTED_FILE: &str = ".protected";

/// A backup group as seen by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub ns: Namespace,
    pub group: GroupId,
    /// `None` when the owner file is missing or unreadable (reported as a warning).
    pub owner: Option<String>,
    pub has_notes: bool,
    pub snapshots: usize,
    pub oldest: Option<SnapshotTime>,
    pub newest: Option<SnapshotTime>,
    /// Sum of the snapshot files' sizes; only filled when sizes were requested.
    pub size: Option<u64>,
    /// Number of protected snapshots; only filled when sizes were requested.
    pub protected: Option<usize>,
}

/// One file inside a snapshot directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    pub size: u64,
}

impl FileInfo {
    /// Fixed and dynamic indexes reference chunks; GC must always find them.
    pub fn is_index(&self) -> bool {
        is_index_name(&self.name)
    }
}

pub fn is_index_name(name: &str) -> bool {
    name.ends_with(".fidx") || name.ends_with(".didx")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub time: SnapshotTime,
    pub files: Vec<FileInfo>,
    pub size: u64,
    pub protected: bool,
    /// The manifest exists: the backup finished.
    pub finished: bool,
}

/// Something odd found while scanning; the entry was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanWarning {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for ScanWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// Scan results plus what was skipped on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub warnings: Vec<ScanWarning>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            warnings: Vec::new(),
        }
    }
}
