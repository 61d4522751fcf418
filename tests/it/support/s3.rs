//! A real S3 server (s3s + s3s-fs over HTTP on 127.0.0.1) per test, with helpers to seed and
//! inspect the bucket. Tests stay synchronous, like the move engine that calls the backend.
//!
//! [`S3Store`]: a datastore whose authoritative copy is in such a bucket, with its local
//! cache in a temp dir, driven through the real binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use pbs_mover::tree::backend::SnapshotRef;
use pbs_mover::tree::s3::client::build_client;
use pbs_mover::tree::s3::{
    BackendOptions, Bucket, ClientOptions, EmbeddedS3, FaultPlan, S3Backend, S3Target, Secret,
    ServerOptions, TlsIdentity, upload_tree,
};
use pbs_mover::tree::{GroupId, Namespace, SnapshotTime};
use sha2::{Digest, Sha256};

use super::Store;
use super::api::{MoveContext, MoveGroupRequest, MoveReport, Progress, move_group};

pub const BUCKET: &str = "pbs-test";
pub const STORE: &str = "store1";
pub const ACCESS_KEY: &str = "test-access";
pub const SECRET_KEY: &str = "s3cr3t-DO-NOT-PRINT";

pub struct S3Env {
    pub server: EmbeddedS3,
    pub target: S3Target,
    pub bucket: Bucket,
    pub rt: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
}

/// Short backoff so retried faults cost milliseconds, not seconds.
pub fn fast_client() -> ClientOptions {
    ClientOptions {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        connect_timeout: Duration::from_secs(2),
        attempt_timeout: Duration::from_secs(20),
    }
}

pub fn fast_options() -> BackendOptions {
    BackendOptions {
        concurrency: 32,
        client: fast_client(),
        ..BackendOptions::default()
    }
}

impl S3Env {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// With `tls`, the server speaks HTTPS and the helper client pins its certificate.
    pub fn start_with(tls: Option<TlsIdentity>) -> Self {
        let fingerprint = tls.as_ref().map(|t| sha256_hex(&t.cert_der));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let server = rt
            .block_on(EmbeddedS3::start(ServerOptions {
                root: dir.path().join("s3"),
                buckets: vec![BUCKET.into()],
                access_key: ACCESS_KEY.into(),
                secret_key: Secret::new(SECRET_KEY),
                tls,
            }))
            .unwrap();
        let target = S3Target {
            url: server.url().to_string(),
            bucket: BUCKET.into(),
            region: "us-east-1".into(),
            path_style: true,
            access_key: ACCESS_KEY.into(),
            secret_key: Secret::new(SECRET_KEY),
            fingerprint,
        };
        let bucket = Bucket::new(build_client(&target, &fast_client()).unwrap(), &target);
        Self {
            server,
            target,
            bucket,
            rt,
            dir,
        }
    }

    pub fn backend(&self) -> S3Backend {
        S3Backend::connect(&self.target, STORE, &fast_options()).unwrap()
    }

    pub fn faults(&self) -> Arc<FaultPlan> {
        self.server.faults()
    }

    pub fn put(&self, key: &str, data: &[u8]) {
        self.rt
            .block_on(self.bucket.put(key, data.to_vec(), false))
            .unwrap();
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        self.rt.block_on(self.bucket.get(key)).unwrap()
    }

    /// Keys under `prefix`, sorted.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut k: Vec<String> = self
            .rt
            .block_on(self.bucket.list(prefix))
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        k.sort();
        k
    }
}

pub fn snap(ns: &str, group: &str, time: &str) -> SnapshotRef {
    SnapshotRef {
        ns: Namespace::parse(ns).unwrap(),
        group: GroupId::parse(group).unwrap(),
        time: SnapshotTime::parse(time).unwrap(),
    }
}

/// Deterministic, incompressible-looking bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

/// A fresh self-signed certificate for 127.0.0.1.
pub fn self_signed() -> TlsIdentity {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    TlsIdentity {
        cert_der: ck.cert.der().to_vec(),
        key_der: ck.signing_key.serialize_der(),
    }
}

