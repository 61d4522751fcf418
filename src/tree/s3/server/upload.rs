//! Filling a bucket from a datastore's content tree, laid out as PBS lays out an S3 datastore.

use std::path::Path;

use futures::{StreamExt, TryStreamExt, stream};

use crate::tree::s3::client::Bucket;
use crate::tree::s3::error::S3Error;
use crate::tree::s3::walk::{NAMESPACE_MARKER, is_namespace_dir, local_objects};

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
