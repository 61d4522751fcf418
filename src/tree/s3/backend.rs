//! [`S3Backend`]: the bucket side of a move, in PBS's key layout
//! (`<store>/.cnt/<ns path>/<type>/<id>/<time>/<file>`).
//!
//! The move engine calls it from a blocking thread; each call runs its requests on a small
//! runtime the backend owns, so callers never need to be async.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::path::Path;

use futures::{StreamExt, TryStreamExt, stream};
use tokio::runtime::Runtime;

use super::client::{Bucket, ClientOptions, DELETE_BATCH, ObjectInfo, build_client};
use super::config::S3Target;
use super::error::S3Error;
use super::walk::{NAMESPACE_MARKER, local_objects};
use crate::tree::backend::{
    BackendError, BatchCopyError, ContentBackend, ObjectStats, Orphan, PreparedMove, SnapshotRef,
    with_leftover_copies,
};
use crate::tree::names::{GroupId, Namespace};

/// Objects in flight during a copy unless configured otherwise.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// DeleteObjects requests (up to 1,000 keys each) in flight at once.
const DELETES_IN_FLIGHT: usize = 4;

#[derive(Debug, Clone)]
pub struct BackendOptions {
    /// CopyObject (+ HEAD) requests in flight at once.
    pub concurrency: usize,
    pub client: ClientOptions,
}

impl Default for BackendOptions {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            client: ClientOptions::default(),
        }
    }
}

/// Cache vs bucket differences, as relative paths (`ns/a/vm/100/<time>/index.json.blob`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DriftReport {
    pub local_objects: usize,
    pub bucket_objects: usize,
    /// In the local cache (or a namespace dir without its marker), not in the bucket.
    pub missing_in_bucket: Vec<String>,
    /// In the bucket, not in the local cache.
    pub missing_locally: Vec<String>,
    pub size_mismatch: Vec<SizeMismatch>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SizeMismatch {
    pub path: String,
    pub local: u64,
    pub bucket: u64,
}

impl DriftReport {
    pub fn is_clean(&self) -> bool {
        self.missing_in_bucket.is_empty()
            && self.missing_locally.is_empty()
            && self.size_mismatch.is_empty()
    }
}

pub struct S3Backend {
    bucket: Bucket,
    store: String,
    concurrency: usize,
    /// `Option` only so `Drop` can take it: dropping a runtime inside async code panics.
    rt: Option<Runtime>,
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Backend")
            .field("endpoint", &self.bucket.endpoint)
            .field("bucket", &self.bucket.name)
            .field("store", &self.store)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl Drop for S3Backend {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl S3Backend {
    /// Builds the client; sends nothing (see [`S3Backend::check`]).
    pub fn new(target: &S3Target, store: &str, opts: &BackendOptions) -> Result<Self, S3Error> {
        let client = build_client(target, &opts.client)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pbs-mover-s3")
            .enable_all()
            .build()
            .map_err(|e| S3Error::Local(format!("cannot start the S3 runtime: {e}")))?;
        Ok(Self {
            bucket: Bucket::new(client, target),
            store: store.to_string(),
            concurrency: opts.concurrency.max(1),
            rt: Some(rt),
        })
    }

    /// [`S3Backend::new`] plus [`S3Backend::check`]: fails early, before anything changes.
    pub fn connect(target: &S3Target, store: &str, opts: &BackendOptions) -> Result<Self, S3Error> {
        let b = Self::new(target, store, opts)?;
        b.check()?;
        Ok(b)
    }

    /// Endpoint reachable, TLS fine, credentials accepted, bucket exists.
    pub fn check(&self) -> Result<(), S3Error> {
        self.block_on(self.bucket.check())
    }

    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    pub fn store(&self) -> &str {
        &self.store
    }

    /// Runs `f` on the backend's runtime. Must not be called from inside async code.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        match &self.rt {
            Some(rt) => rt.block_on(f),
            // Invariant: `rt` is only taken in `drop`, after which `self` is unreachable.
            None => unreachable!("S3Backend runtime used after drop"),
        }
    }

