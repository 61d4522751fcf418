//! Crash harness, filesystem datastores: the real binary is killed at every step boundary
//! (fail-points) and at random moments (SIGKILL), then `resume` runs. The result must equal
//! an uninterrupted run of the same move, byte for byte: every snapshot file in exactly one
//! place with its checksum, owners, notes, modes, lock files, `ls` output; a second `resume`
//! changes nothing.

use crate::support;

use support::Store;
use support::crash::{self, Boundaries, Scenario};

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

const BOUNDARIES: Boundaries = &[
    ("after-journal", &[1]),
    ("after-plan", &[1]),
    // The first, a middle and the last group, right after its own record.
    ("after-group-record", &[1, 2, 4]),
    ("after-ns-create", &[1, 2, 3]),
    ("after-owner-hidden", &[1, 2]),
    ("after-owner", &[1, 2, 4]),
    ("after-gc-journal", &[1, 2, 5]),
    ("after-rename", &[1, 2, 3, 6, 8]),
    ("after-notes", &[1, 3]),
    ("after-destroy", &[1, 3]),
    ("after-ns-remove", &[1, 2]),
];

#[test]
#[ignore = "needs root"]
fn every_fail_point_then_resume_equals_a_clean_run() {
    support::require_root();
    crash::every_fail_point::<Store>(SCENARIOS, BOUNDARIES, 30);
}

/// `move-group` of several groups: one journaled batch, cut in every group.
const BATCHES: &[Scenario] = &[
    Scenario {
        name: "move-group batch",
        build: group_store,
        args: &[
            "move-group",
            "--group",
            "vm/100",
            "--group",
            "ct/200",
            "--target-ns",
            "a",
        ],
    },
    // Cut mid-group, a group is split between its source and the target group the batch
    // created; `resume` must finish it although merging is off.
    Scenario {
        name: "move-group batch --no-merge",
        build: group_store,
        args: &[
            "move-group",
            "--group",
            "vm/100",
            "--group",
            "ct/200",
            "--target-ns",
            "a",
            "--no-merge",
        ],
    },
    Scenario {
        name: "move-group batch, whole-group renames",
        build: || as_pbs(group_store()),
        args: &["move-group", "--group", "*/*", "--target-ns", "a"],
    },
];

const BATCH_BOUNDARIES: Boundaries = &[
    ("after-journal", &[1]),
    ("after-plan", &[1]),
    ("after-group-record", &[1, 2]),
    ("after-owner-hidden", &[1, 2]),
    ("after-owner", &[1, 2]),
    ("after-gc-journal", &[1, 2]),
    ("after-rename", &[1, 6, 7, 8]),
    ("after-notes", &[1, 2]),
    ("after-destroy", &[1, 2]),
];

/// A power loss: besides the process, everything the journal has not synced since the plan
/// is gone (the groups' own records match their plans, so none of them was synced); the
/// groups are only planned, whatever of them moved. `resume` must still finish or roll
/// back each exactly.
fn lose_journal_after_the_plan(s: &Store) {
    for path in support::journals_in(&s.state_dir()) {
        let text = std::fs::read_to_string(&path).unwrap();
        let Some(plan) = text.rfind(r#"{"e":"group-planned""#) else {
            continue; // cut before the plan: nothing after its last sync to lose
        };
        let end = plan + text[plan..].find('\n').unwrap() + 1;
        assert!(
            !text[end..].contains(r#""e":"ns-removing""#),
            "a synced record after the plan: the cut is no power loss"
        );
        if text[end..].contains(r#"{"e":"group","#) {
            GROUP_RECORDS_LOST.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        std::fs::write(&path, &text[..end]).unwrap();
    }
}

/// Cuts where [`lose_journal_after_the_plan`] dropped at least one group's own record.
static GROUP_RECORDS_LOST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Cuts after the plan is durable, before and during the first, a middle and the last group.
const POWER_LOSS_BOUNDARIES: Boundaries = &[
    ("after-plan", &[1]),
    ("after-group-record", &[1, 2, 4]),
    ("after-owner", &[1, 2, 4]),
    ("after-rename", &[1, 2, 4, 8]),
    ("after-destroy", &[1, 2, 4]),
];

#[test]
#[ignore = "needs root"]
fn power_loss_after_the_plan_then_resume_equals_a_clean_run() {
    support::require_root();
    let scenarios: Vec<Scenario> = SCENARIOS
        .iter()
        .chain(BATCHES)
        .filter(|sc| sc.name.starts_with("move-ns") || sc.name.contains("batch"))
        .map(|sc| Scenario { ..*sc })
        .collect();
    crash::every_fail_point_then::<Store>(
        &scenarios,
        POWER_LOSS_BOUNDARIES,
        40,
        lose_journal_after_the_plan,
    );
    let lost = GROUP_RECORDS_LOST.load(std::sync::atomic::Ordering::Relaxed);
    assert!(lost >= 30, "too few cuts lost a group record: {lost}");
}

#[test]
#[ignore = "needs root"]
fn every_fail_point_of_a_batch_then_resume_equals_a_clean_run() {
    support::require_root();
    crash::every_fail_point::<Store>(BATCHES, BATCH_BOUNDARIES, 20);
}

#[test]
#[ignore = "needs root"]
fn random_sigkill_of_a_batch_then_resume_equals_a_clean_run() {
    support::require_root();
    let sc = Scenario {
        name: "move-group batch (300 snapshots)",
        build: big_store,
        args: &[
            "move-group",
            "--ns",
            "src",
            "--group",
            "vm/*",
            "--target-ns",
            "src/x",
        ],
    };
    crash::random_sigkills::<Store>(&sc, 0x0ba7_c4ed_5eed, 8, 20);
}

#[test]
fn random_sigkill_then_resume_equals_a_clean_run() {
    let sc = Scenario {
        name: "move-ns (450 snapshots)",
        build: big_store,
        args: &["move-ns", "--ns", "src", "--target-ns", "dst"],
    };
    crash::random_sigkills::<Store>(&sc, 0x5eed_cafe_f00d, 20, 20);
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
    crash::random_sigkills::<Store>(&sc, 0x00d1_7e55_b0a7, 12, 20);
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
    crash::random_sigkills::<Store>(&sc, 0x0b5e_55ed_d00d, 12, 20);
}
