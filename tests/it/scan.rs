//! The scanner on generated datastores, healthy and malformed, and `ls` output.

use crate::support;

use std::os::unix::fs::symlink;

use pbs_mover::tree::{Datastore, GroupId, Namespace, SnapshotTime};
use support::{Store, exit_code, json, ns, stderr};

fn open(store: &Store) -> Datastore {
    store.locate()
}

fn names(list: &[Namespace]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

#[test]
fn demo_datastore_scans_completely() {
    let store = Store::demo(40);
    let ds = open(&store);
    let root = ds.list_child_namespaces(&Namespace::root()).unwrap();
    assert_eq!(
        names(&root.items),
        ["archive", "customers", "dev", "prod", "scratch", "staging"]
    );
    assert!(root.warnings.is_empty(), "{:?}", root.warnings);
    let all = ds
        .list_namespaces_recursive(&Namespace::root(), None)
        .unwrap();
    assert_eq!(all.items.len(), 18);
    assert_eq!(all.items[0], Namespace::root(), "parents first");
    let mut groups = 0;
    let mut snapshots = 0;
    for n in &all.items {
        let g = ds.list_groups(n, true).unwrap();
        assert!(g.warnings.is_empty(), "{n}: {:?}", g.warnings);
        groups += g.items.len();
        snapshots += g.items.iter().map(|g| g.snapshots).sum::<usize>();
        for info in &g.items {
            assert!(info.owner.is_some());
            assert!(info.size.unwrap() > 0);
            assert!(info.oldest <= info.newest);
        }
    }
    assert_eq!(groups, 40);
    let on_disk = walk_count(&store.base);
    assert_eq!(snapshots, on_disk, "every snapshot dir counted once");
}

fn walk_count(base: &std::path::Path) -> usize {
    let mut n = 0;
    let mut stack = vec![base.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".chunks" || !e.file_type().unwrap().is_dir() {
                continue;
            }
            if SnapshotTime::parse(&name).is_ok() {
                n += 1;
            } else {
                stack.push(e.path());
            }
        }
    }
    n
}

#[test]
fn snapshot_details_protected_and_unfinished() {
    let store = Store::empty(&["a"]);
    store.add_group(
        "a",
        "vm/100",
        "root@pam",
        &["2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"],
    );
    let g = store.group_dir("a", "vm/100");
    std::fs::write(g.join("2025-01-01T00:00:00Z/.protected"), b"").unwrap();
    std::fs::remove_file(g.join("2025-01-02T00:00:00Z/index.json.blob")).unwrap();
    std::fs::write(g.join("notes"), "hello").unwrap();
    let ds = open(&store);
    let snaps = ds
        .list_snapshots(&ns("a"), &GroupId::parse("vm/100").unwrap())
        .unwrap()
        .items;
    assert_eq!(snaps.len(), 2);
    assert!(snaps[0].protected && snaps[0].finished);
    assert!(!snaps[1].protected && !snaps[1].finished);
    assert_eq!(
        snaps[0]
            .files
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        ["index.json.blob", "root.pxar.didx"]
    );
    let info = ds
        .group_info(&ns("a"), &GroupId::parse("vm/100").unwrap(), true)
        .unwrap()
        .items
        .remove(0);
    assert!(info.has_notes);
    assert_eq!(info.protected, Some(1));
    assert_eq!(info.newest.unwrap().as_str(), "2025-01-02T00:00:00Z");
}

