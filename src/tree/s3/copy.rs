//! [`S3Backend`]: the bucket side of a move, in PBS's key layout
//! (`<store>/.cnt/<ns path>/<type>/<id>/<time>/<file>`).
//!
//! The move engine calls it from a blocking thread; each call runs its requests on a small
//! runtime the backend owns, so callers never need to be async.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

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

/// Objects in flight during a copy unless configured otherwise. With one request per
/// object the copy is bound by the server (SeaweedFS on 2 cores: ~300-450 CopyObject/s), and
/// 128 in flight beat 64 in each of four back-to-back pairs on it, by 7-19 % at +0 and
/// +20 ms added latency (s5cmd uses 256 workers).
pub const DEFAULT_CONCURRENCY: usize = 128;

/// DeleteObjects requests (up to 1,000 keys each) in flight at once.
const DELETES_IN_FLIGHT: usize = 4;

/// Keys per page of a group listing: S3's maximum.
pub const LIST_PAGE_KEYS: i32 = 1000;

/// Pages a lock batch may spend listing its whole group (8,000 keys at 1,000 a page, about
/// 1,600 VM snapshots) before it lists each of its snapshots instead.
pub const GROUP_LIST_PAGES: usize = 8;

#[derive(Debug, Clone)]
pub struct BackendOptions {
    /// CopyObject requests (and per-snapshot listings) in flight at once.
    pub concurrency: usize,
    /// Keys asked for per page of a group listing (servers cap it at 1,000).
    pub list_page_keys: i32,
    /// A lock batch lists its source and target group in at most this many pages each; a
    /// larger group is listed one snapshot prefix at a time, for this and later batches.
    pub group_list_pages: usize,
    pub client: ClientOptions,
}

impl Default for BackendOptions {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            list_page_keys: LIST_PAGE_KEYS,
            group_list_pages: GROUP_LIST_PAGES,
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
    list_page_keys: i32,
    group_list_pages: usize,
    /// Group prefixes found too large to list whole (more than `group_list_pages` pages).
    large_groups: Mutex<HashSet<String>>,
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
            list_page_keys: opts.list_page_keys.clamp(1, LIST_PAGE_KEYS),
            group_list_pages: opts.group_list_pages,
            large_groups: Mutex::new(HashSet::new()),
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

    /// `<store>/.cnt/<ns path>/<type>/<id>/`: the snapshots of a group, and its owner/notes.
    pub fn group_prefix(&self, s: &SnapshotRef) -> String {
        self.group_key(&s.ns, &s.group, "")
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

    /// A whole lock batch of one group: the source and the target group listed (one
    /// paged listing each, or one listing per snapshot prefix for a large group), every
    /// object of the batch copied with up to `concurrency` CopyObject requests in flight,
    /// then the target listed once more to verify every copy. Per object that is one
    /// request, so many small snapshots cost about objects × latency / concurrency. On
    /// error all copies of the batch are removed again.
    async fn copy_batch(
        &self,
        pairs: &[(SnapshotRef, SnapshotRef)],
    ) -> Result<Vec<PreparedMove>, (usize, S3Error)> {
        let src = self.batch_side(pairs.iter().map(|(s, _)| s));
        let dst = self.batch_side(pairs.iter().map(|(_, d)| d));
        let (sources, targets) = futures::try_join!(self.list_sources(&src), self.list_side(&dst))
            .map_err(|e| (0, e))?;
        let mut prepared = Vec::with_capacity(pairs.len());
        let mut work = Vec::new();
        let listed = sources.into_iter().zip(targets);
        for (i, ((s, d), (objects, existing))) in src
            .prefixes
            .iter()
            .zip(&dst.prefixes)
            .zip(listed)
            .enumerate()
        {
            let (p, w) = prepare_copy(s, d, objects, &existing).map_err(|e| (i, e))?;
            prepared.push(p);
            work.extend(w.into_iter().map(|(o, d)| (i, o, d)));
        }
        let copied = match self.copy_all(work).await {
            Ok(copied) => self.verify_copies(&dst, &copied).await,
            Err(e) => Err(e),
        };
        if let Err((failed, e)) = copied {
            let keys: Vec<String> = prepared
                .iter()
                .flat_map(|p| p.copied_keys.iter().cloned())
                .collect();
            return Err((failed, self.undo_copy(e, &keys).await));
        }
        Ok(prepared)
    }

    /// The snapshot prefixes of one side of a batch, and their group prefix when they all
    /// share one and there are several of them (for one snapshot its own prefix is the
    /// cheaper listing).
    fn batch_side<'a>(&self, snaps: impl Iterator<Item = &'a SnapshotRef>) -> BatchSide {
        let mut group: Option<String> = None;
        let mut shared = true;
        let mut prefixes = Vec::new();
        for s in snaps {
            let g = self.group_prefix(s);
            shared &= group.as_ref().is_none_or(|first| *first == g);
            group.get_or_insert(g);
            prefixes.push(self.snapshot_prefix(s));
        }
        BatchSide {
            group: group.filter(|_| shared && prefixes.len() > 1),
            prefixes,
        }
    }

