//! The GC move journal of PBS >= 4.1.9 (`pbs-datastore/src/move_journal.rs`):
//! `<lock_dir>/<store>/move-journal`, one absolute index path per line.
//!
//! GC phase 1 lists index files first and walks namespaces later; a snapshot renamed in
//! between is seen at neither place and its chunks could be swept. So before renaming a
//! snapshot dir, the mover records the *post-rename* paths of its indexes here, and GC
//! marks everything listed before it sweeps. Invariant: if the new path exists, a
//! journal entry for it exists too.

use std::error::Error as StdError;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use std::time::Duration;

use thiserror::Error;

use crate::ops::locks::flock::{self, LockError, LockMode};
use crate::ops::locks::paths::LockPaths;

/// PBS `APPEND_LOCK_TIMEOUT` / `DRAIN_LOCK_TIMEOUT`: rather fail than hang behind GC.
pub const JOURNAL_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum JournalError {
    #[error("move-journal: refusing to record non-absolute path {0:?}")]
    NotAbsolute(PathBuf),
    #[error("move-journal: non-UTF-8 path {0:?}")]
    NonUtf8(PathBuf),
    #[error("move-journal: path contains newline {0:?}")]
    Newline(PathBuf),
    #[error("failed to acquire exclusive move-journal lock: {0}")]
    Lock(#[from] LockError),
    #[error("move-journal {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("move-journal: processing '{entry}' failed: {source}")]
    Process {
        entry: String,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

/// Records the post-rename index paths; the caller renames only after this returns.
/// All lines go out in one write under the exclusive flock, which is released at once.
pub fn append_moved_indices(paths: &LockPaths, indices: &[PathBuf]) -> Result<(), JournalError> {
    // Dropping the writer closes the journal fd.
    JournalWriter::new(paths).append(indices)
}

/// The move journal kept open across a batch of snapshot moves. Each [`append`] takes the
/// exclusive flock, re-checks that the path still names the open inode (re-opening it when
/// not), writes, and releases the flock before returning: the caller renames afterwards,
/// never holding the journal lock across a rename (GC must be able to drain in between).
/// Saves the open/close (and the parent-dir check) per snapshot of [`append_moved_indices`].
///
/// [`append`]: JournalWriter::append
#[derive(Debug)]
pub struct JournalWriter {
    path: PathBuf,
    file: Option<std::fs::File>,
    /// The journal's dir, opened at the first append: [`Self::still_recorded`] then looks
    /// up one name instead of walking the whole path before every rename.
    dir: Option<OwnedFd>,
    /// The latest append, to tell whether GC drained it since.
    last: Option<Appended>,
}

/// Where the latest append ended, in which file, and its last line.
#[derive(Debug)]
struct Appended {
    end: u64,
    inode: (u64, u64),
    tail: Vec<u8>,
}

impl JournalWriter {
    pub fn new(paths: &LockPaths) -> Self {
        Self {
            path: paths.move_journal(),
            file: None,
            dir: None,
            last: None,
        }
    }

    /// Records the post-rename index paths; rename only after this returned `Ok`.
    pub fn append(&mut self, indices: &[PathBuf]) -> Result<(), JournalError> {
        self.last = None;
        if indices.is_empty() {
            return Ok(());
        }
        let mut buf = String::new();
        for index in indices {
            buf.push_str(validated(index)?);
            buf.push('\n');
        }
        let guard = match self.file.take() {
            Some(file) => {
                flock::relock(file, &self.path, LockMode::Exclusive, JOURNAL_LOCK_TIMEOUT)?
            }
            None => None,
        };
        let guard = match guard {
            Some(g) => g,
            None => flock::lock_file(&self.path, LockMode::Exclusive, JOURNAL_LOCK_TIMEOUT)?,
        };
        let io_err = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        // O_APPEND: the write lands at EOF even if GC truncated the file meanwhile.
        guard.file().write_all(buf.as_bytes()).map_err(io_err)?;
        // Still under the flock, so nobody appended after us: the size is our end offset.
        let meta = guard.file().metadata().map_err(io_err)?;
        if self.dir.is_none() {
            self.dir = Some(open_parent(&self.path).map_err(io_err)?);
        }
        // On an unlock error the fd is dropped, and closing it releases the lock.
        self.file = Some(guard.unlock_keep_open().map_err(io_err)?);
        let last_line = buf[..buf.len() - 1].rfind('\n').map_or(0, |i| i + 1);
        self.last = Some(Appended {
            end: meta.len(),
            inode: (meta.ino(), meta.dev()),
            tail: buf.as_bytes()[last_line..].to_vec(),
        });
        Ok(())
    }

    /// Whether the entries of the latest [`append`](Self::append) are still in the journal.
    /// GC drains (truncates) it at the end of its phase 1, so a caller that appends a whole
    /// batch first must check this before each rename and append the rest again when it
    /// returns `false`: an entry drained before its rename would be missing for the *next*
    /// GC. No lock is taken: a drain racing this check is the same window PBS has between
    /// its append and its rename.
    pub fn still_recorded(&self) -> Result<bool, JournalError> {
        let (Some(file), Some(dir), Some(last)) = (&self.file, &self.dir, &self.last) else {
            return Ok(self.last.is_none());
        };
        let io_err = |e: Errno| JournalError::Io {
            path: self.path.clone(),
            source: e.into(),
        };
        // One lookup of the name: still our inode (not removed or replaced), and long
        // enough. The size is the inode's, so this also is the fstat of our fd.
        let name = self.path.file_name().unwrap_or_default();
        let named = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(false),
            Err(e) => return Err(io_err(e)),
        };
        let (end, tail) = (last.end, &last.tail);
        let inode = (named.st_ino, named.st_dev);
        if inode != last.inode || u64::try_from(named.st_size).unwrap_or(0) < end {
            return Ok(false);
        }
        // Truncated and refilled by other movers past our offset: our bytes are gone.
        let mut found = vec![0; tail.len()];
        match file.read_exact_at(&mut found, end - tail.len() as u64) {
            Ok(()) => Ok(found == *tail),
            // GC truncated it between the stat above and this read: drained.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(JournalError::Io {
                path: self.path.clone(),
                source: e,
            }),
        }
    }
}

