//! Refusals that protect the admin from a hostile or careless local environment:
//!
//! - a datastore or lock directory that someone other than root/backup could rewrite (a
//!   group- or world-writable dir, or one owned by another user — `/tmp`-style dirs are the
//!   classic attack: another user pre-creates or swaps the lock dir and PBS and pbs-mover
//!   stop excluding each other);
//! - a group to be moved whose type dir, group dir, snapshot dirs or files are symlinks:
//!   renaming a symlinked snapshot would move a pointer, not the backup, and reading
//!   through one could leave the datastore.

use std::ffi::{OsStr, OsString};
use std::fs::{self, Metadata};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::ops::error::{MoveError, symlink_refusal};
use crate::ops::recovery::leftover::is_empty_leftover;
use crate::ops::safety::ownership::backup_ids;
use crate::ops::safety::snapshot_listing::{self, ReadUnder, SnapshotEntries};
use crate::tree::model::{NOTES_FILE, OWNER_FILE};
use crate::tree::scan::nofollow::{first_line, list_at, open_nofollow_at};
use crate::tree::scan::parallel::map_ordered;
use crate::tree::{Datastore, GroupId, Namespace, SnapshotTime};

/// What a checked directory is for, in messages.
#[derive(Debug, Clone, Copy)]
pub enum DirRole {
    Datastore,
    LockDir,
}

impl DirRole {
    fn name(self) -> &'static str {
        match self {
            Self::Datastore => "datastore path",
            Self::LockDir => "lock dir",
        }
    }
}

/// Owners we trust not to attack us: root, backup (PBS itself) and whoever runs us.
fn trusted_uid(uid: u32) -> bool {
    uid == 0
        || backup_ids().is_some_and(|(b, _)| b == uid)
        || uid == rustix::process::geteuid().as_raw()
}

fn trusted_gid(gid: u32) -> bool {
    gid == 0 || backup_ids().is_some_and(|(_, b)| b == gid)
}

/// Why `meta` (of `path`, the checked dir itself when `is_target`) is unsafe, if it is.
fn unsafe_reason(meta: &Metadata, is_target: bool) -> Option<String> {
    let mode = meta.permissions().mode();
    let (uid, gid) = (meta.uid(), meta.gid());
    if !trusted_uid(uid) {
        return Some(format!("owned by uid {uid}, not root or backup"));
    }
    if meta.file_type().is_symlink() {
        // A trusted symlink is fine: its target is checked on the canonical path.
        return None;
    }
    // A sticky ancestor owned by a trusted user (like /tmp) only lets others add their own
    // entries; it cannot redirect ours. The checked dir itself must never be shared.
    let sticky_ok = !is_target && mode & 0o1000 != 0;
    if mode & 0o002 != 0 && !sticky_ok {
        return Some(format!("world-writable (mode {:04o})", mode & 0o7777));
    }
    if mode & 0o020 != 0 && !trusted_gid(gid) && !sticky_ok {
        return Some(format!(
            "writable by group {gid}, not root or backup (mode {:04o})",
            mode & 0o7777
        ));
    }
    None
}

/// The existing part of `path` (it may not exist yet: we create lock dirs on demand).
fn existing_prefix(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    while fs::symlink_metadata(&p).is_err() {
        if !p.pop() {
            break;
        }
    }
    p
}

/// Checks every component of `path` (lstat, so symlinks are judged by their own owner).
fn check_chain(path: &Path, target: &Path, role: DirRole) -> Result<(), MoveError> {
    let mut p = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::RootDir | Component::Normal(_) => p.push(comp),
            Component::ParentDir => {
                p.pop();
                continue;
            }
            _ => continue,
        }
        let meta = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(MoveError::refused(format!(
                    "cannot check {} {}: {e}",
                    role.name(),
                    p.display()
                )));
            }
        };
        if let Some(why) = unsafe_reason(&meta, p == target) {
            return Err(insecure(role, target, &p, &why));
        }
    }
    Ok(())
}

