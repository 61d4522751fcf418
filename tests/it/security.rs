//! Security requirements of issue 8 item 6, through the real binary:
//! - the secret key never appears in any output: `--help` of every command, every S3 error
//!   path (bad credentials, unreachable endpoint, missing bucket, TLS mismatch, s3.cfg
//!   mistakes) and the `Debug` output of the types that carry it;
//! - nothing root-owned is created inside the datastore or the lock dir: after a move, a
//!   dry run, a failed move and a refused move, every new entry is backup:backup;
//! - insecure datastore/lock dirs are refused with exit 1 and nothing changes (more cases in
//!   `bad_input_matrix.rs`); symlinked snapshot dirs are refused before anything moves.

use crate::support;
use crate::support::s3;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use pbs_mover::tree::s3::{S3Backend, Secret, upload_tree};
use pbs_mover::tree::{BackendConfig, Datastore};
use s3::{ACCESS_KEY, BUCKET, S3Env, SECRET_KEY, STORE, fast_options, self_signed};
use support::api::MoveContext;
use support::{BIN, Store, TreeSnapshot, exit_code, stderr};

/// Distinctive, with characters that tend to break quoting.
const SECRET: &str = "zZ-Tr0ub4dor&3 \"q'#%,=;SECRET";

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_no_secret(out: &Output, secrets: &[&str], what: &str) {
    let text = all_output(out);
    for s in secrets {
        assert!(!text.contains(s), "{what}: secret printed: {text}");
    }
    // A fragment of the secret is as bad as all of it.
    assert!(!text.contains("Tr0ub4dor"), "{what}: {text}");
}

#[test]
fn help_and_version_never_show_secrets_from_the_environment() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["move-group", "--help"],
        &["move-ns", "--help"],
        &["ls", "--help"],
        &["demo", "--help"],
        &["help", "move-group"],
        &["move-group"],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_ACCESS_KEY_ID", "ak")
            .env("PBS_MOVER_LOCK_DIR", "/tmp/x")
            .env("PBS_MOVER_STATE_DIR", "/tmp/x/state")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(matches!(exit_code(&out), 0 | 2), "{args:?}");
        assert_no_secret(&out, &[SECRET], &format!("{args:?}"));
    }
}

fn s3_cmd(store: &Store, endpoint: &str, bucket: &str, secret: &str) -> Command {
    let mut c = store.cmd();
    c.args([
        "--s3-endpoint",
        endpoint,
        "--s3-bucket",
        bucket,
        "--s3-path-style",
    ])
    .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    .env("AWS_SECRET_ACCESS_KEY", secret)
    .env("PBS_MOVER_S3_ATTEMPTS", "1")
    .env("PBS_MOVER_S3_BACKOFF_MS", "1")
    .stdin(Stdio::null());
    c
}

#[test]
fn every_s3_error_path_keeps_the_secret() {
    let env = S3Env::start();
    let store = Store::demo(5);
    env.rt
        .block_on(upload_tree(&env.bucket, STORE, &store.base, 8))
        .unwrap();
    let url = env.target.url.clone();
    let https = url.replacen("http://", "https://", 1);
    let mv = ["move-group", "--group", "vm/100", "--target-ns", "prod"];
    let cases: Vec<(&str, String, &str, &str, &str)> = vec![
        ("wrong secret", url.clone(), BUCKET, SECRET, "credentials"),
        (
            "no such bucket",
            url.clone(),
            "nope",
            SECRET_KEY,
            "does not exist",
        ),
        (
            "unreachable",
            "http://127.0.0.1:1".into(),
            BUCKET,
            SECRET,
            "unreachable",
        ),
        ("tls to plain http", https, BUCKET, SECRET, "S3"),
        (
            "bad scheme",
            "ftp://x".into(),
            BUCKET,
            SECRET,
            "must start with http",
        ),
    ];
    let before = store.snapshot();
    for (what, endpoint, bucket, secret, needle) in cases {
        for extra in [&[][..], &["--json"], &["--dry-run"]] {
            let out = s3_cmd(&store, &endpoint, bucket, secret)
                .args(mv)
                .args(extra)
                .output()
                .unwrap();
            assert_eq!(exit_code(&out), 1, "{what}: {}", all_output(&out));
            assert!(
                all_output(&out).contains(needle),
                "{what}: {}",
                all_output(&out)
            );
            assert_no_secret(&out, &[secret, SECRET_KEY], what);
            if extra.is_empty() {
                assert_eq!(stderr(&out).lines().count(), 1, "{what}: {}", stderr(&out));
            }
        }
    }
    assert_eq!(before, store.snapshot());
}

