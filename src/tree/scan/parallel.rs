//! Reading the groups of a large namespace on several threads, with the same result as
//! reading them one after the other.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::error::ScanError;
use crate::tree::datastore::Datastore;
use crate::tree::model::{GroupInfo, Listing};
use crate::tree::names::{GroupId, Namespace};

impl Datastore {
    /// `group_info` of every group, in the order given. Large namespaces are read by up to
    /// `available_parallelism` threads (see `PARALLEL_MIN_GROUPS`); the result is the same.
    pub(super) fn group_infos(
        &self,
        ns: &Namespace,
        groups: &[GroupId],
        sizes: bool,
    ) -> Vec<Result<Listing<GroupInfo>, ScanError>> {
        let threads = scan_threads(groups.len());
        if threads <= 1 {
            return groups
                .iter()
                .map(|g| self.group_info(ns, g, sizes))
                .collect();
        }
        // Work-stealing by index: each worker takes the next unclaimed group, so one slow
        // (cold, huge) group does not hold up a whole pre-cut chunk.
        let next = AtomicUsize::new(0);
        let mut slots: Vec<Option<Result<Listing<GroupInfo>, ScanError>>> =
            std::iter::repeat_with(|| None).take(groups.len()).collect();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(group) = groups.get(i) else { break };
                            done.push((i, self.group_info(ns, group, sizes)));
                        }
                        done
                    })
                })
                .collect();
            for worker in workers {
                match worker.join() {
                    Ok(done) => {
                        for (i, info) in done {
                            slots[i] = Some(info);
                        }
                    }
                    // group_info does not panic; if it ever does, re-raise it here as the
                    // sequential loop would have.
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
        groups
            .iter()
            .zip(slots)
            .map(|(group, slot)| {
                // Every index below groups.len() was claimed by exactly one worker, and
                // every worker was joined above: a slot is never empty. Fall back to the
                // sequential read rather than panic should that ever change.
                slot.unwrap_or_else(|| self.group_info(ns, group, sizes))
            })
            .collect()
    }
}

/// Below this many groups a namespace is read on the calling thread: spawning costs more
/// than it saves.
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
