//! The engine's view of PBS locks: typed conflicts become `Busy`; a group or snapshot is
//! locked in every scheme a PBS on this host may use (lock files, and PBS < 3.3.5's
//! directory flocks and old manifest lock); namespace locks are taken as one deduplicated,
//! ordered set so a move never conflicts with itself.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use rustix::fs::{Mode, OFlags};

use crate::ops::context::MoveContext;
use crate::ops::error::MoveError;
use crate::ops::locks::dir::LockDir;
use crate::ops::locks::flock::{self, LockGuard, LockMode};
use crate::ops::locks::old_scheme::{self, DirLock};
use crate::ops::locks::paths::LockPaths;
use crate::tree::{GroupId, Namespace, SnapshotTime};

/// PBS's bound on snapshot locks held at once (file descriptors).
pub const MAX_SNAPSHOT_LOCKS: usize = 512;

/// File descriptors kept free for everything but the snapshot locks (namespace and group
/// locks, journals, dir fds, a TUI's terminal).
const FD_RESERVE: u64 = 256;

/// Takes a PBS lock without waiting (group and snapshot locks are always non-blocking).
pub fn take(path: &Path, mode: LockMode, what: &str) -> Result<LockGuard, MoveError> {
    flock::lock_file(path, mode, Duration::ZERO).map_err(|e| MoveError::from_lock(what, e))
}

/// A group locked exclusively in every scheme this host needs: its lock file and, for
/// PBS < 3.3.5, a flock on the group dir (when the dir exists). Dropping it unlocks both.
#[derive(Debug)]
pub struct GroupLock {
    pub file: LockGuard,
    _dir: Option<DirLock>,
}

impl GroupLock {
    /// PBS ≤ 3.3.4's directory flock, when this host needs it, on `dir`: the group dir
    /// created after the lock file was taken, or the hidden dir that is renamed into it (a
    /// flock belongs to the inode, so it holds across the rename). Replaces a dir lock held
    /// on a dir that was removed meanwhile.
    pub fn lock_dir_too(
        &mut self,
        ctx: &MoveContext,
        dir: &Path,
        what: &str,
    ) -> Result<(), MoveError> {
        if ctx.old_locks() {
            self._dir = old_scheme::lock_dir(dir, what)?;
        }
        Ok(())
    }
}

/// `BackupGroup::lock` of PBS ≥ 3.3.5 and, when needed, of PBS ≤ 3.3.4; `what` names it.
pub fn lock_group(
    ctx: &MoveContext,
    ns: &Namespace,
    group: &GroupId,
    what: &str,
) -> Result<GroupLock, MoveError> {
    let file = take(&ctx.locks.group(ns, group), LockMode::Exclusive, what)?;
    let dir = if ctx.old_locks() {
        old_scheme::lock_dir(&ctx.ds.group_path(ns, group), what)?
    } else {
        None
    };
    Ok(GroupLock { file, _dir: dir })
}

/// One snapshot's locks, held until dropped: the lock file and, for PBS < 3.3.5, the
/// snapshot dir's flock and the old manifest lock.
#[derive(Debug)]
pub struct SnapshotLock {
    _file: LockGuard,
    _dir: Option<DirLock>,
    _manifest: Option<LockGuard>,
}

/// Exclusive locks on a batch of snapshots of one group, held until dropped. The lock
/// files share the group's lock dir, opened once and kept for removing them later.
#[derive(Debug)]
pub struct SnapshotLocks {
    pub dir: LockDir,
    held: Vec<SnapshotLock>,
}

impl SnapshotLocks {
    /// The lock dir and each snapshot's locks, in the order they were taken: to drop them
    /// part by part.
    pub fn into_parts(self) -> (LockDir, Vec<SnapshotLock>) {
        (self.dir, self.held)
    }
}

/// Locks `times` of a group in order; the first conflict stops (dropping the ones taken).
pub fn take_snapshot_locks(
    ctx: &MoveContext,
    ns: &Namespace,
    group: &GroupId,
    times: &[SnapshotTime],
) -> Result<SnapshotLocks, MoveError> {
    take_snapshot_locks_telling(ctx, ns, group, times, &mut |_| {})
}

/// [`take_snapshot_locks`], telling `taken` how many of `times` are locked after every
/// [`TELL_EVERY`] of them: what is locked can be read while the rest is being locked.
pub fn take_snapshot_locks_telling(
    ctx: &MoveContext,
    ns: &Namespace,
    group: &GroupId,
    times: &[SnapshotTime],
    taken: &mut dyn FnMut(usize),
) -> Result<SnapshotLocks, MoveError> {
    let paths = &ctx.locks;
    let dir = LockDir::of(&paths.group(ns, group))
        .map_err(|e| MoveError::from_lock(&format!("namespace '{}'", ns.human()), e))?;
    let what = |t: &SnapshotTime| format!("snapshot {group}/{t} in namespace '{}'", ns.human());
    if !ctx.old_locks() {
        let files: Vec<_> = times.iter().map(|t| paths.snapshot(ns, group, t)).collect();
        let held = dir
            .lock_all_telling(&files, LockMode::Exclusive, Duration::ZERO, &mut |n| {
                if n % TELL_EVERY == 0 {
                    taken(n);
                }
            })
            .map_err(|(i, e)| {
                MoveError::from_lock(&times.get(i).map(what).unwrap_or_default(), e)
            })?;
        let held = held
            .into_iter()
            .map(|file| SnapshotLock {
                _file: file,
                _dir: None,
                _manifest: None,
            })
            .collect();
        return Ok(SnapshotLocks { dir, held });
    }
    let held = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i > 0 && i % TELL_EVERY == 0 {
                taken(i);
            }
            let what = what(t);
            let file = dir
                .lock(
                    &paths.snapshot(ns, group, t),
                    LockMode::Exclusive,
                    Duration::ZERO,
                )
                .map_err(|e| MoveError::from_lock(&what, e))?;
            let snap_dir = ctx.ds.snapshot_path(ns, group, t);
            let dir = old_scheme::lock_dir(&snap_dir, &what)?;
            let manifest = old_scheme::lock_manifest(&paths.old_manifest(ns, group, t), &what)?;
            Ok(SnapshotLock {
                _file: file,
                _dir: dir,
                _manifest: Some(manifest),
            })
        })
        .collect::<Result<_, MoveError>>()?;
    Ok(SnapshotLocks { dir, held })
}

