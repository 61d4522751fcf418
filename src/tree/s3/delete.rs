//! Deleting objects: batched DeleteObjects, a few in flight, and never a key outside this
//! datastore's `<store>/.cnt/` prefix. What could not be deleted comes back as orphans.

use futures::{StreamExt, stream};

use super::backend::S3Backend;
use super::client::DELETE_BATCH;
use super::error::S3Error;
use crate::tree::backend::Orphan;

/// DeleteObjects requests (up to 1,000 keys each) in flight at once.
const DELETES_IN_FLIGHT: usize = 4;

impl S3Backend {
    /// Batched deletes of keys under this store's prefix; anything else is refused.
    pub(super) async fn delete_keys(&self, keys: &[String]) -> Vec<Orphan> {
        let prefix = self.keys.content_prefix();
        let (ours, foreign): (Vec<&String>, Vec<&String>) =
            keys.iter().partition(|k| k.starts_with(&prefix));
        let mut orphans: Vec<Orphan> = foreign
            .into_iter()
            .map(|k| Orphan {
                key: k.clone(),
                error: S3Error::ForeignKey {
                    key: k.clone(),
                    prefix: prefix.clone(),
                }
                .to_string(),
            })
            .collect();
        let ours: Vec<String> = ours.into_iter().cloned().collect();
        let failed: Vec<Vec<_>> = stream::iter(ours.chunks(DELETE_BATCH))
            .map(|batch| self.bucket.delete_batch(batch))
            .buffer_unordered(DELETES_IN_FLIGHT)
            .collect()
            .await;
        orphans.extend(failed.into_iter().flatten().map(|f| Orphan {
            key: f.key,
            error: f.error,
        }));
        orphans
    }
}
