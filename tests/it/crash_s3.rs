//! Crash harness, S3 datastores: like `crash_fs`, with a real S3 server (in this process)
//! holding the authoritative copy. After a crash and `resume`, the bucket (every object,
//! byte for byte) and the local cache must equal an uninterrupted run, and `verify` must
//! find no drift.

use crate::support;

use support::Store;
use support::crash::{self, Boundaries, Scenario};
use support::s3::S3Store;

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

const BOUNDARIES: Boundaries = &[
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

#[test]
fn every_fail_point_then_resume_equals_a_clean_run() {
    crash::every_fail_point::<S3Store>(SCENARIOS, BOUNDARIES, 20);
}

#[test]
fn random_sigkill_then_resume_equals_a_clean_run() {
    crash::random_sigkills::<S3Store>(&SCENARIOS[1], 0x00dd_ba11_5eed, 20, 50);
}

/// `move-group` of several groups on S3: one journaled batch, cut in each group (copies,
/// renames and deletes of the first, the second's whole move).
#[test]
#[ignore = "needs root"]
fn every_fail_point_of_a_batch_then_resume_equals_a_clean_run() {
    support::require_root();
    let batch = [Scenario {
        name: "s3 move-group batch",
        build: group_store,
        args: &["move-group", "--group", "*/*", "--target-ns", "a"],
    }];
    let boundaries: Boundaries = &[
        ("after-journal", &[1]),
        ("after-owner", &[1, 2]),
        ("after-copy", &[1, 2, 5]),
        ("after-rename", &[1, 4, 5]),
        ("after-delete", &[1, 5]),
        ("after-destroy", &[1, 2]),
    ];
    crash::every_fail_point::<S3Store>(&batch, boundaries, 10);
}
