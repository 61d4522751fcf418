//! Crash harness, filesystem datastores: the real binary is killed at every step boundary
//! (fail-points) and at random moments (SIGKILL), then `resume` runs. The result must equal
//! an uninterrupted run of the same move, byte for byte: every snapshot file in exactly one
//! place with its checksum, owners, notes, modes, lock files, `ls` output; a second `resume`
//! changes nothing.

use crate::support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Store, TreeSnapshot, exit_code, json, stderr};

/// One move to interrupt, with the datastore it starts from.
struct Scenario {
    name: &'static str,
    build: fn() -> Store,
    args: &'static [&'static str],
}

fn group_store() -> Store {
    let s = Store::empty(&["", "a"]);
    let times: Vec<String> = (0..6)
        .map(|i| format!("2024-01-0{}T10:00:00Z", i + 1))
        .collect();
    let refs: Vec<&str> = times.iter().map(String::as_str).collect();
    s.add_group("", "vm/100", "root@pam", &refs);
    std::fs::write(s.group_dir("", "vm/100").join("notes"), "keep me\n").unwrap();
    s.add_group("", "ct/200", "root@pam", &refs[..2]);
    s
}

fn merge_store() -> Store {
    let s = Store::empty(&["", "a"]);
    s.add_group(
        "a",
        "vm/100",
        "root@pam",
        &["2023-01-01T10:00:00Z", "2023-02-01T10:00:00Z"],
    );
    s.add_group(
        "",
        "vm/100",
        "root@pam",
        &[
            "2024-01-01T10:00:00Z",
            "2024-01-02T10:00:00Z",
            "2024-01-03T10:00:00Z",
        ],
    );
    std::fs::write(s.group_dir("", "vm/100").join("notes"), "source notes\n").unwrap();
    s
}

fn ns_store() -> Store {
    let s = Store::empty(&["", "src", "src/c1", "src/c1/c2", "other"]);
    let t = [
        "2024-03-01T00:00:00Z",
        "2024-03-02T00:00:00Z",
        "2024-03-03T00:00:00Z",
    ];
    s.add_group("src", "vm/1", "a@pbs", &t);
    s.add_group("src", "ct/2", "b@pbs", &t[..1]);
    s.add_group("src/c1", "vm/3", "a@pbs", &t);
    std::fs::write(s.group_dir("src/c1", "vm/3").join("notes"), "n3\n").unwrap();
    s.add_group("src/c1/c2", "host/h", "c@pbs", &t[..2]);
    s
}

/// `s` with its groups owned by user `backup`, as PBS writes them: each moves with one
/// rename of its dir.
fn as_pbs(s: Store) -> Store {
    s.own_groups_as_pbs();
    s
}

fn big_store() -> Store {
    let s = Store::empty(&["", "src", "src/x"]);
    for (ns, g) in [("src", "vm/1"), ("src", "vm/2"), ("src/x", "ct/3")] {
        let times: Vec<String> = (0..150)
            .map(|i| {
                format!(
                    "2024-01-{:02}T{:02}:{:02}:00Z",
                    1 + i / 60,
                    (i / 60) % 24,
                    i % 60
                )
            })
            .collect();
        let refs: Vec<&str> = times.iter().map(String::as_str).collect();
        s.add_group(ns, g, "root@pam", &refs);
    }
    s
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "move-group",
        build: group_store,
        args: &["move-group", "--group", "vm/100", "--target-ns", "a"],
    },
    Scenario {
        name: "merge",
        build: merge_store,
        args: &["move-group", "--group", "vm/100", "--target-ns", "a"],
    },
    Scenario {
        name: "move-ns",
        build: ns_store,
        args: &["move-ns", "--ns", "src", "--target-ns", "other/moved"],
    },
    Scenario {
        name: "move-group, whole-group rename",
        build: || as_pbs(group_store()),
        args: &["move-group", "--group", "vm/100", "--target-ns", "a"],
    },
    Scenario {
        name: "move-ns, whole-group renames",
        build: || as_pbs(ns_store()),
        args: &["move-ns", "--ns", "src", "--target-ns", "other/moved"],
    },
    // Cut mid-group, the group is split between source and the target group this move
    // created; `resume` must finish it although merging is off.
    Scenario {
        name: "move-ns --no-merge",
        build: ns_store,
        args: support::MOVE_NS_NO_MERGE,
    },
];

