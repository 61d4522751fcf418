//! A CLI move's progress (live line on a terminal, per-group lines and a total otherwise,
//! `--json` unchanged, `--json-progress` JSON Lines) and Ctrl-C: the first SIGINT cancels
//! between snapshots (exit 5, journal `cancelled`), the second aborts, `resume` finishes.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, fcntl};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::support::pty::{Session, strip_escapes};
use crate::support::{Store, exit_code, json, stderr};

/// `n` distinct snapshot times, in time order.
fn times(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let (month, day, hour) = (1 + i / (28 * 24), 1 + (i / 24) % 28, i % 24);
            format!("2025-{month:02}-{day:02}T{hour:02}:00:00Z")
        })
        .collect()
}

/// Namespace `a` with `groups` groups of `snapshots` snapshots each, and an empty `b`.
fn store_with(groups: usize, snapshots: usize) -> Store {
    let store = Store::empty(&["a", "b"]);
    let times = times(snapshots);
    let refs: Vec<&str> = times.iter().map(String::as_str).collect();
    for g in 0..groups {
        store.add_group("a", &format!("vm/{}", 100 + g), "root@pam", &refs);
    }
    store
}

const MOVE_A: &[&str] = &["move-ns", "--ns", "a", "--target-ns", "b/a"];

/// Snapshot dirs of a group (0 when the group dir is gone).
fn snapshot_count(store: &Store, ns: &str, group: &str) -> usize {
    std::fs::read_dir(store.group_dir(ns, group)).map_or(0, |rd| {
        rd.filter(|e| e.as_ref().unwrap().file_type().unwrap().is_dir())
            .count()
    })
}

#[test]
fn on_a_terminal_one_live_line_shows_totals_rate_and_eta() {
    let store = store_with(2, 1000);
    let mut pty = Session::start_in_shell(
        &store,
        160,
        24,
        &[("PBS_MOVER_NO_GROUP_RENAME", "1")],
        r#"exec "$0" "$@" move-ns --ns a --target-ns b/a"#,
    );
    // White space is dropped by `text()`: the live line with both totals, mid-move.
    pty.wait_text("groups0/2·snapshots");
    let status = pty.wait_exit(Duration::from_secs(120));
    assert!(status.success(), "{}", pty.raw());
    let screen = strip_escapes(&pty.raw());
    let live = regex::Regex::new(
        r"groups [01]/2 · snapshots (\d+)/2000 · \d+ snapshots/s · ETA \d+[smhd] · vm/10[01] 'a' → 'b/a'",
    )
    .unwrap();
    let mid_move = live
        .captures_iter(&screen)
        .any(|c| (1..2000).contains(&c[1].parse::<usize>().unwrap()));
    assert!(mid_move, "no live line during the move:\n{screen}");
    // The live line replaces the per-group lines; the summary and the total stay.
    assert!(!screen.contains("moving group"), "{screen}");
    assert!(
        screen.contains("moved 2 group(s), 2000 snapshot(s)"),
        "{screen}"
    );
    assert!(
        screen.contains("total: 2000 of 2000 snapshot(s) and 2 of 2 group(s) moved"),
        "{screen}"
    );
}

