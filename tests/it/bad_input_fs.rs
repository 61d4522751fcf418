//! Bad input for the move commands: each case gets its documented exit code, a one-line
//! error naming the problem, and leaves the datastore and the lock dir exactly as they were.

use crate::support;

use support::{Store, TreeSnapshot, exit_code, stderr};

struct Case {
    args: &'static [&'static str],
    exit: i32,
    needle: &'static str,
}

const fn case(args: &'static [&'static str], exit: i32, needle: &'static str) -> Case {
    Case { args, exit, needle }
}

const MG: &str = "move-group";
const MN: &str = "move-ns";

fn cases() -> Vec<Case> {
    vec![
        // Names
        case(
            &[
                MG,
                "--ns",
                "../x",
                "--group",
                "vm/100",
                "--target-ns",
                "prod",
            ],
            1,
            "invalid namespace '../x'",
        ),
        case(
            &[
                MG,
                "--ns",
                "a//b",
                "--group",
                "vm/100",
                "--target-ns",
                "prod",
            ],
            1,
            "empty component",
        ),
        case(
            &[
                MG,
                "--ns",
                "prod/",
                "--group",
                "vm/101",
                "--target-ns",
                "dev",
            ],
            1,
            "empty component",
        ),
        case(
            &[MG, "--group", "vm/100", "--target-ns", "a/b/c/d/e/f/g/h"],
            1,
            "maximum depth of 7",
        ),
        case(
            &[MG, "--group", "vm/100", "--target-ns", "-bad"],
            1,
            "'-bad' is not a valid name",
        ),
        case(
            &[MG, "--group", "vm/100", "--target-ns", "a b"],
            1,
            "'a b' is not a valid name",
        ),
        case(
            &[MG, "--group", "vm/100", "--target-ns", ".hidden"],
            1,
            "'.hidden' is not a valid name",
        ),
        case(
            &[MG, "--group", "vm", "--target-ns", "prod"],
            1,
            "expected TYPE/ID",
        ),
        case(
            &[MG, "--group", "lxc/100", "--target-ns", "prod"],
            1,
            "invalid backup type 'lxc'",
        ),
        case(
            &[MG, "--group", "vm/../x", "--target-ns", "prod"],
            1,
            "expected TYPE/ID",
        ),
        case(
            &[MG, "--group", "vm/-1", "--target-ns", "prod"],
            1,
            "invalid backup id '-1'",
        ),
        case(
            &[MG, "--group", "vm/a:b", "--target-ns", "prod"],
            1,
            "invalid backup id 'a:b'",
        ),
        // Semantics
        case(
            &[MG, "--group", "vm/999", "--target-ns", "prod"],
            1,
            "group 'vm/999' does not exist in namespace '/'",
        ),
        case(
            &[MG, "--group", "vm/100", "--target-ns", "nope"],
            1,
            "target namespace 'nope' does not exist",
        ),
        case(
            &[MG, "--group", "vm/100", "--target-ns", "/"],
            1,
            "source and target namespace must be different",
        ),
        case(
            &[
                MG,
                "--ns",
                "gone",
                "--group",
                "vm/100",
                "--target-ns",
                "prod",
            ],
            1,
            "source namespace 'gone' does not exist",
        ),
        case(
            &[
                MG,
                "--ns",
                "prod",
                "--group",
                "vm/101",
                "--target-ns",
                "dev",
                "--no-merge",
            ],
            1,
            "merge-group is disabled",
        ),
        case(
            &[MN, "--ns", "", "--target-ns", "x"],
            1,
            "cannot move root namespace",
        ),
        case(
            &[MN, "--ns", "/", "--target-ns", "x"],
            1,
            "cannot move root namespace",
        ),
        case(
            &[MN, "--ns", "prod", "--target-ns", "prod"],
            1,
            "must be different",
        ),
        case(
            &[MN, "--ns", "prod", "--target-ns", "prod/db/prod"],
            1,
            "into its own subtree",
        ),
        case(
            &[MN, "--ns", "prod", "--target-ns", "nope/prod"],
            1,
            "target parent namespace 'nope' does not exist",
        ),
        case(
            &[MN, "--ns", "gone", "--target-ns", "dev/gone"],
            1,
            "source namespace 'gone' does not exist",
        ),
        case(
            &[MN, "--ns", "prod", "--target-ns", "dev/alice/x/y/prod"],
            1,
            "namespace depth limit exceeded",
        ),
        case(
            &[MN, "--ns", "prod", "--target-ns", "dev/a:b"],
            1,
            "'a:b' is not a valid name",
        ),
        case(
            &[MN, "--ns", "prod/../dev", "--target-ns", "x"],
            1,
            "invalid namespace",
        ),
        // Usage
        case(&[MN, "--target-ns", "x"], 2, "--ns"),
        case(&[MG, "--target-ns", "prod"], 2, "--group"),
        case(
            &[MG, "--group", "vm/100", "--target-ns", "prod", "--bogus"],
            2,
            "--bogus",
        ),
        case(
            &[MN, "--ns", "prod", "--target-ns", "x", "--max-depth", "-1"],
            2,
            "--max-depth",
        ),
        case(
            &[
                MN,
                "--ns",
                "prod",
                "--target-ns",
                "x",
                "--max-depth",
                "deep",
            ],
            2,
            "invalid digit",
        ),
        case(&["move-everything"], 2, "unrecognized subcommand"),
    ]
}

