//! flock(2)-based locks with the semantics of PBS's `open_backup_lockfile` + `lock_helper`,
//! so that proxmox-backup-proxy and we exclude each other on the same lock files.
//!
//! PBS deletes lock files of destroyed snapshots and groups while holding them, so a lock
//! taken on an already-unlinked inode protects nothing: after locking we compare the
//! inode of our fd with the inode currently at the path ("double stat") and retry.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use rustix::io::Errno;
use thiserror::Error;

use crate::ops::locks::holder::{self, LockHolder};
use crate::ops::locks::paths::LockPaths;
use crate::ops::safety::ownership::{self, LOCK_FILE_MODE};
use crate::tree::names::{GroupId, Namespace, SnapshotTime};

/// PBS `BackupGroup::lock`, `BackupDir::lock`/`lock_shared`: non-blocking.
pub const GROUP_LOCK_TIMEOUT: Duration = Duration::ZERO;
pub const SNAPSHOT_LOCK_TIMEOUT: Duration = Duration::ZERO;
/// PBS `BackupDir::lock_manifest`.
pub const MANIFEST_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the lock file may be swapped under us before we give up, like PBS gives up
/// after the first swap; a few retries ride out a prune that deleted it concurrently.
const MAX_INODE_RETRIES: usize = 5;
const MAX_OPEN_RETRIES: usize = 5;
const POLL_START: Duration = Duration::from_millis(5);
const POLL_MAX: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Exclusive,
    Shared,
}

/// A held flock; dropping it closes the fd, which releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    path: PathBuf,
    mode: LockMode,
}

impl LockGuard {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn mode(&self) -> LockMode {
        self.mode
    }

    /// The locked file (opened read-write, O_APPEND), e.g. to append to the move journal.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Releases the flock but keeps the file open, to take the lock again later with
    /// [`relock`] without re-opening (and re-creating) the lock file.
    pub fn unlock_keep_open(self) -> io::Result<File> {
        self.file.unlock()?;
        Ok(self.file)
    }
}

/// Takes the flock again on a file kept open by [`LockGuard::unlock_keep_open`], with the
/// same double-stat check as [`lock_file`]: `Ok(None)` when `path` no longer names the
/// file's inode (deleted or replaced), in which case the caller must use [`lock_file`].
pub fn relock(
    file: File,
    path: &Path,
    mode: LockMode,
    timeout: Duration,
) -> Result<Option<LockGuard>, LockError> {
    let deadline = Instant::now().checked_add(timeout);
    if !flock_until(&file, mode, deadline).map_err(|e| LockError::io(path, e))? {
        return Err(conflict(path, &file));
    }
    if !same_inode(&file, &At::path(path)).map_err(|e| LockError::io(path, e))? {
        return Ok(None);
    }
    Ok(Some(LockGuard {
        file,
        path: path.to_path_buf(),
        mode,
    }))
}

#[derive(Debug, Error)]
pub enum LockError {
    #[error("{}", conflict_message(.what, .holder.as_ref(), .path))]
    Conflict {
        path: PathBuf,
        what: String,
        holder: Option<LockHolder>,
    },
    #[error("lock file {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not acquire lock, another thread modified the lock file {}", .path.display())]
    Modified { path: PathBuf },
    #[error("the root namespace has no lock and cannot be locked exclusively")]
    RootNamespace,
}

fn conflict_message(what: &str, holder: Option<&LockHolder>, path: &Path) -> String {
    let by = holder.map_or_else(|| "another process".to_string(), ToString::to_string);
    format!(
        "{what} is locked by {by} — backup or other PBS task running? (lock file {})",
        path.display()
    )
}

impl LockError {
    /// True when another process holds the lock (retryable), as opposed to I/O trouble.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    pub fn holder(&self) -> Option<&LockHolder> {
        match self {
            Self::Conflict { holder, .. } => holder.as_ref(),
            _ => None,
        }
    }

    /// Names what the lock protects in a conflict message ("group vm/100 in namespace 'a'").
    pub fn with_what(self, what: impl Into<String>) -> Self {
        match self {
            Self::Conflict { path, holder, .. } => Self::Conflict {
                path,
                what: what.into(),
                holder,
            },
            other => other,
        }
    }

    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Takes a flock on `path` like PBS's `open_backup_lockfile` + `lock_helper`: missing
