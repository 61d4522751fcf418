//! An embedded S3 server (s3s + s3s-fs) on 127.0.0.1 for tests and `demo --s3`, with a
//! runtime-configurable [`FaultPlan`] (faults.rs), and [`upload_tree`] (upload.rs) to fill a
//! bucket from a datastore.

mod faults;
mod upload;

pub use faults::{FaultPlan, Faults};
pub use upload::{UploadStats, upload_tree};

use faults::FaultyFs;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::client::{Bucket, ClientOptions, build_client};
use super::config::{S3Target, Secret};
use super::error::S3Error;

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
