//! No test may touch the machine's own pbs-mover or PBS state: every subcommand the suites
//! run (demo, the TUI, ls, move-group, move-ns, history, undo, resume, verify) goes to the
//! store's temp lock, state and config dirs. `.ci/run` checks the same paths before and after
//! the whole suite as a second guard.

use std::time::Duration;

use crate::support::pty::Session;
use crate::support::{Store, TreeSnapshot, exit_code, stderr};

/// Where a stray command would write: the default state dir, PBS's lock dir, our run dir.
pub const HOST_PATHS: &[&str] = &[
    "/var/lib/pbs-mover",
    "/run/proxmox-backup",
    "/run/pbs-mover",
];

fn host_state() -> Vec<(&'static str, bool, TreeSnapshot)> {
    HOST_PATHS
        .iter()
        .map(|p| {
            let path = std::path::Path::new(p);
            (*p, path.exists(), TreeSnapshot::of(path))
        })
        .collect()
}

#[test]
fn every_subcommand_stays_in_its_temp_dirs() {
    let before = host_state();
    let s = Store::demo(10);
    let ok: &[&[&str]] = &[
        &["ls", "--recursive", "--json"],
        &[
            "move-group",
            "--group",
            "vm/100",
            "--target-ns",
            "prod",
            "--dry-run",
        ],
        &["move-group", "--group", "vm/100", "--target-ns", "prod"],
        &["move-ns", "--ns", "prod", "--target-ns", "archive/prod"],
        &["history"],
        &["undo", "--last"],
        &["resume"],
    ];
    for args in ok {
        let out = s.run(args);
        assert_eq!(exit_code(&out), 0, "{args:?}: {}", stderr(&out));
    }
    // Whatever they answer on a filesystem store, they must not write elsewhere either.
    for args in [&["verify"][..], &["undo", "--last", "--dry-run"]] {
        s.run(args);
    }
    let demo = s.tmp.path().join("demo");
    let out = s
        .cmd()
        .args(["demo", "--no-tui", "--groups", "3", "--dir"])
        .arg(&demo)
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 0, "demo: {}", stderr(&out));
    assert!(demo.join(".chunks").is_dir(), "demo created its datastore");
    let mut tui = Session::start(&s, 80, 24, &[] as &[(&str, &str)]);
    tui.wait_text("customers");
    tui.send("q");
    assert!(tui.wait_exit(Duration::from_secs(10)).success());
    // The journals went somewhere: the store's temp state dir.
    assert!(
        std::fs::read_dir(s.state_dir()).unwrap().next().is_some(),
        "no journal in {}",
        s.state_dir().display()
    );
    assert_eq!(
        host_state(),
        before,
        "the suite wrote to the machine's own state"
    );
}
