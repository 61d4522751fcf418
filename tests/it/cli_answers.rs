//! Every outcome gets a clear answer: with `--json` even a usage error (exit 2) is one JSON
//! object on stdout; relative `--lock-dir` / `--state-dir` / `--path` are taken from the
//! current directory.

use std::process::{Command, Stdio};

use crate::support::{BIN, MOVE_VM100_TO_PROD, Store, exit_code, json, require_root, stderr};

#[test]
fn a_usage_error_with_json_prints_one_json_object() {
    let s = Store::demo(3);
    let before = s.snapshot();
    let out = s
        .cmd()
        .args(["move-group", "--ns", "", "--json", "--bogus"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let v = json(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["op"], "move-group");
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["moved"], serde_json::json!([]));
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("--bogus"), "{error}");
    assert!(!error.starts_with("error:"), "{error}");
    // The human message is still clap's, on stderr.
    assert!(
        stderr(&out).contains("unexpected argument"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.snapshot(), before);
}

#[test]
fn a_missing_argument_with_json_names_it_in_the_json_error() {
    let s = Store::demo(3);
    let out = s
        .cmd()
        .args(["move-ns", "--dry-run", "--json", "--ns", "prod"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["op"], "move-ns");
    assert_eq!(v["dry_run"], true);
    assert!(v["error"].as_str().unwrap().contains("--target-ns"), "{v}");
}

#[test]
fn a_usage_error_without_json_prints_nothing_on_stdout() {
    let s = Store::demo(3);
    let out = s
        .cmd()
        .args(["ls", "--bogus"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 2);
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A JSON flag of no subcommand at all: `op` is null, still one object.
    let out = s
        .cmd()
        .args(["--json", "--bogus"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 2);
    assert_eq!(json(&out)["op"], serde_json::Value::Null);
}

#[test]
#[ignore = "needs root"]
fn relative_lock_state_and_datastore_paths_are_taken_from_the_current_dir() {
    require_root();
    let s = Store::demo(3);
    let cwd = s.tmp.path();
    let rel_base = s.base.strip_prefix(cwd).unwrap();
    let out = Command::new(BIN)
        .current_dir(cwd)
        .env_remove("PBS_MOVER_LOCK_DIR")
        .env_remove("PBS_MOVER_STATE_DIR")
        .env_remove("PBS_MOVER_CONFIG_DIR")
        .env_remove("PBS_MOVER_PBS_VERSION")
        .env_remove("PBS_MOVER_DPKG_STATUS")
        .arg("--path")
        .arg(rel_base)
        .args(["--lock-dir", "rel/locks", "--state-dir", "rel/state"])
        .args(["--config-dir", "etc"])
        .args(MOVE_VM100_TO_PROD)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["ok"], true);
    let locks = cwd.join("rel/locks");
    let state = cwd.join("rel/state");
    assert!(
        std::fs::read_dir(&locks).unwrap().next().is_some(),
        "no lock files in {locks:?}"
    );
    assert!(
        std::fs::read_dir(&state).unwrap().next().is_some(),
        "no journal in {state:?}"
    );
    // The history in the relative state dir has the move.
    let hist = Command::new(BIN)
        .current_dir(cwd)
        .arg("--path")
        .arg(rel_base)
        .args([
            "--lock-dir",
            "rel/locks",
            "--state-dir",
            "rel/state",
            "--config-dir",
            "etc",
        ])
        .args(["history", "--json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(exit_code(&hist), 0, "{}", stderr(&hist));
    assert!(String::from_utf8_lossy(&hist.stdout).contains("move-group"));
}

/// Without `--json`, every subcommand's result is on stdout and only diagnostics (progress,
/// warnings, errors) on stderr.
#[test]
#[ignore = "needs root"]
fn human_results_go_to_stdout_and_diagnostics_to_stderr() {
    require_root();
    let s = Store::demo(5);
    let streams = |args: &[&str]| {
        let out = s.run(args);
        let o = String::from_utf8_lossy(&out.stdout).into_owned();
        (exit_code(&out), o, stderr(&out))
    };
    let mv = ["move-group", "--group", "vm/100", "--target-ns", "prod"];
    let (code, out, err) = streams(&[&mv[..], &["--dry-run"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("dry run: nothing will be changed"), "{out}");
    assert!(err.is_empty(), "{err}");
    let (code, out, err) = streams(&mv);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("moved 1 group(s)") && out.contains("total: "),
        "{out}"
    );
    assert!(
        err.contains("moving group 'vm/100'"),
        "progress on stderr: {err}"
    );
    assert!(
        !err.contains("moved 1 group(s)") && !err.contains("total: "),
        "{err}"
    );
    for (args, needle) in [
        (&["resume"][..], "nothing to resume"),
        (&["resume", "--dry-run"][..], "nothing to resume"),
        (&["history"][..], "move-group"),
        (&["ls"][..], "prod"),
        (&["verify"][..], "no findings"),
        (&["undo", "--last"][..], "moved 1 group(s)"),
    ] {
        let (code, out, err) = streams(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains(needle), "{args:?}: {out}");
        assert!(!err.contains(needle), "{args:?}: result on stderr: {err}");
    }
    let (code, out, err) = streams(&["move-group", "--group", "vm/999", "--target-ns", "prod"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("error: "), "{err}");
}