/// parent dirs and the file itself are created (dirs 0755, file 0660, both backup:backup),
/// `timeout` zero means a single non-blocking attempt.
pub fn lock_file(path: &Path, mode: LockMode, timeout: Duration) -> Result<LockGuard, LockError> {
    ensure_parent(path)?;
    lock_at(&At::path(path), path, mode, timeout, Create::Tmpfile)
}

/// A lock file as a name relative to a directory fd (`CWD` for absolute paths), and the
/// directory for O_TMPFILE relative to the same fd: a [`crate::ops::locks::dir::LockDir`] locks
/// many files of one dir with one-component lookups instead of a path walk each.
pub(super) struct At<'a> {
    pub dir: BorrowedFd<'a>,
    pub name: &'a Path,
    pub parent: &'a Path,
}

impl<'a> At<'a> {
    /// An absolute (or cwd-relative) path.
    fn path(path: &'a Path) -> Self {
        Self {
            dir: CWD,
            name: path,
            parent: path.parent().unwrap_or(path),
        }
    }
}

/// How a missing lock file comes into being.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Create {
    /// O_TMPFILE, mode and owner set, then linked: never visible otherwise.
    Tmpfile,
    /// One `openat(O_CREAT, 0660)` while the thread creates as backup:backup with umask 0
    /// ([`crate::ops::locks::backup_identity`]): born 0660 backup:backup.
    Direct,
}

