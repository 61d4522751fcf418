//! Shared helpers for integration tests: generated datastores, whole-tree checksums, the
//! real binary, and locks held by other processes.
#![allow(dead_code)]

pub mod pty;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pbs_mover::demo::{DemoSpec, create_demo};
use sha2::{Digest, Sha256};

pub const BIN: &str = env!("CARGO_BIN_EXE_pbs-mover");

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

    /// Writes a group with the given owner and snapshot times (each with an index and manifest).
    pub fn add_group(&self, ns: &str, group: &str, owner: &str, times: &[&str]) {
        let dir = self.group_dir(ns, group);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("owner"), format!("{owner}\n")).unwrap();
        for t in times {
            let snap = dir.join(t);
            std::fs::create_dir_all(&snap).unwrap();
            std::fs::write(snap.join("root.pxar.didx"), format!("didx {group} {t}")).unwrap();
            std::fs::write(
                snap.join("index.json.blob"),
                format!("manifest {group} {t}"),
            )
            .unwrap();
        }
    }

    /// Hands every group dir and owner file to user `backup`, as PBS creates them: only
    /// such groups move with one rename of their dir (the tests write theirs as root).
    pub fn own_groups_as_pbs(&self) {
        let Some((uid, gid)) = pbs_mover::ops::safety::ownership::backup_ids() else {
            return;
        };
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
        let mut c = Command::new(BIN);
        c.arg("--path").arg(path).arg("--lock-dir").arg(&self.locks);
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

    /// Path of the store's lock dir (`<lock-dir>/<store>`).
    pub fn store_locks(&self) -> PathBuf {
        self.locks.join("store1")
    }

    pub fn snapshot(&self) -> TreeSnapshot {
        TreeSnapshot::of(&self.base)
    }
}

pub fn ns_rel(ns: &str) -> PathBuf {
    let mut p = PathBuf::new();
    for c in ns.split('/').filter(|c| !c.is_empty()) {
        p.push("ns");
        p.push(c);
    }
    p
}

pub fn exit_code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json(o: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "exactly one JSON line on stdout, got: {text:?}"
    );
    serde_json::from_str(lines[0]).unwrap()
}

/// Exactly one `error: ` line on stderr and no panic; returns that line.
pub fn error_line(o: &Output) -> String {
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "exactly one error line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    lines[0].to_string()
}

/// `resume --json` that found one cut move and completed it; returns its JSON.
pub fn assert_resumed(o: &Output) -> serde_json::Value {
    let j = json(o);
    assert_eq!(exit_code(o), 0, "resume: {j} {}", stderr(o));
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["nothing_to_do"], false, "{j}");
    assert_eq!(j["operations"][0]["status"], "completed", "{j}");
    assert!(!j["moved"].as_array().unwrap().is_empty(), "{j}");
    j
}

/// A (text) `resume` with nothing left to do, saying so.
pub fn assert_nothing_to_resume(o: &Output) {
    assert_eq!(exit_code(o), 0, "{}", stderr(o));
    assert!(stderr(o).contains("nothing to resume"), "{}", stderr(o));
}

/// `move-group vm/100 → prod` with `--json`: the demo store's usual move.
pub const MOVE_VM100_TO_PROD: &[&str] = &[
    "move-group",
    "--group",
    "vm/100",
    "--target-ns",
    "prod",
    "--json",
];

/// `move-ns src → other/moved` with merging off (crash harness scenario).
pub const MOVE_NS_NO_MERGE: &[&str] = &[
    "move-ns",
    "--ns",
    "src",
    "--target-ns",
    "other/moved",
    "--no-merge",
];

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

/// A lock held by another process (`flock(1)`), released on drop.
pub struct HeldLock {
    child: Child,
    pub pid: u32,
}

impl HeldLock {
    /// Holds a flock on `path` (created if needed) in a separate `flock` process.
    pub fn flock(path: &Path, shared: bool) -> Self {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut cmd = Command::new("flock");
        cmd.arg(if shared { "--shared" } else { "--exclusive" })
            .arg("--nonblock")
            .arg(path)
            .args(["sleep", "60"]);
        // Its own process group: `sleep` inherits the locked fd, so both must die on drop.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .expect("flock(1) from util-linux");
        let pid = child.id();
        let held = Self { child, pid };
        wait_until(|| proc_locks_mention(path, "FLOCK"));
        held
    }

    /// Holds a POSIX fcntl write lock on `path` (what PBS's GC holds on `<store>/.lock`).
    pub fn fcntl_write(path: &Path) -> Self {
        let script = "import fcntl,sys,time\nf=open(sys.argv[1],'r+')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('ok',flush=True)\ntime.sleep(60)\n";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut out = child.stdout.take().unwrap();
        let mut buf = [0u8; 3];
        std::io::Read::read_exact(&mut out, &mut buf).unwrap();
        let pid = child.id();
        Self { child, pid }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let pgid = nix::unistd::Pid::from_raw(self.pid as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proc_locks_mention(path: &Path, kind: &str) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let ino = meta.ino().to_string();
    std::fs::read_to_string("/proc/locks")
        .map(|s| {
            s.lines().any(|l| {
                l.contains(kind)
                    && l.split_whitespace()
                        .any(|w| w.ends_with(&format!(":{ino}")))
            })
        })
        .unwrap_or(false)
}

pub fn wait_until(mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "condition not reached in 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
