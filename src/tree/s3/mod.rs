//! S3-backed datastores (PBS 4): the bucket holds `<store>/.cnt/<rel path>/<file>` for every
//! file of the local cache tree, plus `.namespace` markers. Browsing uses the local cache; the
//! move engine changes the bucket through [`S3Backend`] (a [`ContentBackend`]).
//!
//! [`ContentBackend`]: crate::tree::backend::ContentBackend

pub mod backend;
pub mod client;
pub mod config;
mod copy;
mod delete;
pub mod drift;
pub mod error;
pub mod keys;
mod listing;
#[cfg(feature = "s3-server")]
pub mod server;
mod tls;
pub mod walk;
pub mod window;

use std::path::Path;

pub use backend::{BackendOptions, DEFAULT_CONCURRENCY, S3Backend};
pub use client::{Bucket, ClientOptions};
pub use config::{AdHocS3, S3Target, Secret};
pub use drift::{DriftReport, SizeMismatch};
pub use error::S3Error;
pub use keys::StoreKeys;
#[cfg(feature = "s3-server")]
pub use server::{
    DEMO_BUCKET, EmbeddedS3, FaultPlan, Faults, ServerOptions, TlsIdentity, serve_demo, upload_tree,
};
pub use tls::parse_fingerprint;

use crate::tree::datastore::{BackendConfig, Datastore};

/// Where the datastore's bucket is: ad-hoc flags win over `datastore.cfg` + `s3.cfg`.
/// `Ok(None)` means a plain filesystem datastore.
pub fn resolve_target(
    ds: &Datastore,
    s3_cfg: &Path,
    adhoc: Option<&AdHocS3>,
) -> Result<Option<S3Target>, S3Error> {
    if let Some(a) = adhoc {
        return a.resolve(|k| std::env::var(k).ok()).map(Some);
    }
    match &ds.backend {
        BackendConfig::Filesystem => Ok(None),
        BackendConfig::S3 { client, bucket } => {
            config::from_s3_cfg(s3_cfg, client, bucket).map(Some)
        }
    }
}

/// Resolves and connects (one ListObjectsV2 to check endpoint, TLS, credentials, bucket), so
/// a bad setup fails before anything changes. `Ok(None)` for a filesystem datastore.
pub fn open_backend(
    ds: &Datastore,
    s3_cfg: &Path,
    adhoc: Option<&AdHocS3>,
    opts: &BackendOptions,
) -> Result<Option<S3Backend>, S3Error> {
    match resolve_target(ds, s3_cfg, adhoc)? {
        None => Ok(None),
        Some(t) => S3Backend::connect(&t, &ds.name, opts).map(Some),
    }
}