/// An `O_PATH` fd of the dir holding `path`, not through a symlink.
fn open_parent(path: &Path) -> io::Result<OwnedFd> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::open(parent, flags, Mode::empty())?)
}

fn validated(index: &Path) -> Result<&str, JournalError> {
    if !index.is_absolute() {
        return Err(JournalError::NotAbsolute(index.to_path_buf()));
    }
    let s = index
        .to_str()
        .ok_or_else(|| JournalError::NonUtf8(index.to_path_buf()))?;
    if s.contains('\n') {
        return Err(JournalError::Newline(index.to_path_buf()));
    }
    Ok(s)
}

/// Current entries, without locking or creating anything (for tools and tests); a
/// missing journal is empty.
pub fn read_journal(paths: &LockPaths) -> Result<Vec<PathBuf>, JournalError> {
    let path = paths.move_journal();
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(parse_entries(&text).map(PathBuf::from).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(JournalError::Io { path, source }),
    }
}

/// What GC does at the end of phase 1: under the exclusive flock, hand every entry to
/// `f`, then truncate. If `f` fails the journal is left intact for the next GC.
pub fn drain_move_journal<F>(paths: &LockPaths, mut f: F) -> Result<(), JournalError>
where
    F: FnMut(&Path) -> Result<(), Box<dyn StdError + Send + Sync>>,
{
    let path = paths.move_journal();
    let guard = flock::lock_file(&path, LockMode::Exclusive, JOURNAL_LOCK_TIMEOUT)?;
    let io_err = |source| JournalError::Io {
        path: path.clone(),
        source,
    };
    let mut file = guard.file();
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io_err)?;
    for entry in parse_entries(&text) {
        f(Path::new(entry)).map_err(|source| JournalError::Process {
            entry: entry.to_string(),
            source,
        })?;
    }
    file.set_len(0).map_err(io_err)
}

