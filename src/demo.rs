//! A realistic PBS-format demo datastore: nested namespaces, vm/ct/host groups with owners,
//! notes, 1–50 snapshots each with the archive names PBS writes, protected and unfinished
//! snapshots, real manifests (sizes of tens of GiB, crypt modes, verify states, notes), and
//! a `.chunks` store. Deterministic for a given size, so tests and benchmarks
//! can rely on it.

use std::fs;
use std::io;
use std::path::Path;

use crate::tree::manifest::{ArchiveCrypt, VerifyState};
use crate::tree::names::{BackupType, Namespace, SnapshotTime};

mod manifest;

pub use manifest::{Archive, ManifestSpec};

/// Where groups go; parents come before children so creation order is natural.
const NAMESPACES: &[&str] = &[
    "",
    "prod",
    "prod/db",
    "prod/web",
    "prod/web/eu-west",
    "prod/web/eu-west/edge",
    "staging",
    "dev",
    "dev/alice",
    "archive",
    "archive/2024",
    "archive/2024/q1",
    "archive/2024/q2",
    "customers",
    "customers/acme",
    "customers/acme/site-1",
];

/// Namespaces created without groups, so the tree also shows empty ones.
const EMPTY_NAMESPACES: &[&str] = &["scratch", "archive/2023"];

const OWNERS: &[&str] = &[
    "root@pam",
    "backup@pbs!token",
    "admin@pbs",
    "sync@pbs!pull-job",
];

/// 2026-11-01T00:00:00Z: the newest demo snapshot is a little before this.
const NEWEST_EPOCH: u64 = 1_793_491_200;

const BLOB_MAGIC: [u8; 8] = [66, 171, 56, 7, 190, 131, 112, 161];
const FIXED_MAGIC: [u8; 8] = [47, 127, 65, 237, 145, 253, 15, 205];
const DYNAMIC_MAGIC: [u8; 8] = [28, 145, 78, 165, 25, 186, 179, 205];

#[derive(Debug, Clone, Copy)]
pub struct DemoSpec {
    pub groups: usize,
    /// Create the 65,536 `.chunks/XXXX` dirs PBS expects (slow for tiny test stores).
    pub full_chunk_store: bool,
}

