//! Whether a path below the datastore base is a real directory reached without any symlink:
//! one `openat2(RESOLVE_NO_SYMLINKS)` where the kernel has it, the component walk (an `lstat`
//! per prefix) for everything it cannot decide.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::OFlags;

use super::error::{ScanError, io_err};
use crate::tree::datastore::Datastore;

impl Datastore {
    /// Whether `rel` (below the base) is a real directory reached without any symlink.
    ///
    /// One `openat2(RESOLVE_NO_SYMLINKS)` of plain names below the base resolves every
    /// component in one syscall instead of an `lstat` per prefix. Only "it is there" and "a component is
    /// missing" are answered by it; everything else (a symlink anywhere, a non-directory,
    /// no openat2 on this kernel or under seccomp, any other error) takes the component walk,
    /// which produces exactly the result and error (naming the offending path) it always did.
    pub(super) fn real_dir(&self, rel: &Path) -> Result<bool, ScanError> {
        if rel.as_os_str().is_empty() {
            return Ok(true);
        }
        match real_dir_openat2(&self.base, rel) {
            Openat2::RealDir => Ok(true),
            Openat2::Missing => Ok(false),
            Openat2::Undecided => self.real_dir_walk(rel),
        }
    }

    /// `rel` (below the base) opened for reading when one openat2 shows it a real directory
    /// reached without any symlink; `None` when it is missing or that call cannot tell
    /// (callers then ask [`Self::real_dir`], which names what is wrong).
    pub fn open_real_dir(&self, rel: &Path) -> Option<OwnedFd> {
        open_real_dir_openat2(&self.base, rel, OFlags::empty()).ok()
    }

    /// The reference implementation of [`Self::real_dir`]: `lstat` every prefix.
    fn real_dir_walk(&self, rel: &Path) -> Result<bool, ScanError> {
        let mut p = self.base.clone();
        for comp in rel.components() {
            p.push(comp);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(ScanError::Symlink { path: p });
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(io_err(&p)(e)),
            }
        }
        Ok(true)
    }
}

/// What one `openat2` call could tell about `base/rel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Openat2 {
    /// Every component below `base` is a real directory (no symlink was resolved).
    RealDir,
    /// A component is missing, and every component before it is a real directory.
    Missing,
    /// Anything else: the caller must walk the components to find out (and name) what.
    Undecided,
}

/// Set once openat2 turned out to be unavailable (ENOSYS on kernels before 5.6, EPERM/ENOSYS
/// under a seccomp filter), so the walk is taken without a failing syscall every time.
static OPENAT2_UNAVAILABLE: AtomicBool = AtomicBool::new(false);

/// `PBS_MOVER_SCAN_NO_OPENAT2=1` takes the component walk always, as on a kernel without
/// openat2: for tests of that path and for before/after benchmarks.
static OPENAT2_DISABLED: LazyLock<bool> =
    LazyLock::new(|| std::env::var_os("PBS_MOVER_SCAN_NO_OPENAT2").is_some_and(|v| v == "1"));

fn real_dir_openat2(base: &Path, rel: &Path) -> Openat2 {
    match open_real_dir_openat2(base, rel, OFlags::PATH) {
        Ok(_) => Openat2::RealDir,
        Err(outcome) => outcome,
    }
}

