//! Locks held by other processes, the one way every suite takes them: real flocks held by
//! `flock(1)` (util-linux) and a POSIX fcntl write lock held by `python3` (what PBS's GC
//! holds on `<store>/.lock`). Released in order on drop.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A lock held by another process until drop.
///
/// The holder waits on its stdin (`flock … cat`, python's `stdin.read()`): closing it ends
/// the chain in order, each `flock` reaping its child, so the locks are gone once we reaped
/// the outermost process (a SIGKILL would orphan a child that keeps the inherited lock fd
/// while it dies).
pub struct HeldLock {
    child: Child,
    /// The process holding the lock (the outermost `flock`, or python).
    pub pid: u32,
}

impl HeldLock {
    /// A flock on `path` (created if needed, a directory works too), shared or exclusive.
    pub fn flock(path: &Path, shared: bool) -> Self {
        Self::chain(&[(path, shared)])
    }

    pub fn exclusive(path: &Path) -> Self {
        Self::flock(path, false)
    }

    pub fn shared(path: &Path) -> Self {
        Self::flock(path, true)
    }

    /// Nested `flock` processes, one per file (`true` = shared), like a task locking a chain.
    pub fn chain(files: &[(&Path, bool)]) -> Self {
        let mut args: Vec<String> = Vec::new();
        for (path, shared) in files {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            args.push("flock".into());
            if *shared {
                args.push("--shared".into());
            }
            args.extend(["-w".into(), "10".into(), path.display().to_string()]);
        }
        args.push("cat".into());
        let child = Command::new(&args[0])
            .args(&args[1..])
            // Its own process group: the last resort on drop kills the whole chain.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("flock(1) from util-linux");
        let held = Self {
            pid: child.id(),
            child,
        };
        for (path, _) in files {
            wait_until(|| flocked(path));
        }
        held
    }

    /// A POSIX fcntl write lock on the whole of `path` (which must exist).
    pub fn fcntl_write(path: &Path) -> Self {
        let script = "import fcntl,sys\nf=open(sys.argv[1],'r+')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('ok',flush=True)\nsys.stdin.read()\n";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(path)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut buf = [0u8; 3];
        child
            .stdout
            .take()
            .unwrap()
            .read_exact(&mut buf)
            .expect("python3 took the fcntl lock");
        Self {
            pid: child.id(),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Stuck: kill the process group we created, by its id.
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        let _ = self.child.wait();
    }
}

/// Whether some process holds (not merely waits for) a flock on `path`, per /proc/locks.
pub fn flocked(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    // /proc/locks names a file as MAJOR:MINOR:INODE, the device numbers in hex.
    let dev = meta.dev();
    let id = format!(
        "{:02x}:{:02x}:{}",
        rustix::fs::major(dev),
        rustix::fs::minor(dev),
        meta.ino()
    );
    std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .any(|l| l.contains("FLOCK") && !l.contains("->") && l.split_whitespace().any(|w| w == id))
}

/// Polls `f` every 10 ms until it holds; fails the test after 10 s.
pub fn wait_until(mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "condition not reached in 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
