//! Everything a move needs to know about its datastore, and the refusals that apply before
//! anything is touched: an insecure datastore or lock dir, old-style locking, maintenance
//! mode, a running garbage collection.

use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;

use super::error::MoveError;
use super::lock_path::LockPaths;
use super::security::{DirRole, check_trusted_dir};
use crate::tree::Datastore;
use crate::tree::backend::{ContentBackend, FilesystemBackend};

/// PBS's own text for this refusal.
pub const OLD_LOCKING_MSG: &str = "move operations require new-style file-based locking";

#[derive(Clone)]
pub struct MoveContext {
    pub ds: Datastore,
    pub locks: LockPaths,
    pub backend: Arc<dyn ContentBackend>,
}

impl std::fmt::Debug for MoveContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MoveContext")
            .field("store", &self.ds.name)
            .field("base", &self.ds.base)
            .field("backend", &self.backend.kind())
            .finish()
    }
}

impl MoveContext {
    /// A filesystem datastore with PBS locks under `lock_dir`.
    pub fn filesystem(ds: Datastore, lock_dir: &Path) -> Self {
        Self::with_backend(ds, lock_dir, Arc::new(FilesystemBackend))
    }

    pub fn with_backend(ds: Datastore, lock_dir: &Path, backend: Arc<dyn ContentBackend>) -> Self {
        let locks = LockPaths::with_lock_dir(lock_dir, &ds.name);
        Self { ds, locks, backend }
    }

    /// Refusals that hold for the whole datastore, checked before any plan or lock.
    pub fn check_datastore(&self) -> Result<(), MoveError> {
        // First: every later check reads files another user could have planted.
        check_trusted_dir(&self.ds.base, DirRole::Datastore)?;
        check_trusted_dir(&self.locks.lock_dir, DirRole::LockDir)?;
        if self.locks.old_locking_marker().exists() {
            return Err(MoveError::refused(format!(
                "{OLD_LOCKING_MSG} ({} exists: PBS was upgraded from < 3.3.5 and not rebooted yet; reboot first)",
                self.locks.old_locking_marker().display()
            )));
        }
        if let Some(mode) = &self.ds.maintenance {
            return Err(MoveError::refused(format!(
                "datastore '{}' is unavailable: maintenance mode '{mode}' is set; clear it before moving",
                self.ds.name
            )));
        }
        if let Some(pid) = gc_holder_pid(&self.ds.base.join(".lock")) {
            return Err(MoveError::Busy(format!(
                "garbage collection is running on datastore '{}' (PID {pid} holds {}/.lock); retry when it has finished",
                self.ds.name,
                self.ds.base.display()
            )));
        }
        Ok(())
    }
}

/// The PID holding the chunk store's exclusive fcntl lock (GC), if any.
///
/// F_GETLK only asks; it takes no lock, so PBS is never blocked by this check.
fn gc_holder_pid(lock_file: &Path) -> Option<i32> {
    use nix::fcntl::{FcntlArg, fcntl};
    let file = std::fs::File::open(lock_file).ok()?;
    let mut query = nix::libc::flock {
        l_type: nix::libc::F_RDLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(file.as_fd(), FcntlArg::F_GETLK(&mut query)).ok()?;
    (query.l_type != nix::libc::F_UNLCK as i16).then_some(query.l_pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_lock_file_means_no_gc() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(gc_holder_pid(&dir.path().join(".lock")), None);
        std::fs::write(dir.path().join(".lock"), b"").unwrap();
        assert_eq!(gc_holder_pid(&dir.path().join(".lock")), None);
    }
}