#[test]
fn malformed_entries_are_reported_and_skipped() {
    let store = Store::empty(&["a", "a/b"]);
    store.add_group("a", "vm/100", "root@pam", &["2025-01-01T00:00:00Z"]);
    let outside = store.tmp.path().join("outside");
    std::fs::create_dir_all(outside.join("vm/666/2025-01-01T00:00:00Z")).unwrap();
    let a = store.ns_dir("a");
    // Invalid names, stray files, symlinks, files where dirs belong.
    std::fs::create_dir_all(a.join("ns/.tmp-move")).unwrap();
    std::fs::create_dir_all(a.join("ns/bad name")).unwrap();
    std::fs::write(a.join("ns/stray-file"), b"x").unwrap();
    symlink(&outside, a.join("ns/evil")).unwrap();
    std::fs::write(a.join("ct"), b"not a dir").unwrap();
    std::fs::create_dir_all(a.join("vm/-bad")).unwrap();
    symlink(outside.join("vm/666"), a.join("vm/666")).unwrap();
    std::fs::write(a.join("vm/stray"), b"x").unwrap();
    std::fs::create_dir_all(a.join("host/empty-owner")).unwrap();
    std::fs::write(a.join("host/empty-owner/owner"), b"").unwrap();
    std::fs::create_dir_all(a.join("host/no-owner/not-a-time")).unwrap();
    std::fs::create_dir_all(a.join("host/link-owner")).unwrap();
    symlink("/etc/passwd", a.join("host/link-owner/owner")).unwrap();
    std::fs::create_dir_all(a.join("host/huge-owner")).unwrap();
    std::fs::write(
        a.join("host/huge-owner/owner"),
        format!("root@pam\n{}", "x".repeat(10_000_000)),
    )
    .unwrap();
    let g = store.group_dir("a", "vm/100").join("2025-01-01T00:00:00Z");
    symlink("/etc/shadow", g.join("evil.blob")).unwrap();

    let ds = open(&store);
    let children = ds.list_child_namespaces(&ns("a")).unwrap();
    assert_eq!(names(&children.items), ["a/b"]);
    let text: Vec<String> = children.warnings.iter().map(ToString::to_string).collect();
    for needle in [".tmp-move", "bad name", "stray-file", "symlink skipped"] {
        assert!(
            text.iter().any(|w| w.contains(needle)),
            "{needle} in {text:?}"
        );
    }
    let groups = ds.list_groups(&ns("a"), true).unwrap();
    let ids: Vec<String> = groups.items.iter().map(|g| g.group.to_string()).collect();
    assert_eq!(
        ids,
        [
            "vm/100",
            "host/empty-owner",
            "host/huge-owner",
            "host/link-owner",
            "host/no-owner"
        ]
    );
    let owners: Vec<Option<&str>> = groups.items.iter().map(|g| g.owner.as_deref()).collect();
    assert_eq!(
        owners,
        [Some("root@pam"), None, Some("root@pam"), None, None]
    );
    let text: Vec<String> = groups.warnings.iter().map(ToString::to_string).collect();
    for needle in [
        "-bad",
        "vm/666: symlink skipped",
        "vm/stray",
        "empty owner file",
        "owner file missing",
        "not-a-time",
        "link-owner/owner: cannot read owner",
        "evil.blob: symlink skipped",
    ] {
        assert!(
            text.iter().any(|w| w.contains(needle)),
            "{needle} in {text:?}"
        );
    }
    // Nothing outside the datastore is ever reached through a symlink.
    assert!(!text.iter().any(|w| w.contains("666/2025")));
    assert!(matches!(
        ds.namespace_exists(&ns("a/evil")),
        Err(pbs_mover::tree::scan::error::ScanError::Symlink { .. })
    ));
}

#[test]
fn ls_refuses_symlinked_namespace_and_reports_warnings() {
    let store = Store::empty(&["a", "a/b"]);
    symlink(store.tmp.path(), store.ns_dir("a").join("ns/evil")).unwrap();
    let out = store.run(&["ls", "--ns", "a/evil"]);
    assert_eq!(exit_code(&out), 1);
    assert!(
        stderr(&out).contains("never follows symlinks"),
        "{}",
        stderr(&out)
    );
    let out = store.run(&["ls", "--ns", "a", "--json"]);
    assert_eq!(exit_code(&out), 0);
    let j = json(&out);
    assert!(
        j["warnings"][0]
            .as_str()
            .unwrap()
            .contains("symlink skipped")
    );
    let out = store.run(&["ls", "--ns", "missing", "--json"]);
    assert_eq!(exit_code(&out), 1);
    assert_eq!(json(&out)["ok"], false);
    assert!(
        json(&out)["error"]
            .as_str()
            .unwrap()
            .contains("namespace 'missing' does not exist")
    );
}

fn golden_store() -> Store {
    let store = Store::empty(&["", "dev", "prod", "prod/db"]);
    store.add_group(
        "",
        "vm/100",
        "root@pam",
        &["2025-07-14T14:20:02Z", "2025-07-15T14:20:02Z"],
    );
    store.add_group(
        "",
        "host/web-1",
        "backup@pbs!token",
        &["2025-07-01T00:00:00Z"],
    );
    store.add_group("prod", "ct/101", "admin@pbs", &["2025-06-30T23:59:59Z"]);
    store.add_group(
        "prod/db",
        "vm/200",
        "root@pam",
        &[
            "2025-01-01T00:00:00Z",
            "2025-02-01T00:00:00Z",
            "2025-03-01T00:00:00Z",
        ],
    );
    std::fs::write(
        store
            .group_dir("prod/db", "vm/200")
            .join("2025-01-01T00:00:00Z/.protected"),
        b"",
    )
    .unwrap();
    store
}

fn pretty(out: &std::process::Output) -> String {
    assert_eq!(exit_code(out), 0, "{}", stderr(out));
    serde_json::to_string_pretty(&json(out)).unwrap()
}

#[test]
fn ls_json_golden() {
    let store = golden_store();
    insta::assert_snapshot!("ls_root", pretty(&store.run(&["ls", "--json"])));
    insta::assert_snapshot!(
        "ls_recursive",
        pretty(&store.run(&["ls", "--recursive", "--json"]))
    );
    insta::assert_snapshot!(
        "ls_prod_snapshots",
        pretty(&store.run(&["ls", "--ns", "prod", "--recursive", "--snapshots", "--json"]))
    );
}