impl Default for DemoSpec {
    fn default() -> Self {
        Self {
            groups: 40,
            full_chunk_store: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub namespaces: usize,
    pub groups: usize,
    pub snapshots: usize,
    pub files: usize,
}

/// splitmix64: a tiny deterministic generator, so the same spec yields the same datastore.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Creates the demo datastore in `dir` (which must exist and should be empty).
pub fn create_demo(dir: &Path, spec: DemoSpec) -> io::Result<DemoSummary> {
    let mut summary = DemoSummary::default();
    create_chunk_store(dir, spec.full_chunk_store)?;
    for ns in NAMESPACES.iter().chain(EMPTY_NAMESPACES) {
        let ns = parse_ns(ns)?;
        fs::create_dir_all(dir.join(ns.rel_path()))?;
        summary.namespaces += 1;
    }
    let mut rng = Rng(0x5eed);
    for i in 0..spec.groups {
        let ns = parse_ns(NAMESPACES[i % NAMESPACES.len()])?;
        let ty = BackupType::ALL[(i / NAMESPACES.len()) % 3];
        let id = match ty {
            BackupType::Vm => format!("{}", 100 + i),
            BackupType::Ct => format!("{}", 100 + i),
            BackupType::Host => format!("host-{:03}.example.com", i),
        };
        let group_dir = dir.join(ns.rel_path()).join(ty.as_str()).join(&id);
        fs::create_dir_all(&group_dir)?;
        let owner = OWNERS[rng.below(OWNERS.len() as u64) as usize];
        fs::write(group_dir.join("owner"), format!("{owner}\n"))?;
        summary.files += 1;
        if i % 4 == 1 {
            fs::write(
                group_dir.join("notes"),
                format!(
                    "{ty}/{id}: nightly backup, keep-daily 7, ticket OPS-{}\n",
                    1000 + i
                ),
            )?;
            summary.files += 1;
        }
        let count = snapshot_count(&mut rng);
        let mut epoch = NEWEST_EPOCH - 3600 - rng.below(3600);
        let mut times = Vec::with_capacity(count);
        for _ in 0..count {
            times.push(epoch);
            epoch -= 86_400 - 600 + rng.below(1200);
        }
        times.reverse();
        for (n, t) in times.iter().enumerate() {
            let newest = n + 1 == times.len();
            let time = SnapshotTime::from_epoch(*t);
            let snap = group_dir.join(time.as_str());
            // Every 97th group's newest snapshot is still running (no manifest yet).
            let unfinished = newest && i % 97 == 5;
            let at = SnapAt {
                ty,
                id: &id,
                time,
                group: i,
                nth: n,
                newest,
            };
            summary.files += write_snapshot(&snap, &at, &mut rng, unfinished)?;
            if n == 0 && i % 5 == 2 {
                fs::write(snap.join(".protected"), b"")?;
                summary.files += 1;
            }
            summary.snapshots += 1;
        }
        summary.groups += 1;
    }
    Ok(summary)
}

fn parse_ns(s: &str) -> io::Result<Namespace> {
    Namespace::parse(s).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// Mostly short retention, every tenth group a long one: 1–50 snapshots, about 10 on average.
fn snapshot_count(rng: &mut Rng) -> usize {
    if rng.below(10) == 0 {
        21 + rng.below(30) as usize
    } else {
        1 + rng.below(15) as usize
    }
}

fn create_chunk_store(dir: &Path, full: bool) -> io::Result<()> {
    let chunks = dir.join(".chunks");
    fs::create_dir_all(&chunks)?;
    let prefixes: u32 = if full { 0x10000 } else { 16 };
    for p in 0..prefixes {
        fs::create_dir(chunks.join(format!("{p:04x}"))).or_else(ignore_exists)?;
    }
    fs::write(dir.join(".lock"), b"")?;
    Ok(())
}

fn ignore_exists(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::AlreadyExists {
        Ok(())
    } else {
        Err(e)
    }
}

/// `base` bytes plus up to `extra` more, starting with the PBS file magic.
fn payload(magic: [u8; 8], rng: &mut Rng, base: usize, extra: u64) -> Vec<u8> {
    let len = base + rng.below(extra.max(1)) as usize;
    let mut v = magic.to_vec();
    while v.len() < len {
        v.extend_from_slice(&rng.next().to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Which snapshot is being written: its group (by index) and place in the group.
struct SnapAt<'a> {
    ty: BackupType,
    id: &'a str,
    time: SnapshotTime,
    group: usize,
    nth: usize,
    newest: bool,
}

/// Writes one snapshot directory; returns the number of files written.
fn write_snapshot(
    dir: &Path,
    at: &SnapAt<'_>,
    rng: &mut Rng,
    unfinished: bool,
) -> io::Result<usize> {
    fs::create_dir_all(dir)?;
    let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
    match at.ty {
        BackupType::Vm => {
            files.push(("drive-scsi0.img.fidx", payload(FIXED_MAGIC, rng, 256, 768)));
            if rng.below(3) == 0 {
                files.push(("drive-scsi1.img.fidx", payload(FIXED_MAGIC, rng, 192, 0)));
            }
            files.push(("qemu-server.conf.blob", payload(BLOB_MAGIC, rng, 120, 0)));
            files.push(("fw.conf.blob", payload(BLOB_MAGIC, rng, 40, 0)));
        }
        BackupType::Ct => {
            files.push(("root.pxar.didx", payload(DYNAMIC_MAGIC, rng, 512, 1024)));
            files.push(("catalog.pcat1.didx", payload(DYNAMIC_MAGIC, rng, 160, 0)));
            files.push(("pct.conf.blob", payload(BLOB_MAGIC, rng, 96, 0)));
        }
        BackupType::Host => {
            files.push(("root.pxar.didx", payload(DYNAMIC_MAGIC, rng, 640, 2048)));
            files.push(("catalog.pcat1.didx", payload(DYNAMIC_MAGIC, rng, 200, 0)));
        }
    }
    if !unfinished {
        // Drawn from the main generator exactly as much as the old placeholder manifest
        // did, so the demo keeps its shape (groups, snapshot counts, owners).
        let seed = payload(BLOB_MAGIC, rng, 300, 0);
        let mut own = Rng(seed
            .iter()
            .fold(0u64, |a, b| a.rotate_left(8) ^ u64::from(*b)));
        let spec = demo_manifest(at, &files, &mut own);
        files.push(("index.json.blob", spec.blob()));
        files.push(("client.log.blob", payload(BLOB_MAGIC, rng, 80, 400)));
    }
    for (name, data) in &files {
        fs::write(dir.join(name), data)?;
    }
    Ok(files.len())
}

/// The manifest of a demo snapshot: realistic archive sizes, per-group crypt modes,
/// mostly verified (some failed, the newest often not yet), notes on some.
fn demo_manifest(at: &SnapAt<'_>, files: &[(&str, Vec<u8>)], rng: &mut Rng) -> ManifestSpec {
    let crypt = match at.group {
        g if g % 7 == 3 => ArchiveCrypt::Encrypt,
        g if g % 11 == 4 => ArchiveCrypt::SignOnly,
        _ => ArchiveCrypt::None,
    };
    // One disk size per group, so its snapshots agree.
    let mut group_rng = Rng(at.group as u64 * 7919 + 1);
    let archives = files
        .iter()
        .map(|(name, data)| Archive {
            name: name.to_string(),
            size: archive_size(name, data.len() as u64, &mut group_rng, rng),
            crypt,
        })
        .collect();
    let mut spec = ManifestSpec::new(at.ty, at.id, at.time.clone(), archives);
    let epoch = at.time.epoch();
    let verified_at = epoch + 3600 * (2 + rng.below(20));
    spec.verified = match (at.newest, at.group % 3, at.group % 13, at.nth % 4) {
        (true, 0, _, _) => None,
        (_, _, 6, 1) => Some((VerifyState::Failed, verified_at)),
        _ => Some((VerifyState::Ok, verified_at)),
    };
    spec.notes = match (at.newest, at.group % 6, at.nth % 9) {
        (true, 0, _) => Some(format!(
            "before kernel upgrade\nticket OPS-{}; keep until the restore test passed",
            1000 + at.group
        )),
        (_, _, 4) => Some("monthly restore test passed".to_string()),
        _ => None,
    };
    spec.compress = at.nth % 3 != 2;
    spec
}

const GIB: u64 = 1 << 30;

/// What an archive holds: a disk's size for an image, the data's for a pxar archive.
fn archive_size(name: &str, file_len: u64, group: &mut Rng, snap: &mut Rng) -> u64 {
    const DISKS: [u64; 7] = [8, 16, 32, 50, 64, 100, 250];
    if name.ends_with(".img.fidx") {
        DISKS[group.below(DISKS.len() as u64) as usize] * GIB
    } else if name == "root.pxar.didx" {
        let base = (1 + group.below(40)) * GIB;
        base + snap.below(base / 20)
    } else if name.ends_with(".pcat1.didx") {
        64 * 1024 + snap.below(4 << 20)
    } else {
        file_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_deterministic_and_scaled() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let spec = DemoSpec {
            groups: 50,
            full_chunk_store: false,
        };
        let sa = create_demo(a.path(), spec).unwrap();
        let sb = create_demo(b.path(), spec).unwrap();
        assert_eq!(sa, sb);
        assert_eq!(sa.groups, 50);
        assert!(sa.snapshots >= 50 && sa.snapshots <= 50 * 50);
        assert!(a.path().join("ns/prod/ns/web/ns/eu-west/ns/edge").is_dir());
        assert!(a.path().join(".chunks/000f").is_dir());
    }

    #[test]
    fn demo_manifests_are_real_and_varied() {
        use crate::tree::manifest::{CryptMode, ManifestError, blob, read_facts};
        let dir = tempfile::tempdir().unwrap();
        let spec = DemoSpec {
            groups: 120,
            full_chunk_store: false,
        };
        create_demo(dir.path(), spec).unwrap();
        let (mut modes, mut states, mut zstd, mut plain, mut notes, mut missing) =
            (Vec::new(), Vec::new(), 0, 0, 0, 0);
        let mut dirs = vec![dir.path().to_path_buf()];
        while let Some(d) = dirs.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if !p.is_dir() {
                    continue;
                }
                if SnapshotTime::parse(&p.file_name().unwrap().to_string_lossy()).is_err() {
                    dirs.push(p);
                    continue;
                }
                match read_facts(&p) {
                    Ok(f) => {
                        let vm = p.to_string_lossy().contains("/vm/");
                        assert!(!vm || f.size > 8 << 30, "{}: {}", p.display(), f.size);
                        modes.push(f.crypt_mode);
                        states.push(f.verify_state());
                        notes += usize::from(f.comment().is_some());
                        let raw = fs::read(p.join("index.json.blob")).unwrap();
                        match blob::split(&raw).unwrap().0 {
                            blob::Encoding::Zstd => zstd += 1,
                            blob::Encoding::Plain => plain += 1,
                        }
                    }
                    Err(ManifestError::Missing) => missing += 1,
                    Err(e) => panic!("{}: {e}", p.display()),
                }
            }
        }
        for m in [CryptMode::None, CryptMode::Encrypt, CryptMode::SignOnly] {
            assert!(modes.contains(&m), "no {m:?}");
        }
        for s in [Some(VerifyState::Ok), Some(VerifyState::Failed), None] {
            assert!(states.contains(&s), "no {s:?}");
        }
        assert!(zstd > 0 && plain > 0 && notes > 0 && missing > 0);
    }
}
