//! Keeping PBS's garbage collection out of a move, on every PBS version.
//!
//! PBS's chunk store lock is a POSIX record lock on `<store>/.lock`: GC takes F_WRLCK and
//! fails at once when it cannot ("unable to get exclusive lock"), writers (backups, pull
//! syncs) hold F_RDLCK for as long as they write. A move holds F_RDLCK the same way, so no
//! GC of any PBS version can start while a snapshot changes place under it.
//!
//! POSIX drops *all* of a process's record locks on a file when *any* of its fds on that
//! file is closed. So this process opens each datastore's `.lock` exactly once, keeps that
//! fd for its lifetime, and does everything on it: the lock, the release, and the GC probe
//! of a dry run. Several operations of one process (TUI) share the lock by a count.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;

use crate::ops::error::MoveError;

/// PBS's chunk store lock file, relative to the datastore base.
pub const CHUNK_STORE_LOCK: &str = ".lock";

/// One datastore's `.lock`, opened once per process.
#[derive(Debug)]
struct Entry {
    file: File,
    /// Operations of this process holding the shared lock now.
    holders: usize,
}

type Registry = Mutex<HashMap<PathBuf, Entry>>;

fn registry() -> MutexGuard<'static, HashMap<PathBuf, Entry>> {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let reg = REGISTRY.get_or_init(Registry::default);
    // A panic while holding the map cannot leave an entry half-updated: each change is one
    // assignment after the fcntl succeeded.
    reg.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Held while an operation runs: GC cannot start until every holder of this process is
/// gone. Dropping it releases this operation's share.
#[derive(Debug)]
pub struct GcExclusion {
    key: PathBuf,
}

impl Drop for GcExclusion {
    fn drop(&mut self) {
        let mut reg = registry();
        let Some(entry) = reg.get_mut(self.key.as_path()) else {
            return;
        };
        entry.holders = entry.holders.saturating_sub(1);
        if entry.holders == 0 {
            // F_UNLCK, never close(): the fd stays for the next operation and for probes.
            // An error here only leaves GC blocked until this process exits.
            let _ = set_lock(&entry.file, libc::F_UNLCK);
        }
    }
}

/// Takes the shared chunk store lock of the datastore at `base` for one operation.
/// `Busy` (with GC's PID) when a garbage collection holds the exclusive lock.
pub fn exclude_gc(base: &Path, store: &str) -> Result<GcExclusion, MoveError> {
    let path = base.join(CHUNK_STORE_LOCK);
    let mut reg = registry();
    let entry = entry(&mut reg, &path).map_err(|e| open_failed(&path, e))?;
    if entry.holders == 0 {
        match set_lock(&entry.file, libc::F_RDLCK) {
            Ok(()) => {}
            Err(e) if is_contended(e) => {
                let pid = writer_pid(&entry.file).ok().flatten();
                return Err(gc_running(store, base, pid));
            }
            Err(e) => {
                return Err(MoveError::failed(format!(
                    "cannot lock {} against garbage collection: {}",
                    path.display(),
                    io::Error::from(e)
                )));
            }
        }
    }
    entry.holders += 1;
    Ok(GcExclusion { key: path })
}

/// Dry run: `Busy` when a GC runs now. Asks with F_GETLK on this process's one fd, so a
/// move running in this process keeps its lock, and PBS is never blocked by the question.
pub fn probe_gc(base: &Path, store: &str) -> Result<(), MoveError> {
    let path = base.join(CHUNK_STORE_LOCK);
    let mut reg = registry();
    let entry = entry(&mut reg, &path).map_err(|e| open_failed(&path, e))?;
    match writer_pid(&entry.file) {
        Ok(None) => Ok(()),
        Ok(Some(pid)) => Err(gc_running(store, base, Some(pid))),
        Err(e) => Err(MoveError::failed(format!(
            "cannot check {} for a running garbage collection: {}",
            path.display(),
            io::Error::from(e)
        ))),
    }
}

/// Whether this process holds the shared lock of the datastore at `base` now.
pub fn held(base: &Path) -> bool {
    registry()
        .get(&base.join(CHUNK_STORE_LOCK))
        .is_some_and(|e| e.holders > 0)
}

fn entry<'a>(reg: &'a mut HashMap<PathBuf, Entry>, path: &Path) -> io::Result<&'a mut Entry> {
    if !reg.contains_key(path) {
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)?;
        reg.insert(path.to_path_buf(), Entry { file, holders: 0 });
    }
    reg.get_mut(path)
        .ok_or_else(|| io::Error::other("chunk store lock entry vanished"))
}

fn whole_file(l_type: libc::c_int) -> libc::flock {
    libc::flock {
        // The constants are 0..=2: they fit any integer type.
        l_type: l_type as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

/// F_SETLK (never waits) of the whole file, as PBS's `ProcessLocker`.
fn set_lock(file: &File, l_type: libc::c_int) -> nix::Result<()> {
    fcntl(file.as_fd(), FcntlArg::F_SETLK(&whole_file(l_type))).map(drop)
}

/// The PID of another process holding the exclusive (GC) lock, if any. A shared query
/// only conflicts with write locks, and never with this process's own.
fn writer_pid(file: &File) -> nix::Result<Option<i32>> {
    let mut query = whole_file(libc::F_RDLCK);
    fcntl(file.as_fd(), FcntlArg::F_GETLK(&mut query))?;
    Ok((query.l_type != libc::F_UNLCK as libc::c_short).then_some(query.l_pid))
}

fn is_contended(e: nix::errno::Errno) -> bool {
    matches!(e, nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES)
}

fn open_failed(path: &Path, e: io::Error) -> MoveError {
    MoveError::failed(format!(
        "cannot open the chunk store lock {}: {e}",
        path.display()
    ))
}

fn gc_running(store: &str, base: &Path, pid: Option<i32>) -> MoveError {
    let who = pid.map_or_else(|| "a process".to_string(), |p| format!("PID {p}"));
    MoveError::Busy(format!(
        "garbage collection is running on datastore '{store}' ({who} holds {}/.lock); retry when it has finished",
        base.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_by_count_and_released_with_the_last_holder() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(".lock"), b"").unwrap();
        assert!(!held(tmp.path()));
        let a = exclude_gc(tmp.path(), "s").unwrap();
        let b = exclude_gc(tmp.path(), "s").unwrap();
        assert!(held(tmp.path()));
        probe_gc(tmp.path(), "s").unwrap();
        drop(a);
        assert!(held(tmp.path()));
        drop(b);
        assert!(!held(tmp.path()));
    }

    #[test]
    fn a_missing_lock_file_is_an_error_not_a_free_pass() {
        let tmp = tempfile::tempdir().unwrap();
        let e = exclude_gc(tmp.path(), "s").unwrap_err();
        assert!(matches!(e, MoveError::Failed(_)), "{e}");
        assert!(probe_gc(tmp.path(), "s").is_err());
    }
}
