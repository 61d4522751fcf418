//! Reading one group and its snapshots: owner, notes, snapshot times, files and sizes, and
//! the group summaries of a namespace.

use std::path::Path;

use rustix::fs::FileType;

use super::error::{ScanError, io_err};
use super::nofollow::{
    Kind, entries, first_line, kind_warning, list_at, open_nofollow_at, read_first_line_nofollow,
    warn,
};
use crate::tree::datastore::Datastore;
use crate::tree::model::{
    FileInfo, GroupInfo, Listing, MANIFEST_FILE, NOTES_FILE, OWNER_FILE, PROTECTED_FILE,
    ScanWarning, SnapshotInfo,
};
use crate::tree::names::{GroupId, Namespace, SnapshotTime};

impl Datastore {
    /// Groups in `ns` with owner and snapshot counts; sizes only when `sizes` is set.
    pub fn list_groups(
        &self,
        ns: &Namespace,
        sizes: bool,
    ) -> Result<Listing<GroupInfo>, ScanError> {
        let ids = self.list_group_ids(ns)?;
        let infos = self.group_infos(ns, &ids.items, sizes);
        Ok(self.collect_groups(ns, ids, infos))
    }

    /// The listing `list_groups` makes of `ids` and their `group_infos` (in the same order):
    /// the id listing's warnings, then each group's, a group that cannot be read as one.
    /// For callers that read the groups of one listing in several parts.
    pub fn collect_groups(
        &self,
        ns: &Namespace,
        ids: Listing<GroupId>,
        infos: Vec<Result<Listing<GroupInfo>, ScanError>>,
    ) -> Listing<GroupInfo> {
        let mut out = Listing {
            items: Vec::with_capacity(ids.items.len()),
            warnings: ids.warnings,
        };
        for (group, info) in ids.items.into_iter().zip(infos) {
            match info {
                Ok(info) => {
                    out.warnings.extend(info.warnings);
                    out.items.extend(info.items);
                }
                Err(e) => warn(
                    &mut out.warnings,
                    self.group_path(ns, &group),
                    e.to_string(),
                ),
            }
        }
        out
    }

    /// One group's summary (a listing of one item, carrying its warnings).
    pub fn group_info(
        &self,
        ns: &Namespace,
        group: &GroupId,
        sizes: bool,
    ) -> Result<Listing<GroupInfo>, ScanError> {
        let dir = self.require_group(ns, group)?;
        let mut warnings = Vec::new();
        let owner = self.read_owner_at(&dir, &mut warnings);
        let mut times = Vec::new();
        let mut has_notes = false;
        for (name, kind, _) in entries(&dir)? {
            match (name.as_str(), kind) {
                (OWNER_FILE, Kind::File) => {}
                (NOTES_FILE, Kind::File) => has_notes = true,
                (_, Kind::Dir) => match SnapshotTime::parse(&name) {
                    Ok(t) => times.push(t),
                    Err(_) => warn(
                        &mut warnings,
                        dir.join(&name),
                        "not a snapshot directory; skipped",
                    ),
                },
                _ => warn(&mut warnings, dir.join(&name), kind_warning(kind)),
            }
        }
        times.sort();
        let (mut size, mut protected) = (None, None);
        if sizes {
            let (mut total, mut prot) = (0u64, 0usize);
            for t in &times {
                match self.snapshot_at(&dir.join(t.as_str()), t.clone()) {
                    Ok(s) => {
                        total += s.items.iter().map(|i| i.size).sum::<u64>();
                        prot += s.items.iter().filter(|i| i.protected).count();
                        warnings.extend(s.warnings);
                    }
                    Err(e) => warn(&mut warnings, dir.join(t.as_str()), e.to_string()),
                }
            }
            size = Some(total);
            protected = Some(prot);
        }
        Ok(Listing {
            items: vec![GroupInfo {
                ns: ns.clone(),
                group: group.clone(),
                owner,
                has_notes,
                snapshots: times.len(),
                oldest: times.first().cloned(),
                newest: times.last().cloned(),
                size,
                protected,
            }],
            warnings,
        })
    }

