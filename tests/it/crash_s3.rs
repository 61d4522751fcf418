//! Crash harness, S3 datastores: like `crash_fs`, with a real S3 server (in this process)
//! holding the authoritative copy. After a crash and `resume`, the bucket (every object,
//! byte for byte) and the local cache must equal an uninterrupted run, and `verify` must
//! find no drift.

use crate::support;
use crate::support::s3;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use s3::{S3Store, snapshot_objects};
use support::{Store, TreeSnapshot, exit_code, json, stderr};

fn times(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("2024-02-{:02}T{:02}:00:00Z", 1 + i / 24, i % 24))
        .collect()
}

fn add(s: &Store, ns: &str, group: &str, owner: &str, n: usize) {
    let t = times(n);
    let refs: Vec<&str> = t.iter().map(String::as_str).collect();
    s.add_group(ns, group, owner, &refs);
}

fn group_store() -> Store {
    let s = Store::empty(&["", "a"]);
    add(&s, "", "vm/100", "root@pam", 4);
    std::fs::write(s.group_dir("", "vm/100").join("notes"), "keep me\n").unwrap();
    add(&s, "", "ct/7", "root@pam", 1);
    s
}

fn ns_store() -> Store {
    let s = Store::empty(&["", "src", "src/c", "other"]);
    add(&s, "src", "vm/1", "a@pbs", 3);
    add(&s, "src/c", "ct/2", "b@pbs", 2);
    std::fs::write(s.group_dir("src/c", "ct/2").join("notes"), "n2\n").unwrap();
    s
}

struct Scenario {
    name: &'static str,
    build: fn() -> Store,
    args: &'static [&'static str],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "s3 move-group",
        build: group_store,
        args: &["move-group", "--group", "vm/100", "--target-ns", "a"],
    },
    Scenario {
        name: "s3 move-ns",
        build: ns_store,
        args: &["move-ns", "--ns", "src", "--target-ns", "other/moved"],
    },
    // Cut mid-group, the group is split between source and the target group this move
    // created; `resume` must finish it although merging is off.
    Scenario {
        name: "s3 move-ns --no-merge",
        build: ns_store,
        args: support::MOVE_NS_NO_MERGE,
    },
];

const BOUNDARIES: &[(&str, &[u32])] = &[
    ("after-journal", &[1]),
    ("after-ns-create", &[1, 2]),
    ("after-owner", &[1, 2]),
    ("after-copy", &[1, 2]),
    ("after-gc-journal", &[1, 3]),
    ("after-rename", &[1, 2, 4]),
    ("after-delete", &[1, 3, 5]),
    ("after-notes", &[1]),
    ("after-destroy", &[1, 2]),
    ("after-ns-remove", &[1]),
];

#[derive(Debug, Clone, PartialEq)]
struct Observed {
    tree: BTreeMap<String, (char, String, u32)>,
    objects: BTreeMap<String, String>,
    locks: Vec<String>,
    ls: serde_json::Value,
}

