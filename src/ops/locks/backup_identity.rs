//! File creation as backup:backup with umask 0 on the calling thread, for the length of one
//! closure ([`run_as`]), so that one `openat(O_CREAT, 0660)` in it makes a lock file exactly
//! as PBS's `open_backup_lockfile` leaves it (0660 backup:backup) at the moment it appears:
//! no O_TMPFILE + fchmod + fchown + linkat.
//!
//! Both settings are the thread's own: Linux keeps the fsuid/fsgid per thread (glibc's
//! `setfsuid` is the bare syscall, not broadcast to the other threads like `setuid`), and
//! the umask is made per thread by one `unshare(CLONE_FS)` the first time a thread switches.
//! The switch is undone when the closure returns (or unwinds), so nothing else the thread
//! does runs as `backup`. On the calling thread, not on a thread of its own: handing each
//! lock batch to another thread and back cost four futex calls and two context switches
//! per group of a namespace move, more than the eight cheap syscalls of switching here.

use std::cell::Cell;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, Mode};
use rustix::io::Errno;

thread_local! {
    /// This thread has its own umask (and cwd and root) since an `unshare(CLONE_FS)`.
    static OWN_FS: Cell<bool> = const { Cell::new(false) };
}

/// This thread creates files as `(uid, gid)` with umask 0 while it lives; dropping it puts
/// back the thread's previous fsuid, fsgid and umask.
#[derive(Debug)]
struct BackupIdentity {
    prev_ids: (u32, u32),
    prev_umask: Mode,
}

impl BackupIdentity {
    /// Takes on `(uid, gid)` for file creation on this thread; `None` when the kernel
    /// refuses (an unprivileged process that is not that user), leaving the thread as it was.
    fn assume((uid, gid): (u32, u32)) -> Option<Self> {
        own_fs()?;
        let id = Self {
            prev_umask: rustix::process::umask(Mode::empty()),
            prev_ids: (set_fsuid(uid), set_fsgid(gid)),
        };
        // setfs[ug]id report no error; a second call returns the value now in force. A
        // refusal drops `id`, which puts back what the first calls changed.
        (set_fsuid(uid) == uid && set_fsgid(gid) == gid).then_some(id)
    }
}

impl Drop for BackupIdentity {
    fn drop(&mut self) {
        set_fsgid(self.prev_ids.1);
        set_fsuid(self.prev_ids.0);
        rustix::process::umask(self.prev_umask);
    }
}

/// Gives this thread its own umask, once per thread; `None` when the kernel refuses.
fn own_fs() -> Option<()> {
    if !OWN_FS.get() {
        // SAFETY: only CLONE_FS (cwd, root, umask), never CLONE_FILES: every fd stays
        // shared with the other threads. Nothing in this process changes its cwd or root,
        // so the copy never differs from the other threads' but for the umask.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }.ok()?;
        OWN_FS.set(true);
    }
    Some(())
}

fn set_fsuid(uid: u32) -> u32 {
    nix::unistd::setfsuid(uid.into()).as_raw()
}

fn set_fsgid(gid: u32) -> u32 {
    nix::unistd::setfsgid(gid.into()).as_raw()
}

/// Runs `f` on this thread creating files as `ids` (backup:backup) with umask 0, and returns
/// its result; `None` (without running `f`) when the kernel refuses that identity. `f` must
/// only create files with an explicit mode and must not look at other processes (`/proc`
/// checks the fsuid) or start a thread (it would share the switched identity): it runs as
/// `backup`.
pub fn run_as<R>(ids: (u32, u32), f: impl FnOnce() -> R) -> Option<R> {
    let _identity = BackupIdentity::assume(ids)?;
    Some(f())
}

/// Whether a file created in the dir `dir` (at `path`) inside [`run_as`] gets
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
    use std::path::Path;

    use super::*;

    #[test]
    #[ignore = "needs root"]
    fn files_created_inside_are_owned_and_unmasked_the_thread_restored_others_unchanged() {
        assert!(
            rustix::process::geteuid().is_root(),
            "needs root to take on another fsuid: run as root"
        );
        let ids = crate::ops::safety::ownership::chown_ids()
            .expect("a backup user (PBS hosts and CI have one)");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::os::unix::fs::chown(&dir, Some(ids.0), Some(ids.1)).unwrap();
        let umask_before = thread_umask();
        // Started before: a thread started inside would share the switched identity.
        let other = Other::start();
        let (ids_before, other_before) = (fs_ids(), other.umask());
        for name in ["a", "b"] {
            let (inside, other) = run_as(ids, || {
                create(&dir.join(name));
                (fs_ids(), other.umask())
            })
            .unwrap();
            assert_eq!(inside, format!("{} {}", ids.0, ids.1));
            assert_eq!(other, other_before, "another thread's umask stayed");
            let m = std::fs::metadata(dir.join(name)).unwrap();
            assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (ids.0, ids.1, 0o660));
        }
        // After the closure this thread is itself again: root's files, its own umask.
        assert_eq!(fs_ids(), ids_before);
        assert_eq!(thread_umask(), umask_before);
        create(&dir.join("after"));
        let m = std::fs::metadata(dir.join("after")).unwrap();
        assert_eq!((m.uid(), m.gid()), (0, 0));
        // Also after a panic inside.
        let unwound = std::panic::catch_unwind(|| run_as(ids, || panic!("inside")));
        assert!(unwound.is_err());
        assert_eq!((fs_ids(), thread_umask()), (ids_before, umask_before));
    }

    fn create(path: &Path) {
        rustix::fs::open(
            path,
            rustix::fs::OFlags::CREATE | rustix::fs::OFlags::WRONLY,
            Mode::from_raw_mode(0o660),
        )
        .map(drop)
        .unwrap();
    }

    /// A field of this thread's `/proc` status.
    fn status(key: &str) -> String {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        line.split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn thread_umask() -> String {
        status("Umask:")
    }

    /// This thread's fsuid and fsgid (the fourth of the Uid/Gid fields).
    fn fs_ids() -> String {
        let fourth = |key| status(key).split(' ').nth(3).unwrap().to_string();
        format!("{} {}", fourth("Uid:"), fourth("Gid:"))
    }

    /// Another thread of this process that tells its umask when asked.
    struct Other {
        ask: std::sync::mpsc::Sender<std::sync::mpsc::Sender<String>>,
    }

    impl Other {
        fn start() -> Self {
            let (ask, asked) = std::sync::mpsc::channel::<std::sync::mpsc::Sender<String>>();
            std::thread::spawn(move || {
                asked
                    .into_iter()
                    .for_each(|tell| tell.send(thread_umask()).unwrap())
            });
            Self { ask }
        }

        fn umask(&self) -> String {
            let (tell, told) = std::sync::mpsc::channel();
            self.ask.send(tell).unwrap();
            told.recv().unwrap()
        }
    }
}