    fn read_owner_at(&self, group_dir: &Path, warnings: &mut Vec<ScanWarning>) -> Option<String> {
        let path = group_dir.join(OWNER_FILE);
        owner_of(read_first_line_nofollow(&path), path, warnings)
    }

    /// The group's owner (`None` when missing or unreadable).
    pub fn read_owner(&self, ns: &Namespace, group: &GroupId) -> Result<Option<String>, ScanError> {
        let dir = self.require_group(ns, group)?;
        Ok(self.read_owner_at(&dir, &mut Vec::new()))
    }

    /// [`Self::read_owner`] and [`Self::list_snapshot_times`] in one go: through the group
    /// dir opened once where one openat2 can (the owner and the listing relative to that
    /// fd, 8 syscalls instead of 15), by path otherwise.
    pub fn read_owner_and_times(
        &self,
        ns: &Namespace,
        group: &GroupId,
    ) -> Result<(Option<String>, Vec<SnapshotTime>), ScanError> {
        let Some(fd) = self.open_group_dir(ns, group) else {
            return Ok((
                self.read_owner(ns, group)?,
                self.list_snapshot_times(ns, group)?,
            ));
        };
        let dir = self.group_path(ns, group);
        let read = open_nofollow_at(&fd, Path::new(OWNER_FILE))
            .and_then(|file| file.map(first_line).transpose());
        let owner = owner_of(read, dir.join(OWNER_FILE), &mut Vec::new());
        let (_, listing) = list_at(fd).map_err(|e| io_err(&dir)(e.into()))?;
        let dirs = listing
            .iter()
            .filter(|(_, kind)| *kind == FileType::Directory)
            .filter_map(|(name, _)| name.to_str());
        Ok((owner, oldest_first(dirs)))
    }

    /// Snapshot times in the group, oldest first.
    pub fn list_snapshot_times(
        &self,
        ns: &Namespace,
        group: &GroupId,
    ) -> Result<Vec<SnapshotTime>, ScanError> {
        let dir = self.require_group(ns, group)?;
        let listing = entries(&dir)?;
        let dirs = listing
            .iter()
            .filter(|(_, kind, _)| *kind == Kind::Dir)
            .map(|(name, _, _)| name.as_str());
        Ok(oldest_first(dirs))
    }

    /// Snapshots with their files, oldest first.
    pub fn list_snapshots(
        &self,
        ns: &Namespace,
        group: &GroupId,
    ) -> Result<Listing<SnapshotInfo>, ScanError> {
        let dir = self.group_path(ns, group);
        let mut out = Listing::default();
        for time in self.list_snapshot_times(ns, group)? {
            match self.snapshot_at(&dir.join(time.as_str()), time.clone()) {
                Ok(s) => {
                    out.items.extend(s.items);
                    out.warnings.extend(s.warnings);
                }
                Err(e) => warn(&mut out.warnings, dir.join(time.as_str()), e.to_string()),
            }
        }
        Ok(out)
    }

    pub fn snapshot_info(
        &self,
        ns: &Namespace,
        group: &GroupId,
        time: &SnapshotTime,
    ) -> Result<Listing<SnapshotInfo>, ScanError> {
        let rel = ns.rel_path().join(group.rel_path()).join(time.as_str());
        if !self.real_dir(&rel)? {
            return Err(ScanError::NoSnapshot(format!("{ns}/{group}/{time}")));
        }
        self.snapshot_at(&self.base.join(rel), time.clone())
    }