/// Open or create, flock, double stat; `path` (the full path) names it in errors and guards.
pub(super) fn lock_at(
    at: &At<'_>,
    path: &Path,
    mode: LockMode,
    timeout: Duration,
    create: Create,
) -> Result<LockGuard, LockError> {
    let deadline = Instant::now().checked_add(timeout);
    for _ in 0..MAX_INODE_RETRIES {
        let opened = match create {
            Create::Tmpfile => open_or_create(at, mode),
            Create::Direct => open_or_create_direct(at).map(Opened::Found),
        };
        let file = match opened.map_err(|e| LockError::io(path, e))? {
            // Nobody could see it unlocked, so nobody can have swapped it: no double stat.
            Opened::CreatedLocked(file) => {
                return Ok(LockGuard {
                    file,
                    path: path.to_path_buf(),
                    mode,
                });
            }
            Opened::Found(file) => file,
        };
        if !flock_until(&file, mode, deadline).map_err(|e| LockError::io(path, e))? {
            return Err(conflict(path, &file));
        }
        if same_inode(&file, at).map_err(|e| LockError::io(path, e))? {
            return Ok(LockGuard {
                file,
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    Err(LockError::Modified {
        path: path.to_path_buf(),
    })
}

/// Dry-run check whether `lock_file(path, mode, 0)` would succeed, creating nothing: a
/// missing file cannot be locked by anyone; an existing one is locked and released at once.
pub fn probe(path: &Path, mode: LockMode) -> Result<(), LockError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LockError::io(path, e)),
    };
    match try_flock(&file, mode) {
        // Dropping `file` releases the probe lock right away.
        Ok(true) => Ok(()),
        Ok(false) => Err(conflict(path, &file)),
        Err(e) => Err(LockError::io(path, e)),
    }
}

/// Best-effort unlink of a lock file, as PBS does for destroyed snapshots and groups.
/// Call it while still holding the lock, so that waiters notice via the double stat.
pub fn remove_lock_file(path: &Path) {
    // A leftover lock file is harmless (PBS leaves most of them), so errors don't matter.
    let _ = fs::remove_file(path);
}

/// `/run/proxmox-backup/old-locking` exists: daemons from before PBS 3.3.5 still lock
/// the group/snapshot directories instead of files under the lock dir.
pub fn old_locking_active(paths: &LockPaths) -> bool {
    fs::symlink_metadata(paths.old_locking_marker()).is_ok()
}

/// Exclusive group lock, non-blocking like `BackupGroup::lock`.
pub fn lock_group(
    paths: &LockPaths,
    ns: &Namespace,
    group: &GroupId,
) -> Result<LockGuard, LockError> {
    lock_file(
        &paths.group(ns, group),
        LockMode::Exclusive,
        GROUP_LOCK_TIMEOUT,
    )
    .map_err(|e| e.with_what(group_what(ns, group)))
}

/// Snapshot lock, non-blocking like `BackupDir::lock` / `lock_shared`.
pub fn lock_snapshot(
    paths: &LockPaths,
    ns: &Namespace,
    group: &GroupId,
    time: &SnapshotTime,
    mode: LockMode,
) -> Result<LockGuard, LockError> {
    lock_file(
        &paths.snapshot(ns, group, time),
        mode,
        SNAPSHOT_LOCK_TIMEOUT,
    )
    .map_err(|e| e.with_what(snapshot_what(ns, group, time)))
}

/// Exclusive manifest lock with PBS's 5 s timeout.
pub fn lock_manifest(
    paths: &LockPaths,
    ns: &Namespace,
    group: &GroupId,
    time: &SnapshotTime,
) -> Result<LockGuard, LockError> {
    lock_file(
        &paths.manifest(ns, group, time),
        LockMode::Exclusive,
        MANIFEST_LOCK_TIMEOUT,
    )
    .map_err(|e| e.with_what(format!("manifest of {}", snapshot_what(ns, group, time))))
}

pub fn probe_group(paths: &LockPaths, ns: &Namespace, group: &GroupId) -> Result<(), LockError> {
    probe(&paths.group(ns, group), LockMode::Exclusive)
        .map_err(|e| e.with_what(group_what(ns, group)))
}

pub fn probe_snapshot(
    paths: &LockPaths,
    ns: &Namespace,
    group: &GroupId,
    time: &SnapshotTime,
    mode: LockMode,
) -> Result<(), LockError> {
    probe(&paths.snapshot(ns, group, time), mode)
        .map_err(|e| e.with_what(snapshot_what(ns, group, time)))
}

fn group_what(ns: &Namespace, group: &GroupId) -> String {
    format!("group {group} in namespace '{}'", ns.human())
}

fn snapshot_what(ns: &Namespace, group: &GroupId, time: &SnapshotTime) -> String {
    format!("snapshot {group}/{time} in namespace '{}'", ns.human())
}

fn conflict(path: &Path, file: &File) -> LockError {
    LockError::Conflict {
        path: path.to_path_buf(),
        what: "lock file".to_string(),
        holder: holder::find_holder(file),
    }
}

/// Creates the parent dir of a lock file if needed (0755 backup:backup) and returns it.
pub(super) fn ensure_parent(path: &Path) -> Result<&Path, LockError> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        let e = io::Error::new(
            io::ErrorKind::InvalidInput,
            "lock path has no parent directory",
        );
        return Err(LockError::io(path, e));
    };
    if fs::symlink_metadata(parent).is_ok_and(|m| m.is_dir()) {
        return Ok(parent);
    }
    ownership::create_dir_all_owned(parent, Path::new("/"))
        .map_err(|e| LockError::io(parent, e))?;
    Ok(parent)
}

/// A lock file as [`open_or_create`] got it.
enum Opened {
    /// Opened as it was (or created where it could be seen unlocked): still to be locked
    /// and checked with the double stat.
    Found(File),
    /// Created by this call and locked before it appeared at its path.
    CreatedLocked(File),
}

/// Opens the lock file O_RDWR|O_APPEND, creating it (locked, `mode`) if needed. Never
/// follows a symlink.
fn open_or_create(at: &At<'_>, mode: LockMode) -> io::Result<Opened> {
    for _ in 0..MAX_OPEN_RETRIES {
        match open_existing(at) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => return other.map(Opened::Found),
        }
        match create_lock_file(at, mode) {
            // Lost a creation race: open the winner's file.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            other => return other,
        }
    }
    Err(io::Error::other(
        "lock file keeps appearing and disappearing",
    ))
}

