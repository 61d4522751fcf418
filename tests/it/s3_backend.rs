//! S3Backend against a real S3 server (s3s + s3s-fs over HTTP on 127.0.0.1), including
//! injected faults.

use crate::support::s3;

use std::time::Instant;

use pbs_mover::demo::{DemoSpec, create_demo};
use pbs_mover::tree::backend::{ContentBackend, SnapshotRef};
use pbs_mover::tree::s3::{AdHocS3, BackendOptions, S3Backend, S3Error, S3Target, upload_tree};
use pbs_mover::tree::{GroupId, Namespace};
use s3::*;

const T1: &str = "2025-07-14T14:20:02Z";

/// Seeds one snapshot's objects and returns (file name, content) pairs.
fn seed_snapshot(env: &S3Env, s: &SnapshotRef, files: &[(&str, usize)]) -> Vec<(String, Vec<u8>)> {
    let prefix = format!("{STORE}/.cnt/{}/", s.rel_path());
    files
        .iter()
        .enumerate()
        .map(|(i, (name, len))| {
            let data = pattern(*len, i as u8);
            env.put(&format!("{prefix}{name}"), &data);
            (name.to_string(), data)
        })
        .collect()
}

fn prefix(s: &SnapshotRef) -> String {
    format!("{STORE}/.cnt/{}/", s.rel_path())
}

const FILES: &[(&str, usize)] = &[
    ("index.json.blob", 700),
    ("drive-scsi0.img.fidx", 300_000),
    ("qemu-server.conf.blob", 120),
    ("client.log.blob", 0),
    (".protected", 0),
];

#[test]
fn copy_verify_delete_byte_for_byte_with_colon_keys() {
    let env = S3Env::start();
    let be = env.backend();
    let src = snap("", "vm/100", T1);
    let dst = snap("prod/db", "vm/100", T1);
    let seeded = seed_snapshot(&env, &src, FILES);

    let plan = be.plan_snapshot(&src).unwrap();
    assert_eq!(plan.objects, FILES.len() as u64);
    assert_eq!(plan.bytes, FILES.iter().map(|f| f.1 as u64).sum::<u64>());

    let missing = snap("", "vm/100", "2025-07-14T14:20:03Z");
    let err = be.copy_snapshot(&missing, &dst).unwrap_err().to_string();
    assert!(err.contains("no S3 objects under"), "{err}");

    let prepared = be.copy_snapshot(&src, &dst).unwrap();
    assert_eq!(prepared.stats, plan);
    assert!(prefix(&dst).contains(':') && prefix(&dst).contains("ns/prod/ns/db/vm/100/"));
    for (name, data) in &seeded {
        assert_eq!(&env.get(&format!("{}{name}", prefix(&dst))), data, "{name}");
    }
    // Nothing is deleted before the engine says so.
    assert_eq!(env.keys(&prefix(&src)).len(), FILES.len());

    assert!(be.delete_source(&prepared).is_empty());
    assert!(env.keys(&prefix(&src)).is_empty());
    assert_eq!(env.keys(&prefix(&dst)).len(), FILES.len());
}

#[test]
fn pagination_over_1000_objects() {
    let env = S3Env::start();
    let be = env.backend();
    let src = snap("a", "ct/200", T1);
    let dst = snap("b", "ct/200", T1);
    let n = 1_050;
    let keys: Vec<String> = (0..n)
        .map(|i| format!("{}f{i:05}.blob", prefix(&src)))
        .collect();
    env.rt.block_on(async {
        use futures::StreamExt;
        futures::stream::iter(&keys)
            .for_each_concurrent(32, |k| async {
                env.bucket
                    .put(k, k.as_bytes().to_vec(), false)
                    .await
                    .unwrap()
            })
            .await
    });
    assert_eq!(be.plan_snapshot(&src).unwrap().objects, n);
    let prepared = be.copy_snapshot(&src, &dst).unwrap();
    assert_eq!(prepared.copied_keys.len(), n as usize);
    // Two DeleteObjects batches (1000 + 50).
    assert!(be.delete_source(&prepared).is_empty());
    assert!(env.keys(&prefix(&src)).is_empty());
    let moved = env.keys(&prefix(&dst));
    assert_eq!(moved.len(), n as usize);
    let last = format!("{}f{:05}.blob", prefix(&dst), n - 1);
    assert_eq!(
        env.get(&last),
        format!("{}f{:05}.blob", prefix(&src), n - 1).as_bytes()
    );
}