fn assert_unchanged(store: &Store, before: &TreeSnapshot, locks_before: &TreeSnapshot, what: &str) {
    assert_eq!(*before, store.snapshot(), "datastore changed by {what}");
    assert_eq!(
        *locks_before,
        TreeSnapshot::of(&store.locks),
        "lock dir changed by {what}"
    );
}

fn prepare() -> Store {
    let store = Store::demo(40);
    // Deep namespaces for the depth-limit case; a group to make --no-merge refuse.
    for ns in ["dev/alice/x", "dev/alice/x/y"] {
        std::fs::create_dir_all(store.ns_dir(ns)).unwrap();
    }
    store.add_group("dev", "vm/101", "admin@pbs", &["2020-01-01T00:00:00Z"]);
    store
}

#[test]
fn bad_input_table() {
    let store = prepare();
    let before = store.snapshot();
    let locks_before = TreeSnapshot::of(&store.locks);
    let all = cases();
    assert!(all.len() >= 30);
    for c in &all {
        let out = store.run(c.args);
        let err = stderr(&out);
        let what = format!("{:?}", c.args);
        assert_eq!(exit_code(&out), c.exit, "{what}: {err}");
        assert!(
            err.contains(c.needle),
            "{what}: expected {:?} in {err:?}",
            c.needle
        );
        if c.exit == 1 {
            assert_eq!(err.lines().count(), 1, "{what}: one line: {err:?}");
            assert!(err.starts_with("error: "), "{what}: {err:?}");
        }
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert_unchanged(&store, &before, &locks_before, &what);
    }
}

#[test]
fn bad_input_as_json_is_one_object_with_the_error() {
    let store = prepare();
    for c in cases().iter().filter(|c| c.exit == 1) {
        let mut args = c.args.to_vec();
        args.push("--json");
        let out = store.run(&args);
        assert_eq!(exit_code(&out), 1);
        let j = support::json(&out);
        assert_eq!(j["ok"], false, "{args:?}");
        assert!(
            j["error"].as_str().unwrap().contains(c.needle),
            "{args:?}: {j}"
        );
        assert_eq!(j["moved"].as_array().map(Vec::len), Some(0));
    }
}

#[test]
fn old_locking_and_maintenance_mode_refuse() {
    let store = prepare();
    let before = store.snapshot();
    let marker = store.locks.parent().unwrap().join("old-locking");
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, b"").unwrap();
    let locks_before = TreeSnapshot::of(&store.locks);
    for args in [
        &[MG, "--group", "vm/100", "--target-ns", "prod"][..],
        &[MN, "--ns", "prod", "--target-ns", "dev/prod"][..],
        &[MN, "--ns", "prod", "--target-ns", "dev/prod", "--dry-run"][..],
    ] {
        let out = store.run(args);
        assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
        assert!(stderr(&out).contains("move operations require new-style file-based locking"));
        assert_unchanged(&store, &before, &locks_before, "old-locking");
    }
    std::fs::remove_file(&marker).unwrap();

    let etc = store.tmp.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    for mode in [
        "read-only",
        "offline",
        "type=unmount",
        "type=s3-refresh,message=busy",
    ] {
        std::fs::write(
            etc.join("datastore.cfg"),
            format!(
                "datastore: store1\n\tpath {}\n\tmaintenance-mode {mode}\n",
                store.base.display()
            ),
        )
        .unwrap();
        let out = store.run(&[MG, "--group", "vm/100", "--target-ns", "prod"]);
        assert_eq!(exit_code(&out), 1, "{mode}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("maintenance mode"),
            "{}",
            stderr(&out)
        );
        assert_unchanged(&store, &before, &locks_before, mode);
    }
}

#[test]
fn bad_datastore_locations() {
    let store = prepare();
    let file = store.tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let etc = store.tmp.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("datastore.cfg"),
        "datastore: other\n\tpath /nonexistent\n",
    )
    .unwrap();
    let run = |pre: &[&str]| {
        std::process::Command::new(support::BIN)
            .args(pre)
            .args([
                "--config-dir",
                etc.to_str().unwrap(),
                "--lock-dir",
                store.locks.to_str().unwrap(),
            ])
            .args(["ls"])
            .output()
            .unwrap()
    };
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["--path", "/nonexistent/store"],
            1,
            "is not a directory",
        ),
        (vec!["--path", file.to_str().unwrap()], 1, "not a directory"),
        (vec!["--store", "store9"], 1, "datastore 'store9' not found"),
        (vec!["--store", "other"], 1, "is not a directory"),
        (vec![], 2, "neither --path nor --store"),
    ];
    for (pre, code, needle) in cases {
        let out = run(&pre);
        assert_eq!(exit_code(&out), code, "{pre:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{pre:?}: {}", stderr(&out));
    }
}