/// Opens or creates in one call; only for [`Create::Direct`], inside
/// [`crate::ops::locks::backup_identity::run_as`], where the creation itself gives PBS's
/// mode and owner.
fn open_or_create_direct(at: &At<'_>) -> io::Result<File> {
    let flags = OFlags::CREATE | OFlags::RDWR | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mode = Mode::from_raw_mode(LOCK_FILE_MODE);
    Ok(rustix::fs::openat(at.dir, at.name, flags, mode)?.into())
}

fn open_existing(at: &At<'_>) -> io::Result<File> {
    let flags = OFlags::RDWR | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(at.dir, at.name, flags, Mode::empty())?.into())
}

/// Creates the file with mode and owner already set when it appears (like proxmox-sys's
/// `atomic_open_or_create_file`), so PBS never sees a root-owned lock file; and locked
/// (`mode`) before it appears, so that no one else can lock or remove it first.
fn create_lock_file(at: &At<'_>, mode: LockMode) -> io::Result<Opened> {
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::APPEND | OFlags::CLOEXEC;
    match rustix::fs::openat(
        at.dir,
        at.parent,
        flags,
        Mode::from_raw_mode(LOCK_FILE_MODE),
    ) {
        Ok(fd) => {
            ownership::set_owned_mode(&fd, LOCK_FILE_MODE)?;
            let file = File::from(fd);
            // An inode no one else can reach yet: the lock cannot be contended.
            let locked = try_flock(&file, mode)?;
            link_tmpfile(file.as_fd(), at)?;
            Ok(if locked {
                Opened::CreatedLocked(file)
            } else {
                Opened::Found(file)
            })
        }
        Err(e) if tmpfile_unsupported(e) => create_exclusive(at).map(Opened::Found),
        Err(e) => Err(e.into()),
    }
}

fn tmpfile_unsupported(e: Errno) -> bool {
    [Errno::OPNOTSUPP, Errno::ISDIR, Errno::INVAL, Errno::NOSYS].contains(&e)
}

fn link_tmpfile(fd: BorrowedFd<'_>, at: &At<'_>) -> io::Result<()> {
    match rustix::fs::linkat(fd, "", at.dir, at.name, AtFlags::EMPTY_PATH) {
        Ok(()) => Ok(()),
        // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc route works for everyone.
        Err(Errno::NOENT | Errno::PERM) => {
            let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
            let follow = AtFlags::SYMLINK_FOLLOW;
            rustix::fs::linkat(CWD, proc_path.as_str(), at.dir, at.name, follow).map_err(Into::into)
        }
        Err(e) => Err(e.into()),
    }
}

/// Fallback for filesystems without O_TMPFILE: a short window with the wrong owner.
fn create_exclusive(at: &At<'_>) -> io::Result<File> {
    let flags = OFlags::CREATE
        | OFlags::EXCL
        | OFlags::RDWR
        | OFlags::APPEND
        | OFlags::NOFOLLOW
        | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(at.dir, at.name, flags, Mode::from_raw_mode(LOCK_FILE_MODE))?;
    ownership::set_owned_mode(&fd, LOCK_FILE_MODE)?;
    Ok(fd.into())
}

