//! Reading a snapshot's manifest and a group's notes from the datastore tree (the local
//! cache dir on S3, like every other read), never through a symlink.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use super::blob::{self, MAX_BLOB_SIZE};
use super::error::ManifestError;
use super::facts::{self, SnapshotFacts};
use crate::tree::model::{MANIFEST_FILE, NOTES_FILE, PROTECTED_FILE};
use crate::tree::scan::nofollow::open_nofollow;

/// Group notes are free text typed in the GUI; more than this is not notes.
const MAX_NOTES: u64 = 1024 * 1024;

/// The facts of the snapshot in `snapshot_dir` (its manifest and `.protected` marker).
pub fn read_facts(snapshot_dir: &Path) -> Result<SnapshotFacts, ManifestError> {
    let raw = match read_nofollow(&snapshot_dir.join(MANIFEST_FILE), MAX_BLOB_SIZE as u64) {
        Ok(Some(raw)) => raw,
        Ok(None) => return Err(ManifestError::Missing),
        Err(e) => return Err(e),
    };
    let json = blob::decode(&raw)?;
    let protected = fs::symlink_metadata(snapshot_dir.join(PROTECTED_FILE))
        .is_ok_and(|m| m.file_type().is_file());
    facts::parse(&json, raw.len() as u64, protected)
}

/// The group's notes file (`None` when it has none), lossily decoded: it is only shown.
pub fn read_group_notes(group_dir: &Path) -> Result<Option<String>, ManifestError> {
    let raw = read_nofollow(&group_dir.join(NOTES_FILE), MAX_NOTES)?;
    Ok(raw.map(|r| String::from_utf8_lossy(&r).into_owned()))
}

/// A regular file's bytes, at most `max`; `Ok(None)` when it does not exist.
fn read_nofollow(path: &Path, max: u64) -> Result<Option<Vec<u8>>, ManifestError> {
    let unreadable = |e: io::Error| ManifestError::Unreadable(e.to_string());
    let Some(file) = open_nofollow(path).map_err(unreadable)? else {
        return Ok(None);
    };
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(ManifestError::Unreadable("not a regular file".to_string()));
    }
    if meta.len() > max {
        return Err(ManifestError::TooLarge(meta.len()));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(unreadable)?;
    if buf.len() as u64 > max {
        return Err(ManifestError::TooLarge(buf.len() as u64));
    }
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{"backup-type":"ct","backup-id":"101","backup-time":1,"files":[{"filename":"root.pxar.didx","crypt-mode":"sign-only","size":1000,"csum":"00"}],"unprotected":{"notes":"n"},"signature":"ff"}"#;

    #[test]
    fn reads_a_snapshot_dir() {
        let dir = tempfile::tempdir().unwrap();
        let blob = blob::encode(JSON.as_bytes(), true);
        fs::write(dir.path().join(MANIFEST_FILE), &blob).unwrap();
        let f = read_facts(dir.path()).unwrap();
        assert_eq!(f.size, 1000 + blob.len() as u64);
        assert_eq!(f.crypt_mode, facts::CryptMode::SignOnly);
        assert!(f.signed && !f.protected);
        fs::write(dir.path().join(PROTECTED_FILE), b"").unwrap();
        assert!(read_facts(dir.path()).unwrap().protected);
    }

    #[test]
    fn missing_symlinked_and_directory_manifests() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_facts(dir.path()), Err(ManifestError::Missing));
        let elsewhere = dir.path().join("elsewhere.blob");
        fs::write(&elsewhere, blob::encode(JSON.as_bytes(), false)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join(MANIFEST_FILE)).unwrap();
        assert!(matches!(
            read_facts(dir.path()),
            Err(ManifestError::Unreadable(_))
        ));
        let sub = dir.path().join("sub");
        fs::create_dir_all(sub.join(MANIFEST_FILE)).unwrap();
        assert!(matches!(
            read_facts(&sub),
            Err(ManifestError::Unreadable(_))
        ));
    }

    #[test]
    fn group_notes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_group_notes(dir.path()), Ok(None));
        fs::write(dir.path().join(NOTES_FILE), "line 1\nline 2\n").unwrap();
        assert_eq!(
            read_group_notes(dir.path()),
            Ok(Some("line 1\nline 2\n".to_string()))
        );
    }
}