    /// The objects of each source snapshot. A snapshot the group listing shows without
    /// objects is listed again under its own prefix before [`prepare_copy`] may call it
    /// drift: only a listing of its own decides that.
    async fn list_sources(&self, side: &BatchSide) -> Result<Vec<Vec<ObjectInfo>>, S3Error> {
        let mut listed = self.list_side(side).await?;
        if side.group.is_some() {
            let empty: Vec<usize> = (0..listed.len())
                .filter(|&i| listed[i].is_empty())
                .collect();
            self.relist(side, &empty, &mut listed).await?;
        }
        Ok(listed)
    }

    /// The objects of each snapshot prefix of `side`: from one capped listing of the group
    /// when it has one and is not known to be large, else one listing per prefix.
    async fn list_side(&self, side: &BatchSide) -> Result<Vec<Vec<ObjectInfo>>, S3Error> {
        if let Some(group) = &side.group
            && !self.large_groups().contains(group)
        {
            match self
                .bucket
                .list_capped(group, self.list_page_keys, self.group_list_pages)
                .await?
            {
                Some(objects) => return Ok(split_by_prefix(group, &side.prefixes, objects)),
                None => {
                    self.large_groups().insert(group.clone());
                }
            }
        }
        self.list_each(&side.prefixes).await
    }

    fn large_groups(&self) -> MutexGuard<'_, HashSet<String>> {
        // The set only ever grows by whole entries: a panic elsewhere cannot corrupt it.
        self.large_groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lists the snapshots `which` of `side` again, each under its own prefix.
    async fn relist(
        &self,
        side: &BatchSide,
        which: &[usize],
        listed: &mut [Vec<ObjectInfo>],
    ) -> Result<(), S3Error> {
        let prefixes: Vec<String> = which.iter().map(|&i| side.prefixes[i].clone()).collect();
        let again = self.list_each(&prefixes).await?;
        for (&i, objects) in which.iter().zip(again) {
            listed[i] = objects;
        }
        Ok(())
    }

    /// Objects of each snapshot prefix, listed concurrently, one listing per prefix.
    async fn list_each(&self, prefixes: &[String]) -> Result<Vec<Vec<ObjectInfo>>, S3Error> {
        stream::iter(prefixes)
            .map(|p| self.bucket.list(p))
            .buffered(self.concurrency)
            .try_collect()
            .await
    }

