//! Fault injection for the embedded server: a [`FaultPlan`] the tests change at run time, and
//! `FaultyFs`, s3s-fs behind that plan (failed, hung or slow copies, deletes, listings).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use s3s::dto::{
    CopyObjectInput, CopyObjectOutput, CreateBucketInput, CreateBucketOutput, DeleteObjectInput,
    DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, Error as KeyError,
    GetBucketLocationInput, GetBucketLocationOutput, GetObjectInput, GetObjectOutput,
    HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput, ListBucketsInput,
    ListBucketsOutput, ListObjectsV2Input, ListObjectsV2Output, PutObjectInput, PutObjectOutput,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

/// Faults to inject; change them at any time through [`FaultPlan::update`].
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// CopyObject fails (500 InternalError, so after the client's retries) when the source
    /// or target key contains one of these.
    pub fail_copy: Vec<String>,
    /// Every DeleteObjects request fails as a whole (500).
    pub fail_delete_objects: bool,
    /// DeleteObjects reports a per-key AccessDenied for keys containing one of these.
    pub fail_delete_keys: Vec<String>,
    /// The next N requests of any kind answer 503 SlowDown.
    pub burst_503: u32,
    /// Added before every request.
    pub latency: Duration,
    /// CopyObject touching (source or target) a key containing one of these never gets an
    /// answer (a hung server): only the client's attempt timeout gets it out.
    pub hang_copy: Vec<String>,
    /// The same for DeleteObjects requests containing such a key.
    pub hang_delete: Vec<String>,
    /// CopyObject touching a key containing one of these kills every open connection
    /// mid-request; connections accepted while a reset fault is set close with a TCP RST
    /// (SO_LINGER 0), so the client sees "connection reset by peer".
    pub reset_copy: Vec<String>,
    /// The same for DeleteObjects requests containing such a key.
    pub reset_delete: Vec<String>,
    /// CopyObject to a target key containing one of these answers success, but the copy is
    /// gone right away (a write the server acknowledged and lost).
    pub lose_copy: Vec<String>,
    /// CopyObject to a target key containing one of these answers success, but the stored
    /// copy is one byte shorter than its source (a torn write).
    pub truncate_copy: Vec<String>,
    /// CopyObject to a target key containing one of these answers with a wrong ETag.
    pub wrong_copy_etag: Vec<String>,
}

#[derive(Debug, Default)]
pub struct FaultPlan {
    faults: Mutex<Faults>,
    /// Wakes every connection task, which then drops its connection.
    pub(super) kill: tokio::sync::Notify,
    requests: AtomicU64,
    lists: AtomicU64,
    injected: AtomicU64,
}

impl FaultPlan {
    pub fn update(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.lock());
    }

    pub fn set(&self, faults: Faults) {
        *self.lock() = faults;
    }

    /// Requests seen (injected failures included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// ListObjectsV2 requests seen (pages, not listings).
    pub fn lists(&self) -> u64 {
        self.lists.load(Ordering::Relaxed)
    }

    /// Failures injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Faults> {
        // A panic while holding this lock cannot leave `Faults` half-written: use it anyway.
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops every open connection now, mid-request or idle (a dying server, a cut link).
    pub fn kill_connections(&self) {
        self.kill.notify_waiters();
    }

    pub(super) fn reset_armed(&self) -> bool {
        let f = self.lock();
        !(f.reset_copy.is_empty() && f.reset_delete.is_empty())
    }

    /// Hangs or resets a CopyObject (`delete` false) or DeleteObjects request when one of
    /// `keys` matches.
    async fn disrupt(&self, delete: bool, keys: &[&str]) {
        let f = self.snapshot();
        let (hang, reset) = if delete {
            (&f.hang_delete, &f.reset_delete)
        } else {
            (&f.hang_copy, &f.reset_copy)
        };
        let hit = |needles: &[String]| keys.iter().any(|k| matches_any(k, needles));
        if hit(hang) {
            self.injected.fetch_add(1, Ordering::Relaxed);
            std::future::pending::<()>().await;
        }
        if hit(reset) {
            self.injected.fetch_add(1, Ordering::Relaxed);
            self.kill_connections();
            // Never answer: the connection (and with it this future) is being dropped.
            std::future::pending::<()>().await;
        }
    }

    fn snapshot(&self) -> Faults {
        self.lock().clone()
    }

    fn injected_error(&self, err: s3s::S3Error) -> s3s::S3Error {
        self.injected.fetch_add(1, Ordering::Relaxed);
        err
    }

    /// Latency and 503 bursts, common to every request.
    async fn before(&self) -> S3Result<()> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let latency = self.lock().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let burst = {
            let mut f = self.lock();
            let hit = f.burst_503 > 0;
            f.burst_503 = f.burst_503.saturating_sub(1);
            hit
        };
        if burst {
            return Err(self.injected_error(s3_error!(SlowDown, "injected 503 burst")));
        }
        Ok(())
    }
}