fn insecure(role: DirRole, target: &Path, culprit: &Path, why: &str) -> MoveError {
    let at = if culprit == target {
        String::new()
    } else {
        format!(" (at {})", culprit.display())
    };
    MoveError::refused(format!(
        "refusing insecure {} {}{at}: {why}; other users could swap it under us — make it owned by root or backup and not group/world-writable (chmod go-w)",
        role.name(),
        target.display()
    ))
}

/// Refuses `dir` (and its existing ancestors) when a user other than root/backup could
/// rewrite it. Checks both the path as given and its canonical form (symlinks resolved).
pub fn check_trusted_dir(dir: &Path, role: DirRole) -> Result<(), MoveError> {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| MoveError::refused(format!("cannot resolve {}: {e}", dir.display())))?
            .join(dir)
    };
    let existing = existing_prefix(&abs);
    let target = if existing == abs {
        abs.clone()
    } else {
        existing.clone()
    };
    check_chain(&abs, &target, role)?;
    if let Ok(canon) = existing.canonicalize()
        && canon != existing
    {
        check_chain(&canon, &canon, role)?;
    }
    Ok(())
}

/// lstat that maps a symlink to a refusal; `Ok(None)` when absent.
fn lstat_no_symlink(path: &Path) -> Result<Option<Metadata>, MoveError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(symlink_refusal(path)),
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(MoveError::refused(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// What [`preflight_group`] read of the source group, for a move under the same group lock
/// to go on with instead of reading the group dir and owner again.
#[derive(Debug, Clone)]
pub struct GroupRead {
    /// The owner file's line (checked non-empty).
    pub owner: String,
    /// The group dir's entries with their types as listed (none of them a symlink).
    entries: Vec<(OsString, FileType)>,
    /// Each snapshot dir's entries, when read ([`TreeDepth::Snapshots`], [`TreeDepth::SnapshotsBeforeLock`]).
    snapshot_entries: Option<SnapshotEntries>,
    /// The target's type dir exists (and is a real directory).
    pub target_type_exists: bool,
    /// Who owns the group dir and its owner file, as `(uid, gid)` (from the same lstats).
    pub owned_by: [(u32, u32); 2],
}

/// What [`check_group_tree`] listed of a group.
struct GroupTree {
    /// The group dir as listed: its owner and notes are read relative to it.
    dir: Dir,
    /// The group dir's `(uid, gid)`.
    owned_by: (u32, u32),
    /// The group dir's entries with their types.
    entries: Vec<(OsString, FileType)>,
    /// Each snapshot dir's entries, when read ([`TreeDepth::Snapshots`], [`TreeDepth::SnapshotsBeforeLock`]).
    snapshot_entries: Option<SnapshotEntries>,
}

impl GroupRead {
    /// Snapshot times in the group, oldest first (what `Datastore::list_snapshot_times`
    /// takes from the same listing: dirs named like a snapshot).
    pub fn snapshot_times(&self) -> Vec<SnapshotTime> {
        let mut times: Vec<SnapshotTime> = self
            .entries
            .iter()
            .filter(|(_, kind)| *kind == FileType::Directory)
            .filter_map(|(name, _)| SnapshotTime::parse(name.to_str()?).ok())
            .collect();
        times.sort();
        times
    }

    /// The names in the group dir.
    pub fn names(&self) -> impl Iterator<Item = &OsStr> {
        self.entries.iter().map(|(name, _)| name.as_os_str())
    }

    /// Each snapshot dir's entries as the check read them ([`TreeDepth::Snapshots`], [`TreeDepth::SnapshotsBeforeLock`]).
    pub fn take_snapshot_entries(&mut self) -> Option<SnapshotEntries> {
        self.snapshot_entries.take()
    }
}

/// Everything about one group's files that would make its move fail half-way or follow a
/// symlink, checked before any lock is taken so a refusal leaves not even a lock file:
/// symlinks anywhere in the source group, an unreadable or corrupt owner, notes that are
/// not a regular file, a target type path that is not a directory, and for a merge the same
/// owner/notes checks on the target group. `None` when the source group dir is gone.
/// `opened`: the source group dir, when the caller already opened it for reading
/// ([`Datastore::open_group_dir`]).
pub fn preflight_group(
    ds: &Datastore,
    ns: &Namespace,
    target_ns: &Namespace,
    group: &GroupId,
    depth: TreeDepth,
    opened: Option<OwnedFd>,
) -> Result<Option<GroupRead>, MoveError> {
    let source = ds.group_path(ns, group);
    let Some(tree) = check_group_tree(ds, ns, group, depth, opened)? else {
        // Gone since the existence check: so is its owner.
        return Err(bad_owner(&source, "is missing"));
    };
    let group_fd = tree.dir.fd().map_err(|e| cannot_read(&source, e))?;
    let (owner, owner_ids) = check_group_files(group_fd, &source)?;
    let target = ds.group_path(target_ns, group);
    let mut target_type_exists = false;
    if let Some(type_dir) = target.parent()
        && let Some(meta) = lstat_no_symlink(type_dir)?
    {
        if !meta.is_dir() {
            return Err(MoveError::refused(format!(
                "{} is not a directory, so no group can be created in it; move it out of the way first",
                type_dir.display()
            )));
        }
        target_type_exists = true;
    }
    if lstat_no_symlink(&target)?.is_some() && !is_empty_leftover(&target) {
        check_group_files(open_dir(&target)?.as_fd(), &target)?;
    }
    Ok(Some(GroupRead {
        owner,
        entries: tree.entries,
        snapshot_entries: tree.snapshot_entries,
        target_type_exists,
        owned_by: [tree.owned_by, owner_ids],
    }))
}

fn bad_owner(group_dir: &Path, why: &str) -> MoveError {
    MoveError::refused(format!(
        "owner file {} {why}; fix it (one line, e.g. 'root@pam') before moving",
        group_dir.join(OWNER_FILE).display()
    ))
}

/// The owner file of the group dir `fd` (`dir`, in messages) must hold one readable owner
/// (returned, with the file's `(uid, gid)`); notes, if present, must be a regular file.
/// Both are looked up relative to `fd`, never through a symlink.
fn check_group_files(fd: BorrowedFd<'_>, dir: &Path) -> Result<(String, (u32, u32)), MoveError> {
    let unreadable = |e: io::Error| bad_owner(dir, &format!("cannot be read: {e}"));
    let file = match open_nofollow_at(fd, Path::new(OWNER_FILE)) {
        Ok(Some(file)) => file,
        Ok(None) => return Err(bad_owner(dir, "is missing")),
        Err(e) if e.raw_os_error() == Some(Errno::LOOP.raw_os_error()) => {
            return Err(symlink_refusal(&dir.join(OWNER_FILE)));
        }
        Err(e) => return Err(unreadable(e)),
    };
    let meta = file.metadata().map_err(unreadable)?;
    let owner_line = match first_line(file) {
        Ok(o) if !o.is_empty() => o,
        Ok(_) => return Err(bad_owner(dir, "is empty")),
        Err(e) => return Err(unreadable(e)),
    };
    let notes = dir.join(NOTES_FILE);
    match rustix::fs::statat(fd, NOTES_FILE, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => {}
            FileType::Symlink => return Err(symlink_refusal(&notes)),
            _ => {
                return Err(MoveError::refused(format!(
                    "{} is not a regular file; fix it before moving",
                    notes.display()
                )));
            }
        },
        Err(Errno::NOENT) => {}
        Err(e) => return Err(cannot_read(&notes, e)),
    }
    Ok((owner_line, (meta.uid(), meta.gid())))
}

/// How far [`check_group_tree`] looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeDepth {
    /// Into every snapshot dir, under the source group lock: these entries are the
    /// snapshot's files the move goes on with (every writer of index files holds the group
    /// lock), so it does not read the dir again under its lock.
    Snapshots,
    /// Into every snapshot dir before any lock (the pre-flight of `move-group`): each read
    /// is stamped ([`snapshot_listing`]), so that the move reads again under the snapshot
    /// lock only a dir that changed since.
    SnapshotsBeforeLock,
    /// The group dir only, when the snapshot dirs were checked moments before locking:
    /// the move then reads each snapshot dir under its snapshot lock
    /// (`engine::lock_and_move::index_paths` refuses symlinks there), so a third read would
    /// only cost time.
    GroupOnly,
}

