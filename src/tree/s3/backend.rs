//! [`S3Backend`]: the bucket side of a move, in PBS's key layout ([`StoreKeys`]). It owns the
//! client, the options and a small runtime, and implements [`ContentBackend`] from the
//! pieces next to it: listing and copying a lock batch (`listing`, `copy`), deleting
//! (`delete`), and the cache-vs-bucket comparison (`drift`).
//!
//! The move engine calls it from a blocking thread; each call runs its requests on the
//! runtime the backend owns, so callers never need to be async.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Mutex;

use tokio::runtime::Runtime;

use super::client::{Bucket, ClientOptions, build_client_counting};
use super::config::S3Target;
use super::delete::DELETES_IN_FLIGHT;
use super::error::S3Error;
use super::keys::StoreKeys;
use super::window::{Throttles, Window};
use crate::tree::backend::{
    BackendError, BatchCopyError, ContentBackend, CopyObserver, ObjectStats, Orphan, PreparedMove,
    SnapshotRef,
};
use crate::tree::names::{GroupId, Namespace};

/// Most copies in flight unless configured otherwise: the ceiling of the copy window
/// ([`Window`]), which starts at [`INITIAL_WINDOW`] and grows only while the server answers
/// more copies per second with more in flight (s5cmd uses 256 workers throughout).
pub const DEFAULT_CONCURRENCY: usize = 256;

/// Where the copy window starts: the best fixed value measured before it adapted (128 beat
/// 64 in each of four back-to-back pairs on SeaweedFS); from there it doubles, then probes
/// a quarter more, while that raises the copies answered per second.
pub const INITIAL_WINDOW: usize = 128;

/// Keys per page of a group listing: S3's maximum.
pub const LIST_PAGE_KEYS: i32 = 1000;

/// Pages a lock batch may spend listing its whole group (8,000 keys at 1,000 a page, about
/// 1,600 VM snapshots) before it lists each of its snapshots instead.
pub const GROUP_LIST_PAGES: usize = 8;

#[derive(Debug, Clone)]
pub struct BackendOptions {
    /// Most CopyObject requests (and per-snapshot listings) in flight at once.
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

/// Fields are `pub(super)` for the files next to this one that implement its parts.
pub struct S3Backend {
    pub(super) bucket: Bucket,
    pub(super) keys: StoreKeys,
    pub(super) concurrency: usize,
    pub(super) list_page_keys: i32,
    pub(super) group_list_pages: usize,
    /// Group prefixes found too large to list whole (more than `group_list_pages` pages).
    pub(super) large_groups: Mutex<HashSet<String>>,
    /// Throttling answers seen by the client.
    pub(super) throttles: Throttles,
    /// What the last copy and the last delete learnt about the server, for the next one.
    pub(super) copy_window: Mutex<Window>,
    pub(super) delete_window: Mutex<Window>,
    /// `Option` only so `Drop` can take it: dropping a runtime inside async code panics.
    rt: Option<Runtime>,
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Backend")
            .field("endpoint", &self.bucket.endpoint)
            .field("bucket", &self.bucket.name)
            .field("store", &self.keys.store())
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
        let throttles = Throttles::default();
        let client = build_client_counting(target, &opts.client, &throttles)?;
        let concurrency = opts.concurrency.max(1);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pbs-mover-s3")
            .enable_all()
            .build()
            .map_err(|e| S3Error::Local(format!("cannot start the S3 runtime: {e}")))?;
        Ok(Self {
            bucket: Bucket::new(client, target),
            keys: StoreKeys::new(store),
            concurrency,
            list_page_keys: opts.list_page_keys.clamp(1, LIST_PAGE_KEYS),
            group_list_pages: opts.group_list_pages,
            large_groups: Mutex::new(HashSet::new()),
            copy_window: Mutex::new(Window::new(INITIAL_WINDOW, concurrency, 0)),
            // A batch has only about that many DeleteObjects: too few to learn from, so they
            // all start at once; throttling still halves the window.
            delete_window: Mutex::new(Window::new(DELETES_IN_FLIGHT, DELETES_IN_FLIGHT, 0)),
            throttles,
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
        self.keys.store()
    }

    /// The copy window as the last copy left it (its limit, peak and back-offs).
    pub fn copy_window(&self) -> Window {
        lock(&self.copy_window).clone()
    }

    /// Where this datastore's objects are in the bucket.
    pub fn keys(&self) -> &StoreKeys {
        &self.keys
    }

    /// Runs `f` on the backend's runtime. Must not be called from inside async code.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        match &self.rt {
            Some(rt) => rt.block_on(f),
            // Invariant: `rt` is only taken in `drop`, after which `self` is unreachable.
            None => unreachable!("S3Backend runtime used after drop"),
        }
    }
}

