//! One lock directory opened once for many locks in it: a batch of up to 512 snapshot
//! locks of one group then costs one-component lookups (open, O_TMPFILE, link, double
//! stat, unlink) instead of a walk of `/run/proxmox-backup/locks/<store>/<ns>/…` each.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{AtFlags, Mode, OFlags};

use crate::ops::locks::flock::{At, LockError, LockGuard, LockMode, ensure_parent, lock_at};

#[derive(Debug)]
pub struct LockDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl LockDir {
    /// The parent dir of `lock_path`, created (0755 backup:backup) if needed. Never
    /// through a symlink in its last component.
    pub fn of(lock_path: &Path) -> Result<Self, LockError> {
        let dir = ensure_parent(lock_path)?;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::open(dir, flags, Mode::empty()).map_err(|e| LockError::Io {
            path: dir.to_path_buf(),
            source: e.into(),
        })?;
        Ok(Self {
            fd,
            path: dir.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name of `lock_path` in this dir, or `None` when it lives elsewhere.
    fn name<'a>(&self, lock_path: &'a Path) -> Option<&'a Path> {
        (lock_path.parent() == Some(self.path.as_path()))
            .then(|| lock_path.file_name().map(Path::new))
            .flatten()
    }

    /// [`crate::ops::locks::flock::lock_file`] of `lock_path`, relative to this dir when it is in it.
    pub fn lock(
        &self,
        lock_path: &Path,
        mode: LockMode,
        timeout: Duration,
    ) -> Result<LockGuard, LockError> {
        let Some(name) = self.name(lock_path) else {
            return crate::ops::locks::flock::lock_file(lock_path, mode, timeout);
        };
        let at = At {
            dir: self.fd.as_fd(),
            name,
            parent: Path::new("."),
        };
        lock_at(&at, lock_path, mode, timeout)
    }

    /// [`crate::ops::locks::flock::remove_lock_file`], relative to this dir when `lock_path` is in it.
    pub fn remove(&self, lock_path: &Path) {
        match self.name(lock_path) {
            // A leftover lock file is harmless (PBS leaves most of them): errors don't matter.
            Some(name) => {
                let _ = rustix::fs::unlinkat(&self.fd, name, AtFlags::empty());
            }
            None => crate::ops::locks::flock::remove_lock_file(lock_path),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    #[test]
    fn locks_create_remove_and_conflict_like_lock_file() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("locks/store/a");
        let dir = LockDir::of(&a.join("x")).unwrap();
        assert!(a.is_dir());
        let g = dir
            .lock(&a.join("x"), LockMode::Exclusive, Duration::ZERO)
            .unwrap();
        assert_eq!(g.path(), a.join("x"));
        let meta = fs::metadata(a.join("x")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o660);
        assert_eq!(meta.ino(), g.file().metadata().unwrap().ino());
        // Same file, another open file description: the flock conflicts.
        let e = crate::ops::locks::flock::lock_file(&a.join("x"), LockMode::Shared, Duration::ZERO)
            .unwrap_err();
        assert!(e.is_conflict(), "{e}");
        dir.remove(&a.join("x"));
        assert!(!a.join("x").exists());
        // A path outside the dir goes the path way.
        let other = tmp.path().join("locks/store/b/y");
        let g2 = dir.lock(&other, LockMode::Shared, Duration::ZERO).unwrap();
        assert_eq!(g2.path(), other);
        dir.remove(&other);
        assert!(!other.exists());
        drop(g);
    }

    #[test]
    fn a_symlinked_lock_file_is_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        fs::create_dir(&a).unwrap();
        fs::write(tmp.path().join("target"), b"").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("target"), a.join("x")).unwrap();
        let dir = LockDir::of(&a.join("x")).unwrap();
        assert!(
            dir.lock(&a.join("x"), LockMode::Exclusive, Duration::ZERO)
                .is_err()
        );
    }
}