fn parse_entries(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    fn paths(dir: &Path) -> LockPaths {
        LockPaths::with_lock_dir(dir, "store")
    }

    #[test]
    fn empty_append_creates_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        append_moved_indices(&paths(tmp.path()), &[]).unwrap();
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
        assert!(read_journal(&paths(tmp.path())).unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_paths_before_writing_anything() {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        let good = PathBuf::from("/ds/ns/a/vm/100/2025-01-01T00:00:00Z/drive-scsi0.img.fidx");
        let cases: Vec<(PathBuf, &str)> = vec![
            (
                PathBuf::from("rel/x.fidx"),
                "move-journal: refusing to record non-absolute path",
            ),
            (
                PathBuf::from(OsStr::from_bytes(b"/ds/\xff.didx")),
                "move-journal: non-UTF-8 path",
            ),
            (
                PathBuf::from("/ds/a\nb.didx"),
                "move-journal: path contains newline",
            ),
        ];
        for (bad, msg) in cases {
            let err = append_moved_indices(&p, &[good.clone(), bad]).unwrap_err();
            assert!(err.to_string().starts_with(msg), "{err}");
        }
        assert!(!p.move_journal().exists());
    }

    #[test]
    fn writer_appends_unlocked_between_calls_and_follows_replaced_journal() {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        let mut w = JournalWriter::new(&p);
        let a = vec![PathBuf::from("/ds/vm/1/t/a.fidx")];
        let b = vec![PathBuf::from("/ds/vm/1/u/b.didx")];
        w.append(&a).unwrap();
        // Not held between appends: GC (another open file description) can drain at once.
        let mut drained = Vec::new();
        drain_move_journal(&p, |x| {
            drained.push(x.to_path_buf());
            Ok(())
        })
        .unwrap();
        assert_eq!(drained, a);
        w.append(&b).unwrap();
        assert_eq!(read_journal(&p).unwrap(), b);
        // A journal deleted and recreated under us is followed, not written as an orphan.
        std::fs::remove_file(p.move_journal()).unwrap();
        std::fs::write(p.move_journal(), "").unwrap();
        w.append(&a).unwrap();
        assert_eq!(read_journal(&p).unwrap(), a);
        assert!(w.append(&[PathBuf::from("rel")]).is_err());
    }

    #[test]
    fn writer_notices_a_drain_of_its_batch() {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        let mut w = JournalWriter::new(&p);
        assert!(
            w.still_recorded().unwrap(),
            "nothing appended, nothing to lose"
        );
        let batch = vec![
            PathBuf::from("/ds/vm/1/t/a.fidx"),
            PathBuf::from("/ds/vm/1/u/b.didx"),
        ];
        w.append(&batch).unwrap();
        assert!(w.still_recorded().unwrap());
        // Another mover appending keeps ours in place.
        append_moved_indices(&p, &[PathBuf::from("/ds/ct/2/t/c.didx")]).unwrap();
        assert!(w.still_recorded().unwrap());
        drain_move_journal(&p, |_| Ok(())).unwrap();
        assert!(!w.still_recorded().unwrap(), "drained");
        // Refilled past our old end offset by someone else: still gone.
        append_moved_indices(&p, &[PathBuf::from("/ds/ct/2/t/a-very-long-name.didx")]).unwrap();
        append_moved_indices(&p, &[PathBuf::from("/ds/ct/2/t/another-long-name.didx")]).unwrap();
        assert!(!w.still_recorded().unwrap(), "refilled by others");
        w.append(&batch[1..]).unwrap();
        assert!(w.still_recorded().unwrap());
        std::fs::remove_file(p.move_journal()).unwrap();
        assert!(!w.still_recorded().unwrap(), "journal removed");
        w.append(&[]).unwrap();
        assert!(w.still_recorded().unwrap());
    }

    #[test]
    fn a_drain_racing_the_check_is_a_drain_not_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        let mut w = JournalWriter::new(&p);
        w.append(&[PathBuf::from("/ds/vm/1/t/a.fidx")]).unwrap();
        let content = std::fs::read(p.move_journal()).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // GC truncating (and a mover refilling) between the check's fstat and its read.
        let racer = {
            let (file, stop) = (
                std::fs::File::options()
                    .write(true)
                    .open(p.move_journal())
                    .unwrap(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    file.set_len(0).unwrap();
                    file.write_all_at(&content, 0).unwrap();
                }
            })
        };
        let checks = (0..200_000).map(|_| w.still_recorded());
        let errors: Vec<String> = checks
            .filter_map(|r| r.err().map(|e| e.to_string()))
            .collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        racer.join().unwrap();
        assert!(
            errors.is_empty(),
            "{} check(s) failed, first: {}",
            errors.len(),
            errors[0]
        );
    }

    #[test]
    fn append_read_drain_roundtrip() {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        let a = vec![
            PathBuf::from("/ds/vm/1/t/a.fidx"),
            PathBuf::from("/ds/vm/1/t/b.didx"),
        ];
        let b = vec![PathBuf::from("/ds/ns/x/ct/2/t/root.pxar.didx")];
        append_moved_indices(&p, &a).unwrap();
        append_moved_indices(&p, &b).unwrap();
        let all: Vec<PathBuf> = a.iter().chain(&b).cloned().collect();
        assert_eq!(read_journal(&p).unwrap(), all);

        let err = drain_move_journal(&p, |_| Err("index unreadable".into())).unwrap_err();
        assert!(
            err.to_string()
                .contains("processing '/ds/vm/1/t/a.fidx' failed"),
            "{err}"
        );
        assert_eq!(
            read_journal(&p).unwrap(),
            all,
            "failed drain must keep entries"
        );

        let mut seen = Vec::new();
        drain_move_journal(&p, |path| {
            seen.push(path.to_path_buf());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, all);
        assert!(read_journal(&p).unwrap().is_empty());
        append_moved_indices(&p, &b).unwrap();
        assert_eq!(
            std::fs::read_to_string(p.move_journal()).unwrap(),
            "/ds/ns/x/ct/2/t/root.pxar.didx\n"
        );
    }
}