    /// `<store>/.cnt/`: every key this backend reads or writes starts with it.
    pub fn content_prefix(&self) -> String {
        format!("{}/.cnt/", self.store)
    }

    /// `<store>/.cnt/<snapshot rel path>/`.
    pub fn snapshot_prefix(&self, s: &SnapshotRef) -> String {
        format!("{}{}/", self.content_prefix(), s.rel_path())
    }

    fn group_key(&self, ns: &Namespace, group: &GroupId, file: &str) -> String {
        let mut rel = ns.rel_path();
        rel.push(group.rel_path());
        format!("{}{}/{file}", self.content_prefix(), rel.to_string_lossy())
    }

    fn namespace_key(&self, ns: &Namespace) -> String {
        format!(
            "{}{}/{NAMESPACE_MARKER}",
            self.content_prefix(),
            ns.rel_path().to_string_lossy()
        )
    }

    async fn copy_prefix(&self, src: &str, dst: &str) -> Result<PreparedMove, S3Error> {
        let objects = self.bucket.list(src).await?;
        let existing = self.bucket.list(dst).await?;
        let (prepared, work) = prepare_copy(src, dst, objects, &existing)?;
        let work = work.into_iter().map(|(o, d)| (0, o, d)).collect();
        match self.copy_all(work).await {
            Ok(()) => Ok(prepared),
            Err((_, e)) => Err(self.undo_copy(e, &prepared.copied_keys).await),
        }
    }

    /// A whole lock batch of one group: every source and target snapshot prefix listed,
    /// then every object of the batch copied and verified, all with up to `concurrency`
    /// requests in flight, so many small snapshots cost requests × latency / concurrency
    /// instead of one snapshot's round trips after another. On error all copies of the batch
    /// are removed again.
    async fn copy_batch(
        &self,
        pairs: &[(SnapshotRef, SnapshotRef)],
    ) -> Result<Vec<PreparedMove>, (usize, S3Error)> {
        let src: Vec<String> = pairs.iter().map(|(s, _)| self.snapshot_prefix(s)).collect();
        let dst: Vec<String> = pairs.iter().map(|(_, d)| self.snapshot_prefix(d)).collect();
        let sources = self.list_snapshots(&src).await.map_err(|e| (0, e))?;
        let targets = self.list_snapshots(&dst).await.map_err(|e| (0, e))?;
        let mut prepared = Vec::with_capacity(pairs.len());
        let mut work = Vec::new();
        let listed = sources.into_iter().zip(targets);
        for (i, ((s, d), (objects, existing))) in src.iter().zip(&dst).zip(listed).enumerate() {
            let (p, w) = prepare_copy(s, d, objects, &existing).map_err(|e| (i, e))?;
            prepared.push(p);
            work.extend(w.into_iter().map(|(o, d)| (i, o, d)));
        }
        if let Err((failed, e)) = self.copy_all(work).await {
            let keys: Vec<String> = prepared
                .iter()
                .flat_map(|p| p.copied_keys.iter().cloned())
                .collect();
            return Err((failed, self.undo_copy(e, &keys).await));
        }
        Ok(prepared)
    }

    /// Objects of each snapshot prefix, listed concurrently. One prefix listing per
    /// snapshot, not one ranged listing (StartAfter) of the group: SeaweedFS skips a whole
    /// "directory" named by StartAfter, and a listing that silently misses objects would
    /// make us move a snapshot without them.
    async fn list_snapshots(&self, prefixes: &[String]) -> Result<Vec<Vec<ObjectInfo>>, S3Error> {
        stream::iter(prefixes)
            .map(|p| self.bucket.list(p))
            .buffered(self.concurrency)
            .try_collect()
            .await
    }

