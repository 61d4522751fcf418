use super::*;

fn ns(s: &str) -> Namespace {
    Namespace::parse(s).unwrap()
}

fn info(n: &str, g: &str, owner: &str) -> GroupInfo {
    GroupInfo {
        ns: ns(n),
        group: GroupId::parse(g).unwrap(),
        owner: Some(owner.into()),
        has_notes: false,
        snapshots: 1,
        oldest: None,
        newest: None,
        size: None,
        protected: None,
    }
}

fn names(idx: &SearchIndex, q: &str) -> Vec<String> {
    let q = Query::parse(q);
    idx.search(&q)
        .map(|e| match &e.group {
            Some(g) => format!("{}:{g}", e.ns.human()),
            None => e.ns.human(),
        })
        .collect()
}

fn sample() -> SearchIndex {
    let mut entries: Vec<IndexEntry> = ["", "a", "a/b", "a10", "a2"]
        .map(|s| IndexEntry::namespace(ns(s)))
        .to_vec();
    entries.push(IndexEntry::group(&info("", "vm/1000", "root@pam"), None));
    entries.push(IndexEntry::group(&info("", "vm/99", "root@pam"), None));
    entries.push(IndexEntry::group(&info("a", "ct/1234", "alice@pbs"), None));
    entries.push(IndexEntry::group(
        &info("a/b", "vm/1234", "bob@pbs"),
        Some("database primary".into()),
    ));
    SearchIndex::from_entries(entries)
}

#[test]
fn entries_are_in_tree_order() {
    let idx = sample();
    assert_eq!(
        names(&idx, "/"),
        // Every group id has a slash; namespaces match by path (only `a/b` and the root
        // "/" itself have one).
        [
            "/",
            "a/b",
            "a/b:vm/1234",
            "a:ct/1234",
            "/:vm/99",
            "/:vm/1000"
        ]
    );
}

#[test]
fn queries_match_ids_owners_notes_and_paths() {
    let idx = sample();
    assert_eq!(names(&idx, "1234"), ["a/b:vm/1234", "a:ct/1234"]);
    assert_eq!(names(&idx, "VM/1234"), ["a/b:vm/1234"]);
    assert_eq!(names(&idx, "alice"), ["a:ct/1234"]);
    assert_eq!(names(&idx, "primary"), ["a/b:vm/1234"]);
    // A namespace term narrows group hits, but does not list every group in it.
    assert_eq!(names(&idx, "a/b 1234"), ["a/b:vm/1234"]);
    assert_eq!(names(&idx, "a10"), ["a10"]);
    assert!(names(&idx, "").is_empty());
    assert!(names(&idx, "nothing-like-this").is_empty());
}

#[test]
fn a_listing_replaces_one_level() {
    let mut idx = sample();
    // `a/b` is gone (moved away), a new child and a moved-in group appear.
    idx.replace_level(
        &ns("a"),
        &[ns("a/c")],
        &[
            info("a", "ct/1234", "alice@pbs"),
            info("a", "vm/7", "x@pbs"),
        ],
    );
    assert!(names(&idx, "bob").is_empty());
    assert_eq!(names(&idx, "a/c"), ["a/c"]);
    assert_eq!(names(&idx, "x@pbs"), ["a:vm/7"]);
    assert_eq!(names(&idx, "1234"), ["a:ct/1234"]);
}

#[test]
fn listings_keep_notes_and_the_comment_hook_fills_in() {
    let mut idx = sample();
    idx.replace_level(&ns("a/b"), &[], &[info("a/b", "vm/1234", "bob@pbs")]);
    assert_eq!(names(&idx, "primary"), ["a/b:vm/1234"]);
    let g = GroupId::parse("vm/99").unwrap();
    idx.set_comment(&ns(""), &g, Some("nightly full".into()));
    assert_eq!(names(&idx, "nightly"), ["/:vm/99"]);
}