/// How often [`take_snapshot_locks_telling`] tells: often enough for the reader to keep
/// up, seldom enough that the wake-ups cost nothing next to the locks.
pub const TELL_EVERY: usize = 128;

/// How many snapshots a move may lock at once: as many as the open-file limit allows once
/// raised to its hard limit, counting each snapshot's fds (1, or 3 with PBS < 3.3.5's
/// locks), and never fewer than one.
pub fn snapshot_lock_budget(ctx: &MoveContext) -> usize {
    let per_snapshot = if ctx.old_locks() { 3 } else { 1 };
    (fd_budget() / per_snapshot).max(1)
}

/// PBS's batch size, smaller only when the fds of that many snapshots' locks do not fit.
pub fn snapshot_batch(ctx: &MoveContext) -> usize {
    snapshot_lock_budget(ctx).min(MAX_SNAPSHOT_LOCKS)
}

/// Fds a move may hold at once, as far as it is worth reserving up front: every lock of a
/// group of 32,768 snapshots moved whole (one snapshot an hour for almost four years), and
/// what the move keeps open besides. The table is 8 bytes a slot, rounded up to a power of
/// two (256 or 512 KiB), grown once in microseconds while the process has one thread.
const EARLY_FD_TABLE: usize = 32_768 + FD_RESERVE as usize;

/// Grows this process's fd table now, while it has one thread, to what a move may hold
/// (the open-file limit permitting): a table shared by threads waits for an RCU grace
/// period each time it grows (~10-12 ms on a 2-core VM: a third of the fixed cost of
/// moving 1,000 snapshots, and again when the whole-group path locks 10,000). Call before
/// the first thread starts; best effort (a table that cannot grow now grows later).
pub fn grow_fd_table_early() {
    let want = fd_budget().min(EARLY_FD_TABLE);
    let Ok(root) = rustix::fs::open("/", OFlags::PATH | OFlags::CLOEXEC, Mode::empty()) else {
        return;
    };
    if let Ok(highest) = i32::try_from(want.saturating_sub(1)) {
        // Closed at once: only the table's size stays.
        let _ = rustix::io::fcntl_dupfd_cloexec(&root, highest);
    }
}

/// File descriptors this process may use for snapshot locks. PBS's daemon bounds its
/// batches to share its fds with every other task; this process has nothing else to share
/// them with, so the soft limit is raised to the hard one (once).
fn fd_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let mut lim = getrlimit(Resource::Nofile);
        if lim.current != lim.maximum {
            let raised = Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                lim = raised;
            }
        }
        let usable = lim
            .current
            .map_or(u64::MAX, |n| n.saturating_sub(FD_RESERVE));
        usize::try_from(usable).unwrap_or(usize::MAX)
    })
}

/// Dry run of [`lock_group`] and [`take_snapshot_locks`] for one group move: every
/// conflict visible now, creating nothing.
pub fn probe_group_move(
    ctx: &MoveContext,
    ns: &Namespace,
    group: &GroupId,
    target_ns: &Namespace,
    times: &[SnapshotTime],
) -> Vec<MoveError> {
    let locks = &ctx.locks;
    let what = |g: String, n: &Namespace| format!("{g} in namespace '{}'", n.human());
    let mut errors = Vec::new();
    let mut check = |r: Result<(), MoveError>| errors.extend(r.err());
    for (n, label) in [(ns, "group"), (target_ns, "target group")] {
        let w = what(format!("{label} {group}"), n);
        check(probe(&locks.group(n, group), LockMode::Exclusive, &w));
        if ctx.old_locks() {
            check(old_scheme::probe_dir(&ctx.ds.group_path(n, group), &w));
        }
    }
    for t in times {
        let w = what(format!("snapshot {group}/{t}"), ns);
        check(probe(
            &locks.snapshot(ns, group, t),
            LockMode::Exclusive,
            &w,
        ));
        if ctx.old_locks() {
            check(old_scheme::probe_dir(
                &ctx.ds.snapshot_path(ns, group, t),
                &w,
            ));
            check(old_scheme::probe_manifest(
                &locks.old_manifest(ns, group, t),
                &w,
            ));
        }
    }
    errors
}

/// Dry-run: would `take` succeed now? Creates nothing.
pub fn probe(path: &Path, mode: LockMode, what: &str) -> Result<(), MoveError> {
    flock::probe(path, mode).map_err(|e| MoveError::from_lock(what, e))
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