#[test]
fn s3_cfg_errors_and_fingerprint_mismatch_keep_the_secret() {
    let env = S3Env::start_with(Some(self_signed()));
    let store = Store::demo(5);
    let etc = store.tmp.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("datastore.cfg"),
        format!(
            "datastore: store1\n\tpath {}\n\tbackend type=s3,client=ep,bucket={BUCKET}\n",
            store.base.display()
        ),
    )
    .unwrap();
    let port = env.server.addr().port();
    let cfgs = [
        (
            format!("\tendpoint https://127.0.0.1\n\tport {port}\n\tfingerprint 00:11\n"),
            "not a SHA-256 fingerprint",
        ),
        (
            format!(
                "\tendpoint 127.0.0.1\n\tport {port}\n\tfingerprint {}\n",
                "ab:".repeat(31) + "ab"
            ),
            "TLS",
        ),
        (
            "\tendpoint http://127.0.0.1\n\tport 1\n".to_string(),
            "unreachable",
        ),
        (
            "\tendpoint x\n\tport 70000\n".to_string(),
            "not a port number",
        ),
        ("\tendpoint gopher://x\n".to_string(), "unsupported scheme"),
    ];
    for (body, needle) in cfgs {
        std::fs::write(
            etc.join("s3.cfg"),
            format!("s3-endpoint: ep\n{body}\tpath-style true\n\taccess-key {ACCESS_KEY}\n\tsecret-key {SECRET}\n"),
        )
        .unwrap();
        let out = Command::new(BIN)
            .args(["--store", "store1", "--config-dir", etc.to_str().unwrap()])
            .args(["--lock-dir", store.locks.to_str().unwrap()])
            .env("PBS_MOVER_STATE_DIR", store.state_dir())
            .args(["move-group", "--group", "vm/100", "--target-ns", "prod"])
            .env("PBS_MOVER_S3_ATTEMPTS", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(exit_code(&out), 1, "{body}: {}", all_output(&out));
        assert!(stderr(&out).contains(needle), "{body}: {}", stderr(&out));
        assert_no_secret(&out, &[SECRET], &body);
    }
}

#[test]
fn debug_output_of_secret_carriers_is_redacted() {
    let env = S3Env::start();
    let mut target = env.target.clone();
    target.secret_key = Secret::new(SECRET);
    let backend = S3Backend::new(&target, STORE, &fast_options()).unwrap();
    let ds = Datastore {
        name: STORE.into(),
        base: env.dir.path().to_path_buf(),
        backend: BackendConfig::S3 {
            client: "ep".into(),
            bucket: BUCKET.into(),
        },
        maintenance: None,
        config: None,
    };
    let ctx = MoveContext::with_backend(ds, Path::new("/tmp/l"), std::sync::Arc::new(backend));
    let text = format!(
        "{target:?} {target:#?} {ctx:?} {ctx:#?} {}",
        target.secret_key
    );
    assert!(!text.contains("Tr0ub4dor"), "{text}");
    assert!(text.contains("<redacted>"));
}

/// Entries of `tree` not owned by `uid:gid`.
fn foreign_owned(tree: &TreeSnapshot, uid: u32, gid: u32) -> Vec<(String, u32, u32)> {
    tree.0
        .iter()
        .filter(|(_, e)| (e.uid, e.gid) != (uid, gid))
        .map(|(p, e)| (p.clone(), e.uid, e.gid))
        .collect()
}