impl TreeDepth {
    /// How this depth reads snapshot dirs; `None`: it does not.
    fn reads_snapshots(self) -> Option<ReadUnder> {
        match self {
            Self::Snapshots => Some(ReadUnder::GroupLock),
            Self::SnapshotsBeforeLock => Some(ReadUnder::NoLock(std::time::SystemTime::now())),
            Self::GroupOnly => None,
        }
    }
}

/// Refuses to move `group` when its type dir, group dir, any entry of the group dir
/// (snapshot dirs, owner, notes) or, at a depth that reads them, any entry of a snapshot
/// dir is a symlink. Returns what it listed; `None` when the group dir is gone.
fn check_group_tree(
    ds: &Datastore,
    ns: &Namespace,
    group: &GroupId,
    depth: TreeDepth,
    opened: Option<OwnedFd>,
) -> Result<Option<GroupTree>, MoveError> {
    let dir = ds.group_path(ns, group);
    let fd = match opened {
        Some(fd) => fd,
        None => {
            // Each component looked at, so that a symlink is named in the refusal.
            if let Some(type_dir) = dir.parent() {
                lstat_no_symlink(type_dir)?;
            }
            if lstat_no_symlink(&dir)?.is_none() {
                return Ok(None);
            }
            open_dir(&dir)?
        }
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| cannot_read(&dir, e))?;
    // d_type from the listing instead of one lstat per entry, and snapshot dirs opened
    // relative to the group dir: this runs for every file of the group, so it dominated
    // large moves.
    let (listed, listing) = list_at(fd).map_err(|e| cannot_read(&dir, e))?;
    let fd = listed.fd().map_err(|e| cannot_read(&dir, e))?;
    // The snapshot dirs listed before the first bad entry: the refusal a read in listing
    // order would give first is the first one in that order.
    let mut dirs = Vec::new();
    let mut bad = None;
    for (name, kind) in &listing {
        match kind {
            FileType::Symlink => {
                bad = Some(symlink_refusal(&dir.join(name)));
                break;
            }
            FileType::Directory => dirs.push(name),
            _ if is_snapshot_name(name) => {
                // Skipped by listings, so the move would "finish" and leave the group behind.
                bad = Some(MoveError::refused(format!(
                    "{} is named like a snapshot but is not a directory; move it out of the way first",
                    dir.join(name).display()
                )));
                break;
            }
            _ => {}
        }
    }
    let snapshot_entries = match depth.reads_snapshots() {
        Some(under) => Some(read_snapshot_dirs(fd, &dir, &dirs, under)?),
        None => None,
    };
    if let Some(refusal) = bad {
        return Err(refusal);
    }
    Ok(Some(GroupTree {
        dir: listed,
        owned_by: (st.st_uid, st.st_gid),
        entries: listing,
        snapshot_entries,
    }))
}

