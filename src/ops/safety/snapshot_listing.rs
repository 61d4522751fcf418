//! A snapshot dir's entry names, read never through a symlink, and whether a read taken
//! before the locks still holds under them.
//!
//! A move needs each snapshot's index files for PBS's GC move journal, listed so that no
//! index file appears after the listing. The pre-flight of `move-group` reads every snapshot
//! dir before any lock (a symlink in one must be refused before even a lock file exists);
//! instead of reading each dir again under its lock, the move checks with one `lstat` that
//! the dir is still the same inode with the same change times as when it was read
//! ([`DirStamp`]). Adding, removing or renaming an entry sets the dir's ctime and mtime to the
//! current time, so an unchanged stamp means unchanged entries — provided the read dir had
//! not changed moments before: within one timestamp granule (a coarse clock tick, one second
//! on filesystems with second timestamps) two changes leave the same times. A dir changed
//! within [`SETTLED`] of the read is therefore read again under the lock.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::ops::error::{MoveError, symlink_refusal};
use crate::tree::scan::nofollow::entry_type;

/// The entry names of each snapshot dir of a group, by the snapshot dir's name.
pub type SnapshotEntries = HashMap<OsString, SnapshotListing>;

/// How long a snapshot dir must have been unchanged at its read for the read to be trusted
/// under the lock by its stamp: far above any timestamp granule of a Linux filesystem and
/// above the clock skew of an NFS server kept by NTP.
pub const SETTLED: Duration = Duration::from_secs(5);

/// One snapshot dir's entry names (none of them a symlink) and when they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotListing {
    pub names: Vec<OsString>,
    pub taken: Taken,
}

/// When a listing was read, which decides what the move must check before it goes on with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Under the source group lock: every PBS writer of index files (backup, pull, tape
    /// restore) holds that lock for its whole session, so the names stay right for as long
    /// as the dir is there.
    UnderGroupLock,
    /// Before the group lock, from a dir settled at the time: right while the dir's stamp is
    /// the same.
    Before(DirStamp),
    /// Before the group lock, from a dir changed moments before: read again under the lock.
    BeforeUnsettled,
}

/// What changes when a dir's entries change: its identity and its change and modification
/// times, to the nanosecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirStamp {
    dev: u64,
    ino: u64,
    ctime: (i64, i64),
    mtime: (i64, i64),
}

impl DirStamp {
    // Lossless: the casts only unify the stat field types of the architectures.
    #[allow(clippy::unnecessary_cast)]
    pub fn of(st: &Stat) -> Self {
        Self {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
        }
    }

    /// Whether both times lie at least [`SETTLED`] before `read_at`.
    fn settled(&self, read_at: SystemTime) -> bool {
        let Ok(now) = read_at.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let limit = now.saturating_sub(SETTLED);
        let before = |(sec, nsec): (i64, i64)| {
            let (Ok(sec), Ok(nsec)) = (u64::try_from(sec), u32::try_from(nsec)) else {
                return true; // before 1970: long settled
            };
            Duration::new(sec, nsec.min(999_999_999)) <= limit
        };
        before(self.ctime) && before(self.mtime)
    }
}

/// How [`read`] is to mark what it reads.
#[derive(Debug, Clone, Copy)]
pub enum ReadUnder {
    /// The source group lock is held.
    GroupLock,
    /// No lock is held yet; the read starts at this time.
    NoLock(SystemTime),
}

/// The entries of the snapshot dir `name` in `group_fd` (`path` names it in errors), never
/// through a symlink: the dir being one, or holding one, is refused. `Ok(None)` when the dir
/// is gone; other errors go through `on_err`. Read without touching the dir's atime where
/// the kernel lets us (a read must not dirty 10,000 inodes of a datastore).
pub fn read(
    group_fd: impl AsFd,
    name: &OsStr,
    path: &Path,
    under: ReadUnder,
    on_err: impl Fn(Errno) -> MoveError,
) -> Result<Option<SnapshotListing>, MoveError> {
    let group_fd = group_fd.as_fd();
    let fd = match open_dir_noatime(group_fd, name) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::LOOP | Errno::NOTDIR) => return Err(symlink_refusal(path)),
        Err(e) => return Err(on_err(e)),
    };
    // Stamped before the listing: a change during the read shows as a different stamp.
    let taken = match under {
        ReadUnder::GroupLock => Taken::UnderGroupLock,
        ReadUnder::NoLock(at) => {
            let stamp = DirStamp::of(&rustix::fs::fstat(&fd).map_err(&on_err)?);
            if stamp.settled(at) {
                Taken::Before(stamp)
            } else {
                Taken::BeforeUnsettled
            }
        }
    };
    let mut names = Vec::new();
    for entry in Dir::new(fd).map_err(&on_err)? {
        let entry = entry.map_err(&on_err)?;
        let entry_name = OsStr::from_bytes(entry.file_name().to_bytes());
        if entry_type(group_fd, Path::new(name), &entry).map_err(&on_err)? == FileType::Symlink {
            return Err(symlink_refusal(&path.join(entry_name)));
        }
        if entry_name != "." && entry_name != ".." {
            names.push(entry_name.to_os_string());
        }
    }
    Ok(Some(SnapshotListing { names, taken }))
}

