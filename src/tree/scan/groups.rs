//! Lazy, symlink-refusing scanning of a datastore tree (filesystem or S3 local cache).
//!
//! Every function lists one level: listing a namespace never walks the rest of the datastore.
//! Odd entries (stray files, invalid names, symlinks) become warnings and are skipped.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use thiserror::Error;

use crate::tree::datastore::Datastore;
use crate::tree::model::{
    FileInfo, GroupInfo, Listing, MANIFEST_FILE, NOTES_FILE, OWNER_FILE, PROTECTED_FILE,
    ScanWarning, SnapshotInfo,
};
use crate::tree::names::{BackupType, GroupId, Namespace, SnapshotTime, is_safe_id};

#[derive(Debug, Error)]
pub enum ScanError {
    #[error("namespace '{0}' does not exist")]
    NoNamespace(String),
    #[error("group '{group}' does not exist in namespace '{ns}'")]
    NoGroup { ns: String, group: String },
    #[error("snapshot '{0}' does not exist")]
    NoSnapshot(String),
    #[error("{path} is a symlink; pbs-mover never follows symlinks inside a datastore")]
    Symlink { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ScanError + '_ {
    move |source| ScanError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What kind of entry a directory listing returned, without following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

fn entries(dir: &Path) -> Result<Vec<(String, Kind, Option<fs::DirEntry>)>, ScanError> {
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

fn warn(warnings: &mut Vec<ScanWarning>, path: PathBuf, message: impl Into<String>) {
    warnings.push(ScanWarning {
        path,
        message: message.into(),
    });
}

fn kind_warning(kind: Kind) -> &'static str {
    match kind {
        Kind::Symlink => "symlink skipped (never followed)",
        Kind::File => "unexpected file skipped",
        Kind::Other => "unexpected special file skipped",
        Kind::Dir => "unexpected directory skipped",
    }
}

impl Datastore {
    pub fn ns_path(&self, ns: &Namespace) -> PathBuf {
        self.base.join(ns.rel_path())
    }

    pub fn group_path(&self, ns: &Namespace, group: &GroupId) -> PathBuf {
        self.ns_path(ns).join(group.rel_path())
    }

    pub fn snapshot_path(&self, ns: &Namespace, group: &GroupId, time: &SnapshotTime) -> PathBuf {
        self.group_path(ns, group).join(time.as_str())
    }

    /// Whether `rel` (below the base) is a real directory reached without any symlink.
    ///
    /// One `openat2(RESOLVE_NO_SYMLINKS)` of plain names below the base resolves every
    /// component in one syscall instead of an `lstat` per prefix. Only "it is there" and "a component is
    /// missing" are answered by it; everything else (a symlink anywhere, a non-directory,
    /// no openat2 on this kernel or under seccomp, any other error) takes the component walk,
    /// which produces exactly the result and error (naming the offending path) it always did.
    fn real_dir(&self, rel: &Path) -> Result<bool, ScanError> {
        if rel.as_os_str().is_empty() {
            return Ok(true);
        }
        match real_dir_openat2(&self.base, rel) {
            Openat2::RealDir => Ok(true),
            Openat2::Missing => Ok(false),
            Openat2::Undecided => self.real_dir_walk(rel),
        }
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

    pub fn namespace_exists(&self, ns: &Namespace) -> Result<bool, ScanError> {
        self.real_dir(&ns.rel_path())
    }

    pub fn group_exists(&self, ns: &Namespace, group: &GroupId) -> Result<bool, ScanError> {
        self.real_dir(&ns.rel_path().join(group.rel_path()))
    }

    fn require_namespace(&self, ns: &Namespace) -> Result<PathBuf, ScanError> {
        if !self.namespace_exists(ns)? {
            return Err(ScanError::NoNamespace(ns.to_string()));
        }
        Ok(self.ns_path(ns))
    }

    fn require_group(&self, ns: &Namespace, group: &GroupId) -> Result<PathBuf, ScanError> {
        if !self.group_exists(ns, group)? {
            return Err(ScanError::NoGroup {
                ns: ns.to_string(),
                group: group.to_string(),
            });
        }
        Ok(self.group_path(ns, group))
    }

    /// Direct child namespaces of `ns`, sorted by name.
    pub fn list_child_namespaces(&self, ns: &Namespace) -> Result<Listing<Namespace>, ScanError> {
        let dir = self.require_namespace(ns)?.join("ns");
        let mut out = Listing::default();
        let list = match entries(&dir) {
            Err(ScanError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(out);
            }
            other => other?,
        };
        for (name, kind, _) in list {
            let path = dir.join(&name);
            if kind != Kind::Dir {
                warn(&mut out.warnings, path, kind_warning(kind));
                continue;
            }
            match ns.child(&name) {
                Ok(child) => out.items.push(child),
                Err(e) => warn(&mut out.warnings, path, format!("skipped: {e}")),
            }
        }
        out.items.sort();
        Ok(out)
    }

    /// `ns` and its descendants down to `max_depth` levels below it, parents before children.
    pub fn list_namespaces_recursive(
        &self,
        ns: &Namespace,
        max_depth: Option<usize>,
    ) -> Result<Listing<Namespace>, ScanError> {
        self.require_namespace(ns)?;
        let mut out = Listing {
            items: vec![ns.clone()],
            warnings: Vec::new(),
        };
        let mut level = vec![ns.clone()];
        let mut depth = 0;
        while !level.is_empty() && max_depth.is_none_or(|m| depth < m) {
            let mut next = Vec::new();
            for parent in &level {
                match self.list_child_namespaces(parent) {
                    Ok(children) => {
                        out.warnings.extend(children.warnings);
                        next.extend(children.items);
                    }
                    Err(e) => warn(&mut out.warnings, self.ns_path(parent), e.to_string()),
                }
            }
            out.items.extend(next.iter().cloned());
            level = next;
            depth += 1;
        }
        Ok(out)
    }

    /// Group ids directly in `ns`, sorted (type, id).
    pub fn list_group_ids(&self, ns: &Namespace) -> Result<Listing<GroupId>, ScanError> {
        let ns_dir = self.require_namespace(ns)?;
        let mut out = Listing::default();
        for ty in BackupType::ALL {
            let dir = ns_dir.join(ty.as_str());
            let list = match entries(&dir) {
                Err(ScanError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    continue;
                }
                Err(e) => {
                    warn(&mut out.warnings, dir, e.to_string());
                    continue;
                }
                Ok(list) => list,
            };
            for (name, kind, _) in list {
                let path = dir.join(&name);
                if kind != Kind::Dir {
                    warn(&mut out.warnings, path, kind_warning(kind));
                } else if !is_safe_id(&name) {
                    warn(&mut out.warnings, path, "invalid backup id skipped");
                } else {
                    out.items.push(GroupId { ty, id: name });
                }
            }
        }
        out.items.sort();
        Ok(out)
    }

    /// Groups in `ns` with owner and snapshot counts; sizes only when `sizes` is set.
    pub fn list_groups(
        &self,
        ns: &Namespace,
        sizes: bool,
    ) -> Result<Listing<GroupInfo>, ScanError> {
        let ids = self.list_group_ids(ns)?;
        let mut out = Listing {
            items: Vec::with_capacity(ids.items.len()),
            warnings: ids.warnings,
        };
        let infos = self.group_infos(ns, &ids.items, sizes);
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
        Ok(out)
    }

    /// `group_info` of every group, in the order given. Large namespaces are read by up to
    /// `available_parallelism` threads (see `PARALLEL_MIN_GROUPS`); the result is the same.
    fn group_infos(
        &self,
        ns: &Namespace,
        groups: &[GroupId],
        sizes: bool,
    ) -> Vec<Result<Listing<GroupInfo>, ScanError>> {
        let threads = scan_threads(groups.len());
        if threads <= 1 {
            return groups
                .iter()
                .map(|g| self.group_info(ns, g, sizes))
                .collect();
        }
        // Work-stealing by index: each worker takes the next unclaimed group, so one slow
        // (cold, huge) group does not hold up a whole pre-cut chunk.
        let next = AtomicUsize::new(0);
        let mut slots: Vec<Option<Result<Listing<GroupInfo>, ScanError>>> =
            std::iter::repeat_with(|| None).take(groups.len()).collect();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(group) = groups.get(i) else { break };
                            done.push((i, self.group_info(ns, group, sizes)));
                        }
                        done
                    })
                })
                .collect();
            for worker in workers {
                match worker.join() {
                    Ok(done) => {
                        for (i, info) in done {
                            slots[i] = Some(info);
                        }
                    }
                    // group_info does not panic; if it ever does, re-raise it here as the
                    // sequential loop would have.
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
        groups
            .iter()
            .zip(slots)
            .map(|(group, slot)| {
                // Every index below groups.len() was claimed by exactly one worker, and
                // every worker was joined above: a slot is never empty. Fall back to the
                // sequential read rather than panic should that ever change.
                slot.unwrap_or_else(|| self.group_info(ns, group, sizes))
            })
            .collect()
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
        match read_first_line_nofollow(&path) {
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

    /// The group's owner (`None` when missing or unreadable).
    pub fn read_owner(&self, ns: &Namespace, group: &GroupId) -> Result<Option<String>, ScanError> {
        let dir = self.require_group(ns, group)?;
        Ok(self.read_owner_at(&dir, &mut Vec::new()))
    }

    /// Snapshot times in the group, oldest first.
    pub fn list_snapshot_times(
        &self,
        ns: &Namespace,
        group: &GroupId,
    ) -> Result<Vec<SnapshotTime>, ScanError> {
        let dir = self.require_group(ns, group)?;
        let mut times: Vec<SnapshotTime> = entries(&dir)?
            .into_iter()
            .filter(|(_, kind, _)| *kind == Kind::Dir)
            .filter_map(|(name, _, _)| SnapshotTime::parse(&name).ok())
            .collect();
        times.sort();
        Ok(times)
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

/// Below this many groups a namespace is read on the calling thread: spawning costs more
/// than it saves.
const PARALLEL_MIN_GROUPS: usize = 64;

/// How many threads read the groups of one namespace.
fn scan_threads(groups: usize) -> usize {
    if groups < PARALLEL_MIN_GROUPS {
        return 1;
    }
    let max =
        SCAN_THREADS.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    max.min(groups / (PARALLEL_MIN_GROUPS / 2)).max(1)
}

/// `PBS_MOVER_SCAN_THREADS=N` caps the threads per namespace (1: sequential), for
/// before/after benchmarks; default `available_parallelism`.
static SCAN_THREADS: LazyLock<Option<usize>> = LazyLock::new(|| {
    std::env::var("PBS_MOVER_SCAN_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
});

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
    use rustix::fs::{CWD, Mode, OFlags, ResolveFlags};
    use rustix::io::Errno;
    use std::path::Component;
    if OPENAT2_UNAVAILABLE.load(Ordering::Relaxed) || *OPENAT2_DISABLED {
        return Openat2::Undecided;
    }
    // Only plain names below the base (what validated names produce): no `..`, no root,
    // so the path cannot leave the base (RESOLVE_BENEATH by construction).
    if !base.is_absolute() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Openat2::Undecided;
    }
    // The absolute path in one call (no open/close of the base per check). The base is
    // canonical (`Locator::locate`), so NO_SYMLINKS only ever meets a symlink below it; if
    // the base path itself contains one, every call says ELOOP and the walk decides (the
    // walk trusts the base as given, as before).
    match rustix::fs::openat2(
        CWD,
        base.join(rel),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        // NO_SYMLINKS implies NO_MAGICLINKS.
        ResolveFlags::NO_SYMLINKS,
    ) {
        Ok(_) => Openat2::RealDir,
        // Resolution goes left to right and a symlink before the missing component would
        // have stopped it with ELOOP, so this is exactly the walk's `Ok(false)` on NotFound.
        Err(Errno::NOENT) => Openat2::Missing,
        Err(Errno::NOSYS | Errno::PERM) => {
            OPENAT2_UNAVAILABLE.store(true, Ordering::Relaxed);
            Openat2::Undecided
        }
        // ELOOP: a symlink (the walk names it). ENOTDIR: a file on the way or at the end
        // (the walk's `Ok(false)`), or a trailing symlink, which O_PATH|O_NOFOLLOW opens
        // as itself and O_DIRECTORY then rejects (the walk's `Symlink`). EACCES, EAGAIN, …:
        // the walk decides too, with the error it always gave.
        Err(_) => Openat2::Undecided,
    }
}

/// Reads the first line of a regular file, refusing symlinks. `Ok(None)` when absent.
pub fn read_first_line_nofollow(path: &Path) -> io::Result<Option<String>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
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
    Ok(Some(line.to_string()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::tree::BackendConfig;

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
        let ds = Datastore {
            name: "store".into(),
            base: base.clone(),
            backend: BackendConfig::Filesystem,
            maintenance: None,
            config: None,
        };
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

    #[test]
    fn scan_threads_bounded() {
        assert_eq!(scan_threads(0), 1);
        assert_eq!(scan_threads(PARALLEL_MIN_GROUPS - 1), 1);
        let n = scan_threads(100_000);
        assert!(n >= 1);
        assert!(
            n <= SCAN_THREADS
                .unwrap_or_else(|| { std::thread::available_parallelism().map_or(1, usize::from) })
        );
    }
}
