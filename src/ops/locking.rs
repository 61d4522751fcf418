//! The engine's view of PBS locks: typed conflicts become `Busy`, and namespace locks are
//! taken as one deduplicated, ordered set so a move never conflicts with itself.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::error::MoveError;
use super::lock::{self, LockError, LockGuard, LockMode};
use super::lock_dir::LockDir;
use super::lock_path::LockPaths;
use crate::tree::{GroupId, Namespace, SnapshotTime};

/// `what` names what the lock protects: "group vm/100 in namespace 'a'".
fn map_lock_error(what: &str, e: LockError) -> MoveError {
    if e.is_conflict() {
        MoveError::Busy(e.with_what(what).to_string())
    } else {
        MoveError::failed(format!("cannot lock {what}: {e}"))
    }
}

/// Takes a PBS lock without waiting (group and snapshot locks are always non-blocking).
pub fn take(path: &Path, mode: LockMode, what: &str) -> Result<LockGuard, MoveError> {
    lock::lock_file(path, mode, Duration::ZERO).map_err(|e| map_lock_error(what, e))
}

/// Exclusive locks on a batch of snapshots of one group, in order; the first conflict
/// stops (dropping the ones taken). They share the group's lock dir, opened once and
/// returned for removing the lock files later.
pub fn take_snapshot_locks(
    paths: &LockPaths,
    ns: &Namespace,
    group: &GroupId,
    times: &[SnapshotTime],
) -> Result<(LockDir, Vec<LockGuard>), MoveError> {
    let dir = LockDir::of(&paths.group(ns, group))
        .map_err(|e| map_lock_error(&format!("namespace '{}'", ns.human()), e))?;
    let guards = times
        .iter()
        .map(|t| {
            dir.lock(
                &paths.snapshot(ns, group, t),
                LockMode::Exclusive,
                Duration::ZERO,
            )
            .map_err(|e| {
                let what = format!("snapshot {group}/{t} in namespace '{}'", ns.human());
                map_lock_error(&what, e)
            })
        })
        .collect::<Result<_, _>>()?;
    Ok((dir, guards))
}

/// Dry-run: would `take` succeed now? Creates nothing.
pub fn probe(path: &Path, mode: LockMode, what: &str) -> Result<(), MoveError> {
    lock::probe(path, mode).map_err(|e| map_lock_error(what, e))
}

/// Namespace locks of the original PBS series: the requested mode on each namespace and a
/// shared lock on each of its non-root ancestors. Overlaps keep the strongest mode, and
/// locks are taken parents first (sorted paths) so two movers cannot deadlock.
pub fn ns_lock_set(requests: &[(Namespace, LockMode)]) -> Vec<(Namespace, LockMode)> {
    let mut set: BTreeMap<Namespace, LockMode> = BTreeMap::new();
    let mut add = |ns: Namespace, mode: LockMode| {
        if ns.is_root() {
            return;
        }
        let entry = set.entry(ns).or_insert(LockMode::Shared);
        if mode == LockMode::Exclusive {
            *entry = LockMode::Exclusive;
        }
    };
    for (ns, mode) in requests {
        for a in ns.ancestors() {
            add(a, LockMode::Shared);
        }
        add(ns.clone(), *mode);
    }
    set.into_iter().collect()
}

fn ns_what(ns: &Namespace, mode: LockMode) -> String {
    let kind = if mode == LockMode::Exclusive {
        "exclusive"
    } else {
        "shared"
    };
    format!("namespace '{ns}' ({kind} namespace lock)")
}

pub fn lock_namespaces(
    paths: &LockPaths,
    requests: &[(Namespace, LockMode)],
) -> Result<Vec<LockGuard>, MoveError> {
    ns_lock_set(requests)
        .into_iter()
        .map(|(ns, mode)| take(&paths.ns_lock(&ns), mode, &ns_what(&ns, mode)))
        .collect()
}

/// Dry-run of `lock_namespaces`: every conflict visible now.
pub fn probe_namespaces(paths: &LockPaths, requests: &[(Namespace, LockMode)]) -> Vec<String> {
    ns_lock_set(requests)
        .into_iter()
        .filter_map(|(ns, mode)| probe(&paths.ns_lock(&ns), mode, &ns_what(&ns, mode)).err())
        .map(|e| e.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> Namespace {
        Namespace::parse(s).unwrap()
    }

    #[test]
    fn lock_set_dedups_and_orders_parents_first() {
        let set = ns_lock_set(&[
            (ns("a/b"), LockMode::Exclusive),
            (ns("a"), LockMode::Exclusive),
            (ns(""), LockMode::Exclusive),
            (ns("c/d/e"), LockMode::Shared),
        ]);
        let got: Vec<(String, LockMode)> =
            set.into_iter().map(|(n, m)| (n.to_string(), m)).collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), LockMode::Exclusive),
                ("a/b".into(), LockMode::Exclusive),
                ("c".into(), LockMode::Shared),
                ("c/d".into(), LockMode::Shared),
                ("c/d/e".into(), LockMode::Shared),
            ]
        );
    }
}