    fn snapshot_at(
        &self,
        dir: &Path,
        time: SnapshotTime,
    ) -> Result<Listing<SnapshotInfo>, ScanError> {
        let mut warnings = Vec::new();
        let mut files = Vec::new();
        let mut protected = false;
        for (name, kind, entry) in entries(dir)? {
            if kind != Kind::File {
                warn(&mut warnings, dir.join(&name), kind_warning(kind));
                continue;
            }
            if name == PROTECTED_FILE {
                protected = true;
                continue;
            }
            // DirEntry::metadata does not follow symlinks (and we only get here for files).
            let size = entry.and_then(|e| e.metadata().ok()).map_or(0, |m| m.len());
            files.push(FileInfo { name, size });
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let finished = files.iter().any(|f| f.name == MANIFEST_FILE);
        let size = files.iter().map(|f| f.size).sum();
        Ok(Listing {
            items: vec![SnapshotInfo {
                time,
                files,
                size,
                protected,
                finished,
            }],
            warnings,
        })
    }
}

/// The owner a read of the owner file (`path`) gives: its first line, `None` (with a
/// warning) when that is empty, missing or unreadable.
fn owner_of(
    read: std::io::Result<Option<String>>,
    path: std::path::PathBuf,
    warnings: &mut Vec<ScanWarning>,
) -> Option<String> {
    match read {
        Ok(Some(owner)) if !owner.is_empty() => Some(owner),
        Ok(Some(_)) => {
            warn(warnings, path, "empty owner file");
            None
        }
        Ok(None) => {
            warn(warnings, path, "owner file missing");
            None
        }
        Err(e) => {
            warn(warnings, path, format!("cannot read owner: {e}"));
            None
        }
    }
}

/// The snapshot times among a group dir's subdir names, oldest first.
fn oldest_first<'a>(dirs: impl Iterator<Item = &'a str>) -> Vec<SnapshotTime> {
    let mut times: Vec<SnapshotTime> = dirs.filter_map(|n| SnapshotTime::parse(n).ok()).collect();
    times.sort();
    times
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use super::*;

    /// The one-fd read answers what the two path reads answer, for a good group and the
    /// odd shapes a datastore may hold (owner empty, missing, a symlink; entries that are
    /// no snapshots).
    #[test]
    fn read_owner_and_times_equals_read_owner_then_list_snapshot_times() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap().join("store");
        let ds = Datastore::filesystem("store".into(), base.clone());
        let group = |id: &str| GroupId::parse(&format!("vm/{id}")).unwrap();
        let make = |id: &str, owner: Option<&[u8]>| {
            let dir = base.join("vm").join(id);
            for t in ["2025-01-02T00:00:00Z", "2025-01-01T00:00:00Z", "not-a-time"] {
                fs::create_dir_all(dir.join(t)).unwrap();
            }
            fs::write(dir.join("2025-01-03T00:00:00Z"), b"a file, not a snapshot").unwrap();
            symlink("/tmp", dir.join("2025-01-04T00:00:00Z")).unwrap();
            if let Some(o) = owner {
                fs::write(dir.join(OWNER_FILE), o).unwrap();
            }
            dir
        };
        make("100", Some(b"root@pam\n"));
        make("101", Some(b""));
        make("102", None);
        let linked = make("103", None);
        fs::write(tmp.path().join("elsewhere"), b"x@pbs\n").unwrap();
        symlink(tmp.path().join("elsewhere"), linked.join(OWNER_FILE)).unwrap();
        let ns = Namespace::root();
        for id in ["100", "101", "102", "103"] {
            let g = group(id);
            let both = ds.read_owner_and_times(&ns, &g).unwrap();
            let apart = (
                ds.read_owner(&ns, &g).unwrap(),
                ds.list_snapshot_times(&ns, &g).unwrap(),
            );
            assert_eq!(both, apart, "vm/{id}");
            assert_eq!(
                both.1.len(),
                2,
                "vm/{id}: the two snapshot dirs, oldest first"
            );
        }
        assert_eq!(
            ds.read_owner_and_times(&ns, &group("100"))
                .unwrap()
                .0
                .as_deref(),
            Some("root@pam")
        );
        assert!(ds.read_owner_and_times(&ns, &group("999")).is_err());
    }
}