/// `base/rel` opened with `extra` flags (`O_PATH`, or none for a readable dir) when one
/// openat2 shows it a real directory; otherwise what that call could tell.
fn open_real_dir_openat2(base: &Path, rel: &Path, extra: OFlags) -> Result<OwnedFd, Openat2> {
    use rustix::fs::{CWD, Mode, ResolveFlags};
    use rustix::io::Errno;
    use std::path::Component;
    if OPENAT2_UNAVAILABLE.load(Ordering::Relaxed) || *OPENAT2_DISABLED {
        return Err(Openat2::Undecided);
    }
    // Only plain names below the base (what validated names produce): no `..`, no root,
    // so the path cannot leave the base (RESOLVE_BENEATH by construction).
    if !base.is_absolute() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Openat2::Undecided);
    }
    // The absolute path in one call (no open/close of the base per check). The base is
    // canonical (`Locator::locate`), so NO_SYMLINKS only ever meets a symlink below it; if
    // the base path itself contains one, every call says ELOOP and the walk decides (the
    // walk trusts the base as given, as before).
    match rustix::fs::openat2(
        CWD,
        base.join(rel),
        extra | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        // NO_SYMLINKS implies NO_MAGICLINKS.
        ResolveFlags::NO_SYMLINKS,
    ) {
        Ok(fd) => Ok(fd),
        // Resolution goes left to right and a symlink before the missing component would
        // have stopped it with ELOOP, so this is exactly the walk's `Ok(false)` on NotFound.
        Err(Errno::NOENT) => Err(Openat2::Missing),
        Err(Errno::NOSYS | Errno::PERM) => {
            OPENAT2_UNAVAILABLE.store(true, Ordering::Relaxed);
            Err(Openat2::Undecided)
        }
        // ELOOP: a symlink (the walk names it). ENOTDIR: a file on the way or at the end
        // (the walk's `Ok(false)`), or a trailing symlink, which O_PATH|O_NOFOLLOW opens
        // as itself and O_DIRECTORY then rejects (the walk's `Symlink`). EACCES, EAGAIN, …:
        // the walk decides too, with the error it always gave.
        Err(_) => Err(Openat2::Undecided),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn outcome(r: Result<bool, ScanError>) -> String {
        match r {
            Ok(b) => format!("ok {b}"),
            Err(ScanError::Symlink { path }) => format!("symlink {}", path.display()),
            Err(ScanError::Io { path, source }) => {
                format!("io {} {:?}", path.display(), source.kind())
            }
            Err(e) => format!("other {e}"),
        }
    }

    /// The openat2 fast path answers exactly what the component walk answers, for every
    /// shape of path a datastore can contain (and some it should not).
    #[test]
    fn real_dir_fast_path_equals_the_walk() {
        let tmp = tempfile::tempdir().unwrap();
        // Canonical, as `Locator::locate` makes it (TMPDIR may be reached through a symlink).
        let root = tmp.path().canonicalize().unwrap();
        let base = root.join("store");
        let outside = root.join("outside");
        fs::create_dir_all(base.join("ns/a/vm/100/2025-01-01T00:00:00Z")).unwrap();
        fs::create_dir_all(base.join("ns/a/ns/b")).unwrap();
        fs::create_dir_all(outside.join("vm/666")).unwrap();
        fs::write(base.join("ns/a/ct"), b"file").unwrap();
        fs::write(base.join("ns/a/vm/100/owner"), b"root@pam\n").unwrap();
        symlink(base.join("ns/a"), base.join("ns/inside")).unwrap();
        symlink(&outside, base.join("ns/out")).unwrap();
        symlink("../../nowhere", base.join("ns/dangling")).unwrap();
        symlink(outside.join("vm"), base.join("ns/a/ns/b/vm")).unwrap();
        let ds = Datastore::filesystem("store".into(), base.clone());
        let cases = [
            ("", "ok true"),
            ("ns", "ok true"),
            ("ns/a", "ok true"),
            ("ns/a/vm/100", "ok true"),
            ("ns/a/vm/100/2025-01-01T00:00:00Z", "ok true"),
            ("ns/missing", "ok false"),
            ("ns/missing/vm/1", "ok false"),
            ("ns/a/ct", "ok false"),
            ("ns/a/ct/101", "ok false"),
            ("ns/a/vm/100/owner", "ok false"),
            ("ns/a/vm/100/owner/x", "ok false"),
            ("ns/inside", "symlink ns/inside"),
            ("ns/inside/vm/100", "symlink ns/inside"),
            ("ns/out", "symlink ns/out"),
            ("ns/out/vm/666", "symlink ns/out"),
            ("ns/dangling", "symlink ns/dangling"),
            ("ns/dangling/vm", "symlink ns/dangling"),
            ("ns/a/ns/b/vm", "symlink ns/a/ns/b/vm"),
            ("ns/a/ns/b/vm/666", "symlink ns/a/ns/b/vm"),
        ];
        for (rel, want) in cases {
            let want = match want.strip_prefix("symlink ") {
                Some(p) => format!("symlink {}", base.join(p).display()),
                None => want.to_string(),
            };
            let rel = Path::new(rel);
            assert_eq!(outcome(ds.real_dir_walk(rel)), want, "walk: {rel:?}");
            assert_eq!(outcome(ds.real_dir(rel)), want, "real_dir: {rel:?}");
            if !rel.as_os_str().is_empty() {
                let fast = real_dir_openat2(&base, rel);
                let expected = match want.as_str() {
                    "ok true" => Openat2::RealDir,
                    "ok false" if fast == Openat2::Missing => Openat2::Missing,
                    _ => Openat2::Undecided,
                };
                // Where openat2 exists it must decide the common cases by itself.
                if !OPENAT2_UNAVAILABLE.load(Ordering::Relaxed) {
                    assert_eq!(fast, expected, "openat2: {rel:?}");
                }
            }
        }
        if !OPENAT2_UNAVAILABLE.load(Ordering::Relaxed) {
            assert_eq!(
                real_dir_openat2(&base, Path::new("ns/missing/vm/1")),
                Openat2::Missing
            );
        }
    }
}
