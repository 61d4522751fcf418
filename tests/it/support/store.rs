//! Generated datastores in temp dirs (with their lock, state and config dirs beside them),
//! the real binary on them, and whole-tree checksums.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pbs_mover::demo::{Archive, DemoSpec, ManifestSpec, create_demo};
use pbs_mover::tree::manifest::{ArchiveCrypt, VerifyState};
use pbs_mover::tree::{Datastore, GroupId, Locator, Namespace, SnapshotTime};
use sha2::{Digest, Sha256};

use super::api::LockPaths;
use super::cli::{BIN, stderr};

/// A demo datastore plus its lock dir, both in one temp dir.
pub struct Store {
    pub tmp: tempfile::TempDir,
    pub base: PathBuf,
    pub locks: PathBuf,
}

impl Store {
    pub fn demo(groups: usize) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("store1");
        std::fs::create_dir(&base).unwrap();
        create_demo(
            &base,
            DemoSpec {
                groups,
                full_chunk_store: false,
            },
        )
        .unwrap();
        let locks = tmp.path().join("run/locks");
        Self { tmp, base, locks }
    }

    /// An empty datastore with the given namespaces.
    pub fn empty(namespaces: &[&str]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("store1");
        Self::empty_in(tmp, base, namespaces)
    }

    /// [`Self::empty`] with the datastore at `base` (e.g. on a mount inside `tmp`); the lock
    /// and state dirs stay in `tmp`.
    pub fn empty_in(tmp: tempfile::TempDir, base: PathBuf, namespaces: &[&str]) -> Self {
        std::fs::create_dir_all(base.join(".chunks")).unwrap();
        std::fs::write(base.join(".lock"), b"").unwrap();
        for ns in namespaces {
            std::fs::create_dir_all(base.join(ns_rel(ns))).unwrap();
        }
        let locks = tmp.path().join("run/locks");
        Self { tmp, base, locks }
    }

    pub fn ns_dir(&self, ns: &str) -> PathBuf {
        self.base.join(ns_rel(ns))
    }

    pub fn group_dir(&self, ns: &str, group: &str) -> PathBuf {
        self.ns_dir(ns).join(group)
    }

    /// Writes a group with the given owner and snapshot times (each with an index and a
    /// real manifest: plain and zstd-compressed in turn, verified ok, 1 GiB + n MiB).
    pub fn add_group(&self, ns: &str, group: &str, owner: &str, times: &[&str]) {
        let dir = self.group_dir(ns, group);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("owner"), format!("{owner}\n")).unwrap();
        for (n, t) in times.iter().enumerate() {
            let snap = dir.join(t);
            std::fs::create_dir_all(&snap).unwrap();
            std::fs::write(snap.join("root.pxar.didx"), format!("didx {group} {t}")).unwrap();
            let mut spec = manifest_spec(group, t, (1 << 30) + (n as u64) * (1 << 20));
            spec.compress = n % 2 == 1;
            spec.verified = Some((
                VerifyState::Ok,
                SnapshotTime::parse(t).unwrap().epoch() + 60,
            ));
            self.write_manifest(ns, group, t, &spec);
        }
    }

    /// Writes `spec`'s blob as the manifest of snapshot `time` of `group` (the dir must exist).
    pub fn write_manifest(&self, ns: &str, group: &str, time: &str, spec: &ManifestSpec) {
        let path = self.group_dir(ns, group).join(time).join("index.json.blob");
        std::fs::write(path, spec.blob()).unwrap();
    }

    /// Hands every group dir and owner file to user `backup`, as PBS creates them: only
    /// such groups move with one rename of their dir (the tests write theirs as root).
    pub fn own_groups_as_pbs(&self) {
        let (uid, gid) = backup_ids();
        let mut dirs = vec![self.base.clone()];
        while let Some(dir) = dirs.pop() {
            let owner = dir.join("owner");
            if owner.is_file() {
                std::os::unix::fs::lchown(&dir, Some(uid), Some(gid)).unwrap();
                std::os::unix::fs::lchown(&owner, Some(uid), Some(gid)).unwrap();
                continue;
            }
            for e in std::fs::read_dir(&dir).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() && e.file_name() != ".chunks" {
                    dirs.push(e.path());
                }
            }
        }
    }

    pub fn cmd(&self) -> Command {
        self.cmd_at(&self.base)
    }

    /// [`Self::cmd`] with `--path path` instead of this store's base.
    pub fn cmd_at(&self, path: &Path) -> Command {
        let mut c = self.cmd_without_path();
        c.arg("--path").arg(path);
        c
    }

    /// The binary with this store's lock, state and config dirs but no `--path` (for
    /// `--store`, or a `--path` of the test's own).
    pub fn cmd_without_path(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--lock-dir").arg(&self.locks);
        c.env_remove("PBS_MOVER_LOCK_DIR")
            .env_remove("PBS_MOVER_CONFIG_DIR")
            .env_remove("PBS_MOVER_PBS_VERSION")
            .env_remove("PBS_MOVER_DPKG_STATUS");
        // Never the real /var/lib/pbs-mover; a test's own `--state-dir` or env still wins.
        c.env("PBS_MOVER_STATE_DIR", self.state_dir());
        c.arg("--config-dir").arg(self.tmp.path().join("etc"));
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Runs `args`, which must end busy (exit 3) with `needle` on stderr and the datastore
    /// unchanged.
    pub fn assert_busy(&self, args: &[&str], needle: &str) {
        let before = self.snapshot();
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
        assert_eq!(before, self.snapshot(), "a busy move changed the datastore");
    }

    /// Runs `args` with journals in `state` and the fail-point `failpoint` armed; asserts
    /// that the process was killed there (the move is left interrupted).
    pub fn cut_at(&self, state: &Path, failpoint: &str, args: &[&str]) {
        let out = self
            .cmd()
            .env("PBS_MOVER_STATE_DIR", state)
            .env("PBS_MOVER_FAILPOINT", failpoint)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.code().is_none(),
            "{args:?} not killed at {failpoint}: {}",
            stderr(&out)
        );
    }

    /// The crash-journal dir every command of this store uses unless told otherwise.
    pub fn state_dir(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    /// The PBS lock paths of this store (`<lock-dir>/store1/…`).
    pub fn lock_paths(&self) -> LockPaths {
        LockPaths::with_lock_dir(&self.locks, "store1")
    }

    /// The datastore located like the binary does, with this store's config dir.
    pub fn locate(&self) -> Datastore {
        Locator {
            path: Some(self.base.clone()),
            config_dir: Some(self.tmp.path().join("etc")),
            ..Default::default()
        }
        .locate()
        .unwrap()
    }

    /// The snapshot dir names of a group, sorted.
    pub fn snapshot_dirs(&self, ns: &str, group: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.group_dir(ns, group))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| SnapshotTime::parse(n).is_ok())
            .collect();
        v.sort();
        v
    }

    /// Path of the store's lock dir (`<lock-dir>/<store>`).
    pub fn store_locks(&self) -> PathBuf {
        self.locks.join("store1")
    }

    pub fn snapshot(&self) -> TreeSnapshot {
        TreeSnapshot::of(&self.base)
    }
}

