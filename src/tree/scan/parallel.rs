//! Reading the groups of a large namespace (or many groups' manifests) on several
//! threads, with the same result, in the same order, as reading them one after the other.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::error::ScanError;
use crate::tree::datastore::Datastore;
use crate::tree::model::{GroupInfo, Listing};
use crate::tree::names::{GroupId, Namespace};

impl Datastore {
    /// `group_info` of every group, in the order given. Large namespaces are read by up to
    /// `available_parallelism` threads (see `PARALLEL_MIN_GROUPS`); the result is the same.
    pub fn group_infos(
        &self,
        ns: &Namespace,
        groups: &[GroupId],
        sizes: bool,
    ) -> Vec<Result<Listing<GroupInfo>, ScanError>> {
        map_ordered(groups, |g| self.group_info(ns, g, sizes))
    }
}

/// `f` of every item, in the order given: on the calling thread for few items, else on up
/// to `available_parallelism` threads (`PBS_MOVER_SCAN_THREADS` caps them). For reads that
/// are independent of each other (group listings, manifests, a move's snapshot dirs).
pub(crate) fn map_ordered<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = scan_threads(items.len());
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    // Work-stealing by index: each worker takes the next unclaimed item, so one slow
    // (cold, huge) group does not hold up a whole pre-cut chunk.
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        done.push((i, f(item)));
                    }
                    done
                })
            })
            .collect();
        for worker in workers {
            match worker.join() {
                Ok(done) => {
                    for (i, r) in done {
                        slots[i] = Some(r);
                    }
                }
                // The readers do not panic; if one ever does, re-raise it here as the
                // sequential loop would have.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    items
        .iter()
        .zip(slots)
        // Every index below items.len() was claimed by exactly one worker, and every
        // worker was joined above: a slot is never empty. Fall back to the sequential
        // call rather than panic should that ever change.
        .map(|(item, slot)| slot.unwrap_or_else(|| f(item)))
        .collect()
}

/// Below this many items (groups, snapshot dirs) they are read on the calling thread:
/// spawning costs more than it saves.
const PARALLEL_MIN_GROUPS: usize = 64;

/// How many threads read the groups of one namespace.
fn scan_threads(groups: usize) -> usize {
    if groups < PARALLEL_MIN_GROUPS {
        return 1;
    }
    let max =
        SCAN_THREADS.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    max.min(groups / (PARALLEL_MIN_GROUPS / 2)).max(1)
}

/// `PBS_MOVER_SCAN_THREADS=N` caps the threads per namespace (1: sequential), for
/// before/after benchmarks; default `available_parallelism`.
static SCAN_THREADS: LazyLock<Option<usize>> = LazyLock::new(|| {
    std::env::var("PBS_MOVER_SCAN_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_ordered_keeps_the_order_of_the_items() {
        let items: Vec<usize> = (0..1000).collect();
        let out = map_ordered(&items, |i| i * 2);
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(map_ordered(&[] as &[usize], |i| *i).is_empty());
    }

    #[test]
    fn scan_threads_bounded() {
        assert_eq!(scan_threads(0), 1);
        assert_eq!(scan_threads(PARALLEL_MIN_GROUPS - 1), 1);
        let n = scan_threads(100_000);
        assert!(n >= 1);
        assert!(
            n <= SCAN_THREADS
                .unwrap_or_else(|| { std::thread::available_parallelism().map_or(1, usize::from) })
        );
    }
}