#[test]
fn ls_text_golden() {
    let store = golden_store();
    let out = store.run(&["ls", "--recursive", "--snapshots"]);
    assert_eq!(exit_code(&out), 0);
    insta::assert_snapshot!("ls_text", String::from_utf8_lossy(&out.stdout));
}

/// A namespace large enough to be read by several threads, with every kind of odd entry
/// among its groups, plus symlinked namespaces and type dirs.
fn big_store() -> Store {
    let store = golden_store();
    std::fs::create_dir_all(store.ns_dir("big")).unwrap();
    for i in 0..300 {
        let ty = ["vm", "ct", "host"][i % 3];
        let times: Vec<String> = (0..(i % 4))
            .map(|d| format!("2025-01-{:02}T00:00:00Z", d + 1))
            .collect();
        let times: Vec<&str> = times.iter().map(String::as_str).collect();
        store.add_group("big", &format!("{ty}/{i}"), &format!("user{i}@pbs"), &times);
    }
    let big = store.ns_dir("big");
    let outside = store.tmp.path().join("outside");
    std::fs::create_dir_all(outside.join("vm/666/2020-01-01T00:00:00Z")).unwrap();
    symlink(outside.join("vm/666"), big.join("vm/666")).unwrap();
    std::fs::remove_file(big.join("vm/30/owner")).unwrap();
    std::fs::write(big.join("ct/31/owner"), b"").unwrap();
    std::fs::create_dir_all(big.join("host/32/not-a-time")).unwrap();
    symlink("/etc/passwd", big.join("vm/33/notes")).unwrap();
    std::fs::write(big.join("vm/stray"), b"x").unwrap();
    std::fs::create_dir_all(big.join("vm/-bad")).unwrap();
    // A group dir that is itself a symlink into the datastore and a symlinked type dir.
    symlink(big.join("vm/0"), big.join("vm/alias")).unwrap();
    std::fs::create_dir_all(store.ns_dir("dev")).unwrap();
    symlink(&outside, store.ns_dir("dev").join("vm")).unwrap();
    symlink(store.tmp.path(), store.ns_dir("prod").join("ns/evil")).unwrap();
    store
}

/// Parallel group scanning and the openat2 fast path change nothing in any output: same
/// stdout, stderr and exit code as the sequential component walk.
#[test]
fn parallel_scan_and_openat2_match_the_sequential_walk() {
    let store = big_store();
    let commands: [&[&str]; 6] = [
        &["ls", "--recursive", "--json"],
        &["ls", "--recursive", "--snapshots", "--json"],
        &["ls", "--recursive"],
        &["ls", "--ns", "prod/evil"],
        &["ls", "--ns", "missing", "--json"],
        &[
            "move-group",
            "--ns",
            "dev",
            "--group",
            "vm/666",
            "--target-ns",
            "prod",
            "--dry-run",
        ],
    ];
    let variants: [&[(&str, &str)]; 4] = [
        &[
            ("PBS_MOVER_SCAN_THREADS", "1"),
            ("PBS_MOVER_SCAN_NO_OPENAT2", "1"),
        ],
        &[],
        &[("PBS_MOVER_SCAN_THREADS", "7")],
        &[
            ("PBS_MOVER_SCAN_THREADS", "3"),
            ("PBS_MOVER_SCAN_NO_OPENAT2", "1"),
        ],
    ];
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = store.cmd();
        c.args(args).stdin(std::process::Stdio::null());
        c.env_remove("PBS_MOVER_SCAN_THREADS")
            .env_remove("PBS_MOVER_SCAN_NO_OPENAT2");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        (
            exit_code(&out),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr(&out),
        )
    };
    for args in commands {
        let reference = run(args, variants[0]);
        for env in &variants[1..] {
            assert_eq!(run(args, env), reference, "{args:?} with {env:?}");
        }
    }
    // The reference itself is right: everything listed, nothing reached outside.
    let (code, out, err) = run(&["ls", "--recursive", "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let big = j["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["ns"] == "big")
        .unwrap();
    let groups = big["groups"].as_array().unwrap();
    assert_eq!(
        groups.len(),
        300,
        "vm/666 and vm/alias are symlinks, skipped"
    );
    let order: Vec<&str> = groups
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    let mut sorted = order.clone();
    sorted.sort_by_key(|g| {
        let (ty, id) = g.split_once('/').unwrap();
        (
            ["vm", "ct", "host"].iter().position(|t| *t == ty),
            id.to_string(),
        )
    });
    assert_eq!(order, sorted, "type order vm, ct, host, then id");
    assert!(
        !out.contains("666/2020") && !out.contains("outside/"),
        "{out}"
    );
    for needle in [
        "vm/666: symlink skipped",
        "vm/alias: symlink skipped",
        "owner file missing",
        "empty owner file",
        "not-a-time",
        "vm/stray",
        "-bad",
        "ns/evil",
    ] {
        assert!(out.contains(needle), "{needle} in {out}");
    }
}