/// `(uid, gid)` of user and group `backup`, which PBS's files belong to; the tests that
/// need them need root too (they chown).
pub fn backup_ids() -> (u32, u32) {
    super::api::ownership::backup_ids().expect("user and group backup, as on a PBS host")
}

/// A manifest of `group` at `time` with one unencrypted `root.pxar.didx` of `size` bytes.
pub fn manifest_spec(group: &str, time: &str, size: u64) -> ManifestSpec {
    let g = gid(group);
    let archive = Archive {
        name: "root.pxar.didx".to_string(),
        size,
        crypt: ArchiveCrypt::None,
    };
    ManifestSpec::new(
        g.ty,
        &g.id,
        SnapshotTime::parse(time).unwrap(),
        vec![archive],
    )
}

/// A namespace by name (`""` is the root).
pub fn ns(s: &str) -> Namespace {
    Namespace::parse(s).unwrap()
}

/// A group by name (`vm/100`).
pub fn gid(s: &str) -> GroupId {
    GroupId::parse(s).unwrap()
}

/// `n` snapshot times an hour apart from 2023-11-14T22:13:20Z.
pub fn epoch_times(n: u64) -> Vec<String> {
    (0..n)
        .map(|i| SnapshotTime::from_epoch(1_700_000_000 + i * 3600).to_string())
        .collect()
}

/// The `&str`s of `v`, for [`Store::add_group`].
pub fn as_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

pub fn ns_rel(ns: &str) -> PathBuf {
    let mut p = PathBuf::new();
    for c in ns.split('/').filter(|c| !c.is_empty()) {
        p.push("ns");
        p.push(c);
    }
    p
}

/// Every entry under a directory: path → (kind, sha256 of content, mode, uid, gid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeSnapshot(pub BTreeMap<String, Entry>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: char,
    pub hash: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl TreeSnapshot {
    pub fn of(root: &Path) -> Self {
        let mut map = BTreeMap::new();
        if root.exists() {
            walk(root, root, &mut map);
        }
        Self(map)
    }

    /// Snapshot files keyed by `<group>/<time>/<file>` (namespace-independent) → hash.
    pub fn snapshot_files(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (path, e) in &self.0 {
            if e.kind != 'f' {
                continue;
            }
            let parts: Vec<&str> = path.split('/').collect();
            let n = parts.len();
            if n >= 4 && matches!(parts[n - 4], "vm" | "ct" | "host") {
                let key = parts[n - 4..].join("/");
                assert!(
                    out.insert(key.clone(), e.hash.clone()).is_none(),
                    "{key} exists twice"
                );
            }
        }
        out
    }
}

fn walk(root: &Path, dir: &Path, map: &mut BTreeMap<String, Entry>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let (kind, hash) = if meta.file_type().is_symlink() {
            (
                'l',
                std::fs::read_link(&path).unwrap().display().to_string(),
            )
        } else if meta.is_dir() {
            ('d', String::new())
        } else {
            let data = std::fs::read(&path).unwrap();
            ('f', format!("{:x}", Sha256::digest(&data)))
        };
        map.insert(
            rel,
            Entry {
                kind,
                hash,
                mode: meta.permissions().mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
            },
        );
        if kind == 'd' {
            walk(root, &path, map);
        }
    }
}

/// Every crash journal (`*.jsonl`) under the state dir `state`, oldest first (their names
/// begin with the time they were opened).
pub fn journals_in(state: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![state.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The records of the crash journal at `path`, one JSON value per line.
pub fn journal_records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
