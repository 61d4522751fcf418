//! From global options to a `MoveContext`: the datastore plus its bucket when it has one.

use std::sync::Arc;

use super::args::GlobalArgs;
use super::exit::Failure;
use super::{locator, open_datastore};
use crate::ops::context::MoveContext;
use crate::tree::Datastore;
use crate::tree::s3::{AdHocS3, BackendOptions, S3Backend, open_backend};

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

/// Connects to the datastore's bucket (one request checks endpoint, TLS, credentials and
/// bucket); `None` for a filesystem datastore. Must not run inside an async task.
pub fn s3_backend(global: &GlobalArgs, ds: &Datastore) -> Result<Option<S3Backend>, Failure> {
    let adhoc = adhoc_s3(global)?;
    open_backend(ds, &locator(global).s3_cfg(), adhoc.as_ref(), &BackendOptions::default())
        .map_err(Failure::refused)
}

/// The datastore and, for S3 datastores, a connected bucket backend.
pub fn open_context(global: &GlobalArgs) -> Result<MoveContext, Failure> {
    let ds = open_datastore(global)?;
    Ok(match s3_backend(global, &ds)? {
        Some(backend) => MoveContext::with_backend(ds, &global.lock_dir, Arc::new(backend)),
        None => MoveContext::filesystem(ds, &global.lock_dir),
    })
}
