//! A datastore whose authoritative copy is in a real S3 bucket (the embedded server of
//! `s3.rs`) with its local cache in a temp dir, driven through the real binary.
//!
//! Include it next to `s3.rs` and `support` as
//! `#[path = "common/s3_store.rs"] mod s3_store;` (it refers to `crate::s3_common` and
//! `crate::support`).

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use pbs_mover::tree::s3::client::build_client;
use pbs_mover::tree::s3::{Bucket, EmbeddedS3, Secret, ServerOptions, upload_tree};
use sha2::{Digest, Sha256};

use crate::s3_common::{ACCESS_KEY, BUCKET, S3Env, SECRET_KEY, STORE, fast_client};
use crate::support::Store;

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