const BOUNDARIES: &[(&str, &[u32])] = &[
    ("after-journal", &[1]),
    ("after-ns-create", &[1, 2, 3]),
    ("after-owner", &[1, 2, 4]),
    ("after-gc-journal", &[1, 2, 5]),
    ("after-rename", &[1, 2, 3, 6, 8]),
    ("after-notes", &[1, 3]),
    ("after-destroy", &[1, 3]),
    ("after-ns-remove", &[1, 2]),
];

fn state_dir(s: &Store) -> std::path::PathBuf {
    s.tmp.path().join("state")
}

fn cmd(s: &Store, args: &[&str]) -> Command {
    let mut c = s.cmd();
    c.env("PBS_MOVER_STATE_DIR", state_dir(s))
        .env_remove("PBS_MOVER_FAILPOINT")
        .args(args)
        .stdin(Stdio::null());
    c
}

/// Everything a user can observe after a move.
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    tree: BTreeMap<String, (char, String, u32)>,
    locks: Vec<String>,
    ls: serde_json::Value,
}

fn observe(s: &Store) -> Observed {
    let tree = TreeSnapshot::of(&s.base)
        .0
        .into_iter()
        .map(|(k, e)| (k, (e.kind, e.hash, e.mode)))
        .collect();
    let mut locks: Vec<String> = TreeSnapshot::of(&s.locks)
        .0
        .into_iter()
        .filter(|(k, e)| e.kind == 'f' && !k.ends_with("move-journal"))
        .map(|(k, _)| k)
        .collect();
    locks.sort();
    let out = cmd(s, &["ls", "--recursive", "--snapshots", "--json"])
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    Observed {
        tree,
        locks,
        ls: json(&out),
    }
}

fn clean_result(sc: &Scenario) -> Observed {
    let s = (sc.build)();
    let out = cmd(&s, sc.args).output().unwrap();
    assert_eq!(exit_code(&out), 0, "{}: {}", sc.name, stderr(&out));
    observe(&s)
}

#[derive(Default)]
struct Tally {
    trials: usize,
    crashed: usize,
    /// Trials where `resume` found an unfinished move and finished it.
    resumed: usize,
    losses: usize,
}

