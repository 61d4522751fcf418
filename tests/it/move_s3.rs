//! Moves on an S3-backed datastore through the real binary: a real S3 server over HTTP on
//! 127.0.0.1 (s3s-fs, in this process), the local cache in a temp dir, byte-for-byte checks
//! of every object and cache file, injected faults.

use crate::support;
use crate::support::s3;

use s3::SECRET_KEY;
use s3::{S3Store, snapshot_objects};
use support::{exit_code, json, stderr};

fn assert_verify_clean(s: &S3Store) {
    let out = s.run(&["verify", "--json"]);
    assert_eq!(
        exit_code(&out),
        0,
        "{} {}",
        stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(json(&out)["ok"], true);
}

#[test]
fn move_group_moves_bucket_and_cache_together() {
    let s = S3Store::demo(40);
    assert_verify_clean(&s);
    let before = s.objects();
    let local_before = s.store.snapshot().snapshot_files();
    let out = s.run(support::MOVE_VM100_TO_PROD);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let after = s.objects();
    assert_eq!(
        snapshot_objects(&before),
        snapshot_objects(&after),
        "every object once, same bytes"
    );
    assert!(
        !after.keys().any(|k| k.starts_with("vm/100/")),
        "source objects deleted"
    );
    assert_eq!(
        after.get("ns/prod/vm/100/owner"),
        before.get("vm/100/owner")
    );
    assert!(
        after.keys().any(|k| k.starts_with("ns/prod/vm/100/2026-")),
        "':' in keys"
    );
    assert_eq!(local_before, s.store.snapshot().snapshot_files());
    assert!(!s.store.group_dir("", "vm/100").exists());
    assert_verify_clean(&s);
}

#[test]
fn move_ns_creates_and_removes_namespace_markers() {
    let s = S3Store::demo(40);
    let before = s.objects();
    let out = s.run(support::MOVE_NS_PROD_TO_ARCHIVE);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let after = s.objects();
    assert_eq!(snapshot_objects(&before), snapshot_objects(&after));
    for marker in [
        "ns/archive/ns/prod/.namespace",
        "ns/archive/ns/prod/ns/web/ns/eu-west/ns/edge/.namespace",
    ] {
        assert!(after.contains_key(marker), "{marker}");
    }
    assert!(
        !after.keys().any(|k| k.starts_with("ns/prod/")),
        "source prefix emptied, markers too"
    );
    assert!(!s.store.ns_dir("prod").exists());
    assert_verify_clean(&s);
}

#[test]
fn copy_failure_leaves_that_group_complete_at_the_source() {
    let s = S3Store::demo(40);
    let times: Vec<String> = std::fs::read_dir(s.store.group_dir("prod/db", "ct/118"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("20"))
        .collect();
    let victim = format!("ct/118/{}/root.pxar.didx", times[times.len() / 2]);
    s.env.faults().update(|f| f.fail_copy = vec![victim]);
    let before = s.objects();
    let out = s.run(support::MOVE_NS_PROD_TO_ARCHIVE);
    assert_eq!(exit_code(&out), 4, "{}", stderr(&out));
    let j = json(&out);
    let failed = j["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{j}");
    assert_eq!(failed[0]["group"], "ct/118");
    assert_eq!(failed[0]["reason"], "error");
    assert_eq!(failed[0]["snapshots_moved"], 0);
    assert!(
        failed[0]["message"].as_str().unwrap().contains("copy"),
        "{}",
        failed[0]["message"]
    );
    let after = s.objects();
    // The failed group is complete at the source, nothing of it at the target.
    for (k, v) in before
        .iter()
        .filter(|(k, _)| k.starts_with("ns/prod/ns/db/ct/118/"))
    {
        assert_eq!(after.get(k), Some(v), "{k}");
    }
    assert!(
        !after
            .keys()
            .any(|k| k.contains("archive/ns/prod/ns/db/ct/118"))
    );
    assert!(
        s.store
            .group_dir("prod/db", "ct/118")
            .join("owner")
            .exists()
    );
    assert!(
        s.store.group_dir("archive/prod/db", "vm/102").is_dir(),
        "others moved"
    );
    assert_eq!(snapshot_objects(&before), snapshot_objects(&after));
    s.env.faults().update(|f| f.fail_copy.clear());
    assert_verify_clean(&s);
}

#[test]
fn delete_failure_is_reported_as_orphans_not_loss() {
    let s = S3Store::demo(20);
    s.env.faults().update(|f| f.fail_delete_objects = true);
    let out = s.run(support::MOVE_VM100_TO_PROD);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    let orphans = j["orphans"].as_array().unwrap();
    assert!(!orphans.is_empty());
    assert!(
        orphans
            .iter()
            .all(|o| o["key"].as_str().unwrap().contains("/.cnt/vm/100/"))
    );
    // The target has every object; the source objects are left over, nothing is lost.
    let after = s.objects();
    assert!(after.keys().any(|k| k.starts_with("ns/prod/vm/100/")));
    assert!(s.store.group_dir("prod", "vm/100").is_dir());
}

#[test]
fn wrong_credentials_change_nothing_and_never_print_the_secret() {
    let s = S3Store::demo(10);
    let before = s.objects();
    let local = s.store.snapshot();
    let out = s
        .cmd_with_secret("wrong-secret-value")
        .args(["move-group", "--group", "vm/100", "--target-ns", "prod"])
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("credentials"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("wrong-secret-value") && !err.contains(SECRET_KEY));
    assert_eq!(before, s.objects());
    assert_eq!(local, s.store.snapshot());
}

#[test]
fn dry_run_counts_objects_and_bytes_and_changes_nothing() {
    let s = S3Store::demo(40);
    let before = s.objects();
    let out = s.run(support::MOVE_NS_PROD_TO_ARCHIVE_DRY_RUN);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    let groups = j["plan"]["groups"].as_array().unwrap();
    let objects: u64 = groups
        .iter()
        .map(|g| g["s3_objects"].as_u64().unwrap())
        .sum();
    let files: u64 = groups.iter().map(|g| g["files"].as_u64().unwrap()).sum();
    assert_eq!(objects, files, "one object per cache file");
    assert!(groups.iter().all(|g| g["s3_bytes"].as_u64().unwrap() > 0));
    assert_eq!(before, s.objects());
    assert!(!s.store.locks.exists());
}

#[test]
fn large_group_over_a_thousand_objects() {
    let s = S3Store::demo(0);
    let times = support::epoch_times(260);
    s.store
        .add_group("", "vm/900", "root@pam", &support::as_refs(&times));
    for t in &times {
        let dir = s.store.group_dir("", "vm/900").join(t);
        std::fs::write(dir.join("drive-scsi0.img.fidx"), t.as_bytes()).unwrap();
        std::fs::write(dir.join("qemu-server.conf.blob"), b"conf").unwrap();
    }
    s.upload_again();
    let before = s.objects();
    assert!(before.len() > 1000);
    let out = s.run(&[
        "move-group",
        "--group",
        "vm/900",
        "--target-ns",
        "prod",
        "--json",
    ]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["moved"][0]["snapshots"], 260);
    assert_eq!(snapshot_objects(&before), snapshot_objects(&s.objects()));
    assert_verify_clean(&s);
}

/// A group moved by a backend whose group listings are capped far below its size (every
/// batch lists per snapshot prefix instead), then a group of two lock batches (more than 512
/// snapshots) through the binary with the default cap (one paged group listing per side and
/// batch): every object moves, byte for byte, and the sources are gone.
#[test]
fn groups_over_the_listing_cap_and_over_one_lock_batch_move_every_object() {
    use pbs_mover::tree::s3::BackendOptions;

    let s = S3Store::demo(0);
    s.store.add_group(
        "",
        "ct/901",
        "root@pam",
        &support::as_refs(&support::epoch_times(40)),
    );
    s.store.add_group(
        "",
        "ct/902",
        "root@pam",
        &support::as_refs(&support::epoch_times(530)),
    );
    s.upload_again();
    let before = s.objects();
    assert!(before.len() > 1140, "{}", before.len());

    // At most 2 pages of 10 keys: the 80 objects of ct/901 are far over the cap.
    let opts = BackendOptions {
        list_page_keys: 10,
        group_list_pages: 2,
        ..s3::fast_options()
    };
    let report = s.move_group_in_process(&opts, &s.store.state_dir(), "ct/901", "prod");
    assert!(report.failed.is_empty(), "{report:?}");
    assert!(report.orphans.is_empty(), "{report:?}");

    let out = s.run(&[
        "move-group",
        "--group",
        "ct/902",
        "--target-ns",
        "prod",
        "--json",
    ]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["moved"][0]["snapshots"], 530);

    let moved = s.objects();
    assert_eq!(snapshot_objects(&before), snapshot_objects(&moved));
    assert!(
        !moved.keys().any(|k| k.starts_with("ct/")),
        "sources deleted"
    );
    assert_eq!(
        moved
            .keys()
            .filter(|k| k.starts_with("ns/prod/ct/"))
            .count(),
        before.keys().filter(|k| k.starts_with("ct/")).count()
    );
    assert_verify_clean(&s);
}