/// s3s-fs behind the fault plan. Every operation the project uses is delegated explicitly:
/// the `S3` trait answers NotImplemented for anything left out.
pub(super) struct FaultyFs {
    pub(super) inner: s3s_fs::FileSystem,
    /// s3s-fs keeps object `key` of bucket `b` in the file `<root>/<b>/<key>`.
    pub(super) root: PathBuf,
    pub(super) plan: Arc<FaultPlan>,
}

fn matches_any(key: &str, needles: &[String]) -> bool {
    needles.iter().any(|n| key.contains(n.as_str()))
}

#[async_trait::async_trait]
impl S3 for FaultyFs {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.plan.before().await?;
        self.inner.list_buckets(req).await
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.plan.before().await?;
        self.inner.create_bucket(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.plan.before().await?;
        self.inner.head_bucket(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.plan.before().await?;
        self.inner.get_bucket_location(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.plan.lists.fetch_add(1, Ordering::Relaxed);
        self.plan.before().await?;
        self.inner.list_objects_v2(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.plan.before().await?;
        self.inner.put_object(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.plan.before().await?;
        self.inner.get_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.plan.before().await?;
        self.inner.head_object(req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.plan.before().await?;
        let source_key = match &req.input.copy_source {
            s3s::dto::CopySource::Bucket { key, .. } => key.to_string(),
            _ => String::new(),
        };
        self.plan
            .disrupt(false, &[&req.input.key, &source_key])
            .await;
        let faults = self.plan.snapshot();
        let fail = &faults.fail_copy;
        if matches_any(&req.input.key, fail) || matches_any(&source_key, fail) {
            return Err(self
                .plan
                .injected_error(s3_error!(InternalError, "injected CopyObject failure")));
        }
        let file = self.root.join(&req.input.bucket).join(&req.input.key);
        let key = req.input.key.clone();
        let mut resp = self.inner.copy_object(req).await?;
        if matches_any(&key, &faults.lose_copy) {
            self.plan.injected.fetch_add(1, Ordering::Relaxed);
            tokio::fs::remove_file(&file)
                .await
                .map_err(|e| s3_error!(InternalError, "lose_copy fault: {e}"))?;
        }
        if matches_any(&key, &faults.truncate_copy) {
            self.plan.injected.fetch_add(1, Ordering::Relaxed);
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&file)
                .map_err(|e| s3_error!(InternalError, "truncate_copy fault: {e}"))?;
            let len = f
                .metadata()
                .map_err(|e| s3_error!(InternalError, "truncate_copy fault: {e}"))?
                .len();
            f.set_len(len.saturating_sub(1))
                .map_err(|e| s3_error!(InternalError, "truncate_copy fault: {e}"))?;
        }
        if matches_any(&key, &faults.wrong_copy_etag)
            && let Some(r) = resp.output.copy_object_result.as_mut()
        {
            self.plan.injected.fetch_add(1, Ordering::Relaxed);
            r.e_tag = Some(s3s::dto::ETag::Strong(
                "0badc0de0badc0de0badc0de0badc0de".into(),
            ));
        }
        Ok(resp)
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.plan.before().await?;
        self.inner.delete_object(req).await
    }

    async fn delete_objects(
        &self,
        mut req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.plan.before().await?;
        let keys: Vec<&str> = req
            .input
            .delete
            .objects
            .iter()
            .map(|o| o.key.as_str())
            .collect();
        self.plan.disrupt(true, &keys).await;
        let faults = self.plan.snapshot();
        if faults.fail_delete_objects {
            return Err(self
                .plan
                .injected_error(s3_error!(InternalError, "injected DeleteObjects failure")));
        }
        let (failing, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut req.input.delete.objects)
            .into_iter()
            .partition(|o| matches_any(&o.key, &faults.fail_delete_keys));
        req.input.delete.objects = kept;
        let mut resp = self.inner.delete_objects(req).await?;
        if !failing.is_empty() {
            let errors = failing.into_iter().map(|o| {
                self.plan.injected.fetch_add(1, Ordering::Relaxed);
                KeyError {
                    code: Some("AccessDenied".into()),
                    key: Some(o.key),
                    message: Some("injected per-key delete failure".into()),
                    version_id: None,
                }
            });
            resp.output
                .errors
                .get_or_insert_with(Vec::new)
                .extend(errors);
        }
        Ok(resp)
    }
}