fn observe(s: &S3Store) -> Observed {
    let tree = TreeSnapshot::of(&s.store.base)
        .0
        .into_iter()
        .map(|(k, e)| (k, (e.kind, e.hash, e.mode)))
        .collect();
    let locks = TreeSnapshot::of(&s.store.locks)
        .0
        .into_iter()
        .filter(|(k, e)| e.kind == 'f' && !k.ends_with("move-journal"))
        .map(|(k, _)| k)
        .collect();
    let out = s
        .cmd(&["ls", "--recursive", "--snapshots", "--json"])
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let verify = s.cmd(&["verify", "--json"]).output().unwrap();
    assert_eq!(
        exit_code(&verify),
        0,
        "verify: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
    Observed {
        tree,
        objects: s.objects(),
        locks,
        ls: json(&out),
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

struct Before {
    files: BTreeMap<String, String>,
    objects: BTreeMap<String, String>,
}

fn before(s: &S3Store) -> Before {
    Before {
        files: s.store.snapshot().snapshot_files(),
        objects: snapshot_objects(&s.objects()),
    }
}

fn check_after_crash(
    s: &S3Store,
    expected: &Observed,
    original: &Observed,
    what: &str,
    b: &Before,
    tally: &mut Tally,
) {
    let out = s.cmd(&["resume", "--json"]).output().unwrap();
    let j = json(&out);
    assert_eq!(
        exit_code(&out),
        0,
        "{what}: resume failed: {j} {}",
        stderr(&out)
    );
    if j["nothing_to_do"] == false {
        tally.resumed += 1;
    }
    let files = s.store.snapshot().snapshot_files();
    let objects = snapshot_objects(&s.objects());
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
    assert_eq!(lost, 0, "{what}: snapshot files or objects lost or changed");
    assert_eq!(files, b.files, "{what}: cache files differ");
    assert_eq!(objects, b.objects, "{what}: objects differ");
    let got = observe(s);
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
        got.tree, expected.tree,
        "{what}: cache differs from a clean run\nresume: {j}"
    );
    assert_eq!(
        got.locks, expected.locks,
        "{what}: lock files differ from a clean run"
    );
    assert_eq!(got.ls, expected.ls, "{what}: ls differs from a clean run");
    let again = s.cmd(&["resume", "--json"]).output().unwrap();
    let j2 = json(&again);
    assert_eq!(exit_code(&again), 0, "{what}: second resume: {j2}");
    assert_eq!(
        j2["nothing_to_do"], true,
        "{what}: second resume did something: {j2}"
    );
    assert_eq!(observe(s), got, "{what}: second resume changed something");
}

fn clean_result(sc: &Scenario) -> Observed {
    let s = S3Store::upload((sc.build)());
    let out = s.cmd(sc.args).output().unwrap();
    assert_eq!(exit_code(&out), 0, "{}: {}", sc.name, stderr(&out));
    observe(&s)
}

#[test]
fn every_fail_point_then_resume_equals_a_clean_run() {
    let mut tally = Tally::default();
    for sc in SCENARIOS {
        let expected = clean_result(sc);
        for (step, hits) in BOUNDARIES {
            for n in *hits {
                let s = S3Store::upload((sc.build)());
                let b = before(&s);
                let original = observe(&s);
                let out = s
                    .cmd(sc.args)
                    .env("PBS_MOVER_FAILPOINT", format!("{step}:{n}"))
                    .output()
                    .unwrap();
                tally.trials += 1;
                if out.status.code().is_none() {
                    tally.crashed += 1;
                } else {
                    assert_eq!(exit_code(&out), 0, "{}: {}", sc.name, stderr(&out));
                }
                check_after_crash(
                    &s,
                    &expected,
                    &original,
                    &format!("{} at {step}:{n}", sc.name),
                    &b,
                    &mut tally,
                );
            }
        }
    }
    println!(
        "crash_s3 fail-points: {} trials ({} crashed at the fail-point, {} resumed), {} losses",
        tally.trials, tally.crashed, tally.resumed, tally.losses
    );
    assert!(
        tally.crashed >= 20,
        "too few fail-points were reached: {}",
        tally.crashed
    );
}

#[test]
fn random_sigkill_then_resume_equals_a_clean_run() {
    let sc = &SCENARIOS[1];
    let s = S3Store::upload((sc.build)());
    let start = Instant::now();
    let out = s.cmd(sc.args).output().unwrap();
    let clean_ms = start.elapsed().as_millis().max(50) as u64;
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let expected = observe(&s);
    let mut seed: u64 = 0x00dd_ba11_5eed;
    let mut tally = Tally::default();
    for trial in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = seed % clean_ms;
        let s = S3Store::upload((sc.build)());
        let b = before(&s);
        let original = observe(&s);
        let mut child = s
            .cmd(sc.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        if child.wait().unwrap().code().is_none() {
            tally.crashed += 1;
        }
        tally.trials += 1;
        check_after_crash(
            &s,
            &expected,
            &original,
            &format!("{} trial {trial} killed after {delay} ms", sc.name),
            &b,
            &mut tally,
        );
    }
    println!(
        "crash_s3 random SIGKILL: {} trials ({} killed, {} resumed mid-move, clean run {clean_ms} ms), {} losses",
        tally.trials, tally.crashed, tally.resumed, tally.losses
    );
}

fn unchanged(got: &Observed, original: &Observed, clean: &Observed) -> bool {
    let mut g = Observed {
        locks: Vec::new(),
        ..got.clone()
    };
    let mut o = Observed {
        locks: Vec::new(),
        ..original.clone()
    };
    g.ls = got.ls.clone();
    o.ls = original.ls.clone();
    g == o
        && got
            .locks
            .iter()
            .all(|l| clean.locks.contains(l) || original.locks.contains(l))
}
