//! One long-lived thread whose file-creation identity is backup:backup with umask 0, so that
//! one `openat(O_CREAT, 0660)` on it makes a lock file exactly as PBS's `open_backup_lockfile`
//! leaves it (0660 backup:backup) at the moment it appears: no O_TMPFILE + fchmod + fchown +
//! linkat.
//!
//! Both settings are the thread's own: Linux keeps the fsuid/fsgid per thread (glibc's
//! `setfsuid` is the bare syscall, not broadcast to the other threads like `setuid`), and
//! the umask is made per thread with `unshare(CLONE_FS)`. The identity lives only on that
//! one thread, which runs nothing but the jobs handed to [`run_as`]: nothing else in the
//! process creates files under it. One thread for the whole process, not one per lock
//! batch: a thread's start (clone3, its stack, unshare, four setfs*id) was ~20 syscalls per
//! group of a namespace move; a job is one wake-up each way.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::mpsc;

use rustix::fs::{AtFlags, Mode};
use rustix::io::Errno;

/// This thread creates files as `(uid, gid)` with umask 0 while it lives; dropping it goes
/// back to the thread's previous identity (the umask stays 0: the thread's own, and only
/// files created with an explicit mode are made on it).
#[derive(Debug)]
struct BackupIdentity {
    prev: (u32, u32),
}

impl BackupIdentity {
    /// Takes on `(uid, gid)` for file creation on this thread; `None` when the kernel
    /// refuses (an unprivileged process that is not that user), leaving the thread as it was.
    fn assume((uid, gid): (u32, u32)) -> Option<Self> {
        // SAFETY: only CLONE_FS (cwd, root, umask), never CLONE_FILES: every fd stays
        // shared with the other threads.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }.ok()?;
        rustix::process::umask(Mode::empty());
        let id = Self {
            prev: (set_fsuid(uid), set_fsgid(gid)),
        };
        // setfs[ug]id report no error; a second call returns the value now in force.
        (set_fsuid(uid) == uid && set_fsgid(gid) == gid).then_some(id)
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

type Job = Box<dyn FnOnce() + Send>;

/// The identity thread: the identity it has taken on and where its jobs go.
struct Worker {
    ids: (u32, u32),
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    /// Starts the thread; `None` when it cannot take on `ids` (it then ends at once).
    fn start(ids: (u32, u32)) -> Option<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, started) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("backup-identity".into())
            .spawn(move || {
                let id = BackupIdentity::assume(ids);
                let _ = ready.send(id.is_some());
                if id.is_some() {
                    queue.into_iter().for_each(|job| job());
                }
            })
            .ok()?;
        started.recv().ok()?.then_some(Self { ids, jobs })
    }
}

/// Runs `f` on the thread that creates files as `ids` (backup:backup) with umask 0, and
/// returns its result; `None` when there is no such thread (the kernel refused the
/// identity, `f` panicked on it before, or `ids` are not the ones it took on). `f` must
/// only create files with an explicit mode and must not look at other processes (`/proc`
/// checks the fsuid): it runs as `backup`.
pub fn run_as<R: Send + 'static>(
    ids: (u32, u32),
    f: impl FnOnce() -> R + Send + 'static,
) -> Option<R> {
    static WORKER: OnceLock<Option<Worker>> = OnceLock::new();
    let worker = WORKER.get_or_init(|| Worker::start(ids)).as_ref()?;
    if worker.ids != ids {
        return None;
    }
    let (done, result) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = done.send(f());
    });
    worker.jobs.send(job).ok()?;
    // A panic in `f` ends the thread: this gets no answer, and later jobs none either.
    result.recv().ok()
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
    fn files_created_by_its_jobs_are_owned_and_unmasked_other_threads_unchanged() {
        assert!(
            rustix::process::geteuid().is_root(),
            "needs root to take on another fsuid: run as root"
        );
        // The ids every lock batch of this process uses, so that any test may come first.
        let ids = crate::ops::safety::ownership::chown_ids()
            .expect("a backup user (PBS hosts and CI have one)");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let umask_before = thread_umask();
        std::os::unix::fs::chown(&dir, Some(ids.0), Some(ids.1)).unwrap();
        for name in ["a", "b"] {
            let path = dir.join(name);
            let created = run_as(ids, move || {
                rustix::fs::open(
                    path,
                    rustix::fs::OFlags::CREATE | rustix::fs::OFlags::WRONLY,
                    Mode::from_raw_mode(0o660),
                )
                .map(drop)
            });
            created.unwrap().unwrap();
            let m = std::fs::metadata(dir.join(name)).unwrap();
            assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (ids.0, ids.1, 0o660));
        }
        // One thread for every job, and only for the identity it took on.
        let tid = || rustix::thread::gettid().as_raw_nonzero().get();
        assert_eq!(run_as(ids, tid), run_as(ids, tid));
        assert_ne!(run_as(ids, tid), Some(tid()));
        assert!(run_as((0, 0), || ()).is_none());
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