/// [`read`] under the group lock, names only: the group dir listing of the whole-group check.
pub fn entry_names(
    parent_fd: impl AsFd,
    name: &OsStr,
    path: &Path,
    on_err: impl Fn(Errno) -> MoveError,
) -> Result<Option<Vec<OsString>>, MoveError> {
    Ok(read(parent_fd, name, path, ReadUnder::GroupLock, on_err)?.map(|l| l.names))
}

/// The dir `name` below `dir_fd` opened for reading, not through a symlink, with `O_NOATIME`
/// unless the kernel refuses it (only the owner or CAP_FOWNER may).
fn open_dir_noatime(dir_fd: impl AsFd, name: &OsStr) -> Result<std::os::fd::OwnedFd, Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let dir_fd = dir_fd.as_fd();
    match rustix::fs::openat(dir_fd, name, flags | OFlags::NOATIME, Mode::empty()) {
        Err(Errno::PERM) => rustix::fs::openat(dir_fd, name, flags, Mode::empty()),
        other => other,
    }
}

impl SnapshotListing {
    /// Whether the move may go on with these names under the snapshot lock, given the dir as
    /// it is now (`now`: its lstat, a real dir): always when read under the group lock, when
    /// read before it only while the dir's stamp is unchanged.
    pub fn holds_for(&self, now: &Stat) -> bool {
        match self.taken {
            Taken::UnderGroupLock => true,
            Taken::Before(stamp) => stamp == DirStamp::of(now),
            Taken::BeforeUnsettled => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn stat(p: &Path) -> Stat {
        rustix::fs::lstat(p).unwrap()
    }

    fn read_before(group: &Path, name: &str, at: SystemTime) -> SnapshotListing {
        let fd =
            rustix::fs::open(group, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let on_err = |e: Errno| MoveError::failed(e.to_string());
        read(
            &fd,
            name.as_ref(),
            &group.join(name),
            ReadUnder::NoLock(at),
            on_err,
        )
        .unwrap()
        .unwrap()
    }

    /// A listing read before the lock holds while the dir is untouched and stops holding
    /// once an entry is added, removed or renamed, or the dir is replaced by another.
    #[test]
    fn a_stamped_listing_holds_only_while_the_dir_is_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let (group, snap) = (tmp.path(), tmp.path().join("s"));
        let later = SystemTime::now() + SETTLED + Duration::from_secs(1);
        type Change = fn(&Path);
        let changes: [(&str, Change); 4] = [
            ("add", |s| fs::write(s.join("root.pxar.didx"), "x").unwrap()),
            ("remove", |s| {
                fs::remove_file(s.join("index.json.blob")).unwrap()
            }),
            ("rename", |s| {
                fs::rename(s.join("index.json.blob"), s.join("x.fidx")).unwrap()
            }),
            ("replace", |s| {
                fs::rename(s, s.with_file_name("old")).unwrap();
                fs::create_dir(s).unwrap();
                fs::write(s.join("index.json.blob"), "m").unwrap();
            }),
        ];
        for (what, change) in changes {
            let _ = fs::remove_dir_all(&snap);
            let _ = fs::remove_dir_all(group.join("old"));
            fs::create_dir(&snap).unwrap();
            fs::write(snap.join("index.json.blob"), "m").unwrap();
            let listing = read_before(group, "s", later);
            assert!(matches!(listing.taken, Taken::Before(_)), "{what}");
            assert!(listing.holds_for(&stat(&snap)), "{what}: untouched");
            change(&snap);
            assert!(!listing.holds_for(&stat(&snap)), "{what}");
        }
    }

    /// A dir changed within [`SETTLED`] of the read is never trusted by its stamp; one read
    /// under the group lock always is; neither lists "." or "..".
    #[test]
    fn unsettled_dirs_are_read_again_and_group_lock_reads_are_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let snap = tmp.path().join("s");
        fs::create_dir(&snap).unwrap();
        fs::write(snap.join("a.fidx"), "x").unwrap();
        let listing = read_before(tmp.path(), "s", SystemTime::now());
        assert_eq!(listing.taken, Taken::BeforeUnsettled);
        assert!(!listing.holds_for(&stat(&snap)));
        assert_eq!(listing.names, [OsString::from("a.fidx")]);
        let under = SnapshotListing {
            names: listing.names,
            taken: Taken::UnderGroupLock,
        };
        fs::write(snap.join("b.fidx"), "x").unwrap();
        assert!(under.holds_for(&stat(&snap)));
    }
}