    /// Copies and verifies every (snapshot index, source object, target key); an error
    /// names the snapshot it belongs to.
    async fn copy_all(
        &self,
        work: Vec<(usize, ObjectInfo, String)>,
    ) -> Result<(), (usize, S3Error)> {
        stream::iter(work)
            .map(|(i, o, d)| async move { self.copy_verified(&o, &d).await.map_err(|e| (i, e)) })
            .buffer_unordered(self.concurrency)
            .try_for_each(|()| async { Ok(()) })
            .await
    }

    /// Removes every possibly-copied target object after a failed copy; the error says
    /// whether that worked, since left-over copies would block a retry.
    async fn undo_copy(&self, err: S3Error, copied: &[String]) -> S3Error {
        let orphans = self.delete_keys(copied).await;
        if orphans.is_empty() {
            return err;
        }
        S3Error::Local(with_leftover_copies(&err, &orphans))
    }

    async fn copy_verified(&self, src: &ObjectInfo, dst: &str) -> Result<(), S3Error> {
        let etag = match &src.etag {
            Some(e) => Some(e.clone()),
            None => self.bucket.head(&src.key).await?.etag,
        };
        self.bucket.copy(&src.key, dst, etag.as_deref()).await?;
        let copy = self.bucket.head(dst).await?;
        verify_copy(src.size, etag.as_deref(), &copy)
    }

    /// Batched deletes of keys under this store's prefix; anything else is refused.
    async fn delete_keys(&self, keys: &[String]) -> Vec<Orphan> {
        let prefix = self.content_prefix();
        let (ours, foreign): (Vec<&String>, Vec<&String>) =
            keys.iter().partition(|k| k.starts_with(&prefix));
        let mut orphans: Vec<Orphan> = foreign
            .into_iter()
            .map(|k| Orphan {
                key: k.clone(),
                error: S3Error::ForeignKey {
                    key: k.clone(),
                    prefix: prefix.clone(),
                }
                .to_string(),
            })
            .collect();
        let ours: Vec<String> = ours.into_iter().cloned().collect();
        let failed: Vec<Vec<_>> = stream::iter(ours.chunks(DELETE_BATCH))
            .map(|batch| self.bucket.delete_batch(batch))
            .buffer_unordered(DELETES_IN_FLIGHT)
            .collect()
            .await;
        orphans.extend(failed.into_iter().flatten().map(|f| Orphan {
            key: f.key,
            error: f.error,
        }));
        orphans
    }

    /// Compares the local cache under `base` with the bucket's `<store>/.cnt/` objects.
    pub fn check_drift(&self, base: &Path) -> Result<DriftReport, S3Error> {
        let local = local_objects(base).map_err(|e| {
            S3Error::Local(format!(
                "cannot read the local cache {}: {e}",
                base.display()
            ))
        })?;
        let prefix = self.content_prefix();
        let listed = self.block_on(self.bucket.list(&prefix))?;
        let remote: BTreeMap<String, u64> = listed
            .into_iter()
            .filter_map(|o| Some((o.key.strip_prefix(&prefix)?.to_string(), o.size)))
            .collect();
        Ok(compare(&local, &remote))
    }
}

fn compare(local: &BTreeMap<String, u64>, remote: &BTreeMap<String, u64>) -> DriftReport {
    let mut r = DriftReport {
        local_objects: local.len(),
        bucket_objects: remote.len(),
        ..Default::default()
    };
    for (path, &size) in local {
        match remote.get(path) {
            None => r.missing_in_bucket.push(path.clone()),
            Some(&b) if b != size => r.size_mismatch.push(SizeMismatch {
                path: path.clone(),
                local: size,
                bucket: b,
            }),
            Some(_) => {}
        }
    }
    r.missing_locally = remote
        .keys()
        .filter(|k| !local.contains_key(*k))
        .cloned()
        .collect();
    r
}

