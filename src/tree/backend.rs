//! Where a datastore's contents live besides its directory tree.
//!
//! A filesystem datastore has only its tree. An S3 datastore keeps the same tree as a local
//! cache and the authoritative copy in a bucket (`<store>/.cnt/<rel path>/<file>`). The move
//! engine always changes the local tree itself; it calls the backend at the points where PBS
//! changes the bucket, in PBS's order: copy+verify before the local rename, delete after it.

use std::fmt;

use super::names::{GroupId, Namespace, SnapshotTime};

/// One snapshot, addressed by namespace, group and time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnapshotRef {
    pub ns: Namespace,
    pub group: GroupId,
    pub time: SnapshotTime,
}

impl SnapshotRef {
    /// Path relative to the datastore base (and the S3 `.cnt/` prefix).
    pub fn rel_path(&self) -> String {
        let mut p = self.ns.rel_path();
        p.push(self.group.rel_path());
        p.push(self.time.as_str());
        p.to_string_lossy().into_owned()
    }
}

impl fmt::Display for SnapshotRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.group, self.time)?;
        if !self.ns.is_root() {
            write!(f, " in '{}'", self.ns)?;
        }
        Ok(())
    }
}

/// Objects and bytes a move would copy (dry-run, progress).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectStats {
    pub objects: u64,
    pub bytes: u64,
}

impl std::ops::AddAssign for ObjectStats {
    fn add_assign(&mut self, o: Self) {
        self.objects += o.objects;
        self.bytes += o.bytes;
    }
}

/// How far one batch copy got, told as it happens (progress only, never a decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyProgress {
    /// The batch's objects are listed: `stats` will be copied for its `snapshots`.
    Listed {
        snapshots: usize,
        stats: ObjectStats,
    },
    /// Every object of one snapshot of the batch is copied (not yet verified).
    SnapshotCopied(ObjectStats),
}

/// Receives [`CopyProgress`] during a copy; called from the copying thread.
pub type CopyObserver<'a> = dyn Fn(CopyProgress) + Sync + 'a;

/// A backend failure: one line, safe to show (never contains a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError(pub String);

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BackendError {}

/// Opaque state between the two halves of a snapshot move (e.g. the copied keys).
#[derive(Debug, Default)]
pub struct PreparedMove {
    pub copied_keys: Vec<String>,
    pub source_keys: Vec<String>,
    pub stats: ObjectStats,
}

/// A failed [`ContentBackend::copy_snapshots`]: which snapshot of the batch failed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchCopyError {
    pub index: usize,
    pub error: BackendError,
}

impl BatchCopyError {
    /// `orphans`: copies that could not be removed again; they would block a retry.
    pub fn new(index: usize, error: BackendError, orphans: &[Orphan]) -> Self {
        let error = BackendError(with_leftover_copies(&error, orphans));
        Self { index, error }
    }
}

/// A copy error, plus the copies that could not be removed again (they would block a retry).
pub fn with_leftover_copies(error: &dyn fmt::Display, orphans: &[Orphan]) -> String {
    match orphans.first() {
        None => error.to_string(),
        Some(first) => format!(
            "{error} (and {} partial copies could not be removed, first: {}: {})",
            orphans.len(),
            first.key,
            first.error
        ),
    }
}

/// Source objects left behind after a successful move (deleting them failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub key: String,
    pub error: String,
}

/// The bucket side of a move. Every method must be safe to call again after a crash.
pub trait ContentBackend: Send + Sync {
    /// Short name for messages: "filesystem" or "s3". Behaviour branches on
    /// [`Self::is_local_only`], never on this name.
    fn kind(&self) -> &'static str;

    /// Whether the datastore's content is only its local directory: no bucket objects to
    /// copy, verify, delete or leave behind, so one rename moves everything.
    fn is_local_only(&self) -> bool;

    /// Dry-run: what moving this snapshot would copy.
    fn plan_snapshot(&self, src: &SnapshotRef) -> Result<ObjectStats, BackendError>;

    /// Copies every object of `src` to `dst` and verifies each copy; nothing is deleted.
    fn copy_snapshot(
        &self,
        src: &SnapshotRef,
        dst: &SnapshotRef,
    ) -> Result<PreparedMove, BackendError>;

