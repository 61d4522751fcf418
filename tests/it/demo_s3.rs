//! `demo --s3 --no-tui`: the demo datastore served from the embedded S3 server; a second
//! process browses, verifies and moves through it; Ctrl-C stops the server.

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::{BIN, exit_code, json, stderr};

#[test]
fn demo_s3_serves_a_bucket_other_processes_can_use() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let mut child = Command::new(BIN)
        .args(["demo", "--s3", "--no-tui", "--groups", "12", "--dir"])
        .arg(&dir)
        .env("PBS_MOVER_LOCK_DIR", tmp.path().join("locks"))
        .env("PBS_MOVER_STATE_DIR", tmp.path().join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let serving = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.starts_with("S3: serving"))
        .expect("serving line");
    let url = serving
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    std::thread::spawn(move || for _ in lines {});

    // Credentials are in a 0600 file, never on the terminal.
    let creds_path = dir.with_extension("s3-credentials.env");
    let creds = std::fs::read_to_string(&creds_path).unwrap();
    let secret = creds
        .lines()
        .find_map(|l| l.strip_prefix("export AWS_SECRET_ACCESS_KEY="))
        .unwrap();
    assert!(!serving.contains(secret));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&creds_path).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let key = creds
        .lines()
        .find_map(|l| l.strip_prefix("export AWS_ACCESS_KEY_ID="))
        .unwrap();

    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("--path")
            .arg(&dir)
            .args(["--lock-dir", tmp.path().join("locks").to_str().unwrap()])
            .env("PBS_MOVER_STATE_DIR", tmp.path().join("state"))
            .args([
                "--s3-endpoint",
                &url,
                "--s3-bucket",
                "pbs-demo",
                "--s3-path-style",
            ])
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["verify", "--json"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(json(&out)["bucket_objects"].as_u64().unwrap() > 50);
    let out = run(support::MOVE_VM100_TO_PROD);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let out = run(&["verify", "--json"]);
    assert_eq!(
        exit_code(&out),
        0,
        "drift after the move: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The moved group's manifests are read from the local cache, as PBS lists them.
    let out = run(&["ls", "--ns", "prod", "--json"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let groups = json(&out)["namespaces"][0]["groups"].clone();
    let vm = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "vm/100")
        .cloned()
        .unwrap();
    assert!(vm["size"].as_u64().unwrap() > 8 << 30, "{vm}");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}