/// A window's lock: it only ever holds a whole `Window`, so a panic elsewhere cannot
/// leave it half-updated.
pub(super) fn lock(w: &Mutex<Window>) -> std::sync::MutexGuard<'_, Window> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

impl ContentBackend for S3Backend {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn is_local_only(&self) -> bool {
        false
    }

    fn plan_snapshot(&self, src: &SnapshotRef) -> Result<ObjectStats, BackendError> {
        let objects = self.block_on(self.bucket.list(&self.keys.snapshot_prefix(src)))?;
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
            .block_on(self.copy_batch(&[(src.clone(), dst.clone())], &|_| {}))
            .map_err(|(_, e)| BackendError::from(e))?;
        done.pop()
            .ok_or_else(|| BackendError("S3 copy of one snapshot returned nothing".into()))
    }

    fn copy_snapshots(
        &self,
        pairs: &[(SnapshotRef, SnapshotRef)],
    ) -> Result<Vec<PreparedMove>, BatchCopyError> {
        self.copy_snapshots_observed(pairs, &|_| {})
    }

    fn copy_snapshots_observed(
        &self,
        pairs: &[(SnapshotRef, SnapshotRef)],
        observe: &CopyObserver<'_>,
    ) -> Result<Vec<PreparedMove>, BatchCopyError> {
        self.block_on(self.copy_batch(pairs, observe))
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
        let key = self.keys.group_key(ns, group, "owner");
        let data = format!("{}\n", owner.trim_end_matches('\n')).into_bytes();
        Ok(self.block_on(self.bucket.put(&key, data, false))?)
    }

    fn put_notes(&self, ns: &Namespace, group: &GroupId, notes: &[u8]) -> Result<(), BackendError> {
        let key = self.keys.group_key(ns, group, "notes");
        Ok(self.block_on(self.bucket.put(&key, notes.to_vec(), false))?)
    }

    /// Only the group-level objects: snapshot objects left behind are orphans to report,
    /// not something to delete blindly.
    fn remove_group(&self, ns: &Namespace, group: &GroupId) -> Vec<Orphan> {
        let keys = [
            self.keys.group_key(ns, group, "owner"),
            self.keys.group_key(ns, group, "notes"),
        ];
        self.block_on(self.delete_keys(&keys))
    }

    fn remove_notes(&self, ns: &Namespace, group: &GroupId) -> Vec<Orphan> {
        let keys = [self.keys.group_key(ns, group, "notes")];
        self.block_on(self.delete_keys(&keys))
    }

    fn create_namespace(&self, ns: &Namespace) -> Result<(), BackendError> {
        if ns.is_root() {
            return Ok(());
        }
        let key = self.keys.namespace_key(ns);
        Ok(self.block_on(self.bucket.put(&key, Vec::new(), true))?)
    }

    fn remove_namespace(&self, ns: &Namespace) -> Result<(), BackendError> {
        if ns.is_root() {
            return Ok(());
        }
        let key = self.keys.namespace_key(ns);
        Ok(self.block_on(self.bucket.delete(&key))?)
    }
}