    /// Copies every (snapshot index, source object, target key), checking each copy's
    /// ETag as the server reports it; an error names the snapshot it belongs to. After the
    /// first error no new copy starts, but the ones in flight are waited for: a copy still
    /// running on the server while its key is being removed could outlive the removal.
    async fn copy_all(
        &self,
        work: Vec<(usize, ObjectInfo, String)>,
    ) -> Result<Vec<Copied>, (usize, S3Error)> {
        let failed = AtomicBool::new(false);
        let failed = &failed;
        let results: Vec<Option<Result<Copied, (usize, S3Error)>>> = stream::iter(work)
            .map(|(i, o, d)| async move {
                if failed.load(Ordering::Relaxed) {
                    return None;
                }
                let r = self.copy_one(i, o, d).await.map_err(|e| (i, e));
                if r.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                Some(r)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        results.into_iter().flatten().collect()
    }

    /// One CopyObject, conditional on the source ETag (from the listing; a HEAD only for
    /// servers whose listings carry none), whose answered ETag must be the source's.
    async fn copy_one(
        &self,
        snapshot: usize,
        mut src: ObjectInfo,
        dst: String,
    ) -> Result<Copied, S3Error> {
        if src.etag.is_none() {
            src.etag = self.bucket.head(&src.key).await?.etag;
        }
        let etag = self
            .bucket
            .copy(&src.key, &dst, src.etag.as_deref())
            .await?;
        if let (Some(s), Some(c)) = (src.etag.as_deref(), etag.as_deref())
            && !is_multipart(s)
            && !same_etag(s, c)
        {
            return Err(S3Error::VerifyFailed {
                key: dst,
                detail: format!("the copy was answered with ETag {c} instead of {s}"),
            });
        }
        Ok(Copied {
            snapshot,
            src,
            dst,
            etag,
        })
    }

    /// Every copy must show up in a fresh listing of the target with its source's size
    /// (and ETag, where the listing has them). Snapshots with a copy missing or different
    /// are listed once more under their own prefix before that counts as a failure; a copy
    /// whose ETag neither the copy answer nor the listing showed gets a HEAD.
    async fn verify_copies(
        &self,
        dst: &BatchSide,
        copied: &[Copied],
    ) -> Result<(), (usize, S3Error)> {
        let mut listed = self.list_side(dst).await.map_err(|e| (0, e))?;
        let suspect: BTreeSet<usize> = copied
            .iter()
            .filter(|c| check_listed(c, find(&listed[c.snapshot], &c.dst)).is_err())
            .map(|c| c.snapshot)
            .collect();
        let suspect: Vec<usize> = suspect.into_iter().collect();
        self.relist(dst, &suspect, &mut listed)
            .await
            .map_err(|e| (suspect.first().copied().unwrap_or(0), e))?;
        let mut unconfirmed = Vec::new();
        for c in copied {
            match check_listed(c, find(&listed[c.snapshot], &c.dst)) {
                Ok(true) => {}
                Ok(false) => unconfirmed.push(c),
                Err(e) => return Err((c.snapshot, e)),
            }
        }
        stream::iter(unconfirmed)
            .map(|c| async move {
                let head = self
                    .bucket
                    .head(&c.dst)
                    .await
                    .map_err(|e| (c.snapshot, e))?;
                verify_copy(c.src.size, c.src.etag.as_deref(), &head).map_err(|e| (c.snapshot, e))
            })
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

/// One side (source or target) of a lock batch.
struct BatchSide {
    /// The group prefix all `prefixes` are in, when it is worth listing whole.
    group: Option<String>,
    /// `<group prefix><time>/` per snapshot, in batch order.
    prefixes: Vec<String>,
}

/// A CopyObject the server answered as done.
struct Copied {
    /// Index of its snapshot in the batch.
    snapshot: usize,
    /// The source as copied (its ETag is the one the copy was conditional on).
    src: ObjectInfo,
    dst: String,
    /// The ETag of the CopyObjectResult.
    etag: Option<String>,
}

/// The objects of a group listing, sorted into the wanted snapshot prefixes
/// (`<group><time>/`); group-level objects (owner, notes) and other snapshots are dropped.
fn split_by_prefix(
    group: &str,
    prefixes: &[String],
    objects: Vec<ObjectInfo>,
) -> Vec<Vec<ObjectInfo>> {
    let index: HashMap<&str, usize> = prefixes
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let mut out = vec![Vec::new(); prefixes.len()];
    for o in objects {
        let Some(slash) = o.key.strip_prefix(group).and_then(|rest| rest.find('/')) else {
            continue;
        };
        if let Some(&i) = index.get(&o.key[..group.len() + slash + 1]) {
            out[i].push(o);
        }
    }
    out
}

fn find<'a>(listed: &'a [ObjectInfo], key: &str) -> Option<&'a ObjectInfo> {
    listed.iter().find(|o| o.key == key)
}

/// A copy against the target listing: present with the source's size, and the source's
/// ETag where the listing shows one. `Ok(false)`: fine so far, but no ETag of the copy was
/// seen at all (neither in the copy answer nor in the listing), so a HEAD must confirm it.
fn check_listed(c: &Copied, listed: Option<&ObjectInfo>) -> Result<bool, S3Error> {
    let Some(l) = listed else {
        return Err(S3Error::VerifyFailed {
            key: c.dst.clone(),
            detail: "not in the target listing after the copy".into(),
        });
    };
    let fail = |detail: String| S3Error::VerifyFailed {
        key: c.dst.clone(),
        detail,
    };
    if l.size != c.src.size {
        return Err(fail(format!(
            "listed with size {} instead of {}",
            l.size, c.src.size
        )));
    }
    match c.src.etag.as_deref() {
        Some(s) if !is_multipart(s) => match l.etag.as_deref() {
            Some(e) if !same_etag(s, e) => {
                Err(fail(format!("listed with ETag {e} instead of {s}")))
            }
            Some(_) => Ok(true),
            None => Ok(c.etag.is_some()),
        },
        _ => Ok(true),
    }
}

/// Multipart uploads have ETags `"<md5 of part md5s>-<parts>"`; their copies get a new one.
fn is_multipart(etag: &str) -> bool {
    etag.contains('-')
}

/// ETags compared without their quotes (servers differ in quoting them in XML answers).
fn same_etag(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
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
/// new single-part ETag by design. `copy` comes from a HEAD.
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
        (Some(s), _) if is_multipart(s) => Ok(()),
        (Some(s), Some(c)) if same_etag(s, c) => Ok(()),
        (Some(s), c) => fail(format!("ETag {} instead of {s}", c.unwrap_or("(none)"))),
        (None, _) => Ok(()),
    }
}

impl ContentBackend for S3Backend {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn is_local_only(&self) -> bool {
        false
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
        let mut done = self
            .block_on(self.copy_batch(&[(src.clone(), dst.clone())]))
            .map_err(|(_, e)| BackendError::from(e))?;
        done.pop()
            .ok_or_else(|| BackendError("S3 copy of one snapshot returned nothing".into()))
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
    fn split_by_prefix_keeps_only_wanted_snapshots() {
        let g = "s/.cnt/vm/1/";
        let wanted = vec![format!("{g}T1/"), format!("{g}T2/")];
        let objects = vec![
            info("s/.cnt/vm/1/owner", 1, None),
            info("s/.cnt/vm/1/T1/a", 2, None),
            info("s/.cnt/vm/1/T1/sub/b", 3, None),
            info("s/.cnt/vm/1/T3/a", 4, None),
            info("s/.cnt/vm/1/T2", 5, None),
            info("s/.cnt/vm/10/T1/a", 6, None),
        ];
        let split = split_by_prefix(g, &wanted, objects);
        let sizes: Vec<Vec<u64>> = split
            .iter()
            .map(|v| v.iter().map(|o| o.size).collect())
            .collect();
        assert_eq!(sizes, vec![vec![2, 3], vec![]]);
    }

    #[test]
    fn check_listed_rules() {
        let copied = |src_etag: Option<&str>, etag: Option<&str>| Copied {
            snapshot: 0,
            src: info("src", 3, src_etag),
            dst: "dst".into(),
            etag: etag.map(Into::into),
        };
        let c = copied(Some("\"a\""), Some("a"));
        assert!(check_listed(&c, None).is_err());
        assert!(check_listed(&c, Some(&info("dst", 4, None))).is_err());
        assert!(check_listed(&c, Some(&info("dst", 3, Some("\"b\"")))).is_err());
        assert!(check_listed(&c, Some(&info("dst", 3, Some("\"a\"")))).unwrap());
        assert!(check_listed(&c, Some(&info("dst", 3, None))).unwrap());
        // No ETag of the copy seen anywhere: a HEAD must confirm it.
        let c = copied(Some("\"a\""), None);
        assert!(!check_listed(&c, Some(&info("dst", 3, None))).unwrap());
        let c = copied(Some("\"a-2\""), None);
        assert!(check_listed(&c, Some(&info("dst", 3, Some("\"x\"")))).unwrap());
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