    /// [`copy_snapshot`](Self::copy_snapshot) for one lock batch of a group, in order. On
    /// error every copy made for the batch is already removed again (the error says if that
    /// failed) and `index` names the snapshot that failed. Backends override it to copy the
    /// whole batch concurrently.
    fn copy_snapshots(
        &self,
        pairs: &[(SnapshotRef, SnapshotRef)],
    ) -> Result<Vec<PreparedMove>, BatchCopyError> {
        let mut done: Vec<PreparedMove> = Vec::with_capacity(pairs.len());
        for (index, (src, dst)) in pairs.iter().enumerate() {
            match self.copy_snapshot(src, dst) {
                Ok(p) => done.push(p),
                Err(error) => {
                    let orphans: Vec<Orphan> =
                        done.iter().flat_map(|p| self.discard_copy(p)).collect();
                    return Err(BatchCopyError::new(index, error, &orphans));
                }
            }
        }
        Ok(done)
    }

    /// [`copy_snapshots`](Self::copy_snapshots), telling `observe` what was listed and
    /// which snapshots are copied as it goes. By default both are told once it is done.
    fn copy_snapshots_observed(
        &self,
        pairs: &[(SnapshotRef, SnapshotRef)],
        observe: &CopyObserver<'_>,
    ) -> Result<Vec<PreparedMove>, BatchCopyError> {
        let done = self.copy_snapshots(pairs)?;
        let mut stats = ObjectStats::default();
        for p in &done {
            stats += p.stats;
        }
        if stats.objects > 0 {
            observe(CopyProgress::Listed {
                snapshots: done.len(),
                stats,
            });
            for p in &done {
                observe(CopyProgress::SnapshotCopied(p.stats));
            }
        }
        Ok(done)
    }

    /// [`delete_source`](Self::delete_source) for many renamed snapshots at once.
    fn delete_sources(&self, prepared: &[PreparedMove]) -> Vec<Orphan> {
        prepared
            .iter()
            .flat_map(|p| self.delete_source(p))
            .collect()
    }

    /// Removes the copies made by a failed `copy_snapshot` (best effort).
    fn discard_copy(&self, prepared: &PreparedMove) -> Vec<Orphan>;

    /// Deletes the source objects after the local rename; failures become orphans.
    fn delete_source(&self, prepared: &PreparedMove) -> Vec<Orphan>;

    /// Writes the group's owner object (before the local owner file, as PBS does).
    fn put_owner(&self, ns: &Namespace, group: &GroupId, owner: &str) -> Result<(), BackendError>;

    /// Writes the group's notes object at the target (before the local rename).
    fn put_notes(&self, ns: &Namespace, group: &GroupId, notes: &[u8]) -> Result<(), BackendError>;

    /// Deletes the group-level objects (owner, notes) of an emptied source group.
    fn remove_group(&self, ns: &Namespace, group: &GroupId) -> Vec<Orphan>;

    /// Deletes the notes object of a group that stays (`undo` of a merge took them back).
    fn remove_notes(&self, _ns: &Namespace, _group: &GroupId) -> Vec<Orphan> {
        Vec::new()
    }

    /// Creates the namespace marker object.
    fn create_namespace(&self, ns: &Namespace) -> Result<(), BackendError>;

    /// Deletes the namespace marker object.
    fn remove_namespace(&self, ns: &Namespace) -> Result<(), BackendError>;
}

/// A filesystem datastore: the tree is everything, so every call is a no-op.
#[derive(Debug, Default, Clone, Copy)]
pub struct FilesystemBackend;

impl ContentBackend for FilesystemBackend {
    fn kind(&self) -> &'static str {
        "filesystem"
    }

    fn is_local_only(&self) -> bool {
        true
    }

    fn plan_snapshot(&self, _src: &SnapshotRef) -> Result<ObjectStats, BackendError> {
        Ok(ObjectStats::default())
    }

    fn copy_snapshot(
        &self,
        _src: &SnapshotRef,
        _dst: &SnapshotRef,
    ) -> Result<PreparedMove, BackendError> {
        Ok(PreparedMove::default())
    }

    fn discard_copy(&self, _prepared: &PreparedMove) -> Vec<Orphan> {
        Vec::new()
    }

    fn delete_source(&self, _prepared: &PreparedMove) -> Vec<Orphan> {
        Vec::new()
    }

    fn put_owner(
        &self,
        _ns: &Namespace,
        _group: &GroupId,
        _owner: &str,
    ) -> Result<(), BackendError> {
        Ok(())
    }

    fn put_notes(
        &self,
        _ns: &Namespace,
        _group: &GroupId,
        _notes: &[u8],
    ) -> Result<(), BackendError> {
        Ok(())
    }

    fn remove_group(&self, _ns: &Namespace, _group: &GroupId) -> Vec<Orphan> {
        Vec::new()
    }

    fn create_namespace(&self, _ns: &Namespace) -> Result<(), BackendError> {
        Ok(())
    }

    fn remove_namespace(&self, _ns: &Namespace) -> Result<(), BackendError> {
        Ok(())
    }
}
