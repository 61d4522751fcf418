//! Deleting objects: batched DeleteObjects, a few in flight, and never a key outside this
//! datastore's `<store>/.cnt/` prefix. What could not be deleted comes back as orphans.

use super::backend::{S3Backend, lock};
use super::client::DELETE_BATCH;
use super::error::S3Error;
use super::window::windowed;
use crate::tree::backend::Orphan;

/// DeleteObjects requests in flight at most (the delete window's ceiling).
pub(super) const DELETES_IN_FLIGHT: usize = 32;

/// Fewest keys per DeleteObjects once a delete is split up for parallelism.
const MIN_DELETE_KEYS: usize = 50;

/// Keys per DeleteObjects for `n` keys: spread over up to `DELETES_IN_FLIGHT` requests.
/// Servers delete the keys of one request one after the other (SeaweedFS: 1,000 keys in
/// ~1.5 s on 2 cores), so three full requests for a lock batch's 2,560 keys kept the move
/// waiting while the server had cores to spare; a few more requests cost far less.
fn delete_chunk(n: usize) -> usize {
    n.div_ceil(DELETES_IN_FLIGHT)
        .clamp(MIN_DELETE_KEYS, DELETE_BATCH)
}

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
        let batches: Vec<&[String]> = ours.chunks(delete_chunk(ours.len())).collect();
        let mut failed = Vec::new();
        let mut window = lock(&self.delete_window).clone();
        windowed(
            &mut window,
            &self.throttles,
            batches,
            |batch| self.bucket.delete_batch(batch),
            |f| {
                failed.extend(f);
                true
            },
        )
        .await;
        *lock(&self.delete_window) = window;
        orphans.extend(failed.into_iter().map(|f| Orphan {
            key: f.key,
            error: f.error,
        }));
        orphans
    }
}
