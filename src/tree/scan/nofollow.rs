//! Reading one directory level, or the first line of a small file, without following a
//! symlink; and the warning an entry of the wrong kind becomes.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, DirEntry, FileType};
use rustix::io::Errno;

use super::error::{ScanError, io_err};
use crate::tree::model::ScanWarning;

/// What kind of entry a directory listing returned, without following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

pub(super) fn entries(dir: &Path) -> Result<Vec<(String, Kind, Option<fs::DirEntry>)>, ScanError> {
    // read_dir follows a symlinked directory (e.g. a type dir `vm -> /elsewhere` or a
    // namespace's `ns -> /elsewhere`): refuse to list through one.
    if fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(ScanError::Symlink {
            path: dir.to_path_buf(),
        });
    }
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // d_type from readdir: no stat, and never follows a symlink.
        let kind = match entry.file_type() {
            Ok(t) if t.is_symlink() => Kind::Symlink,
            Ok(t) if t.is_dir() => Kind::Dir,
            Ok(t) if t.is_file() => Kind::File,
            _ => Kind::Other,
        };
        out.push((name, kind, Some(entry)));
    }
    Ok(out)
}

pub(super) fn warn(warnings: &mut Vec<ScanWarning>, path: PathBuf, message: impl Into<String>) {
    warnings.push(ScanWarning {
        path,
        message: message.into(),
    });
}

pub(super) fn kind_warning(kind: Kind) -> &'static str {
    match kind {
        Kind::Symlink => "symlink skipped (never followed)",
        Kind::File => "unexpected file skipped",
        Kind::Other => "unexpected special file skipped",
        Kind::Dir => "unexpected directory skipped",
    }
}

/// Opens a file for reading, refusing a symlink (ELOOP). `Ok(None)` when absent.
pub fn open_nofollow(path: &Path) -> io::Result<Option<fs::File>> {
    open_nofollow_at(rustix::fs::CWD, path)
}

/// [`open_nofollow`] of `name` relative to the dir `dir`. Non-blocking: a FIFO in a
/// datastore reads as empty instead of hanging the scan or a move's pre-flight.
pub fn open_nofollow_at(dir: impl AsFd, name: &Path) -> io::Result<Option<fs::File>> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => Ok(Some(fd.into())),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads the first line of a regular file, refusing symlinks. `Ok(None)` when absent.
pub fn read_first_line_nofollow(path: &Path) -> io::Result<Option<String>> {
    open_nofollow(path)?.map(first_line).transpose()
}

/// The first line of an opened small file (an owner file), strictly decoded.
pub fn first_line(file: impl io::Read) -> io::Result<String> {
    use std::io::Read;
    // Owner lines are short; cap the read so a huge or corrupt file costs nothing.
    let mut buf = Vec::with_capacity(128);
    file.take(4096).read_to_end(&mut buf)?;
    // Strict: a lossy decode would let a corrupt owner through and the move would write
    // the mangled text as the target's owner.
    let text = String::from_utf8(buf).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "not valid UTF-8 (corrupt file?)",
        )
    })?;
    let line = text.lines().next().unwrap_or("").trim_end();
    if line.chars().any(char::is_control) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "contains control characters (corrupt file?)",
        ));
    }
    Ok(line.to_string())
}

/// Entries of the opened dir `fd` with their types ([`entry_type`]), `.` and `..` left out;
/// and the dir, whose fd the caller may go on looking up names in.
pub fn list_at(fd: OwnedFd) -> Result<(Dir, Vec<(OsString, FileType)>), Errno> {
    let mut listed = Dir::new(fd)?;
    let mut out = Vec::new();
    while let Some(entry) = listed.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let kind = entry_type(listed.fd()?, Path::new(""), &entry)?;
        out.push((OsStr::from_bytes(name).to_os_string(), kind));
    }
    Ok((listed, out))
}

/// The type of an entry of the dir `rel` below `dir_fd` (`""`: `dir_fd` itself): d_type,
/// or an lstat where the filesystem reports none (DT_UNKNOWN, e.g. XFS without ftype), so
/// a symlink is never missed.
pub fn entry_type(dir_fd: BorrowedFd<'_>, rel: &Path, entry: &DirEntry) -> Result<FileType, Errno> {
    match entry.file_type() {
        FileType::Unknown => {
            let rel = rel.join(OsStr::from_bytes(entry.file_name().to_bytes()));
            let st = rustix::fs::statat(dir_fd, &rel, AtFlags::SYMLINK_NOFOLLOW)?;
            Ok(FileType::from_raw_mode(st.st_mode))
        }
        kind => Ok(kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FIFO where an owner file belongs: read at once as empty (a blocking open would
    /// wait for a writer forever); a symlink is refused, a missing file is `None`.
    #[test]
    fn first_line_never_waits_on_a_fifo_nor_follows_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let (fifo, link) = (tmp.path().join("owner"), tmp.path().join("link"));
        let mode = rustix::fs::Mode::from_raw_mode(0o644);
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, mode, 0).unwrap();
        assert_eq!(
            read_first_line_nofollow(&fifo).unwrap(),
            Some(String::new())
        );
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        assert!(read_first_line_nofollow(&link).is_err());
        assert_eq!(
            read_first_line_nofollow(&tmp.path().join("gone")).unwrap(),
            None
        );
    }
}
