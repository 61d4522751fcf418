//! Namespace locks as proposed in v4 of the PBS move series:
//! `<lock_dir>/<store>/<a:b:c>/.ns-lock`, all non-blocking.
//!
//! Users of a namespace lock it shared, structural changes lock it exclusive; both take
//! shared locks on every non-root ancestor, so an exclusive lock on `a` excludes all work
//! anywhere below `a` at the cost of only O(depth) locks. The root is never locked.
//!
//! Released PBS dropped these locks, so they only exclude tools that follow the v4
//! protocol; group and snapshot locks remain the real exclusion against PBS.

use std::path::Path;

use crate::ops::locks::flock::{self, LockError, LockGuard, LockMode};
use crate::ops::locks::paths::LockPaths;
use crate::tree::names::Namespace;

/// v4 locks namespaces non-blocking (timeout 0) everywhere.
const NS_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::ZERO;

/// Holds the locks of a namespace and its ancestors; dropping it releases them all.
#[derive(Debug, Default)]
pub struct NamespaceLockGuard {
    /// Outermost ancestor first, the namespace itself last.
    guards: Vec<LockGuard>,
}

impl NamespaceLockGuard {
    /// Locked files, outermost ancestor first (empty for the root).
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.guards.iter().map(LockGuard::path)
    }

    pub fn len(&self) -> usize {
        self.guards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.guards.is_empty()
    }
}

/// Shared locks on `ns` and its non-root ancestors; for the root this locks nothing.
pub fn lock_namespace_shared(
    paths: &LockPaths,
    ns: &Namespace,
) -> Result<NamespaceLockGuard, LockError> {
    lock_all(paths, ns, LockMode::Shared)
}

/// Exclusive lock on `ns` after shared locks on its non-root ancestors.
pub fn lock_namespace_exclusive(
    paths: &LockPaths,
    ns: &Namespace,
) -> Result<NamespaceLockGuard, LockError> {
    if ns.is_root() {
        return Err(LockError::RootNamespace);
    }
    lock_all(paths, ns, LockMode::Exclusive)
}

/// Dry-run of [`lock_namespace_shared`]; creates no file or directory.
pub fn probe_namespace_shared(paths: &LockPaths, ns: &Namespace) -> Result<(), LockError> {
    probe_all(paths, ns, LockMode::Shared)
}

/// Dry-run of [`lock_namespace_exclusive`]; creates no file or directory.
pub fn probe_namespace_exclusive(paths: &LockPaths, ns: &Namespace) -> Result<(), LockError> {
    if ns.is_root() {
        return Err(LockError::RootNamespace);
    }
    probe_all(paths, ns, LockMode::Exclusive)
}

/// What to lock, in order: ancestors shared (outermost first), then `ns` in `mode`.
fn plan(ns: &Namespace, mode: LockMode) -> Vec<(Namespace, LockMode, String)> {
    if ns.is_root() {
        return Vec::new();
    }
    let mut steps: Vec<_> = ns
        .ancestors()
        .map(|a| {
            let what = format!("namespace '{a}' (ancestor of '{ns}')");
            (a, LockMode::Shared, what)
        })
        .collect();
    steps.push((ns.clone(), mode, format!("namespace '{ns}'")));
    steps
}

fn lock_all(
    paths: &LockPaths,
    ns: &Namespace,
    mode: LockMode,
) -> Result<NamespaceLockGuard, LockError> {
    let mut guard = NamespaceLockGuard::default();
    for (target, mode, what) in plan(ns, mode) {
        let lock = flock::lock_file(&paths.ns_lock(&target), mode, NS_LOCK_TIMEOUT)
            .map_err(|e| e.with_what(what))?;
        guard.guards.push(lock);
    }
    Ok(guard)
}

fn probe_all(paths: &LockPaths, ns: &Namespace, mode: LockMode) -> Result<(), LockError> {
    for (target, mode, what) in plan(ns, mode) {
        flock::probe(&paths.ns_lock(&target), mode).map_err(|e| e.with_what(what))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> Namespace {
        Namespace::parse(s).unwrap()
    }

    #[test]
    fn plan_locks_ancestors_shared_then_target() {
        let steps: Vec<(String, LockMode)> = plan(&ns("a/b/c"), LockMode::Exclusive)
            .into_iter()
            .map(|(n, m, _)| (n.to_string(), m))
            .collect();
        assert_eq!(
            steps,
            vec![
                ("a".to_string(), LockMode::Shared),
                ("a/b".to_string(), LockMode::Shared),
                ("a/b/c".to_string(), LockMode::Exclusive),
            ]
        );
        assert!(plan(&Namespace::root(), LockMode::Shared).is_empty());
    }

    #[test]
    fn in_process_semantics() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = LockPaths::with_lock_dir(tmp.path(), "s");
        let shared = lock_namespace_shared(&paths, &ns("a/b/c")).unwrap();
        let files: Vec<_> = shared.paths().map(Path::to_path_buf).collect();
        assert_eq!(
            files,
            vec![
                paths.ns_lock(&ns("a")),
                paths.ns_lock(&ns("a/b")),
                paths.ns_lock(&ns("a/b/c"))
            ]
        );
        // A sibling subtree is independent; an ancestor cannot be locked exclusively.
        let sibling = lock_namespace_exclusive(&paths, &ns("a/x")).unwrap();
        let err = lock_namespace_exclusive(&paths, &ns("a/b")).unwrap_err();
        assert!(err.is_conflict());
        assert!(
            err.to_string().starts_with("namespace 'a/b' is locked by"),
            "{err}"
        );
        let err = probe_namespace_shared(&paths, &ns("a/x/y")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("namespace 'a/x' (ancestor of 'a/x/y') is locked"),
            "{err}"
        );
        drop((shared, sibling));
        assert!(lock_namespace_exclusive(&paths, &ns("a")).is_ok());
    }

    #[test]
    fn root_is_never_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = LockPaths::with_lock_dir(tmp.path(), "s");
        assert!(
            lock_namespace_shared(&paths, &Namespace::root())
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            lock_namespace_exclusive(&paths, &Namespace::root()),
            Err(LockError::RootNamespace)
        ));
        assert!(matches!(
            probe_namespace_exclusive(&paths, &Namespace::root()),
            Err(LockError::RootNamespace)
        ));
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
