//! The scanner on generated datastores, healthy and malformed, and `ls` output.

mod support;

use std::os::unix::fs::symlink;

use pbs_mover::tree::{Datastore, GroupId, Locator, Namespace, SnapshotTime};
use support::{Store, exit_code, json, stderr};

fn open(store: &Store) -> Datastore {
    Locator {
        path: Some(store.base.clone()),
        config_dir: Some(store.tmp.path().join("etc")),
        ..Default::default()
    }
    .locate()
    .unwrap()
}

fn ns(s: &str) -> Namespace {
    Namespace::parse(s).unwrap()
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
        Err(pbs_mover::tree::scan::ScanError::Symlink { .. })
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
