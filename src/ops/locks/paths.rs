//! Lock-file paths exactly as PBS (>= 3.3.5, "new locking") computes them, so that our
//! flocks and the ones taken by proxmox-backup-proxy land on the same files.
//!
//! Mirrors `lock_file_path_helper` in pbs-datastore/src/backup_info.rs and
//! `proxmox_systemd::escape_unit`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::tree::hex::hex;
use crate::tree::names::{GroupId, Namespace, SnapshotTime};

/// `pbs_datastore::DATASTORE_LOCKS_DIR`.
pub const DEFAULT_LOCK_DIR: &str = "/run/proxmox-backup/locks";
/// `pbs_datastore::manifest::MANIFEST_LOCK_NAME`.
pub const MANIFEST_LOCK_NAME: &str = ".index.json.lck";
/// Lock file of a namespace in v4 of the PBS move series (never merged upstream).
pub const NS_LOCK_NAME: &str = ".ns-lock";
/// `pbs_datastore::move_journal::JOURNAL_FILENAME`.
pub const MOVE_JOURNAL_NAME: &str = "move-journal";
/// Present while daemons from before 3.3.5 still run and lock directories instead of files.
pub const OLD_LOCKING_MARKER_NAME: &str = "old-locking";

/// Encoded names this long would hit NAME_MAX (255), so PBS hashes them.
const HASH_THRESHOLD: usize = 255;
const HASHED_KEEP: usize = 80;

