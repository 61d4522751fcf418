//! From global options to a `MoveContext`: the datastore plus its bucket when it has one.

use std::sync::Arc;

use super::args::GlobalArgs;
use super::exit::Failure;
use super::{locator, open_datastore};
use crate::ops::context::MoveContext;
use crate::ops::pbs_version::PbsVersion;
use crate::tree::Datastore;
use crate::tree::s3::{AdHocS3, BackendOptions, S3Backend, open_backend};

/// `--pbs-version` when given (a usage error when it is no version), else what the dpkg
/// database says.
pub fn pbs_version(global: &GlobalArgs) -> Result<PbsVersion, Failure> {
    match &global.pbs_version {
        Some(v) => PbsVersion::parse_override(v).map_err(Failure::usage),
        None => Ok(PbsVersion::detect_installed()),
    }
}

/// The ad-hoc S3 flags, when given; `--s3-endpoint` needs `--s3-bucket`.
pub fn adhoc_s3(global: &GlobalArgs) -> Result<Option<AdHocS3>, Failure> {
    match (&global.s3_endpoint, &global.s3_bucket) {
        (None, None) => Ok(None),
        (Some(endpoint), Some(bucket)) => Ok(Some(AdHocS3 {
            endpoint: endpoint.clone(),
            bucket: bucket.clone(),
            region: global.s3_region.clone(),
            path_style: global.s3_path_style,
        })),
        (Some(_), None) => Err(Failure::usage("--s3-endpoint needs --s3-bucket B")),
        (None, Some(_)) => Err(Failure::usage("--s3-bucket needs --s3-endpoint URL")),
    }
}

/// S3 client settings; `PBS_MOVER_S3_ATTEMPTS` and `PBS_MOVER_S3_BACKOFF_MS` tune retries
/// (e.g. fewer, faster retries against a local test server), `PBS_MOVER_S3_CONCURRENCY` the
/// number of copies in flight.
pub fn backend_options() -> BackendOptions {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let mut opts = BackendOptions::default();
    if let Some(n) = env("PBS_MOVER_S3_ATTEMPTS").filter(|n| (1..=20).contains(n)) {
        opts.client.max_attempts = n as u32;
    }
    if let Some(ms) = env("PBS_MOVER_S3_BACKOFF_MS") {
        opts.client.initial_backoff = std::time::Duration::from_millis(ms);
        opts.client.max_backoff = opts.client.max_backoff.max(opts.client.initial_backoff);
    }
    if let Some(n) = env("PBS_MOVER_S3_CONCURRENCY").filter(|n| (1..=256).contains(n)) {
        opts.concurrency = n as usize;
    }
    opts
}

/// Connects to the datastore's bucket (one request checks endpoint, TLS, credentials and
/// bucket); `None` for a filesystem datastore. Must not run inside an async task.
pub fn s3_backend(global: &GlobalArgs, ds: &Datastore) -> Result<Option<S3Backend>, Failure> {
    let adhoc = adhoc_s3(global)?;
    open_backend(
        ds,
        &locator(global).s3_cfg(),
        adhoc.as_ref(),
        &backend_options(),
    )
    .map_err(Failure::refused)
}

/// The datastore and, for S3 datastores, a connected bucket backend.
pub fn open_context(global: &GlobalArgs) -> Result<MoveContext, Failure> {
    let ds = open_datastore(global)?;
    let ctx = match s3_backend(global, &ds)? {
        Some(backend) => MoveContext::with_backend(ds, &global.lock_dir, Arc::new(backend)),
        None => MoveContext::filesystem(ds, &global.lock_dir),
    };
    Ok(ctx
        .with_pbs(pbs_version(global)?)
        .with_journal_dir(&global.state_dir))
}
