//! One lock directory opened once for many locks in it: a batch of snapshot locks of one
//! group then costs one-component lookups instead of a walk of
//! `/run/proxmox-backup/locks/<store>/<ns>/…` each, and ([`LockDir::lock_all`]) one
//! `openat(O_CREAT)` per missing lock file while this thread creates as backup:backup
//! instead of O_TMPFILE + fchmod + fchown + linkat.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{AtFlags, Mode, OFlags};

use crate::ops::locks::backup_identity::{creates_exactly, run_as};
use crate::ops::locks::flock::{
    At, Create, LockError, LockGuard, LockMode, ensure_parent, lock_at,
};
use crate::ops::safety::ownership::chown_ids;

#[derive(Debug)]
pub struct LockDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// Batches smaller than this leave the fd table to grow on demand: reserving costs two
/// fcntl and two close, more than the growth it saves for a few locks.
const RESERVE_FDS_FROM: usize = 64;

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
        name_in(&self.path, lock_path)
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
        lock_at(&at, lock_path, mode, timeout, Create::Tmpfile)
    }

    /// [`LockDir::lock`] of every path in `lock_paths`, in order; the first failure stops
    /// (dropping the locks taken) and comes back with its index. Missing lock files of this
    /// dir are created born 0660 backup:backup by one `openat` each, with this thread's
    /// file-creation identity switched to that ([`run_as`]), where this dir gives exactly
    /// that (no setgid to another group, no default ACL); anything unusual (a file `backup`
    /// may not open, a conflict, whose holder is named with our own rights) is taken again
    /// the ordinary way, and the rest go back to the switched identity.
    pub fn lock_all(
        &self,
        lock_paths: &[PathBuf],
        mode: LockMode,
        timeout: Duration,
    ) -> Result<Vec<LockGuard>, (usize, LockError)> {
        self.lock_all_telling(lock_paths, mode, timeout, &mut |_| {})
    }

    /// [`LockDir::lock_all`], telling `taken` the count of locks held after each one taken.
    pub fn lock_all_telling(
        &self,
        lock_paths: &[PathBuf],
        mode: LockMode,
        timeout: Duration,
        taken: &mut dyn FnMut(usize),
    ) -> Result<Vec<LockGuard>, (usize, LockError)> {
        if lock_paths.len() >= RESERVE_FDS_FROM {
            self.reserve_fds(lock_paths.len());
        }
        let mut ids = chown_ids()
            .filter(|&ids| lock_paths.len() > 1 && creates_exactly(&self.fd, &self.path, ids));
        let mut held = Vec::with_capacity(lock_paths.len());
        while held.len() < lock_paths.len() {
            let next = held.len();
            let mut wait = timeout;
            if let Some(id) = ids {
                let (direct, waited_out) =
                    self.lock_direct(id, &lock_paths[next..], (mode, timeout), &mut |n| {
                        taken(next + n)
                    });
                held.extend(direct);
                // Not even one: this dir is no place for it (e.g. `backup` may not enter).
                ids = ids.filter(|_| held.len() > next);
                // Its timeout is spent: the look below only names the holder, with this
                // thread's own rights, instead of waiting as long again.
                if waited_out {
                    wait = Duration::ZERO;
                }
            }
            // The one the switched identity stopped at (or every one, without it).
            if let Some(p) = lock_paths.get(held.len()) {
                held.push(self.lock(p, mode, wait).map_err(|e| (held.len(), e))?);
                taken(held.len());
            }
        }
        Ok(held)
    }

    /// Locks `lock_paths` in order as `ids` ([`run_as`]), each created by one
    /// `openat(O_CREAT)` when missing, up to the first that fails; empty when the kernel
    /// refuses the identity. Also tells whether it stopped at a lock held by someone else
    /// (its `timeout` waited out).
    fn lock_direct(
        &self,
        ids: (u32, u32),
        lock_paths: &[PathBuf],
        (mode, timeout): (LockMode, Duration),
        taken: &mut dyn FnMut(usize),
    ) -> (Vec<LockGuard>, bool) {
        let mut waited_out = false;
        let mut count = 0;
        let lock = |p: &PathBuf| {
            let at = At {
                dir: self.fd.as_fd(),
                name: self.name(p)?,
                parent: Path::new("."),
            };
            let guard = lock_at(&at, p, mode, timeout, Create::Direct)
                .map_err(|e| waited_out = e.is_conflict())
                .ok()?;
            count += 1;
            taken(count);
            Some(guard)
        };
        let held = run_as(ids, || lock_paths.iter().map_while(lock).collect());
        (held.unwrap_or_default(), waited_out)
    }

    /// Grows this process's fd table once to hold `n` more fds. Left to grow on demand it
    /// doubles at 256, 512, 1024, …, and each growth of a table shared by threads waits for
    /// an RCU grace period (measured 7–9 ms each here): ~60 ms for 10,000 snapshot locks.
    /// Best effort: past the open-file limit the locks simply grow it as before.
    fn reserve_fds(&self, n: usize) {
        let Ok(lowest) = rustix::io::fcntl_dupfd_cloexec(&self.fd, 0) else {
            return;
        };
        let target = i32::try_from(n)
            .ok()
            .and_then(|n| rustix::fd::AsRawFd::as_raw_fd(&lowest).checked_add(n));
        if let Some(target) = target {
            // Dropped at once: only the table's size stays.
            let _ = rustix::io::fcntl_dupfd_cloexec(&self.fd, target);
        }
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

/// The name of `path` in `dir` when `path` is exactly `dir/<name>` (as `dir.join(name)`
/// makes it), `None` otherwise (those take the path way). Compared as bytes: the component
/// parsing of `Path::parent` showed in profiles of moves of many snapshots.
fn name_in<'a>(dir: &Path, path: &'a Path) -> Option<&'a Path> {
    let name = path
        .as_os_str()
        .as_bytes()
        .strip_prefix(dir.as_os_str().as_bytes())?
        .strip_prefix(b"/")?;
    let simple = !name.is_empty() && !name.contains(&b'/') && name != b"." && name != b"..";
    simple.then(|| Path::new(OsStr::from_bytes(name)))
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
    fn only_a_plain_name_directly_in_the_dir_is_taken_relative_to_it() {
        let dir = Path::new("/run/locks/s/a");
        assert_eq!(name_in(dir, &dir.join("vm-1")), Some(Path::new("vm-1")));
        for other in [
            "/run/locks/s/a",
            "/run/locks/s/a/",
            "/run/locks/s/ab/vm-1",
            "/run/locks/s/a/x/vm-1",
            "/run/locks/s/a/..",
            "/run/locks/s/a/.",
            "/run/locks/s/b/vm-1",
        ] {
            assert_eq!(name_in(dir, Path::new(other)), None, "{other}");
        }
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

    /// As root: a lock dir in a tempdir opened up so that user `backup` may create in it
    /// (the switched identity's way), with the backup ids.
    fn backup_writable_lock_dir() -> (tempfile::TempDir, PathBuf, LockDir, (u32, u32)) {
        assert!(rustix::process::geteuid().is_root(), "run as root");
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let a = tmp.path().join("locks/store/a");
        let dir = LockDir::of(&a.join("x")).unwrap();
        let ids = chown_ids().expect("a backup user (PBS hosts and CI have one)");
        (tmp, a, dir, ids)
    }

    /// The tempdir is 0700 root: opened up, user `backup` may create in the lock dir and
    /// `lock_all` takes its one-`openat` way; the files must still be exactly PBS's.
    #[test]
    #[ignore = "needs root"]
    fn lock_all_in_a_dir_backup_may_write_creates_0660_backup_files_in_one_openat() {
        let (_tmp, a, dir, (uid, gid)) = backup_writable_lock_dir();
        assert_eq!(
            fs::metadata(&a).unwrap().uid(),
            uid,
            "lock dir made for backup"
        );
        let names: Vec<PathBuf> = (0..3).map(|i| a.join(format!("s{i}"))).collect();
        let guards = dir
            .lock_all(&names, LockMode::Exclusive, Duration::ZERO)
            .unwrap();
        for p in &names {
            let m = fs::symlink_metadata(p).unwrap();
            assert_eq!(
                (m.uid(), m.gid(), m.permissions().mode() & 0o7777),
                (uid, gid, 0o660),
                "{}",
                p.display()
            );
        }
        drop(guards);
    }

    const EXCLUSIVE_NOW: (LockMode, Duration) = (LockMode::Exclusive, Duration::ZERO);

    /// A file only root may open in the middle of a batch the switched identity takes: that
    /// one the ordinary way (left as it is), the ones after it again as PBS's; a lock held
    /// elsewhere stops the batch at its index. Each lock taken, either way, is told once,
    /// with the count held.
    #[test]
    #[ignore = "needs root"]
    fn lock_all_takes_an_unusual_file_the_ordinary_way_and_the_rest_as_before() {
        let (_tmp, a, dir, (uid, gid)) = backup_writable_lock_dir();
        let names: Vec<PathBuf> = (0..5).map(|i| a.join(format!("s{i}"))).collect();
        fs::write(&names[2], b"").unwrap();
        fs::set_permissions(&names[2], fs::Permissions::from_mode(0o600)).unwrap();
        let mut told = Vec::new();
        let guards = dir
            .lock_all_telling(&names, LockMode::Exclusive, Duration::ZERO, &mut |n| {
                told.push(n)
            })
            .unwrap();
        assert_eq!(guards.len(), names.len());
        assert_eq!(told, [1, 2, 3, 4, 5]);
        for (g, p) in guards.iter().zip(&names) {
            assert_eq!(g.path(), p);
            let m = fs::symlink_metadata(p).unwrap();
            let want = if p == &names[2] {
                (0, 0, 0o600)
            } else {
                (uid, gid, 0o660)
            };
            let got = (m.uid(), m.gid(), m.permissions().mode() & 0o7777);
            assert_eq!(got, want, "{}", p.display());
            let e = crate::ops::locks::flock::lock_file(p, LockMode::Shared, Duration::ZERO)
                .unwrap_err();
            assert!(e.is_conflict(), "{e}");
        }
        drop(guards);
        let held = dir
            .lock(&names[3], LockMode::Exclusive, Duration::ZERO)
            .unwrap();
        let (i, e) = dir
            .lock_all(&names, LockMode::Exclusive, Duration::ZERO)
            .unwrap_err();
        assert_eq!(i, 3);
        assert!(e.is_conflict(), "{e}");
        // The switched identity stops there and says it waited: lock_all does not wait
        // its timeout a second time the ordinary way.
        let (direct, waited_out) =
            dir.lock_direct((uid, gid), &names[3..], EXCLUSIVE_NOW, &mut |_| {});
        assert_eq!((direct.len(), waited_out), (0, true));
        drop(direct);
        let (direct, waited_out) = dir.lock_direct((uid, gid), &names, EXCLUSIVE_NOW, &mut |_| {});
        // Stopped at the file only root may open: no conflict, nothing waited out.
        assert_eq!((direct.len(), waited_out), (2, false));
        drop(direct);
        drop(held);
        // The ones taken before the conflict were released with the error.
        crate::ops::locks::flock::probe(&names[0], LockMode::Exclusive).unwrap();
    }

    #[test]
    fn lock_all_creates_pbs_lock_files_and_falls_back_on_anything_unusual() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("locks/store/a");
        let dir = LockDir::of(&a.join("x")).unwrap();
        let names: Vec<PathBuf> = (0..4).map(|i| a.join(format!("s{i}"))).collect();
        // An existing lock file only root may open (the ordinary way takes it), and one
        // held by someone else (the conflict names the index).
        fs::write(&names[1], b"").unwrap();
        fs::set_permissions(&names[1], fs::Permissions::from_mode(0o600)).unwrap();
        let held = dir
            .lock(&names[3], LockMode::Exclusive, Duration::ZERO)
            .unwrap();
        let (i, e) = dir
            .lock_all(&names, LockMode::Exclusive, Duration::ZERO)
            .unwrap_err();
        assert_eq!(i, 3);
        assert!(e.is_conflict(), "{e}");
        drop(held);
        let guards = dir
            .lock_all(&names, LockMode::Exclusive, Duration::ZERO)
            .unwrap();
        assert_eq!(guards.len(), 4);
        for (g, p) in guards.iter().zip(&names) {
            assert_eq!(g.path(), p);
            let m = fs::symlink_metadata(p).unwrap();
            assert_eq!(m.ino(), g.file().metadata().unwrap().ino());
            if p != &names[1] {
                assert_eq!(m.permissions().mode() & 0o7777, 0o660, "{}", p.display());
                if let Some((uid, gid)) = chown_ids() {
                    assert_eq!((m.uid(), m.gid()), (uid, gid), "{}", p.display());
                }
            }
            // Held: another open file description conflicts.
            let e = crate::ops::locks::flock::lock_file(p, LockMode::Shared, Duration::ZERO)
                .unwrap_err();
            assert!(e.is_conflict(), "{e}");
        }
        // A symlink is never followed, whichever way the file is opened.
        fs::remove_file(&names[0]).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), &names[0]).unwrap();
        drop(guards);
        assert!(
            dir.lock_all(&names, LockMode::Exclusive, Duration::ZERO)
                .is_err()
        );
        assert!(!tmp.path().join("elsewhere").exists());
    }
}