#[test]
#[ignore = "needs root"]
fn nothing_root_owned_is_created_in_datastore_or_lock_dir() {
    support::require_root();
    let (uid, gid) = support::backup_ids();
    let store = Store::demo(20);
    std::fs::create_dir_all(store.ns_dir("archive")).unwrap();
    // Same group, other owner: merging vm/100 into 'archive' fails under the group locks.
    store.add_group(
        "archive",
        "vm/100",
        "someone-else@pbs",
        &["2001-01-01T00:00:00Z"],
    );
    // As on a real PBS host, the datastore and /run/proxmox-backup are backup:backup, so
    // anything root-owned afterwards was created by us.
    let run = store.locks.parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&run).unwrap();
    for dir in [&store.base, &run] {
        let ok = Command::new("chown")
            .args(["-R", "backup:backup"])
            .arg(dir)
            .status();
        assert!(ok.unwrap().success());
    }
    let mg = |target: &'static str| vec!["move-group", "--group", "vm/100", "--target-ns", target];
    let steps: Vec<(&str, Vec<&str>, i32)> = vec![
        (
            "dry run",
            vec![
                "move-ns",
                "--ns",
                "prod",
                "--target-ns",
                "archive/prod",
                "--dry-run",
            ],
            0,
        ),
        ("refused move", mg("nope"), 1),
        ("failed move (owner mismatch under lock)", mg("archive"), 1),
        ("move-group", mg("prod"), 0),
        (
            "move-ns",
            vec!["move-ns", "--ns", "prod", "--target-ns", "archive/prod"],
            0,
        ),
    ];
    for (what, args, code) in steps {
        let out = store.run(&args);
        assert_eq!(exit_code(&out), code, "{what}: {}", stderr(&out));
        for tree in [store.snapshot(), TreeSnapshot::of(&run)] {
            let foreign = foreign_owned(&tree, uid, gid);
            assert!(foreign.is_empty(), "{what}: not backup:backup: {foreign:?}");
        }
    }
    assert!(
        store.locks.join("store1").is_dir(),
        "the moves did create lock files"
    );
}

#[test]
fn listing_never_reads_through_symlinked_dirs() {
    let store = Store::demo(5);
    let outside = store.tmp.path().join("outside");
    std::fs::create_dir_all(outside.join("vm/666/2020-01-01T00:00:00Z")).unwrap();
    std::fs::create_dir_all(outside.join("leak")).unwrap();
    std::fs::create_dir_all(store.ns_dir("dev")).unwrap();
    // A type dir and a namespace's `ns` dir that lead out of the datastore.
    std::os::unix::fs::symlink(&outside, store.ns_dir("dev").join("vm")).unwrap();
    std::fs::create_dir_all(store.ns_dir("empty")).unwrap();
    std::os::unix::fs::symlink(&outside, store.ns_dir("empty").join("ns")).unwrap();
    let out = store.run(&["ls", "--recursive", "--json"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("666") && !text.contains("leak"), "{text}");
    let out = store.run(&support::move_group_from("dev", "vm/666", "prod"));
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("is a symlink"), "{}", stderr(&out));
    assert!(outside.join("vm/666/2020-01-01T00:00:00Z").is_dir());
}

#[test]
fn refused_insecure_dirs_change_nothing() {
    let store = Store::demo(5);
    let before = store.snapshot();
    std::fs::set_permissions(&store.base, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = store.run(&["move-group", "--group", "vm/100", "--target-ns", "prod"]);
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refusing insecure datastore path"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("chmod go-w"), "{}", stderr(&out));
    assert!(!store.locks.exists(), "not even a lock file");
    std::fs::set_permissions(&store.base, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(before, store.snapshot());
    let out = store.run(&["move-group", "--group", "vm/100", "--target-ns", "prod"]);
    assert_eq!(exit_code(&out), 0, "secure again: {}", stderr(&out));
}