#[test]
fn without_a_terminal_per_group_lines_and_a_final_total() {
    let store = store_with(3, 4);
    let out = store.run(MOVE_A);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    // Progress on stderr; the result (summary, then the total) on stdout.
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    for g in ["vm/100", "vm/101", "vm/102"] {
        let line = format!("moving group '{g}' from 'a' to 'b/a' (4 snapshots)");
        assert!(lines.contains(&line.as_str()), "{err}");
    }
    assert!(
        !err.contains("moved 3 group(s)") && !err.contains("total: "),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let results: Vec<&str> = stdout.lines().collect();
    assert_eq!(results.len(), 2, "{stdout}");
    assert_eq!(results[0], "moved 3 group(s), 12 snapshot(s)", "{stdout}");
    assert!(
        results[1].starts_with("total: 12 of 12 snapshot(s) and 3 of 3 group(s) moved in "),
        "{stdout}"
    );
    assert!(
        !err.contains("moved snapshot"),
        "only -v lists snapshots: {err}"
    );
}

#[test]
fn quiet_is_the_plain_output_and_verbose_adds_every_step() {
    let store = store_with(2, 3);
    let quiet = store.run(&[&["-q"], MOVE_A].concat());
    assert_eq!(exit_code(&quiet), 0, "{}", stderr(&quiet));
    assert!(stderr(&quiet).contains("moving group 'vm/100'"));
    let last_out = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_string()
    };
    assert!(last_out(&quiet).starts_with("total: 6 of 6"));

    let back = ["move-ns", "--ns", "b/a", "--target-ns", "a", "-v"];
    let verbose = store.run(&back);
    let err = stderr(&verbose);
    assert_eq!(exit_code(&verbose), 0, "{err}");
    assert!(err.contains("planned: 2 group(s), 6 snapshot(s)"), "{err}");
    assert_eq!(err.matches("  moved snapshot 'vm/").count(), 6, "{err}");
    assert!(
        err.contains("moved group 'vm/101' from 'b/a' to 'a' (3 snapshots)"),
        "{err}"
    );
    assert!(last_out(&verbose).starts_with("total: 6 of 6"));

    let both = store.run(&["-v", "-q", "ls"]);
    assert_eq!(exit_code(&both), 2, "-v and -q exclude each other");
}

#[test]
fn json_output_is_one_unchanged_object_and_no_progress() {
    let store = store_with(1, 2);
    let out = store.run(&[
        "move-group",
        "--ns",
        "a",
        "--group",
        "vm/100",
        "--target-ns",
        "b",
        "--json",
    ]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    json(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        concat!(
            r#"{"ok":true,"op":"move-group","dry_run":false,"#,
            r#""moved":[{"ns":"a","group":"vm/100","target_ns":"b","snapshots":2}],"#,
            r#""failed":[],"error":null,"namespaces_created":[],"namespaces_removed":[],"#,
            r#""namespaces_kept":[],"orphans":[],"warnings":[]}"#,
            "\n"
        )
    );
}

/// Every stdout line as JSON: the events, then the `--json` result object.
fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn json_progress_streams_events_and_ends_with_the_result() {
    let store = store_with(2, 5);
    let out = store.run(&[&["--json-progress"], MOVE_A].concat());
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "no human lines: {}", stderr(&out));
    let lines = json_lines(&out.stdout);
    let (result, events) = lines.split_last().unwrap();
    assert_eq!(result["op"], "move-ns", "{result}");
    assert_eq!(result["ok"], true, "{result}");
    assert!(result.get("event").is_none(), "{result}");
    assert!(events.iter().all(|e| e["event"].is_string()));
    assert_eq!(events[0]["event"], "planned");
    assert_eq!(events[0]["snapshots"], 10);
    let last = events.last().unwrap();
    assert_eq!(last["event"], "finished", "{last}");
    assert_eq!(last["report"]["moved"].as_array().unwrap().len(), 2);
    let moved = events.iter().filter(|e| e["event"] == "snapshot_moved");
    assert_eq!(moved.count(), 10);
    let started = events
        .iter()
        .find(|e| e["event"] == "group_started")
        .unwrap();
    assert_eq!(started["ns"], "a");
    assert_eq!(started["target_ns"], "b/a");
    assert!(
        events
            .iter()
            .all(|e| !e["event"].as_str().unwrap().starts_with("objects_")),
        "a filesystem move copies no objects"
    );
}

/// A 3,000-snapshot move with `--json-progress`, its stderr collected as it comes.
struct RunningMove {
    child: Child,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<String>>,
    /// Every stdout line read so far.
    lines: Vec<Value>,
}

