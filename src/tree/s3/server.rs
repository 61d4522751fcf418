//! An embedded S3 server (s3s + s3s-fs) on 127.0.0.1 for tests and `demo --s3`, with a
//! runtime-configurable [`FaultPlan`], and [`upload_tree`] to fill a bucket from a datastore.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::dto::{
    CopyObjectInput, CopyObjectOutput, CreateBucketInput, CreateBucketOutput, DeleteObjectInput,
    DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, Error as KeyError,
    GetBucketLocationInput, GetBucketLocationOutput, GetObjectInput, GetObjectOutput,
    HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput, ListBucketsInput,
    ListBucketsOutput, ListObjectsV2Input, ListObjectsV2Output, PutObjectInput, PutObjectOutput,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::client::{Bucket, ClientOptions, build_client};
use super::config::{S3Target, Secret};
use super::error::S3Error;
use super::walk::{NAMESPACE_MARKER, is_namespace_dir, local_objects};

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
    kill: tokio::sync::Notify,
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

    fn reset_armed(&self) -> bool {
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
struct FaultyFs {
    inner: s3s_fs::FileSystem,
    /// s3s-fs keeps object `key` of bucket `b` in the file `<root>/<b>/<key>`.
    root: PathBuf,
    plan: Arc<FaultPlan>,
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

#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Data dir: one sub-dir per bucket.
    pub root: PathBuf,
    /// Created as empty dirs if missing.
    pub buckets: Vec<String>,
    pub access_key: String,
    pub secret_key: Secret,
    /// Serve HTTPS with this certificate instead of plain HTTP.
    pub tls: Option<TlsIdentity>,
}

/// A certificate (DER) and its PKCS#8 private key (DER).
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsIdentity { <redacted> }")
    }
}

fn tls_acceptor(id: &TlsIdentity) -> io::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(id.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_der.clone())),
        )
        .map_err(io::Error::other)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A running embedded server; stops when dropped.
#[derive(Debug)]
pub struct EmbeddedS3 {
    url: String,
    addr: SocketAddr,
    plan: Arc<FaultPlan>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl EmbeddedS3 {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start(opts: ServerOptions) -> io::Result<Self> {
        for b in &opts.buckets {
            std::fs::create_dir_all(opts.root.join(b))?;
        }
        let fs = s3s_fs::FileSystem::new(&opts.root)
            .map_err(|e| io::Error::other(format!("s3s-fs on {}: {e:?}", opts.root.display())))?;
        let plan = Arc::new(FaultPlan::default());
        let mut builder = s3s::service::S3ServiceBuilder::new(FaultyFs {
            inner: fs,
            root: opts.root.clone(),
            plan: plan.clone(),
        });
        builder.set_auth(s3s::auth::SimpleAuth::from_single(
            opts.access_key.clone(),
            opts.secret_key.expose().to_string(),
        ));
        let service = builder.build();
        let acceptor = opts.tls.as_ref().map(tls_acceptor).transpose()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let (stop, mut stopped) = oneshot::channel();
        let conn_plan = plan.clone();
        let task = tokio::spawn(async move {
            loop {
                let sock = tokio::select! {
                    _ = &mut stopped => return,
                    r = listener.accept() => match r {
                        Ok((sock, _)) => sock,
                        Err(_) => continue,
                    },
                };
                let (service, acceptor, plan) =
                    (service.clone(), acceptor.clone(), conn_plan.clone());
                if plan.reset_armed() {
                    // Zero linger: dropping the socket sends RST, not FIN.
                    let _ = sock.set_zero_linger();
                }
                // Per connection, so a slow TLS handshake never blocks the accept loop.
                tokio::spawn(async move {
                    let http = ConnBuilder::new(TokioExecutor::new());
                    let serve = async {
                        let _ = match acceptor {
                            None => http.serve_connection(TokioIo::new(sock), service).await,
                            Some(a) => match a.accept(sock).await {
                                Ok(tls) => http.serve_connection(TokioIo::new(tls), service).await,
                                Err(_) => Ok(()),
                            },
                        };
                    };
                    tokio::select! {
                        () = plan.kill.notified() => {}
                        () = serve => {}
                    }
                });
            }
        });
        Ok(Self {
            url: format!("{scheme}://{addr}"),
            addr,
            plan,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http(s)://127.0.0.1:PORT`, for `--s3-endpoint` (path-style).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn faults(&self) -> Arc<FaultPlan> {
        self.plan.clone()
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadStats {
    pub objects: u64,
    pub bytes: u64,
}

/// Uploads a datastore's content tree (`ns`, `vm`, `ct`, `host`) as `<store>/.cnt/<rel>`, plus
/// an empty `.namespace` marker for every namespace dir, as PBS lays out an S3 datastore.
pub async fn upload_tree(
    bucket: &Bucket,
    store: &str,
    base: &Path,
    concurrency: usize,
) -> Result<UploadStats, S3Error> {
    let objects = local_objects(base)
        .map_err(|e| S3Error::Local(format!("cannot read {}: {e}", base.display())))?;
    let stats = UploadStats {
        objects: objects.len() as u64,
        bytes: objects.values().sum(),
    };
    stream::iter(objects.into_keys())
        .map(|rel| async move {
            let data = if is_marker(&rel) {
                Vec::new()
            } else {
                tokio::fs::read(base.join(&rel))
                    .await
                    .map_err(|e| S3Error::Local(format!("cannot read {rel}: {e}")))?
            };
            bucket
                .put(&format!("{store}/.cnt/{rel}"), data, false)
                .await
        })
        .buffer_unordered(concurrency.max(1))
        .try_for_each(|()| async { Ok(()) })
        .await?;
    Ok(stats)
}

fn is_marker(rel: &str) -> bool {
    rel.strip_suffix(NAMESPACE_MARKER)
        .and_then(|p| p.strip_suffix('/'))
        .is_some_and(is_namespace_dir)
}

/// Bucket name `demo --s3` serves.
pub const DEMO_BUCKET: &str = "pbs-demo";

/// `demo --s3`: serves the datastore at `base` (named `store`) from an embedded server whose
/// data lives under `root`, and returns the server (keep it alive) and how to reach it.
/// The demo credentials are fresh random values, so a demo server is no open door.
pub async fn serve_demo(
    base: &Path,
    store: &str,
    root: &Path,
) -> Result<(EmbeddedS3, S3Target), S3Error> {
    let (access_key, secret) = demo_credentials();
    let server = EmbeddedS3::start(ServerOptions {
        root: root.to_path_buf(),
        buckets: vec![DEMO_BUCKET.into()],
        access_key: access_key.clone(),
        secret_key: secret.clone(),
        tls: None,
    })
    .await
    .map_err(|e| S3Error::Local(format!("cannot start the demo S3 server: {e}")))?;
    let target = S3Target {
        url: server.url().to_string(),
        bucket: DEMO_BUCKET.into(),
        region: "us-east-1".into(),
        path_style: true,
        access_key,
        secret_key: secret,
        fingerprint: None,
    };
    let bucket = Bucket::new(build_client(&target, &ClientOptions::default())?, &target);
    upload_tree(&bucket, store, base, 32).await?;
    Ok((server, target))
}

fn demo_credentials() -> (String, Secret) {
    use std::hash::{BuildHasher, RandomState};
    // RandomState is seeded from the OS: enough for a throwaway local demo secret.
    let r = |n: u64| RandomState::new().hash_one(n);
    (
        format!("demo-{:016x}", r(1)),
        Secret::new(format!("{:016x}{:016x}", r(2), r(3))),
    )
}