#[test]
fn copy_failure_is_an_error_and_partial_copies_are_removed() {
    let env = S3Env::start();
    let be = env.backend();
    let src = snap("", "vm/101", T1);
    let dst = snap("x", "vm/101", T1);
    seed_snapshot(&env, &src, FILES);
    env.faults()
        .update(|f| f.fail_copy = vec!["qemu-server.conf.blob".into()]);

    let err = be.copy_snapshot(&src, &dst).unwrap_err().to_string();
    assert!(
        err.contains("CopyObject") && err.contains("InternalError"),
        "{err}"
    );
    assert!(err.contains("qemu-server.conf.blob"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
    assert!(env.keys(&prefix(&dst)).is_empty(), "partial copies left");
    assert_eq!(env.keys(&prefix(&src)).len(), FILES.len(), "source intact");
    // Retried before giving up (4 attempts configured).
    assert_eq!(env.faults().injected(), 4);
}

#[test]
fn discard_copy_removes_copies_and_keeps_source() {
    let env = S3Env::start();
    let be = env.backend();
    let src = snap("", "host/web1", T1);
    let dst = snap("y", "host/web1", T1);
    seed_snapshot(&env, &src, FILES);
    let prepared = be.copy_snapshot(&src, &dst).unwrap();
    assert_eq!(env.keys(&prefix(&dst)).len(), FILES.len());
    assert!(be.discard_copy(&prepared).is_empty());
    assert!(env.keys(&prefix(&dst)).is_empty());
    assert_eq!(env.keys(&prefix(&src)).len(), FILES.len());
}

#[test]
fn delete_failures_become_orphans() {
    let env = S3Env::start();
    let be = env.backend();
    let src = snap("", "vm/102", T1);
    let dst = snap("z", "vm/102", T1);
    seed_snapshot(&env, &src, FILES);
    let prepared = be.copy_snapshot(&src, &dst).unwrap();

    env.faults()
        .update(|f| f.fail_delete_keys = vec!["drive-scsi0".into()]);
    let orphans = be.delete_source(&prepared);
    assert_eq!(orphans.len(), 1, "{orphans:?}");
    assert!(orphans[0].key.ends_with("drive-scsi0.img.fidx"));
    assert!(
        orphans[0].error.contains("AccessDenied"),
        "{}",
        orphans[0].error
    );
    assert_eq!(env.keys(&prefix(&src)).len(), 1);

    // A whole failed request orphans every key of the batch, and nothing else breaks.
    env.faults().update(|f| f.fail_delete_objects = true);
    let orphans = be.delete_source(&prepared);
    assert_eq!(orphans.len(), FILES.len());
    assert!(
        orphans[0].error.contains("DeleteObjects"),
        "{}",
        orphans[0].error
    );
    assert_eq!(
        env.keys(&prefix(&dst)).len(),
        FILES.len(),
        "copies untouched"
    );
}

#[test]
fn foreign_keys_are_never_deleted() {
    let env = S3Env::start();
    let be = env.backend();
    env.put("otherstore/.cnt/vm/1/x.blob", b"x");
    let prepared = pbs_mover::tree::backend::PreparedMove {
        source_keys: vec!["otherstore/.cnt/vm/1/x.blob".into()],
        ..Default::default()
    };
    let orphans = be.delete_source(&prepared);
    assert_eq!(orphans.len(), 1);
    assert!(orphans[0].error.contains("outside the datastore prefix"));
    assert_eq!(env.keys("otherstore/").len(), 1);
}

#[test]
fn target_with_foreign_objects_is_refused() {
    let env = S3Env::start();
    let be = env.backend();
    let src = snap("", "vm/103", T1);
    let dst = snap("q", "vm/103", T1);
    seed_snapshot(&env, &src, FILES);
    env.put(&format!("{}unrelated.blob", prefix(&dst)), b"keep me");
    let err = be.copy_snapshot(&src, &dst).unwrap_err().to_string();
    assert!(err.contains("refusing"), "{err}");
    assert_eq!(
        env.get(&format!("{}unrelated.blob", prefix(&dst))),
        b"keep me"
    );
    // A re-run after an interrupted copy (same keys at the target) is fine.
    let env2 = S3Env::start();
    let be2 = env2.backend();
    seed_snapshot(&env2, &src, FILES);
    be2.copy_snapshot(&src, &dst).unwrap();
    be2.copy_snapshot(&src, &dst).unwrap();
}

#[test]
fn bursts_of_503_are_retried() {
    let env = S3Env::start();
    let be = env.backend();
    let src = snap("", "vm/104", T1);
    let dst = snap("r", "vm/104", T1);
    let seeded = seed_snapshot(&env, &src, FILES);
    env.faults().update(|f| f.burst_503 = 3);
    let prepared = be.copy_snapshot(&src, &dst).unwrap();
    assert_eq!(env.faults().injected(), 3);
    env.faults().update(|f| f.burst_503 = 2);
    assert!(be.delete_source(&prepared).is_empty());
    assert_eq!(env.faults().injected(), 5);
    for (name, data) in &seeded {
        assert_eq!(&env.get(&format!("{}{name}", prefix(&dst))), data);
    }
}

#[test]
fn owner_notes_and_namespace_markers() {
    let env = S3Env::start();
    let be = env.backend();
    let ns = Namespace::parse("prod/db").unwrap();
    let g = GroupId::parse("vm/100").unwrap();
    be.put_owner(&ns, &g, "root@pam").unwrap();
    be.put_notes(&ns, &g, b"my notes").unwrap();
    let gp = format!("{STORE}/.cnt/ns/prod/ns/db/vm/100/");
    assert_eq!(env.get(&format!("{gp}owner")), b"root@pam\n");
    assert_eq!(env.get(&format!("{gp}notes")), b"my notes");
    assert!(be.remove_group(&ns, &g).is_empty());
    assert!(env.keys(&gp).is_empty());

    let marker = format!("{STORE}/.cnt/ns/prod/ns/db/.namespace");
    be.create_namespace(&ns).unwrap();
    // Upload-no-replace: a second create keeps the existing marker and succeeds.
    be.create_namespace(&ns).unwrap();
    assert_eq!(env.keys(&marker), vec![marker.clone()]);
    be.create_namespace(&Namespace::root()).unwrap();
    be.remove_namespace(&ns).unwrap();
    assert!(env.keys(&marker).is_empty());
}

fn connect_err(t: &S3Target) -> S3Error {
    let err = S3Backend::connect(t, STORE, &fast_options()).unwrap_err();
    eprintln!("connect error: {err}"); // `--nocapture` shows what an admin would read
    err
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(SECRET_KEY), "secret leaked: {text}");
}

#[test]
fn wrong_credentials_are_a_clear_error() {
    let env = S3Env::start();
    let mut t = env.target.clone();
    t.secret_key = pbs_mover::tree::s3::Secret::new("wrong-secret-value");
    let err = connect_err(&t);
    assert!(matches!(err, S3Error::Credentials { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("SignatureDoesNotMatch"), "{msg}");
    assert!(!msg.contains("wrong-secret-value"));
    let mut t = env.target.clone();
    t.access_key = "nobody".into();
    let err = connect_err(&t);
    assert!(matches!(err, S3Error::Credentials { .. }), "{err:?}");
}

#[test]
fn missing_bucket_is_a_clear_error() {
    let env = S3Env::start();
    let mut t = env.target.clone();
    t.bucket = "no-such-bucket".into();
    let err = connect_err(&t);
    assert_eq!(
        err.to_string(),
        format!(
            "S3 bucket 'no-such-bucket' does not exist at {}",
            env.server.url()
        )
    );
}

#[test]
fn unreachable_endpoint_is_a_clear_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t = AdHocS3 {
        endpoint: format!("http://127.0.0.1:{port}"),
        bucket: BUCKET.into(),
        region: None,
        path_style: true,
    }
    .resolve(|k| match k {
        "AWS_ACCESS_KEY_ID" => Some(ACCESS_KEY.into()),
        "AWS_SECRET_ACCESS_KEY" => Some(SECRET_KEY.into()),
        _ => None,
    })
    .unwrap();
    let started = Instant::now();
    let err = connect_err(&t);
    assert!(matches!(err, S3Error::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("unreachable") && msg.contains("refused"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    assert!(started.elapsed().as_secs() < 10);
}

#[test]
fn secrets_never_in_debug_or_errors() {
    let env = S3Env::start();
    let be = env.backend();
    assert_no_secret(&format!("{be:?} {:?} {:#?}", env.target, env.target));
    let mut t = env.target.clone();
    t.bucket = "no-such-bucket".into();
    let err = connect_err(&t);
    assert_no_secret(&format!("{err} {err:?}"));
    let mut t = env.target.clone();
    t.access_key = "nobody".into();
    let err = connect_err(&t);
    assert_no_secret(&format!("{err} {err:?}"));
}

#[test]
fn drift_check_finds_missing_extra_and_resized_objects() {
    let env = S3Env::start();
    let be = env.backend();
    let base = env.dir.path().join("cache");
    create_demo(
        &base,
        DemoSpec {
            groups: 4,
            full_chunk_store: false,
        },
    )
    .unwrap();
    let stats = env
        .rt
        .block_on(upload_tree(&env.bucket, STORE, &base, 16))
        .unwrap();
    assert!(stats.objects > 10, "{stats:?}");
    let clean = be.check_drift(&base).unwrap();
    assert!(clean.is_clean(), "{clean:?}");
    assert_eq!(clean.bucket_objects as u64, stats.objects);
    // Every namespace dir has its marker in the bucket.
    assert!(
        !env.keys(&format!("{STORE}/.cnt/ns/prod/.namespace"))
            .is_empty()
    );

    let all = env.keys(&format!("{STORE}/.cnt/"));
    let victim = all.iter().find(|k| k.ends_with("index.json.blob")).unwrap();
    env.rt.block_on(env.bucket.delete(victim)).unwrap();
    env.put(&format!("{STORE}/.cnt/vm/999/owner"), b"x\n");
    let resized = all.iter().find(|k| k.ends_with("/owner")).unwrap();
    env.put(resized, b"someone-else@pbs-with-a-longer-name\n");

    let drift = be.check_drift(&base).unwrap();
    let rel = |k: &str| {
        k.strip_prefix(&format!("{STORE}/.cnt/"))
            .unwrap()
            .to_string()
    };
    assert_eq!(drift.missing_in_bucket, [rel(victim)]);
    assert_eq!(drift.missing_locally, ["vm/999/owner"]);
    assert_eq!(drift.size_mismatch.len(), 1);
    assert_eq!(drift.size_mismatch[0].path, rel(resized));
}

#[test]
fn https_with_pinned_fingerprint() {
    let env = S3Env::start_with(Some(self_signed()));
    assert!(env.server.url().starts_with("https://"));
    let be = env.backend();
    let src = snap("", "vm/105", T1);
    let dst = snap("tls", "vm/105", T1);
    let seeded = seed_snapshot(&env, &src, FILES);
    let prepared = be.copy_snapshot(&src, &dst).unwrap();
    assert!(be.delete_source(&prepared).is_empty());
    for (name, data) in &seeded {
        assert_eq!(&env.get(&format!("{}{name}", prefix(&dst))), data);
    }

    let mut t = env.target.clone();
    t.fingerprint = Some("00:".repeat(31) + "00");
    let err = connect_err(&t);
    assert!(matches!(err, S3Error::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("fingerprint mismatch"), "{err}");

    // Without a fingerprint the self-signed certificate is rejected by the system roots.
    t.fingerprint = None;
    let err = connect_err(&t);
    assert!(matches!(err, S3Error::Tls { .. }), "{err:?}");
}

#[test]
fn serve_demo_uploads_a_browsable_bucket() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("demo");
    let spec = DemoSpec {
        groups: 3,
        full_chunk_store: false,
    };
    create_demo(&base, spec).unwrap();
    let (server, target) = rt
        .block_on(pbs_mover::tree::s3::serve_demo(
            &base,
            "demo",
            &dir.path().join("s3"),
        ))
        .unwrap();
    assert_eq!(target.url, server.url());
    let be = S3Backend::connect(&target, "demo", &fast_options()).unwrap();
    assert!(be.check_drift(&base).unwrap().is_clean());
}

/// A backend whose group listings use pages of `page_keys` keys, at most `pages` of them.
fn backend_with_cap(env: &S3Env, page_keys: i32, pages: usize) -> S3Backend {
    let opts = BackendOptions {
        list_page_keys: page_keys,
        group_list_pages: pages,
        ..fast_options()
    };
    S3Backend::connect(&env.target, STORE, &opts).unwrap()
}

/// `n` snapshots of `group` in namespace `ns`, two objects each, plus the group's owner.
fn seed_group(env: &S3Env, ns: &str, group: &str, n: usize) -> Vec<SnapshotRef> {
    let snaps: Vec<SnapshotRef> = (0..n)
        .map(|i| {
            snap(
                ns,
                group,
                &format!("2025-07-14T14:{:02}:{:02}Z", i / 60, i % 60),
            )
        })
        .collect();
    for s in &snaps {
        seed_snapshot(env, s, &[("index.json.blob", 40), ("root.pxar.didx", 90)]);
    }
    let gp = group_prefix(&snaps[0]);
    env.put(&format!("{gp}owner"), b"root@pam\n");
    snaps
}

fn group_prefix(s: &SnapshotRef) -> String {
    let p = prefix(s);
    let trimmed = &p[..p.len() - 1];
    trimmed[..=trimmed.rfind('/').unwrap()].to_string()
}

fn moved_to(s: &SnapshotRef, ns: &str) -> SnapshotRef {
    SnapshotRef {
        ns: Namespace::parse(ns).unwrap(),
        ..s.clone()
    }
}

/// Every object of `src` is at `dst` with the same bytes.
fn assert_copied(env: &S3Env, src: &SnapshotRef, dst: &SnapshotRef) {
    let (sp, dp) = (prefix(src), prefix(dst));
    let keys = env.keys(&sp);
    assert!(!keys.is_empty(), "{sp}");
    for k in &keys {
        let copy = format!("{dp}{}", &k[sp.len()..]);
        assert_eq!(env.get(k), env.get(&copy), "{copy}");
    }
    assert_eq!(env.keys(&dp).len(), keys.len(), "{dp}");
}

#[test]
fn batch_lists_each_group_once_following_continuation_tokens() {
    let env = S3Env::start();
    // Pages of 3 keys: the source group (10 snapshot objects + owner) takes 4 pages.
    let be = backend_with_cap(&env, 3, 8);
    let snaps = seed_group(&env, "", "vm/200", 5);
    // The batch: 4 of the 5 snapshots; the target group already holds another snapshot.
    let pairs: Vec<_> = snaps[..4]
        .iter()
        .map(|s| (s.clone(), moved_to(s, "t")))
        .collect();
    let other = snap("t", "vm/200", "2020-01-01T00:00:00Z");
    seed_snapshot(&env, &other, &[("index.json.blob", 10)]);
    let lists = env.faults().lists();
    let prepared = be.copy_snapshots(&pairs).unwrap();
    // Source group: 4 pages; target before: 1 page (1 key); target after: 9 keys, 3 pages.
    // One listing per snapshot prefix would have taken 4 + 4 + 4.
    assert_eq!(env.faults().lists() - lists, 4 + 1 + 3);
    assert_eq!(prepared.len(), 4);
    for (p, (s, d)) in prepared.iter().zip(&pairs) {
        assert_eq!(p.stats.objects, 2);
        assert!(p.source_keys.iter().all(|k| k.starts_with(&prefix(s))));
        assert_copied(&env, s, d);
    }
    assert!(env.keys(&prefix(&moved_to(&snaps[4], "t"))).is_empty());
    assert!(
        env.keys(&format!("{}owner", group_prefix(&pairs[0].1)))
            .is_empty()
    );
    assert_eq!(
        env.keys(&prefix(&other)).len(),
        1,
        "other snapshot untouched"
    );

    assert!(be.delete_sources(&prepared).is_empty());
    // A snapshot missing from the group listing is listed under its own prefix before it
    // counts as drift, and nothing of the batch is copied.
    let gone = snap("", "vm/200", "2025-07-14T15:00:00Z");
    let pairs = vec![
        (snaps[4].clone(), moved_to(&snaps[4], "t")),
        (gone.clone(), moved_to(&gone, "t")),
    ];
    let lists = env.faults().lists();
    let err = be.copy_snapshots(&pairs).unwrap_err();
    assert_eq!(err.index, 1);
    assert!(
        err.error.to_string().contains("no S3 objects under"),
        "{}",
        err.error
    );
    // Source group (1 page, 2 objects + owner) + the missing snapshot's own prefix +
    // target group (3 pages of 9 keys).
    assert_eq!(env.faults().lists() - lists, 1 + 1 + 3);
    assert!(env.keys(&prefix(&moved_to(&snaps[4], "t"))).is_empty());
}

#[test]
fn large_group_falls_back_to_snapshot_listings_and_remembers_it() {
    let env = S3Env::start();
    // At most 2 pages of 2 keys: a group of more than 4 keys is "large".
    let be = backend_with_cap(&env, 2, 2);
    let snaps = seed_group(&env, "", "ct/300", 6);
    let pairs: Vec<_> = snaps
        .iter()
        .map(|s| (s.clone(), moved_to(s, "big")))
        .collect();
    let lists = env.faults().lists();
    let prepared = be.copy_snapshots(&pairs[..3]).unwrap();
    // Source: 2 capped pages, then 3 prefixes; target before: 1 page (empty); target
    // after: 6 keys, 2 capped pages, then 3 prefixes.
    assert_eq!(env.faults().lists() - lists, (2 + 3) + 1 + (2 + 3));
    assert_eq!(prepared.len(), 3);
    let lists = env.faults().lists();
    let prepared2 = be.copy_snapshots(&pairs[3..]).unwrap();
    // Both groups are known to be large now: straight to one listing per prefix.
    assert_eq!(env.faults().lists() - lists, 3 + 3 + 3);
    for (s, d) in &pairs {
        assert_copied(&env, s, d);
    }
    assert_eq!(prepared2.iter().map(|p| p.stats.objects).sum::<u64>(), 6);
}

/// A batch of three snapshots where the server mistreats one copy of the third: the batch
/// is refused, naming that snapshot, every copy of the batch is removed, the source stays.
fn refused_copy(fault: impl FnOnce(&mut pbs_mover::tree::s3::Faults), want: &str) {
    let env = S3Env::start();
    let be = env.backend();
    let snaps = seed_group(&env, "", "vm/400", 3);
    let pairs: Vec<_> = snaps
        .iter()
        .map(|s| (s.clone(), moved_to(s, "v")))
        .collect();
    env.faults().update(fault);
    let err = be.copy_snapshots(&pairs).unwrap_err();
    let msg = err.error.to_string();
    assert_eq!(err.index, 2, "{msg}");
    assert!(
        msg.contains("does not match its source") && msg.contains(want),
        "{msg}"
    );
    assert!(msg.contains(&prefix(&pairs[2].1)), "{msg}");
    assert!(env.faults().injected() >= 1);
    assert!(
        env.keys(&group_prefix(&pairs[0].1)).is_empty(),
        "copies of the batch removed"
    );
    for s in &snaps {
        assert_eq!(env.keys(&prefix(s)).len(), 2, "source intact");
    }
}

#[test]
fn copy_missing_from_the_target_listing_is_refused_and_the_batch_removed() {
    refused_copy(
        |f| f.lose_copy = vec!["ns/v/vm/400/2025-07-14T14:00:02Z/root".into()],
        "not in the target listing",
    );
}

#[test]
fn copy_listed_with_the_wrong_size_is_refused_and_the_batch_removed() {
    refused_copy(
        |f| f.truncate_copy = vec!["ns/v/vm/400/2025-07-14T14:00:02Z/index".into()],
        "listed with size 39 instead of 40",
    );
}

#[test]
fn copy_answered_with_a_wrong_etag_is_refused_and_the_batch_removed() {
    refused_copy(
        |f| f.wrong_copy_etag = vec!["ns/v/vm/400/2025-07-14T14:00:02Z/index".into()],
        "answered with ETag",
    );
}

#[test]
fn batch_with_a_foreign_object_in_a_target_snapshot_is_refused() {
    let env = S3Env::start();
    let be = env.backend();
    let snaps = seed_group(&env, "", "vm/500", 3);
    let pairs: Vec<_> = snaps
        .iter()
        .map(|s| (s.clone(), moved_to(s, "w")))
        .collect();
    let foreign = format!("{}unrelated.blob", prefix(&pairs[1].1));
    env.put(&foreign, b"keep me");
    let lists = env.faults().lists();
    let err = be.copy_snapshots(&pairs).unwrap_err();
    assert_eq!(
        env.faults().lists() - lists,
        2,
        "one group listing per side"
    );
    assert_eq!(err.index, 1);
    assert!(err.error.to_string().contains("refusing"), "{}", err.error);
    assert_eq!(env.get(&foreign), b"keep me");
    assert_eq!(env.keys(&group_prefix(&pairs[0].1)), vec![foreign]);
}

#[test]
fn copy_window_halves_when_the_server_throttles_and_the_copy_still_completes() {
    let env = S3Env::start();
    let be = env.backend();
    let start = be.copy_window().limit();
    let snaps = seed_group(&env, "", "vm/700", 20);
    let pairs: Vec<_> = snaps
        .iter()
        .map(|s| (s.clone(), moved_to(s, "slow")))
        .collect();
    be.copy_snapshots(&pairs[..10]).unwrap();
    assert_eq!(be.copy_window().backoffs(), 0, "no throttling, no back-off");
    env.faults().update(|f| f.burst_503 = 2);
    be.copy_snapshots(&pairs[10..]).unwrap();
    assert!(env.faults().injected() >= 2);
    let w = be.copy_window();
    assert!(w.backoffs() >= 1, "{w:?}");
    // Halved at the throttling (it may grow again once the server answers normally).
    assert!(w.lowest() <= start / 2, "{w:?}");
    for (s, d) in &pairs {
        assert_copied(&env, s, d);
    }
}

#[test]
fn deletes_are_split_over_several_delete_objects_requests() {
    let env = S3Env::start();
    let be = env.backend();
    let src = snap("", "vm/800", T1);
    let dst = snap("split", "vm/800", T1);
    let files: Vec<(String, usize)> = (0..120).map(|i| (format!("f{i:03}.blob"), 3)).collect();
    let files: Vec<(&str, usize)> = files.iter().map(|(n, l)| (n.as_str(), *l)).collect();
    seed_snapshot(&env, &src, &files);
    let prepared = be.copy_snapshot(&src, &dst).unwrap();
    let before = env.faults().requests();
    assert!(be.delete_source(&prepared).is_empty());
    // 120 keys: 50 + 50 + 20, all in flight at once.
    assert_eq!(env.faults().requests() - before, 3);
    assert!(env.keys(&prefix(&src)).is_empty());
    assert_eq!(env.keys(&prefix(&dst)).len(), 120);
}
