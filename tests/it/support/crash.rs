//! The crash harness shared by FS and S3: a move is killed at fail-points or at random
//! moments (SIGKILL), then `resume` runs twice; the result must equal an uninterrupted run
//! of the same move. What "the result" is depends on the backend ([`Target`]): the
//! datastore tree, lock files and `ls` for a filesystem datastore ([`Store`]), plus every
//! bucket object and a clean `verify` for an S3 one (`S3Store`).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Store, TreeSnapshot, exit_code, json, stderr};

/// One move to interrupt, with the datastore it starts from.
pub struct Scenario {
    pub name: &'static str,
    pub build: fn() -> Store,
    pub args: &'static [&'static str],
}

/// Fail-point names with the hits (`name:n`) at which to cut.
pub type Boundaries = &'static [(&'static str, &'static [u32])];

/// A datastore the harness can run the binary on, observe and compare.
pub trait Target: Sized {
    /// The suite's name in the summary lines (`crash_fs`, `crash_s3`).
    const SUITE: &'static str;
    /// What the local tree is called in messages ("datastore", or "cache" beside a bucket).
    const TREE: &'static str;
    /// What the snapshot files are called in messages.
    const FILES: &'static str;
    /// What may be lost, in messages.
    const LOST: &'static str;

    /// Sets up the backend for a freshly built store.
    fn from_store(store: Store) -> Self;
    fn store(&self) -> &Store;
    /// The binary on this datastore with its state dir, no fail-point and stdin closed.
    fn command(&self, args: &[&str]) -> Command;
    /// Every object of the bucket (key → sha256); none for a filesystem datastore.
    fn objects(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
    /// [`Self::objects`] of snapshots, keyed independent of the namespace.
    fn snapshot_objects(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
    /// Checks made on every observation besides `ls` (S3: `verify` finds no drift).
    fn check_observed(&self) {}
    /// Checks on the JSON of the first `resume` after a crash.
    fn check_resume(&self, _j: &serde_json::Value) {}
    /// Checks once the store is settled after the second `resume`.
    fn check_settled(&self, _what: &str) {}
}

impl Target for Store {
    const SUITE: &'static str = "crash_fs";
    const TREE: &'static str = "datastore";
    const FILES: &'static str = "snapshot";
    const LOST: &'static str = "snapshot files";

    fn from_store(store: Store) -> Self {
        store
    }

    fn store(&self) -> &Store {
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = self.cmd();
        c.env_remove("PBS_MOVER_FAILPOINT")
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn check_resume(&self, j: &serde_json::Value) {
        assert_eq!(j["op"], "resume");
    }

    fn check_settled(&self, what: &str) {
        let hist = self.command(&["history", "--json"]).output().unwrap();
        let h = json(&hist);
        assert!(
            h["moves"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["status"] != "unfinished"),
            "{what}: unfinished moves after resume: {h}"
        );
    }
}

#[cfg(feature = "s3-server")]
impl Target for super::s3::S3Store {
    const SUITE: &'static str = "crash_s3";
    const TREE: &'static str = "cache";
    const FILES: &'static str = "cache";
    const LOST: &'static str = "snapshot files or objects";

    fn from_store(store: Store) -> Self {
        Self::upload(store)
    }

    fn store(&self) -> &Store {
        &self.store
    }

    fn command(&self, args: &[&str]) -> Command {
        self.cmd(args)
    }

    fn objects(&self) -> BTreeMap<String, String> {
        super::s3::S3Store::objects(self)
    }

    fn snapshot_objects(&self) -> BTreeMap<String, String> {
        super::s3::snapshot_objects(&self.objects())
    }

    fn check_observed(&self) {
        let verify = self.cmd(&["verify", "--json"]).output().unwrap();
        assert_eq!(
            exit_code(&verify),
            0,
            "verify: {}",
            String::from_utf8_lossy(&verify.stdout)
        );
    }
}

/// Everything a user can observe after a move.
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    tree: BTreeMap<String, (char, String, u32)>,
    /// Empty for a filesystem datastore.
    objects: BTreeMap<String, String>,
    locks: Vec<String>,
    ls: serde_json::Value,
}

fn observe<T: Target>(t: &T) -> Observed {
    let s = t.store();
    let tree = TreeSnapshot::of(&s.base)
        .0
        .into_iter()
        .map(|(k, e)| (k, (e.kind, e.hash, e.mode)))
        .collect();
    let locks: Vec<String> = TreeSnapshot::of(&s.locks)
        .0
        .into_iter()
        .filter(|(k, e)| e.kind == 'f' && !k.ends_with("move-journal"))
        .map(|(k, _)| k)
        .collect();
    let out = t
        .command(&["ls", "--recursive", "--snapshots", "--json"])
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    t.check_observed();
    Observed {
        tree,
        objects: t.objects(),
        locks,
        ls: json(&out),
    }
}

/// The snapshot files (and objects) before a crash: afterwards none may be lost.
struct Before {
    files: BTreeMap<String, String>,
    objects: BTreeMap<String, String>,
}

fn before<T: Target>(t: &T) -> Before {
    Before {
        files: t.store().snapshot().snapshot_files(),
        objects: t.snapshot_objects(),
    }
}

#[derive(Default)]
struct Tally {
    trials: usize,
    crashed: usize,
    /// Trials where `resume` found an unfinished move and finished it.
    resumed: usize,
    losses: usize,
}

/// The result of an uninterrupted run of `sc`.
fn clean_result<T: Target>(sc: &Scenario) -> Observed {
    let t = T::from_store((sc.build)());
    let out = t.command(sc.args).output().unwrap();
    assert_eq!(exit_code(&out), 0, "{}: {}", sc.name, stderr(&out));
    observe(&t)
}

/// `resume` twice after an interrupted run; the result must equal the clean run.
fn check_after_crash<T: Target>(
    t: &T,
    expected: &Observed,
    original: &Observed,
    what: &str,
    b: &Before,
    tally: &mut Tally,
) {
    let out = t.command(&["resume", "--json"]).output().unwrap();
    let j = json(&out);
    assert_eq!(
        exit_code(&out),
        0,
        "{what}: resume failed: {j} {}",
        stderr(&out)
    );
    t.check_resume(&j);
    if j["nothing_to_do"] == false {
        tally.resumed += 1;
    }
    let files = t.store().snapshot().snapshot_files();
    let objects = t.snapshot_objects();
    let lost = b
        .files
        .iter()
        .filter(|(k, v)| files.get(*k) != Some(v))
        .count()
        + b.objects
            .iter()
            .filter(|(k, v)| objects.get(*k) != Some(v))
            .count();
    tally.losses += lost;
    assert_eq!(lost, 0, "{what}: {} lost or changed", T::LOST);
    assert_eq!(files, b.files, "{what}: {} files differ", T::FILES);
    assert_eq!(objects, b.objects, "{what}: objects differ");
    let got = observe(t);
    if j["nothing_to_do"] == true && unchanged(&got, original, expected) {
        // Killed before the journal existed: the move never started, nothing changed
        // (only namespace lock files, which a finished move leaves too, may exist).
        return;
    }
    assert_eq!(
        got.objects, expected.objects,
        "{what}: bucket differs from a clean run\nresume: {j}"
    );
    assert_eq!(
        got.tree,
        expected.tree,
        "{what}: {} differs from a clean run\nresume: {j}",
        T::TREE
    );
    assert_eq!(
        got.locks, expected.locks,
        "{what}: lock files differ from a clean run"
    );
    assert_eq!(got.ls, expected.ls, "{what}: ls differs from a clean run");
    let again = t.command(&["resume", "--json"]).output().unwrap();
    let j2 = json(&again);
    assert_eq!(exit_code(&again), 0, "{what}: second resume: {j2}");
    assert_eq!(
        j2["nothing_to_do"], true,
        "{what}: second resume did something: {j2}"
    );
    assert_eq!(observe(t), got, "{what}: second resume changed something");
    t.check_settled(what);
}

/// Nothing but namespace lock files (ones a finished move leaves too) changed.
fn unchanged(got: &Observed, original: &Observed, clean: &Observed) -> bool {
    let g = Observed {
        locks: Vec::new(),
        ..got.clone()
    };
    let o = Observed {
        locks: Vec::new(),
        ..original.clone()
    };
    g == o
        && got
            .locks
            .iter()
            .all(|l| clean.locks.contains(l) || original.locks.contains(l))
}

/// Cuts every scenario at every boundary hit, then checks `resume` (see
/// [`check_after_crash`]); at least `min_crashed` cuts must have been reached.
pub fn every_fail_point<T: Target>(
    scenarios: &[Scenario],
    boundaries: Boundaries,
    min_crashed: usize,
) {
    every_fail_point_then::<T>(scenarios, boundaries, min_crashed, |_| {});
}

/// [`every_fail_point`] with `after_crash` run on the datastore between the cut and
/// `resume` (e.g. to drop what a power loss would have lost besides the process).
pub fn every_fail_point_then<T: Target>(
    scenarios: &[Scenario],
    boundaries: Boundaries,
    min_crashed: usize,
    after_crash: fn(&T),
) {
    let mut tally = Tally::default();
    for sc in scenarios {
        let expected = clean_result::<T>(sc);
        for (step, hits) in boundaries {
            for n in *hits {
                let t = T::from_store((sc.build)());
                let b = before(&t);
                let original = observe(&t);
                let out = t
                    .command(sc.args)
                    .env("PBS_MOVER_FAILPOINT", format!("{step}:{n}"))
                    .output()
                    .unwrap();
                tally.trials += 1;
                if out.status.code().is_none() {
                    tally.crashed += 1;
                    after_crash(&t);
                } else {
                    assert_eq!(exit_code(&out), 0, "{}: {}", sc.name, stderr(&out));
                }
                let what = format!("{} at {step}:{n}", sc.name);
                check_after_crash(&t, &expected, &original, &what, &b, &mut tally);
            }
        }
    }
    println!(
        "{} fail-points: {} trials ({} crashed at the fail-point, {} resumed), {} losses",
        T::SUITE,
        tally.trials,
        tally.crashed,
        tally.resumed,
        tally.losses
    );
    assert!(
        tally.crashed >= min_crashed,
        "too few fail-points were reached: {}",
        tally.crashed
    );
}

/// xorshift: reproducible "random" kill delays without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Times a clean run of `sc` (at least `min_ms`), then kills `trials` runs with SIGKILL
/// after a delay below that (from `seed`) and checks `resume` after each.
pub fn random_sigkills<T: Target>(sc: &Scenario, seed: u64, trials: usize, min_ms: u64) {
    let clean = T::from_store((sc.build)());
    let start = Instant::now();
    let out = clean.command(sc.args).output().unwrap();
    let clean_ms = (start.elapsed().as_millis() as u64).max(min_ms);
    assert_eq!(exit_code(&out), 0, "{}: {}", sc.name, stderr(&out));
    let expected = observe(&clean);
    drop(clean);
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    for trial in 0..trials {
        let delay = rng.next() % clean_ms;
        let t = T::from_store((sc.build)());
        let b = before(&t);
        let original = observe(&t);
        let mut child = t
            .command(sc.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        tally.trials += 1;
        if status.code().is_none() {
            tally.crashed += 1;
        }
        let what = format!("{} trial {trial} killed after {delay} ms", sc.name);
        check_after_crash(&t, &expected, &original, &what, &b, &mut tally);
    }
    println!(
        "{} random SIGKILL: {} trials ({} killed, {} resumed mid-move, clean run {clean_ms} ms), {} losses",
        T::SUITE,
        tally.trials,
        tally.crashed,
        tally.resumed,
        tally.losses
    );
}