/// The copy plan of one snapshot: refuses a snapshot missing from the bucket (drift) and a
/// target prefix holding objects the source does not have (someone else's data: copying
/// over or later discarding it could destroy a backup). Target objects matching source keys
/// are left-overs of an interrupted attempt and are simply copied over.
fn prepare_copy(
    src: &str,
    dst: &str,
    objects: Vec<ObjectInfo>,
    existing: &[ObjectInfo],
) -> Result<(PreparedMove, Vec<(ObjectInfo, String)>), S3Error> {
    if objects.is_empty() {
        // The cache has the snapshot but the bucket does not: moving it would only move
        // the drift. Leave the group where it is and let the admin look.
        return Err(S3Error::Drift {
            prefix: src.to_string(),
        });
    }
    let mut prepared = PreparedMove::default();
    let mut work = Vec::with_capacity(objects.len());
    for o in objects {
        let dst_key = rebase(&o.key, src, dst)?;
        prepared.stats.objects += 1;
        prepared.stats.bytes += o.size;
        prepared.source_keys.push(o.key.clone());
        prepared.copied_keys.push(dst_key.clone());
        work.push((o, dst_key));
    }
    let expected: HashSet<&str> = prepared.copied_keys.iter().map(String::as_str).collect();
    if let Some(o) = existing.iter().find(|o| !expected.contains(o.key.as_str())) {
        return Err(S3Error::VerifyFailed {
            key: o.key.clone(),
            detail: "target prefix already holds an object the source does not have; refusing to copy over it".into(),
        });
    }
    Ok((prepared, work))
}

fn rebase(key: &str, src: &str, dst: &str) -> Result<String, S3Error> {
    key.strip_prefix(src)
        .map(|rest| format!("{dst}{rest}"))
        .ok_or_else(|| S3Error::ForeignKey {
            key: key.to_string(),
            prefix: src.to_string(),
        })
}

/// Size must match; the ETag too, except for multipart sources (`…-N`), whose copies get a
/// new single-part ETag by design.
fn verify_copy(size: u64, src_etag: Option<&str>, copy: &ObjectInfo) -> Result<(), S3Error> {
    let fail = |detail: String| {
        Err(S3Error::VerifyFailed {
            key: copy.key.clone(),
            detail,
        })
    };
    if copy.size != size {
        return fail(format!("size {} instead of {size}", copy.size));
    }
    match (src_etag, copy.etag.as_deref()) {
        (Some(s), _) if s.contains('-') => Ok(()),
        (Some(s), Some(c)) if s == c => Ok(()),
        (Some(s), c) => fail(format!("ETag {} instead of {s}", c.unwrap_or("(none)"))),
        (None, _) => Ok(()),
    }
}

impl ContentBackend for S3Backend {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn plan_snapshot(&self, src: &SnapshotRef) -> Result<ObjectStats, BackendError> {
        let objects = self.block_on(self.bucket.list(&self.snapshot_prefix(src)))?;
        Ok(ObjectStats {
            objects: objects.len() as u64,
            bytes: objects.iter().map(|o| o.size).sum(),
        })
    }

    /// On error the partial copies are already removed (the error says if that failed).
    fn copy_snapshot(
        &self,
        src: &SnapshotRef,
        dst: &SnapshotRef,
    ) -> Result<PreparedMove, BackendError> {
        let (s, d) = (self.snapshot_prefix(src), self.snapshot_prefix(dst));
        Ok(self.block_on(self.copy_prefix(&s, &d))?)
    }

    fn copy_snapshots(
        &self,
        pairs: &[(SnapshotRef, SnapshotRef)],
    ) -> Result<Vec<PreparedMove>, BatchCopyError> {
        self.block_on(self.copy_batch(pairs))
            .map_err(|(index, e)| BatchCopyError::new(index, e.into(), &[]))
    }

    /// One DeleteObjects per 1,000 keys, a few in flight, instead of one per snapshot.
    fn delete_sources(&self, prepared: &[PreparedMove]) -> Vec<Orphan> {
        let keys: Vec<String> = prepared
            .iter()
            .flat_map(|p| p.source_keys.iter().cloned())
            .collect();
        self.block_on(self.delete_keys(&keys))
    }