/// `resume` twice after an interrupted run; the result must equal the clean run.
fn check_after_crash(
    s: &Store,
    expected: &Observed,
    original: &Observed,
    what: &str,
    before: &BTreeMap<String, String>,
    tally: &mut Tally,
) {
    let out = cmd(s, &["resume", "--json"]).output().unwrap();
    let j = json(&out);
    assert_eq!(
        exit_code(&out),
        0,
        "{what}: resume failed: {j} {}",
        stderr(&out)
    );
    assert_eq!(j["op"], "resume");
    if j["nothing_to_do"] == false {
        tally.resumed += 1;
    }
    let after = s.snapshot().snapshot_files();
    let lost = before
        .keys()
        .filter(|k| after.get(*k) != before.get(*k))
        .count();
    tally.losses += lost;
    assert_eq!(lost, 0, "{what}: snapshot files lost or changed");
    assert_eq!(&after, before, "{what}: snapshot files differ");
    let got = observe(s);
    if j["nothing_to_do"] == true && unchanged(&got, original, expected) {
        // Killed before the journal existed: the move never started, nothing changed
        // (only namespace lock files, which a finished move leaves too, may exist).
        return;
    }
    assert_eq!(
        got.tree, expected.tree,
        "{what}: datastore differs from a clean run\nresume: {j}"
    );
    assert_eq!(
        got.locks, expected.locks,
        "{what}: lock files differ from a clean run"
    );
    assert_eq!(got.ls, expected.ls, "{what}: ls differs from a clean run");
    let again = cmd(s, &["resume", "--json"]).output().unwrap();
    let j2 = json(&again);
    assert_eq!(exit_code(&again), 0, "{what}: second resume: {j2}");
    assert_eq!(
        j2["nothing_to_do"], true,
        "{what}: second resume did something: {j2}"
    );
    assert_eq!(observe(s), got, "{what}: second resume changed something");
    let hist = cmd(s, &["history", "--json"]).output().unwrap();
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

#[test]
#[ignore = "needs root"]
fn every_fail_point_then_resume_equals_a_clean_run() {
    support::require_root();
    let mut tally = Tally::default();
    for sc in SCENARIOS {
        let expected = clean_result(sc);
        for (step, hits) in BOUNDARIES {
            for n in *hits {
                let s = (sc.build)();
                let before = s.snapshot().snapshot_files();
                let original = observe(&s);
                let out = cmd(&s, sc.args)
                    .env("PBS_MOVER_FAILPOINT", format!("{step}:{n}"))
                    .output()
                    .unwrap();
                tally.trials += 1;
                if out.status.code().is_none() {
                    tally.crashed += 1;
                } else {
                    assert_eq!(exit_code(&out), 0, "{}: {}", sc.name, stderr(&out));
                }
                let what = format!("{} at {step}:{n}", sc.name);
                check_after_crash(&s, &expected, &original, &what, &before, &mut tally);
            }
        }
    }
    println!(
        "crash_fs fail-points: {} trials ({} crashed at the fail-point, {} resumed), {} losses",
        tally.trials, tally.crashed, tally.resumed, tally.losses
    );
    assert!(
        tally.crashed >= 30,
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

#[test]
fn random_sigkill_then_resume_equals_a_clean_run() {
    let sc = Scenario {
        name: "move-ns (450 snapshots)",
        build: big_store,
        args: &["move-ns", "--ns", "src", "--target-ns", "dst"],
    };
    random_sigkills(&sc, 0x5eed_cafe_f00d, 20);
}

#[test]
#[ignore = "needs root"]
fn random_sigkill_of_whole_group_renames_then_resume_equals_a_clean_run() {
    support::require_root();
    let sc = Scenario {
        name: "move-ns, whole-group renames (450 snapshots)",
        build: || as_pbs(big_store()),
        args: &["move-ns", "--ns", "src", "--target-ns", "dst"],
    };
    random_sigkills(&sc, 0x00d1_7e55_b0a7, 12);
}

/// Killed mid-group, a `--no-merge` move leaves a group split between source and the target
/// group it created; `resume` must complete it like a merge move.
#[test]
fn random_sigkill_of_a_no_merge_move_then_resume_equals_a_clean_run() {
    let sc = Scenario {
        name: "move-ns --no-merge (450 snapshots)",
        build: big_store,
        args: &["move-ns", "--ns", "src", "--target-ns", "dst", "--no-merge"],
    };
    random_sigkills(&sc, 0x0b5e_55ed_d00d, 12);
}

fn random_sigkills(sc: &Scenario, seed: u64, trials: usize) {
    let expected = clean_result(sc);
    let timing = (sc.build)();
    let start = Instant::now();
    let out = cmd(&timing, sc.args).output().unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let clean_ms = start.elapsed().as_millis().max(20) as u64;
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    for trial in 0..trials {
        let s = (sc.build)();
        let before = s.snapshot().snapshot_files();
        let original = observe(&s);
        let delay = rng.next() % clean_ms;
        let mut child = cmd(&s, sc.args)
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
        check_after_crash(&s, &expected, &original, &what, &before, &mut tally);
    }
    println!(
        "crash_fs random SIGKILL: {} trials ({} killed, {} resumed mid-move, clean run {clean_ms} ms), {} losses",
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