/// `aa:bb:…`, as PBS shows certificate fingerprints.
pub fn sha256_hex(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub struct S3Store {
    pub env: S3Env,
    pub store: Store,
}

impl S3Store {
    /// Starts a server and uploads `store` (cache and bucket then hold the same data).
    pub fn upload(store: Store) -> Self {
        let env = S3Env::start();
        env.rt
            .block_on(upload_tree(&env.bucket, STORE, &store.base, 16))
            .unwrap();
        Self { env, store }
    }

    /// A demo datastore with `groups` groups.
    pub fn demo(groups: usize) -> Self {
        Self::upload(Store::demo(groups))
    }

    /// The operation journals (`resume`, `history`, `undo`) of this store.
    pub fn state_dir(&self) -> PathBuf {
        self.store.tmp.path().join("state")
    }

    /// The binary on this store with `secret` as the S3 secret key, fast retries, this
    /// store's state dir and no fail-point; stdin closed, stdout and stderr piped.
    pub fn cmd_with_secret(&self, secret: &str) -> Command {
        let mut c = self.store.cmd();
        c.args([
            "--s3-endpoint",
            self.env.target.url.as_str(),
            "--s3-bucket",
            BUCKET,
            "--s3-path-style",
        ])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("PBS_MOVER_S3_ATTEMPTS", "3")
        .env("PBS_MOVER_S3_BACKOFF_MS", "10")
        .env("PBS_MOVER_STATE_DIR", self.state_dir())
        .env_remove("PBS_MOVER_FAILPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        c
    }

    /// `pbs-mover <args>` with the right credentials.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.cmd_with_secret(SECRET_KEY);
        c.args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Every object of the store: key (without `<store>/.cnt/`) → sha256 of its bytes,
    /// fetched over HTTP 32 at a time (one GET waits ~40 ms for the server's delayed ACK).
    pub fn objects(&self) -> BTreeMap<String, String> {
        use futures::StreamExt;
        let prefix = format!("{STORE}/.cnt/");
        let keys = self.env.keys(&prefix);
        let bucket = &self.env.bucket;
        let fetched: Vec<(String, Vec<u8>)> = self.env.rt.block_on(
            futures::stream::iter(keys)
                .map(|k| async move {
                    let data = bucket.get(&k).await.unwrap();
                    (k, data)
                })
                .buffer_unordered(32)
                .collect(),
        );
        fetched
            .into_iter()
            .map(|(k, data)| {
                (
                    k[prefix.len()..].to_string(),
                    format!("{:x}", Sha256::digest(&data)),
                )
            })
            .collect()
    }

    /// Uploads the cache again, after the test added to it.
    pub fn upload_again(&self) {
        self.env
            .rt
            .block_on(upload_tree(&self.env.bucket, STORE, &self.store.base, 16))
            .unwrap();
    }

    /// `move_group` of `group` from the root to `target` (merging) in this process, with a
    /// backend built from `opts`, its crash journal in `journal`.
    pub fn move_group_in_process(
        &self,
        opts: &BackendOptions,
        journal: &Path,
        group: &str,
        target: &str,
    ) -> MoveReport {
        let backend = S3Backend::connect(&self.env.target, STORE, opts).unwrap();
        let ctx =
            MoveContext::with_backend(self.store.locate(), &self.store.locks, Arc::new(backend))
                .with_journal_dir(journal);
        let req = MoveGroupRequest {
            ns: Namespace::root(),
            group: GroupId::parse(group).unwrap(),
            target_ns: Namespace::parse(target).unwrap(),
            merge: true,
        };
        move_group(&ctx, &req, &Progress::silent()).unwrap()
    }

    /// Starts a new server on the same data (new port), after the old one died.
    pub fn restart(&mut self) {
        let server = self
            .env
            .rt
            .block_on(EmbeddedS3::start(ServerOptions {
                root: self.env.dir.path().join("s3"),
                buckets: vec![BUCKET.into()],
                access_key: ACCESS_KEY.into(),
                secret_key: Secret::new(SECRET_KEY),
                tls: None,
            }))
            .unwrap();
        self.env.target.url = server.url().to_string();
        self.env.bucket = Bucket::new(
            build_client(&self.env.target, &fast_client()).unwrap(),
            &self.env.target,
        );
        self.env.server = server;
    }
}

/// Snapshot objects keyed by `<type>/<id>/<time>/<file>` (namespace-independent); a
/// snapshot object present twice (in two namespaces) fails the test.
pub fn snapshot_objects(objects: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in objects {
        let parts: Vec<&str> = k.split('/').collect();
        let n = parts.len();
        if n >= 4 && matches!(parts[n - 4], "vm" | "ct" | "host") {
            assert!(
                out.insert(parts[n - 4..].join("/"), v.clone()).is_none(),
                "{k} twice"
            );
        }
    }
    out
}
