//! PBS ≤ 3.3.4's locks, taken beside the lock files when such a PBS may run here.
//!
//! PBS 3.2.4 locks a group with `lock_dir_noblock(group dir)` and a snapshot with
//! `lock_dir_noblock(snapshot dir)`: an exclusive, non-blocking flock(2) on the directory
//! itself (a running backup holds its group's for the whole backup). Its manifest lock is
//! a file under the lock dir at the old path ([`crate::ops::locks::paths::LockPaths::old_manifest`]),
//! taken with a 5 s timeout by notes and verify-state updates.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::ops::error::MoveError;
use crate::ops::locks::flock::{LockGuard, LockMode, MANIFEST_LOCK_TIMEOUT, lock_file, probe};
use crate::ops::locks::holder::find_holder;

/// An exclusive flock on a directory; dropping it closes the fd, which releases it.
#[derive(Debug)]
pub struct DirLock {
    _dir: File,
}

/// `lock_dir_noblock(dir)`; `Ok(None)` when `dir` does not exist (nothing to protect: a
/// pruned snapshot, a target group not created yet). Never through a symlink.
pub fn lock_dir(dir: &Path, what: &str) -> Result<Option<DirLock>, MoveError> {
    let Some(file) = open_dir(dir)? else {
        return Ok(None);
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(DirLock { _dir: file })),
        Err(std::fs::TryLockError::WouldBlock) => Err(conflict(dir, what, &file)),
        Err(std::fs::TryLockError::Error(e)) => Err(MoveError::failed(format!(
            "cannot lock {what} (directory {}): {e}",
            dir.display()
        ))),
    }
}

/// Dry run of [`lock_dir`]: the flock is taken and released at once.
pub fn probe_dir(dir: &Path, what: &str) -> Result<(), MoveError> {
    lock_dir(dir, what).map(drop)
}

/// The old manifest lock, exclusive with PBS's 5 s timeout; its parent dirs are created
/// owned by `backup` as PBS's `create_dir_all` would (PBS runs as that user).
pub fn lock_manifest(path: &Path, what: &str) -> Result<LockGuard, MoveError> {
    lock_file(path, LockMode::Exclusive, MANIFEST_LOCK_TIMEOUT)
        .map_err(|e| MoveError::from_lock(&format!("manifest of {what} (PBS < 3.3.5 lock)"), e))
}

/// Dry run of [`lock_manifest`]: creates nothing.
pub fn probe_manifest(path: &Path, what: &str) -> Result<(), MoveError> {
    probe(path, LockMode::Exclusive)
        .map_err(|e| MoveError::from_lock(&format!("manifest of {what} (PBS < 3.3.5 lock)"), e))
}

/// Removes a moved snapshot's old manifest lock file and its `<time>` dir, which nothing
/// else uses: that snapshot path no longer exists. Best effort, like PBS's own removal.
pub fn remove_manifest_lock(path: &Path) {
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir(dir);
    }
}

fn open_dir(dir: &Path) -> Result<Option<File>, MoveError> {
    let opened = File::options()
        .read(true)
        .custom_flags((OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC).bits() as i32)
        .open(dir);
    match opened {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e)
            if matches!(
                e.raw_os_error().map(Errno::from_raw_os_error),
                Some(Errno::LOOP | Errno::NOTDIR)
            ) =>
        {
            Err(MoveError::refused(format!(
                "{} is not a directory (a symlink?); fix it before moving",
                dir.display()
            )))
        }
        Err(e) => Err(MoveError::failed(format!(
            "unable to open {} for locking: {e}",
            dir.display()
        ))),
    }
}

fn conflict(dir: &Path, what: &str, file: &File) -> MoveError {
    let by = find_holder(file).map_or_else(|| "another process".to_string(), |h| h.to_string());
    MoveError::Busy(format!(
        "{what} is locked by {by} — backup or other PBS task running? (directory lock of PBS < 3.3.5 on {})",
        dir.display()
    ))
}