/// The entries of the snapshot dirs `names` of the group dir `fd` (`dir`). A large group's
/// dirs are read on several threads (each read is a lookup in one large dir and a listing
/// of a small one, independent of the others); the first refusal in `names`' order wins,
/// as in a read one after the other.
fn read_snapshot_dirs(
    fd: BorrowedFd<'_>,
    dir: &Path,
    names: &[&OsString],
    under: ReadUnder,
) -> Result<SnapshotEntries, MoveError> {
    let read = |name: &&OsString| entries_no_symlink(fd, name, &dir.join(name), under);
    let mut entries = SnapshotEntries::with_capacity(names.len());
    for (name, listing) in names.iter().zip(map_ordered(names, read)) {
        entries.insert((*name).clone(), listing?);
    }
    Ok(entries)
}

/// `dir` opened for reading, never through a symlink in its last component.
fn open_dir(dir: &Path) -> Result<OwnedFd, MoveError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::open(dir, flags, Mode::empty()).map_err(|e| dir_error(dir, e))
}

fn dir_error(dir: &Path, e: Errno) -> MoveError {
    match e {
        Errno::LOOP | Errno::NOTDIR => symlink_refusal(dir),
        e => cannot_read(dir, e),
    }
}

fn cannot_read(path: &Path, e: Errno) -> MoveError {
    MoveError::refused(format!(
        "cannot read {}: {}",
        path.display(),
        io::Error::from(e)
    ))
}