/// One non-blocking flock(2) attempt (std's `try_lock*` are flock(2) on Linux, the call PBS
/// uses); `Ok(false)` if someone else holds a conflicting lock.
fn try_flock(file: &File, mode: LockMode) -> io::Result<bool> {
    let attempt = match mode {
        LockMode::Exclusive => file.try_lock(),
        LockMode::Shared => file.try_lock_shared(),
    };
    match attempt {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        // EINTR: treat like contention and poll again.
        Err(std::fs::TryLockError::Error(e)) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Polls a non-blocking flock until `deadline` (`None`: forever); `Ok(false)` on timeout.
fn flock_until(file: &File, mode: LockMode, deadline: Option<Instant>) -> io::Result<bool> {
    let mut pause = POLL_START;
    loop {
        if try_flock(file, mode)? {
            return Ok(true);
        }
        let now = Instant::now();
        let remaining = match deadline {
            Some(d) if d <= now => return Ok(false),
            Some(d) => d - now,
            None => pause,
        };
        thread::sleep(pause.min(remaining));
        pause = (pause * 2).min(POLL_MAX);
    }
}

/// The double stat: is the inode we locked still the one at `path`?
fn same_inode(file: &File, at: &At<'_>) -> io::Result<bool> {
    let ours = rustix::fs::fstat(file.as_fd())?;
    match rustix::fs::statat(at.dir, at.name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(now) => Ok(now.st_ino == ours.st_ino && now.st_dev == ours.st_dev),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_messages() {
        let path = PathBuf::from("/run/proxmox-backup/locks/s/a/vm-100");
        let holder = LockHolder {
            pid: 1234,
            comm: "proxmox-backup-proxy".into(),
            kind: holder::LockKind::Write,
        };
        let e = LockError::Conflict {
            path: path.clone(),
            what: "lock file".into(),
            holder: Some(holder),
        }
        .with_what("group vm/100 in namespace 'a'");
        assert!(e.is_conflict());
        assert_eq!(
            e.to_string(),
            "group vm/100 in namespace 'a' is locked by PID 1234 (proxmox-backup-proxy) — backup or other \
             PBS task running? (lock file /run/proxmox-backup/locks/s/a/vm-100)"
        );
        let e = LockError::Conflict {
            path,
            what: "x".into(),
            holder: None,
        };
        assert!(e.to_string().starts_with("x is locked by another process"));
        let e = LockError::Modified { path: "/l".into() };
        assert!(!e.is_conflict());
        assert_eq!(
            e.to_string(),
            "could not acquire lock, another thread modified the lock file /l"
        );
    }

    #[test]
    fn same_process_exclusion_and_release_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/lck");
        let g = lock_file(&path, LockMode::Exclusive, Duration::ZERO).unwrap();
        // flock is per open file description, so a second open in the same process conflicts.
        let e = lock_file(&path, LockMode::Shared, Duration::from_millis(30)).unwrap_err();
        assert!(e.is_conflict(), "{e}");
        assert!(probe(&path, LockMode::Shared).unwrap_err().is_conflict());
        drop(g);
        let s1 = lock_file(&path, LockMode::Shared, Duration::ZERO).unwrap();
        let s2 = lock_file(&path, LockMode::Shared, Duration::ZERO).unwrap();
        assert!(probe(&path, LockMode::Exclusive).is_err());
        probe(&path, LockMode::Shared).unwrap();
        drop((s1, s2));
        probe(&path, LockMode::Exclusive).unwrap();
    }

    #[test]
    fn waits_up_to_timeout() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lck");
        let g = lock_file(&path, LockMode::Exclusive, Duration::ZERO).unwrap();
        let releaser = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            drop(g);
        });
        let started = Instant::now();
        lock_file(&path, LockMode::Exclusive, Duration::from_secs(5)).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(90));
        releaser.join().unwrap();
    }

    #[test]
    fn double_stat_detects_replaced_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lck");
        let g = lock_file(&path, LockMode::Exclusive, Duration::ZERO).unwrap();
        assert!(same_inode(g.file(), &At::path(&path)).unwrap());
        remove_lock_file(&path);
        assert!(!same_inode(g.file(), &At::path(&path)).unwrap());
        fs::write(&path, b"").unwrap();
        assert!(!same_inode(g.file(), &At::path(&path)).unwrap());
        // A fresh lock lands on the new inode, not the orphan we still hold.
        let g2 = lock_file(&path, LockMode::Exclusive, Duration::ZERO).unwrap();
        assert!(same_inode(g2.file(), &At::path(&path)).unwrap());
    }

    #[test]
    fn refuses_symlinked_lock_file() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        fs::write(&target, b"").unwrap();
        let link = tmp.path().join("lck");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = lock_file(&link, LockMode::Exclusive, Duration::ZERO).unwrap_err();
        assert!(matches!(e, LockError::Io { .. }), "{e}");
        assert!(matches!(
            probe(&link, LockMode::Exclusive),
            Err(LockError::Io { .. })
        ));
    }

    #[test]
    fn missing_file_probes_free() {
        let tmp = tempfile::tempdir().unwrap();
        probe(&tmp.path().join("x/y/z"), LockMode::Exclusive).unwrap();
        assert!(!tmp.path().join("x").exists());
    }
}
