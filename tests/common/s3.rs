//! A real S3 server (s3s + s3s-fs over HTTP on 127.0.0.1) per test, with helpers to seed and
//! inspect the bucket. Tests stay synchronous, like the move engine that calls the backend.

#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;
use std::time::Duration;

use pbs_mover::tree::backend::SnapshotRef;
use pbs_mover::tree::s3::client::build_client;
use pbs_mover::tree::s3::{
    BackendOptions, Bucket, ClientOptions, EmbeddedS3, FaultPlan, S3Backend, S3Target, Secret,
    ServerOptions, TlsIdentity,
};
use pbs_mover::tree::{GroupId, Namespace, SnapshotTime};

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
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
