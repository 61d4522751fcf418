//! A thread whose file-creation identity is backup:backup with umask 0, so that one
//! `openat(O_CREAT, 0660)` makes a lock file exactly as PBS's `open_backup_lockfile` leaves
//! it (0660 backup:backup) at the moment it appears: no O_TMPFILE + fchmod + fchown + linkat.
//!
//! Both settings are the thread's own: Linux keeps the fsuid/fsgid per thread (glibc's
//! `setfsuid` is the bare syscall, not broadcast to the other threads like `setuid`), and
//! the umask is made per thread with `unshare(CLONE_FS)`. The identity only ever lives on a
//! scoped thread that ends with the batch, so nothing else in the process creates files
//! under it.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, Mode};
use rustix::io::Errno;

/// This thread creates files as `(uid, gid)` with umask 0 while it lives; dropping it goes
/// back to the thread's previous identity (the umask stays 0: the thread's own, and only
/// files created with an explicit mode are made on it).
#[derive(Debug)]
pub struct BackupIdentity {
    prev: (u32, u32),
    target: (u32, u32),
}

impl BackupIdentity {
    /// Takes on `(uid, gid)` for file creation on this thread; `None` when the kernel
    /// refuses (an unprivileged process that is not that user), leaving the thread as it was.
    pub fn assume((uid, gid): (u32, u32)) -> Option<Self> {
        // SAFETY: only CLONE_FS (cwd, root, umask), never CLONE_FILES: every fd stays
        // shared with the other threads.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }.ok()?;
        rustix::process::umask(Mode::empty());
        let prev = (set_fsuid(uid), set_fsgid(gid));
        let id = Self {
            prev,
            target: (uid, gid),
        };
        // setfs[ug]id report no error; a second call returns the value now in force.
        (set_fsuid(uid) == uid && set_fsgid(gid) == gid).then_some(id)
    }

    /// Runs `f` with this thread's previous identity (root), e.g. for a lock file that
    /// user `backup` may not open.
    pub fn suspended<R>(&self, f: impl FnOnce() -> R) -> R {
        set_fsuid(self.prev.0);
        set_fsgid(self.prev.1);
        let r = f();
        set_fsuid(self.target.0);
        set_fsgid(self.target.1);
        r
    }
}

impl Drop for BackupIdentity {
    fn drop(&mut self) {
        set_fsuid(self.prev.0);
        set_fsgid(self.prev.1);
    }
}

fn set_fsuid(uid: u32) -> u32 {
    nix::unistd::setfsuid(uid.into()).as_raw()
}

fn set_fsgid(gid: u32) -> u32 {
    nix::unistd::setfsgid(gid.into()).as_raw()
}

/// Whether a file created in the dir `dir` (at `path`) by a [`BackupIdentity`] thread gets
/// exactly `(uid, gid)` and mode 0660: not when the dir's setgid bit hands out another group
/// or a default ACL replaces the umask.
pub fn creates_exactly(dir: &OwnedFd, path: &std::path::Path, (_, gid): (u32, u32)) -> bool {
    let Ok(st) = rustix::fs::statat(dir.as_fd(), "", AtFlags::EMPTY_PATH) else {
        return false;
    };
    let setgid = st.st_mode & 0o2000 != 0;
    if setgid && st.st_gid != gid {
        return false;
    }
    // No default ACL: the create mode minus the (zero) umask is the file's mode.
    matches!(
        rustix::fs::lgetxattr(path, "system.posix_acl_default", &mut [0u8; 0][..]),
        Err(Errno::NODATA | Errno::OPNOTSUPP)
    )
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    #[ignore = "needs root"]
    fn files_created_under_it_are_owned_and_unmasked_other_threads_unchanged() {
        assert!(
            rustix::process::geteuid().is_root(),
            "needs root to take on another fsuid: run as root"
        );
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let umask_before = thread_umask();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                let id = BackupIdentity::assume((65534, 65534)).unwrap();
                let f = rustix::fs::open(
                    dir.join("a"),
                    rustix::fs::OFlags::CREATE | rustix::fs::OFlags::WRONLY,
                    Mode::from_raw_mode(0o660),
                )
                .unwrap();
                drop(f);
                id.suspended(|| std::fs::write(dir.join("root"), b"").unwrap());
            })
            .join()
            .unwrap();
        });
        let m = std::fs::metadata(dir.join("a")).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (65534, 65534, 0o660));
        let m = std::fs::metadata(dir.join("root")).unwrap();
        assert_eq!((m.uid(), m.gid()), (0, 0));
        // This thread kept its identity and its umask.
        std::fs::write(dir.join("main"), b"").unwrap();
        assert_eq!(std::fs::metadata(dir.join("main")).unwrap().uid(), 0);
        assert_eq!(
            thread_umask(),
            umask_before,
            "the zero umask stayed on its thread"
        );
    }

    fn thread_umask() -> String {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        status
            .lines()
            .find(|l| l.starts_with("Umask:"))
            .unwrap()
            .to_string()
    }
}
