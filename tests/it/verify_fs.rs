//! `verify` on a filesystem datastore: clean after every kind of finished move, and each
//! kind of trouble an interrupted move (or a hand) can leave is found, exit 1, in one JSON
//! object `{"ok","op":"verify","findings":[{"kind","path","message"}],"error"}`.

use std::collections::BTreeSet;

use crate::support::{MOVE_VM100_TO_PROD, Store, exit_code, json, require_root, stderr};

fn verify(s: &Store) -> (i32, serde_json::Value) {
    let out = s.run(&["verify", "--json"]);
    (exit_code(&out), json(&out))
}

fn kinds(j: &serde_json::Value) -> BTreeSet<String> {
    j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

fn assert_clean(s: &Store, after: &str) {
    let (code, j) = verify(s);
    assert_eq!(code, 0, "verify after {after}: {j}");
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["op"], "verify");
    assert_eq!(j["findings"], serde_json::json!([]), "{j}");
    assert_eq!(j["error"], serde_json::Value::Null);
}

#[test]
#[ignore = "needs root"]
fn verify_is_clean_after_finished_moves_and_an_undo() {
    require_root();
    let s = Store::demo(20);
    assert_clean(&s, "nothing");
    let out = s.run(MOVE_VM100_TO_PROD);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_clean(&s, "move-group");
    let out = s.run(&["move-ns", "--ns", "prod", "--target-ns", "archive/prod"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_clean(&s, "move-ns");
    let out = s.run(&["undo", "--last"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_clean(&s, "undo");
    // Human form on stdout.
    let out = s.run(&["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no findings"), "{text}");
}

#[test]
fn verify_finds_what_a_hand_left() {
    let s = Store::empty(&["", "a", "b"]);
    let t = ["2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z"];
    s.add_group("a", "vm/100", "root@pam", &t);
    // The same snapshot in a second namespace.
    s.add_group("b", "vm/100", "root@pam", &t[..1]);
    // No owner file; an owner that is no owner; a group without snapshots.
    s.add_group("", "ct/1", "root@pam", &t);
    std::fs::remove_file(s.group_dir("", "ct/1").join("owner")).unwrap();
    s.add_group("", "ct/2", "root@pam", &t);
    std::fs::write(s.group_dir("", "ct/2").join("owner"), "not an owner\n").unwrap();
    std::fs::create_dir_all(s.group_dir("b", "host/empty")).unwrap();
    std::fs::write(s.group_dir("b", "host/empty").join("owner"), "root@pam\n").unwrap();
    let before = s.snapshot();
    let (code, j) = verify(&s);
    assert_eq!(code, 1, "{j}");
    assert_eq!(j["ok"], false);
    let want: BTreeSet<String> = [
        "duplicate-snapshot",
        "owner-missing",
        "owner-invalid",
        "empty-group",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    assert_eq!(kinds(&j), want, "{j}");
    let dup = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "duplicate-snapshot")
        .unwrap();
    assert!(
        dup["message"]
            .as_str()
            .unwrap()
            .contains("vm/100/2024-01-01T10:00:00Z"),
        "{dup}"
    );
    assert!(
        dup["path"]
            .as_str()
            .unwrap()
            .ends_with("2024-01-01T10:00:00Z"),
        "{dup}"
    );
    assert_eq!(s.snapshot(), before, "verify changed the datastore");
    let out = s.run(&["verify"]);
    assert_eq!(exit_code(&out), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("verify: 4 finding(s)"), "{text}");
    assert!(text.contains("owner-missing: "), "{text}");
}

#[test]
#[ignore = "needs root"]
fn verify_finds_an_interrupted_move_and_is_clean_after_resume() {
    require_root();
    let s = Store::empty(&["", "a"]);
    let t = [
        "2024-01-01T10:00:00Z",
        "2024-01-02T10:00:00Z",
        "2024-01-03T10:00:00Z",
    ];
    s.add_group("", "vm/100", "root@pam", &t);
    let mv = ["move-group", "--group", "vm/100", "--target-ns", "a"];
    s.cut_at(&s.state_dir(), "after-gc-journal:2", &mv);
    let (code, j) = verify(&s);
    assert_eq!(code, 1, "{j}");
    let k = kinds(&j);
    assert!(k.contains("unfinished-move"), "{j}");
    assert!(k.contains("gc-journal-ghost"), "{j}");
    let out = s.run(&["resume", "--json"]);
    crate::support::assert_resumed(&out);
    assert_clean(&s, "resume");
}

#[test]
#[ignore = "needs root"]
fn verify_finds_lock_residue_of_an_interrupted_move() {
    require_root();
    let s = Store::empty(&["", "a"]);
    let t = ["2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z"];
    s.add_group("", "vm/100", "root@pam", &t);
    let mv = ["move-group", "--group", "vm/100", "--target-ns", "a"];
    s.cut_at(&s.state_dir(), "after-rename:1", &mv);
    let (code, j) = verify(&s);
    assert_eq!(code, 1, "{j}");
    let residue: Vec<&serde_json::Value> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "lock-residue")
        .collect();
    assert!(!residue.is_empty(), "{j}");
    for f in &residue {
        let p = f["path"].as_str().unwrap();
        assert!(p.starts_with(s.locks.to_str().unwrap()), "{p}");
        assert!(std::path::Path::new(p).exists(), "{p}");
    }
    let out = s.run(&["resume", "--json"]);
    crate::support::assert_resumed(&out);
    assert_clean(&s, "resume");
}

#[test]
#[ignore = "needs root"]
fn verify_finds_a_half_built_target_group_and_resume_removes_it() {
    require_root();
    let s = Store::empty(&["", "a"]);
    s.add_group("", "vm/100", "root@pam", &["2024-01-01T10:00:00Z"]);
    let mv = ["move-group", "--group", "vm/100", "--target-ns", "a"];
    s.cut_at(&s.state_dir(), "after-owner-hidden:1", &mv);
    let (code, j) = verify(&s);
    assert_eq!(code, 1, "{j}");
    assert!(kinds(&j).contains("half-built-group"), "{j}");
    let plan = s.run(&["resume", "--dry-run"]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("remove the half-built target group"),
        "{text}"
    );
    crate::support::assert_resumed(&s.run(&["resume", "--json"]));
    assert_clean(&s, "resume");
}