/// `proxmox_systemd::escape_unit`: systemd-escape, `--path` style when `is_path`.
pub fn escape_unit(bytes: &[u8], is_path: bool) -> String {
    let mut unit = bytes;
    if is_path {
        while let [b'/', rest @ ..] = unit {
            unit = rest;
        }
        if unit.is_empty() {
            return "-".to_string();
        }
    }
    let mut out = String::with_capacity(unit.len());
    for (i, &b) in unit.iter().enumerate() {
        if b == b'/' {
            out.push('-');
        } else if (i == 0 && b == b'.') || !(b == b'_' || b == b'.' || b.is_ascii_alphanumeric()) {
            // By hand, not `write!`: this runs for every lock path of a move (a snapshot
            // time has four escaped bytes), and the formatting machinery showed in profiles.
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\x");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// Where the lock files of one datastore live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockPaths {
    pub lock_dir: PathBuf,
    /// Datastore name (a SAFE_ID from datastore.cfg; not re-validated here).
    pub store: String,
}

impl LockPaths {
    /// Paths under PBS's real lock directory.
    pub fn new(store: &str) -> Self {
        Self::with_lock_dir(DEFAULT_LOCK_DIR, store)
    }

    /// Paths under another lock directory (tests, chroots).
    pub fn with_lock_dir(lock_dir: impl Into<PathBuf>, store: &str) -> Self {
        Self {
            lock_dir: lock_dir.into(),
            store: store.to_string(),
        }
    }

    /// `<lock_dir>/<store>`.
    pub fn store_dir(&self) -> PathBuf {
        self.lock_dir.join(&self.store)
    }

    pub fn group(&self, ns: &Namespace, group: &GroupId) -> PathBuf {
        self.helper(ns, &group_rpath(group))
    }

    pub fn snapshot(&self, ns: &Namespace, group: &GroupId, time: &SnapshotTime) -> PathBuf {
        self.helper(ns, &snapshot_rpath(group, time))
    }

    pub fn manifest(&self, ns: &Namespace, group: &GroupId, time: &SnapshotTime) -> PathBuf {
        let rpath = format!("{}/{MANIFEST_LOCK_NAME}", snapshot_rpath(group, time));
        self.helper(ns, &rpath)
    }

    /// PBS ≤ 3.3.4's manifest lock (`manifest_lock_path` of PBS 3.2.4):
    /// `<lock_dir>/<store>/<ns/a/ns/b>/<type>/<id>/<time>/<time>.index.json.lck`. The doc
    /// comment there omits the `<time>` dir; the code (`relative_path()`) has it.
    pub fn old_manifest(&self, ns: &Namespace, group: &GroupId, time: &SnapshotTime) -> PathBuf {
        self.store_dir()
            .join(ns.rel_path())
            .join(group.rel_path())
            .join(time.as_str())
            .join(format!("{time}{MANIFEST_LOCK_NAME}"))
    }

    /// `<lock_dir>/<store>/<a:b:c>/.ns-lock`; for the root this is `<store>/.ns-lock`,
    /// which nobody locks.
    pub fn ns_lock(&self, ns: &Namespace) -> PathBuf {
        self.ns_dir(ns).join(NS_LOCK_NAME)
    }

    pub fn move_journal(&self) -> PathBuf {
        self.store_dir().join(MOVE_JOURNAL_NAME)
    }

    /// `<lock_dir>/../old-locking`, i.e. `/run/proxmox-backup/old-locking` by default.
    pub fn old_locking_marker(&self) -> PathBuf {
        match self.lock_dir.parent() {
            Some(parent) => parent.join(OLD_LOCKING_MARKER_NAME),
            None => self.lock_dir.join("..").join(OLD_LOCKING_MARKER_NAME),
        }
    }

    /// The directory holding all lock files of `ns` (the store dir for the root).
    pub fn ns_dir(&self, ns: &Namespace) -> PathBuf {
        let dir = self.store_dir();
        if ns.is_root() {
            dir
        } else {
            dir.join(ns.lock_dir_name())
        }
    }

    /// `lock_file_path_helper`: the rpath is relative to the namespace, e.g. `vm/100`.
    fn helper(&self, ns: &Namespace, rpath: &str) -> PathBuf {
        self.ns_dir(ns).join(encode_rpath(rpath))
    }
}

fn group_rpath(group: &GroupId) -> String {
    format!("{}/{}", group.ty, group.id)
}

fn snapshot_rpath(group: &GroupId, time: &SnapshotTime) -> String {
    format!("{}/{}", group_rpath(group), time)
}

/// The part below the namespace directory: one file name, or `hashed/<name>` when the
/// escaped name would be too long for the filesystem.
fn encode_rpath(rpath: &str) -> PathBuf {
    let enc = escape_unit(rpath.as_bytes(), true);
    if enc.len() < HASH_THRESHOLD {
        return PathBuf::from(enc);
    }
    // escape_unit output is pure ASCII, so byte slicing cannot split a character.
    let head = &enc[..HASHED_KEEP];
    let tail = &enc[enc.len() - HASHED_KEEP..];
    let hash = hex(&Sha256::digest(rpath.as_bytes()), "");
    Path::new("hashed").join(format!("{head}...{tail}-{hash}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> Namespace {
        Namespace::parse(s).unwrap()
    }
    fn grp(s: &str) -> GroupId {
        GroupId::parse(s).unwrap()
    }
    fn time(s: &str) -> SnapshotTime {
        SnapshotTime::parse(s).unwrap()
    }
    fn paths() -> LockPaths {
        LockPaths::new("store1")
    }
    const T: &str = "2022-05-02T08:11:33Z";
    const T_ENC: &str = r"2022\x2d05\x2d02T08\x3a11\x3a33Z";

    #[test]
    fn old_manifest_lock_path_as_pbs_3_2_4() {
        let p = paths();
        assert_eq!(
            p.old_manifest(&ns("a/b"), &grp("vm/100"), &time(T)),
            PathBuf::from(format!(
                "/run/proxmox-backup/locks/store1/ns/a/ns/b/vm/100/{T}/{T}.index.json.lck"
            ))
        );
        assert_eq!(
            p.old_manifest(&Namespace::root(), &grp("host/my-pc"), &time(T)),
            PathBuf::from(format!(
                "/run/proxmox-backup/locks/store1/host/my-pc/{T}/{T}.index.json.lck"
            ))
        );
    }

    #[test]
    fn escape_unit_table() {
        let cases: &[(&[u8], bool, &str)] = &[
            (b"vm/100", true, "vm-100"),
            (b"/vm/100", true, "vm-100"),
            (b"///a", true, "a"),
            (b"/", true, "-"),
            (b"", true, "-"),
            (b"", false, ""),
            (b"/a", false, "-a"),
            (b"host/my-pc", true, r"host-my\x2dpc"),
            (b"a:b", true, r"a\x3ab"),
            (b".hidden/.x", true, r"\x2ehidden-.x"),
            (b"a b\xff", true, r"a\x20b\xff"),
            (b"x_y.z", true, "x_y.z"),
            (b"\n", true, r"\x0a"),
        ];
        for (input, is_path, want) in cases {
            assert_eq!(escape_unit(input, *is_path), *want, "{input:?}");
        }
    }

    #[test]
    fn pbs_doc_examples() {
        let p = paths();
        let base = "/run/proxmox-backup/locks/store1";
        assert_eq!(
            p.group(&Namespace::root(), &grp("vm/100")),
            PathBuf::from(format!("{base}/vm-100"))
        );
        assert_eq!(
            p.snapshot(&Namespace::root(), &grp("vm/100"), &time(T)),
            PathBuf::from(format!("{base}/vm-100-{T_ENC}"))
        );
        assert_eq!(
            p.snapshot(&ns("ns1/ns2/ns3/ns4/ns5/ns6/ns7"), &grp("vm/100"), &time(T)),
            PathBuf::from(format!("{base}/ns1:ns2:ns3:ns4:ns5:ns6:ns7/vm-100-{T_ENC}"))
        );
        assert_eq!(
            p.manifest(&Namespace::root(), &grp("vm/100"), &time(T)),
            PathBuf::from(format!("{base}/vm-100-{T_ENC}-.index.json.lck"))
        );
        assert_eq!(
            p.group(&ns("a"), &grp("host/my-pc")),
            PathBuf::from(format!(r"{base}/a/host-my\x2dpc"))
        );
    }

    #[test]
    fn hashed_example() {
        // rpath host/my-pc-bbb…(210 b)/2022-05-02T08:11:33Z; hash computed with sha256sum.
        let id = format!("my-pc-{}", "b".repeat(210));
        let got = paths().snapshot(&ns("ns1/ns2/ns3"), &grp(&format!("host/{id}")), &time(T));
        let head = format!(r"host-my\x2dpc\x2d{}", "b".repeat(63));
        let tail = format!("{}-{T_ENC}", "b".repeat(47));
        let hash = "0b0afe1d012b75942510903019044050db8fee7f385aa34c6680420487417152";
        let want =
            format!("/run/proxmox-backup/locks/store1/ns1:ns2:ns3/hashed/{head}...{tail}-{hash}");
        assert_eq!(head.len(), 80);
        assert_eq!(tail.len(), 80);
        assert_eq!(got, PathBuf::from(want));
    }

    #[test]
    fn hash_boundary_254_255() {
        // "vm-" + 251 'a' = 254 chars: still a plain name.
        let g254 = grp(&format!("vm/{}", "a".repeat(251)));
        let p = paths().group(&Namespace::root(), &g254);
        assert_eq!(p.file_name().unwrap().len(), 254);
        assert_eq!(
            p.parent().unwrap(),
            Path::new("/run/proxmox-backup/locks/store1")
        );

        // 255 chars: hashed; sha256 of "vm/" + 252 'a' computed with sha256sum.
        let g255 = grp(&format!("vm/{}", "a".repeat(252)));
        let p = paths().group(&Namespace::root(), &g255);
        let name = format!(
            "vm-{}...{}-e563063363edb2a04bb53447895c682f083b3c2f9511bfde1ae160cadb3bd207",
            "a".repeat(77),
            "a".repeat(80)
        );
        assert_eq!(
            p,
            Path::new("/run/proxmox-backup/locks/store1/hashed").join(name)
        );
    }

    #[test]
    fn special_paths() {
        let p = LockPaths::with_lock_dir("/tmp/x/locks", "s");
        assert_eq!(p.store_dir(), Path::new("/tmp/x/locks/s"));
        assert_eq!(
            p.ns_lock(&ns("a/b/c")),
            Path::new("/tmp/x/locks/s/a:b:c/.ns-lock")
        );
        assert_eq!(
            p.ns_lock(&Namespace::root()),
            Path::new("/tmp/x/locks/s/.ns-lock")
        );
        assert_eq!(p.move_journal(), Path::new("/tmp/x/locks/s/move-journal"));
        assert_eq!(p.old_locking_marker(), Path::new("/tmp/x/old-locking"));
        assert_eq!(
            paths().old_locking_marker(),
            Path::new("/run/proxmox-backup/old-locking")
        );
    }
}