    fn discard_copy(&self, prepared: &PreparedMove) -> Vec<Orphan> {
        self.block_on(self.delete_keys(&prepared.copied_keys))
    }

    fn delete_source(&self, prepared: &PreparedMove) -> Vec<Orphan> {
        self.block_on(self.delete_keys(&prepared.source_keys))
    }

    fn put_owner(&self, ns: &Namespace, group: &GroupId, owner: &str) -> Result<(), BackendError> {
        let key = self.group_key(ns, group, "owner");
        let data = format!("{}\n", owner.trim_end_matches('\n')).into_bytes();
        Ok(self.block_on(self.bucket.put(&key, data, false))?)
    }

    fn put_notes(&self, ns: &Namespace, group: &GroupId, notes: &[u8]) -> Result<(), BackendError> {
        let key = self.group_key(ns, group, "notes");
        Ok(self.block_on(self.bucket.put(&key, notes.to_vec(), false))?)
    }

    /// Only the group-level objects: snapshot objects left behind are orphans to report,
    /// not something to delete blindly.
    fn remove_group(&self, ns: &Namespace, group: &GroupId) -> Vec<Orphan> {
        let keys = [
            self.group_key(ns, group, "owner"),
            self.group_key(ns, group, "notes"),
        ];
        self.block_on(self.delete_keys(&keys))
    }

    fn create_namespace(&self, ns: &Namespace) -> Result<(), BackendError> {
        if ns.is_root() {
            return Ok(());
        }
        let key = self.namespace_key(ns);
        Ok(self.block_on(self.bucket.put(&key, Vec::new(), true))?)
    }

    fn remove_namespace(&self, ns: &Namespace) -> Result<(), BackendError> {
        if ns.is_root() {
            return Ok(());
        }
        let key = self.namespace_key(ns);
        Ok(self.block_on(self.bucket.delete(&key))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(key: &str, size: u64, etag: Option<&str>) -> ObjectInfo {
        ObjectInfo {
            key: key.into(),
            size,
            etag: etag.map(Into::into),
        }
    }

    #[test]
    fn verify_copy_rules() {
        assert!(verify_copy(3, Some("\"a\""), &info("k", 3, Some("\"a\""))).is_ok());
        assert!(verify_copy(3, Some("\"a-2\""), &info("k", 3, Some("\"b\""))).is_ok());
        let e = verify_copy(3, Some("\"a\""), &info("k", 4, Some("\"a\""))).unwrap_err();
        assert!(e.to_string().contains("size 4 instead of 3"), "{e}");
        let e = verify_copy(3, Some("\"a\""), &info("k", 3, Some("\"b\""))).unwrap_err();
        assert!(e.to_string().contains("ETag"), "{e}");
    }

    #[test]
    fn rebase_keeps_suffix() {
        assert_eq!(
            rebase(
                "s/.cnt/vm/1/T/a.blob",
                "s/.cnt/vm/1/T/",
                "s/.cnt/ns/x/vm/1/T/"
            )
            .unwrap(),
            "s/.cnt/ns/x/vm/1/T/a.blob"
        );
        assert!(rebase("other/a", "s/.cnt/", "d/").is_err());
    }

    #[test]
    fn compare_finds_all_kinds() {
        let local: BTreeMap<_, _> = [("a".to_string(), 1), ("b".to_string(), 2)].into();
        let remote: BTreeMap<_, _> = [("b".to_string(), 3), ("c".to_string(), 0)].into();
        let r = compare(&local, &remote);
        assert_eq!(r.missing_in_bucket, ["a"]);
        assert_eq!(r.missing_locally, ["c"]);
        assert_eq!(r.size_mismatch[0].path, "b");
        assert!(!r.is_clean());
    }
}