/// The entries of the snapshot dir `name` (`path`) of the group dir `group_fd`; refused
/// if it holds a symlink, or has become one since the group dir was listed.
fn entries_no_symlink(
    group_fd: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    under: ReadUnder,
) -> Result<snapshot_listing::SnapshotListing, MoveError> {
    let on_err = |e| dir_error(path, e);
    snapshot_listing::read(group_fd, name, path, under, on_err)?.ok_or_else(|| on_err(Errno::NOENT))
}

fn is_snapshot_name(name: &OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| SnapshotTime::parse(n).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn chmod(p: &Path, mode: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A group's pre-flight gives the same answer whether the caller opened the group dir
    /// (one openat2) or it walks the path, for a good group and every bad shape of one.
    #[test]
    fn preflight_of_an_opened_group_dir_equals_the_walk() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let ds = Datastore::filesystem("store".into(), root.join("store"));
        let (ns, target) = (Namespace::root(), Namespace::parse("t").unwrap());
        let group = GroupId::parse("vm/100").unwrap();
        let dir = ds.group_path(&ns, &group);
        let snap = dir.join("2024-01-01T00:00:00Z");
        let outside = root.join("outside");
        // Each spoils the fresh group (group dir, a snapshot dir, a dir outside the store).
        type Shape = fn(&Path, &Path, &Path);
        let shapes: [(&str, Shape); 11] = [
            ("good", |_, _, _| {}),
            ("owner fifo", |d, _, _| {
                fs::remove_file(d.join("owner")).unwrap();
                let fifo = (FileType::Fifo, Mode::from_raw_mode(0o644));
                rustix::fs::mknodat(rustix::fs::CWD, d.join("owner"), fifo.0, fifo.1, 0).unwrap();
            }),
            ("owner symlink", |d, _, o| {
                fs::remove_file(d.join("owner")).unwrap();
                symlink(o.join("owner"), d.join("owner")).unwrap();
            }),
            ("owner missing", |d, _, _| {
                fs::remove_file(d.join("owner")).unwrap()
            }),
            ("owner empty", |d, _, _| {
                fs::write(d.join("owner"), "").unwrap()
            }),
            ("owner corrupt", |d, _, _| {
                fs::write(d.join("owner"), b"\xff\n").unwrap()
            }),
            ("owner dir", |d, _, _| {
                fs::remove_file(d.join("owner")).unwrap();
                fs::create_dir(d.join("owner")).unwrap();
            }),
            ("notes dir", |d, _, _| {
                fs::create_dir(d.join("notes")).unwrap()
            }),
            ("notes symlink", |d, _, o| {
                symlink(o.join("owner"), d.join("notes")).unwrap()
            }),
            ("snapshot-named file", |d, _, _| {
                fs::write(d.join("2024-05-01T00:00:00Z"), "x").unwrap()
            }),
            ("index symlink", |_, s, o| {
                symlink(o.join("owner"), s.join("root.pxar.didx")).unwrap()
            }),
        ];
        for (what, shape) in shapes {
            let _ = fs::remove_dir_all(&ds.base);
            fs::create_dir_all(&snap).unwrap();
            fs::create_dir_all(ds.ns_path(&target)).unwrap();
            fs::create_dir_all(&outside).unwrap();
            fs::write(outside.join("owner"), "evil@pam\n").unwrap();
            fs::write(dir.join("owner"), "root@pam\n").unwrap();
            fs::write(snap.join("index.json.blob"), "x").unwrap();
            shape(&dir, &snap, &outside);
            let answer = |opened: Option<OwnedFd>| match preflight_group(
                &ds,
                &ns,
                &target,
                &group,
                TreeDepth::Snapshots,
                opened,
            ) {
                Ok(Some(r)) => format!("ok {} {:?}", r.owner, r.snapshot_times()),
                Ok(None) => "gone".to_string(),
                Err(e) => e.to_string(),
            };
            let opened = ds.open_group_dir(&ns, &group);
            assert!(opened.is_some(), "{what}: openat2 opens a real group dir");
            let (fast, walk) = (answer(opened), answer(None));
            assert_eq!(fast, walk, "{what}");
            assert_eq!(
                fast.starts_with("ok root@pam"),
                what == "good",
                "{what}: {fast}"
            );
        }
    }

    #[test]
    fn tempdirs_and_missing_subdirs_are_trusted() {
        let dir = tempfile::tempdir().unwrap();
        check_trusted_dir(dir.path(), DirRole::Datastore).unwrap();
        check_trusted_dir(&dir.path().join("run/locks"), DirRole::LockDir).unwrap();
    }

    #[test]
    fn world_or_foreign_group_writable_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d");
        fs::create_dir(&d).unwrap();
        for mode in [0o777, 0o1777, 0o757] {
            chmod(&d, mode);
            let e = check_trusted_dir(&d, DirRole::LockDir)
                .unwrap_err()
                .to_string();
            assert!(e.contains("world-writable"), "{mode:o}: {e}");
        }
        // A missing lock dir below a world-writable non-sticky parent is refused too.
        chmod(&d, 0o777);
        let e = check_trusted_dir(&d.join("locks"), DirRole::LockDir).unwrap_err();
        assert!(e.to_string().contains("world-writable"), "{e}");
        // Sticky ancestors (like /tmp) are fine.
        chmod(&d, 0o1777);
        let inner = d.join("store");
        fs::create_dir(&inner).unwrap();
        check_trusted_dir(&inner, DirRole::Datastore).unwrap();
        // Group-writable with group root is fine; with another group it is not.
        chmod(&d, 0o770);
        check_trusted_dir(&d, DirRole::Datastore).unwrap();
        std::os::unix::fs::chown(&d, None, Some(12345)).unwrap();
        let e = check_trusted_dir(&d, DirRole::Datastore)
            .unwrap_err()
            .to_string();
        assert!(e.contains("writable by group 12345"), "{e}");
        chmod(&d, 0o750);
        check_trusted_dir(&d, DirRole::Datastore).unwrap();
    }

    #[test]
    fn foreign_owner_and_symlinked_paths_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d");
        fs::create_dir(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(12345), None).unwrap();
        let e = check_trusted_dir(&d, DirRole::LockDir)
            .unwrap_err()
            .to_string();
        assert!(e.contains("owned by uid 12345"), "{e}");
        // Reached through a trusted symlink: the canonical target is still checked.
        let link = dir.path().join("link");
        symlink(&d, &link).unwrap();
        let e = check_trusted_dir(&link, DirRole::LockDir)
            .unwrap_err()
            .to_string();
        assert!(e.contains("owned by uid 12345"), "{e}");
    }
}