impl RunningMove {
    fn start(store: &Store) -> Self {
        let mut child = store
            .cmd()
            .env("PBS_MOVER_NO_GROUP_RENAME", "1")
            .arg("--json-progress")
            .args(MOVE_A)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = child.stdout.take().unwrap();
        // A small pipe fills within a few dozen events (see `wait_blocked`).
        fcntl(&pipe, FcntlArg::F_SETPIPE_SZ(4096)).unwrap();
        let stdout = BufReader::new(pipe);
        let mut pipe = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            child,
            stdout,
            stderr,
            lines: Vec::new(),
        }
    }

    /// Reads events until `n` snapshots moved, then stops reading and waits until the move
    /// is stuck in its next write to the full pipe, in the middle of the first group: the
    /// signals that follow land mid-move however fast or slow the machine is.
    fn wait_moved(&mut self, n: usize) {
        self.read_until_moved(n);
        self.wait_blocked();
    }

    fn read_until_moved(&mut self, n: usize) {
        let mut line = String::new();
        while !self
            .lines
            .iter()
            .any(|e| e["done"].as_u64() >= Some(n as u64))
        {
            line.clear();
            assert!(self.stdout.read_line(&mut line).unwrap() > 0, "ended early");
            self.lines.push(serde_json::from_str(&line).unwrap());
        }
    }

    /// A pipe write of one line (far below PIPE_BUF) waits until all of it fits: with less
    /// room left than the shortest `snapshot_moved` line (107 bytes here), the move cannot
    /// move on past its next snapshot.
    fn wait_blocked(&self) {
        let pipe = self.stdout.get_ref();
        let size = fcntl(pipe, FcntlArg::F_GETPIPE_SZ).unwrap() as u64;
        let end = Instant::now() + Duration::from_secs(120);
        while rustix::io::ioctl_fionread(pipe).unwrap() + 100 < size {
            assert!(
                Instant::now() < end,
                "the move never filled its stdout pipe"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    fn wait_stderr(&self, needle: &str) {
        let end = Instant::now() + Duration::from_secs(30);
        while !self.stderr.lock().unwrap().contains(needle) {
            assert!(Instant::now() < end, "no '{needle}' on stderr");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Reads stdout to its end; the exit code and all of stderr.
    fn finish(mut self) -> (i32, Vec<Value>, String) {
        let mut rest = Vec::new();
        self.stdout.read_to_end(&mut rest).unwrap();
        self.lines.extend(json_lines(&rest));
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        // The stderr reader ends with the process; give it a moment to store the last bytes.
        std::thread::sleep(Duration::from_millis(100));
        let err = self.stderr.lock().unwrap().clone();
        (code, self.lines, err)
    }
}

const CANCELLING: &str =
    "cancelling after the current snapshot — press Ctrl-C again to abort at once";

#[test]
fn first_sigint_cancels_after_the_current_snapshot_with_exit_5() {
    let store = store_with(3, 1000);
    let tree_before = store.snapshot();
    let before = tree_before.snapshot_files();
    let mut mv = RunningMove::start(&store);
    mv.wait_moved(50);
    mv.signal(Signal::SIGINT);
    mv.wait_stderr(CANCELLING);
    let (code, lines, err) = mv.finish();
    assert_eq!(code, 5, "{err}");
    assert_eq!(err.matches(CANCELLING).count(), 1, "{err}");
    let result = lines.last().unwrap();
    assert_eq!(result["ok"], false, "{result}");
    let failed = result["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 3, "{result}");
    assert!(
        failed.iter().all(|f| f["reason"] == "cancelled"),
        "{result}"
    );
    assert_eq!(lines[lines.len() - 2]["event"], "finished");

    // Every snapshot in exactly one place (snapshot_files asserts it), split by time.
    assert_eq!(store.snapshot().snapshot_files(), before);
    let moved = snapshot_count(&store, "b/a", "vm/100");
    let reported: u64 = failed
        .iter()
        .map(|f| f["snapshots_moved"].as_u64().unwrap())
        .sum();
    assert!((50..1000).contains(&moved), "moved {moved}");
    assert_eq!(moved as u64, reported);
    assert_eq!(snapshot_count(&store, "a", "vm/100"), 1000 - moved);
    assert_eq!(snapshot_count(&store, "a", "vm/101"), 1000);
    assert_eq!(snapshot_count(&store, "a", "vm/102"), 1000);

    let history = json(&store.run(&["history", "--json"]));
    assert_eq!(history["moves"][0]["status"], "cancelled", "{history}");
    // Counted as the report counts: no group moved whole, one partly, `moved` snapshots.
    assert_eq!(history["moves"][0]["groups"], 0, "{history}");
    assert_eq!(history["moves"][0]["groups_partial"], 1, "{history}");
    assert_eq!(
        history["moves"][0]["snapshots_renamed"], reported,
        "{history}"
    );

    // `undo` moves back exactly what moved: the tree is as before the move.
    let id = history["moves"][0]["id"].as_str().unwrap();
    let undo = json(&store.run(&["undo", id, "--json"]));
    assert_eq!(undo["ok"], true, "{undo}");
    assert_eq!(
        undo["moved"][0]["snapshots"].as_u64().unwrap(),
        moved as u64,
        "{undo}"
    );
    assert_eq!(store.snapshot(), tree_before);
}

#[test]
fn second_sigint_aborts_at_once_and_resume_finishes_the_move() {
    let store = store_with(3, 1000);
    let before = store.snapshot().snapshot_files();
    let mut mv = RunningMove::start(&store);
    mv.wait_moved(50);
    mv.signal(Signal::SIGINT);
    mv.wait_stderr(CANCELLING);
    // The move still waits on its full stdout pipe: this one reaches it mid-move.
    mv.signal(Signal::SIGINT);
    let (code, lines, err) = mv.finish();
    assert_eq!(code, 130, "{err}");
    assert!(err.contains("aborting at once"), "{err}");
    assert!(
        lines.iter().all(|l| l["event"] != "finished"),
        "aborted, not finished"
    );
    let history = json(&store.run(&["history", "--json"]));
    assert_eq!(history["moves"][0]["status"], "unfinished", "{history}");

    let resumed = store.run(&["resume", "--json"]);
    let j = json(&resumed);
    assert_eq!(exit_code(&resumed), 0, "{j} {}", stderr(&resumed));
    assert_eq!(j["operations"][0]["status"], "completed", "{j}");
    assert_eq!(store.snapshot().snapshot_files(), before);
    for g in ["vm/100", "vm/101", "vm/102"] {
        assert_eq!(snapshot_count(&store, "b/a", g), 1000, "{g}: {j}");
    }
    assert!(!store.ns_dir("a").exists(), "{j}");
}

#[test]
fn sigterm_cancels_like_ctrl_c() {
    let store = store_with(1, 1000);
    let mut mv = RunningMove::start(&store);
    mv.wait_moved(20);
    mv.signal(Signal::SIGTERM);
    mv.wait_stderr(CANCELLING);
    let (code, lines, err) = mv.finish();
    assert_eq!(code, 5, "{err}");
    let result = lines.last().unwrap();
    assert_eq!(result["failed"][0]["reason"], "cancelled", "{result}");
    let moved = snapshot_count(&store, "b/a", "vm/100");
    assert_eq!(moved + snapshot_count(&store, "a", "vm/100"), 1000);
    assert_eq!(result["failed"][0]["snapshots_moved"], moved, "{result}");
}

/// A new target group is locked in PBS ≤ 3.3.4's scheme too (a flock on the group dir
/// itself, taken on the hidden dir before it is renamed into place): mid-move, with the PBS
/// version unknown, the target group dir is flocked by the mover.
#[test]
fn a_new_target_group_dir_is_flocked_for_old_pbs_while_it_moves() {
    let store = store_with(1, 1000);
    let mut mv = RunningMove::start(&store);
    mv.wait_moved(20);
    let target = store.group_dir("b/a", "vm/100");
    assert!(target.join("owner").is_file());
    assert!(
        crate::support::flocked(&target),
        "target group dir not flocked"
    );
    let (code, _, err) = mv.finish();
    assert_eq!(code, 0, "{err}");
}

/// S3 moves: objects and bytes, listed batch by batch and counted as they are copied.
#[cfg(feature = "s3-server")]
mod s3 {
    use std::time::Duration;

    use indicatif::HumanBytes;
    use serde_json::Value;

    use super::{MOVE_A, json_lines, store_with};
    use crate::support::pty::{Session, strip_escapes};
    use crate::support::s3::{ACCESS_KEY, BUCKET, S3Store, SECRET_KEY};
    use crate::support::{exit_code, json, require_root, stderr};

    /// What the dry run says the move copies: (objects, bytes) per group, in plan order.
    fn planned_copies(s: &S3Store) -> Vec<(String, u64, u64)> {
        let out = s.run(&[MOVE_A, &["--dry-run", "--json"]].concat());
        assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
        let plan = json(&out);
        plan["plan"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["group"].as_str().unwrap().to_string(),
                    g["s3_objects"].as_u64().unwrap(),
                    g["s3_bytes"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    /// What the bucket holds of the groups' snapshots in `a`: one object per cache file, of
    /// its size (the dry run lists every snapshot, one request each: too slow for many).
    fn snapshot_files(s: &S3Store, groups: &[&str]) -> (u64, u64) {
        let mut found = (0, 0);
        for g in groups {
            for snap in std::fs::read_dir(s.store.group_dir("a", g)).unwrap() {
                let snap = snap.unwrap();
                if !snap.file_type().unwrap().is_dir() {
                    continue;
                }
                for f in std::fs::read_dir(snap.path()).unwrap() {
                    found.0 += 1;
                    found.1 += f.unwrap().metadata().unwrap().len();
                }
            }
        }
        found
    }

    fn totals(plan: &[(String, u64, u64)]) -> (u64, u64) {
        plan.iter().fold((0, 0), |(o, b), g| (o + g.1, b + g.2))
    }

    #[test]
    #[ignore = "needs root"]
    fn on_a_terminal_an_s3_move_shows_objects_and_bytes_with_totals() {
        require_root();
        let s = S3Store::upload(store_with(2, 300));
        let (objects, bytes) = snapshot_files(&s, &["vm/100", "vm/101"]);
        assert_eq!(objects, 1200, "two objects per snapshot");
        let script = format!(
            r#"exec "$0" "$@" --s3-endpoint {} --s3-bucket {BUCKET} --s3-path-style move-ns --ns a --target-ns b/a"#,
            s.env.target.url
        );
        let env = [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ];
        let mut pty = Session::start_in_shell(&s.store, 200, 24, &env, &script);
        let status = pty.wait_exit(Duration::from_secs(120));
        assert!(status.success(), "{}", pty.raw());
        let screen = strip_escapes(&pty.raw());
        let live = regex::Regex::new(concat!(
            r"groups [01]/2 · snapshots (\d+)/600 · objects (\d+)/(\d+) · ",
            r"([\d.]+ [KMG]?i?B)/([\d.]+ [KMG]?i?B) · [\d.]+ [KMG]?i?B/s · ETA \d+[smhd] · ",
            r"vm/10[01] 'a' → 'b/a'"
        ))
        .unwrap();
        let lines: Vec<_> = live.captures_iter(&screen).collect();
        assert!(!lines.is_empty(), "no S3 live line:\n{screen}");
        let n = |c: &regex::Captures, i: usize| c[i].parse::<u64>().unwrap();
        for c in &lines {
            assert!(n(c, 2) <= n(c, 3), "more copied than listed: {}", &c[0]);
            // A group's objects are listed before its snapshots move: totals run ahead.
            assert!(n(c, 3) >= 2 * n(c, 1), "{}", &c[0]);
            assert!(n(c, 3) <= objects, "{}", &c[0]);
        }
        let mid_move = lines.iter().any(|c| n(c, 2) > 0 && n(c, 2) < objects);
        assert!(mid_move, "no live line while copying:\n{screen}");
        // Totals of the first group alone, then of both.
        let half = format!("/{} · ", objects / 2);
        assert!(lines.iter().any(|c| c[0].contains(&half)), "{screen}");
        let total = format!(
            "total: 600 of 600 snapshot(s) and 2 of 2 group(s) moved, {objects} of {objects} object(s) ({} of {}) copied in ",
            HumanBytes(bytes),
            HumanBytes(bytes)
        );
        assert!(screen.contains(&total), "{total}\n{screen}");
    }

    fn sum(events: &[Value], kind: &str, group: Option<&str>, key: &str) -> u64 {
        events
            .iter()
            .filter(|e| e["event"] == kind && group.is_none_or(|g| e["group"] == g))
            .map(|e| e[key].as_u64().unwrap())
            .sum()
    }

    #[test]
    #[ignore = "needs root"]
    fn json_progress_objects_and_bytes_add_up_to_the_moves_totals() {
        require_root();
        let s = S3Store::upload(store_with(3, 7));
        let plan = planned_copies(&s);
        assert_eq!(
            totals(&plan),
            snapshot_files(&s, &["vm/100", "vm/101", "vm/102"])
        );
        let out = s.run(&[&["--json-progress"], MOVE_A].concat());
        assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
        let lines = json_lines(&out.stdout);
        let (result, events) = lines.split_last().unwrap();
        assert_eq!(result["ok"], true, "{result}");
        for (group, objects, bytes) in &plan {
            let g = Some(group.as_str());
            assert_eq!(
                sum(events, "objects_planned", g, "objects"),
                *objects,
                "{group}"
            );
            assert_eq!(
                sum(events, "objects_planned", g, "bytes"),
                *bytes,
                "{group}"
            );
            assert_eq!(sum(events, "objects_planned", g, "snapshots"), 7, "{group}");
            assert_eq!(
                sum(events, "objects_copied", g, "objects"),
                *objects,
                "{group}"
            );
            assert_eq!(sum(events, "objects_copied", g, "bytes"), *bytes, "{group}");
        }
        let (objects, bytes) = totals(&plan);
        assert_eq!(objects, 42, "{plan:?}");
        assert_eq!(sum(events, "objects_copied", None, "objects"), objects);
        assert_eq!(sum(events, "objects_copied", None, "bytes"), bytes);
        // One event per snapshot copied, each after its group's listing and before the
        // snapshot moves.
        let copied: Vec<usize> = (0..events.len())
            .filter(|&i| events[i]["event"] == "objects_copied")
            .collect();
        assert_eq!(copied.len(), 21);
        for &i in &copied {
            let e = &events[i];
            assert_eq!(e["ns"], "a", "{e}");
            assert_eq!(e["objects"], 2, "{e}");
            let listed = events[..i]
                .iter()
                .any(|p| p["event"] == "objects_planned" && p["group"] == e["group"]);
            assert!(listed, "{e}");
        }
        let first_copy = copied[0];
        let first_move = events
            .iter()
            .position(|e| e["event"] == "snapshot_moved")
            .unwrap();
        assert!(first_copy < first_move);
    }

    #[test]
    #[ignore = "needs root"]
    fn a_failed_copy_never_counts_the_snapshot_that_failed() {
        require_root();
        let s = S3Store::upload(store_with(2, 7));
        let failing = format!("vm/101/{}/", super::times(7)[3]);
        s.env.faults().update(|f| f.fail_copy = vec![failing]);
        let out = s.run(&[&["--json-progress"], MOVE_A].concat());
        assert_ne!(exit_code(&out), 0, "{}", stderr(&out));
        let lines = json_lines(&out.stdout);
        let failed = lines
            .iter()
            .position(|e| e["event"] == "group_failed")
            .unwrap();
        assert_eq!(lines[failed]["group"], "vm/101", "{}", lines[failed]);
        let events = &lines[..lines.len() - 1];
        let g = Some("vm/101");
        assert_eq!(sum(events, "objects_planned", g, "objects"), 14);
        // At most the six other snapshots of the batch, whose copies are removed again.
        assert!(sum(events, "objects_copied", g, "objects") <= 12);
        assert_eq!(sum(events, "objects_copied", Some("vm/100"), "objects"), 14);
        assert!(
            lines[failed..]
                .iter()
                .all(|e| e["event"] != "objects_copied"),
            "nothing copied after the failure"
        );
    }

    #[test]
    #[ignore = "needs root"]
    fn without_a_terminal_the_total_counts_objects_and_bytes() {
        require_root();
        let s = S3Store::upload(store_with(2, 4));
        let plan = planned_copies(&s);
        let (objects, bytes) = totals(&plan);
        assert_eq!(objects, 16);
        let first = plan.iter().find(|g| g.0 == "vm/100").unwrap();
        let out = s.run(&[&["-v"], MOVE_A].concat());
        let err = stderr(&out);
        assert_eq!(exit_code(&out), 0, "{err}");
        let listed = format!(
            "  listed group 'vm/100' in 'a': 8 object(s), {} to copy for 4 snapshot(s)",
            HumanBytes(first.2)
        );
        assert!(err.lines().any(|l| l == listed), "{listed}\n{err}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().last().unwrap_or_default();
        let total = format!(
            "total: 8 of 8 snapshot(s) and 2 of 2 group(s) moved, 16 of 16 object(s) ({} of {}) copied in ",
            HumanBytes(bytes),
            HumanBytes(bytes)
        );
        assert!(last.starts_with(&total), "{total}\n{stdout}");
        assert!(last.ends_with("/s)"), "{last}");
    }
}
