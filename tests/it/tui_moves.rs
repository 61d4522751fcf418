//! The TUI move workflow: app-state tests that drive real key events through whole moves on
//! generated datastores (the engine runs inline; results are checked on disk), insta render
//! tests of the picker, preview, progress, status pane and quit question at 80×24 with and
//! without NO_COLOR, and a lock held by another process.

use crate::support;

use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use pbs_mover::tree::{GroupId, Namespace, SnapshotTime};
use support::api::{
    FailReason, LockPaths, ObjectStats, PendingMove, ProgressEvent, gc_lock, pending,
};
use support::tui::{
    App, AppEvent, Command, Context, DEFAULT_KEYMAP, JobMsg, JobState, Keymap, Level, Popup, Theme,
    app_on, assert_no_colour, chars, ctrl_c, draw, draw_at, executor, finish_detached, help, press,
    press_only, preview, screen, select_row, status_text,
};
use support::{HeldLock, Store};

const T1: &str = "2024-01-01T00:00:00Z";
const T2: &str = "2024-02-01T00:00:00Z";
const T3: &str = "2024-03-01T00:00:00Z";

/// root: vm/100 (3 snapshots); a: ct/200 (2); a/sub: host/web1 (1); b: empty.
fn store() -> Store {
    let s = Store::empty(&["a", "a/sub", "b"]);
    s.add_group("", "vm/100", "root@pam", &[T1, T2, T3]);
    s.add_group("a", "ct/200", "root@pam", &[T1, T2]);
    s.add_group("a/sub", "host/web1", "backup@pbs", &[T1]);
    s
}

/// Snapshot under `name` and, with NO_COLOR, under `name_no_color` (asserting no colour).
fn snap_both(name: &str, mut build: impl FnMut(bool) -> App) {
    let mut app = build(false);
    insta::assert_snapshot!(name.to_string(), draw(&mut app).backend());
    let mut app = build(true);
    let t = draw(&mut app);
    assert_no_colour(&t);
    insta::assert_snapshot!(format!("{name}_no_color"), t.backend());
}

fn exists(s: &Store, ns: &str, group: &str) -> bool {
    s.group_dir(ns, group).is_dir()
}

// ----- whole moves driven by keys -----

#[test]
fn group_move_by_keys_lands_on_disk_and_refreshes_the_tree() {
    let s = store();
    let before = s.snapshot().snapshot_files();
    let mut app = app_on(&s, false);
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Char('m')]);
    assert!(
        screen(&mut app).contains("* vm/100"),
        "marked without colour"
    );
    press(&mut app, &[KeyCode::Char('p')]);
    assert!(matches!(app.popup, Some(Popup::Picker(_))));
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter]);
    let text = screen(&mut app);
    assert!(text.contains("Will move: 1 group, 3 snapshots"), "{text}");
    // The default button is Cancel: Enter right away changes nothing.
    press(&mut app, &[KeyCode::Enter]);
    assert!(app.popup.is_none());
    assert!(exists(&s, "", "vm/100"));
    // Again, this time confirmed with y.
    press(&mut app, &[KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter, KeyCode::Char('y')]);
    assert!(!exists(&s, "", "vm/100"));
    assert!(exists(&s, "b", "vm/100"));
    assert_eq!(s.snapshot().snapshot_files(), before, "content unchanged");
    let log = status_text(&app);
    assert!(log.contains("moved vm/100: / → b (3 snapshots)"), "{log}");
    assert!(log.contains("move #1 finished: moved 1 group (3 snapshots), 0 failed"));
    // The root listing was refreshed; the cursor went to the nearest surviving row.
    let root = app.model.ns(&Namespace::root()).unwrap();
    assert!(root.groups.is_empty(), "moved group still listed");
    assert!(app.marks.is_empty());
    assert_eq!(app.jobs.list[0].state, JobState::Finished);
    // GC is kept out only while a move runs, not while the TUI is open.
    assert!(!gc_lock::held(&s.base.canonicalize().unwrap()));
}

#[test]
fn namespace_move_with_new_name_and_options() {
    let s = store();
    let mut app = app_on(&s, false);
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Char('m'), KeyCode::Char('p')]);
    chars(&mut app, "b");
    // Tab to the name field, rename a → moved.
    press(&mut app, &[KeyCode::Tab, KeyCode::Backspace]);
    chars(&mut app, "moved");
    assert!(screen(&mut app).contains("target: b/moved"));
    press(&mut app, &[KeyCode::Enter]);
    let text = screen(&mut app);
    assert!(text.contains("Will move: 2 groups, 3 snapshots"), "{text}");
    assert!(text.contains("Namespaces to create:"), "{text}");
    // Tab focuses Move; Enter presses it.
    press(&mut app, &[KeyCode::Tab, KeyCode::Enter]);
    assert!(exists(&s, "b/moved", "ct/200"));
    assert!(exists(&s, "b/moved/sub", "host/web1"));
    assert!(!s.ns_dir("a").exists(), "emptied source removed");
    let log = status_text(&app);
    assert!(log.contains("removed emptied namespace a"), "{log}");
    // The root listing was refreshed: `a` is gone from the tree.
    let root = app.model.ns(&Namespace::root()).unwrap();
    assert_eq!(root.children, [Namespace::parse("b").unwrap()]);
}

#[test]
fn keep_source_and_max_depth_reach_the_engine() {
    let s = store();
    let mut app = app_on(&s, false);
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Char('p')]);
    chars(&mut app, "b");
    // Fields: list → name → merge → keep source (toggle) → max depth (Left: 6 … 0).
    press(&mut app, &[KeyCode::Tab, KeyCode::Tab, KeyCode::Tab]);
    press(&mut app, &[KeyCode::Char(' '), KeyCode::Tab]);
    for _ in 0..7 {
        press(&mut app, &[KeyCode::Left]);
    }
    assert!(screen(&mut app).contains("max depth: 0"));
    press(&mut app, &[KeyCode::Enter, KeyCode::Char('y')]);
    assert!(exists(&s, "b/a", "ct/200"));
    assert!(exists(&s, "a/sub", "host/web1"), "depth 0: the child stays");
    assert!(s.ns_dir("a").is_dir(), "keep source");
}

#[test]
fn space_selects_groups_across_namespaces_for_one_batch() {
    let s = store();
    let mut app = app_on(&s, true);
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Char(' ')]);
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Enter]);
    select_row(&mut app, "ct/200");
    press(&mut app, &[KeyCode::Char(' ')]);
    assert_eq!(app.marks.groups.len(), 2);
    press(&mut app, &[KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter]);
    assert!(screen(&mut app).contains("Will move: 2 groups, 5 snapshots"));
    press(&mut app, &[KeyCode::Char('y')]);
    assert!(exists(&s, "b", "vm/100") && exists(&s, "b", "ct/200"));
    assert!(status_text(&app).contains("moved 2 groups (5 snapshots), 0 failed"));
    // Space on a namespace marks nothing (m does); `u` clears marks.
    select_row(&mut app, " b ");
    press(&mut app, &[KeyCode::Char(' ')]);
    assert!(app.marks.is_empty());
    press(&mut app, &[KeyCode::Char('m')]);
    assert_eq!(app.marks.ns, Some(Namespace::parse("b").unwrap()));
    press(&mut app, &[KeyCode::Char('u')]);
    assert!(app.marks.is_empty());
}

/// The crash-journal files of `s`'s store under `state`, oldest first, as JSON lines.
fn journal_files(state: &std::path::Path) -> Vec<Vec<serde_json::Value>> {
    let paths = support::journals_in(&state.join("store1"));
    paths.iter().map(|p| support::journal_records(p)).collect()
}

#[test]
fn marked_groups_of_one_namespace_move_as_one_journaled_batch() {
    let s = Store::empty(&["a", "b", "c"]);
    s.add_group("a", "vm/101", "root@pam", &[T1]);
    s.add_group("a", "vm/202", "root@pam", &[T1, T2]);
    s.add_group("a", "ct/303", "root@pam", &[T1]);
    s.add_group("c", "host/h1", "root@pam", &[T1]);
    let mut app = app_on(&s, true);
    app.ctx = app.ctx.clone().with_journal_dir(s.state_dir());
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Enter]);
    for g in ["vm/101", "vm/202", "ct/303"] {
        select_row(&mut app, g);
        press(&mut app, &[KeyCode::Char(' ')]);
    }
    select_row(&mut app, " c ");
    press(&mut app, &[KeyCode::Enter]);
    select_row(&mut app, "host/h1");
    press(&mut app, &[KeyCode::Char(' ')]);
    assert_eq!(app.marks.groups.len(), 4);
    press(&mut app, &[KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter]);
    assert!(screen(&mut app).contains("Will move: 4 groups, 5 snapshots"));
    press(&mut app, &[KeyCode::Char('y')]);
    for g in ["vm/101", "vm/202", "ct/303", "host/h1"] {
        assert!(exists(&s, "b", g), "{g} moved");
    }
    // One batch per source namespace, in order: a's three groups are one operation, c's
    // single group the plain move-group.
    let files = journal_files(&s.state_dir());
    assert_eq!(files.len(), 2, "{files:?}");
    let op = &files[0][0]["op"];
    assert_eq!(op["kind"], "move-groups", "{op}");
    assert_eq!(op["ns"], "a");
    assert_eq!(op["groups"].as_array().unwrap().len(), 3, "{op}");
    assert_eq!(files[0].last().unwrap()["status"], "ok");
    assert_eq!(files[1][0]["op"]["kind"], "move-group");
    assert_eq!(files[1][0]["op"]["group"], "host/h1");
    // Per-group lines in the log, and one summary.
    let log = status_text(&app);
    for line in [
        "moved vm/101: a → b (1 snapshot)",
        "moved vm/202: a → b (2 snapshots)",
        "moved ct/303: a → b (1 snapshot)",
        "moved host/h1: c → b (1 snapshot)",
        "moved 4 groups (5 snapshots), 0 failed",
    ] {
        assert!(log.contains(line), "{line}: {log}");
    }
}

#[test]
fn x_cancels_between_groups_and_the_status_says_so() {
    let s = store();
    let mut app = app_on(&s, false);
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Char(' ')]);
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Enter]);
    select_row(&mut app, "ct/200");
    press(&mut app, &[KeyCode::Char(' '), KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter]);
    // Confirm, but keep the move from running until x was pressed.
    press_only(&mut app, &[KeyCode::Char('y')]);
    let cmds = app.take_commands();
    assert!(matches!(cmds[..], [Command::StartMove { .. }]));
    press_only(&mut app, &[KeyCode::Char('x')]);
    assert!(
        matches!(app.popup, Some(Popup::ConfirmCancel(1))),
        "x asks first"
    );
    assert_eq!(app.jobs.list[0].state, JobState::Running);
    press_only(&mut app, &[KeyCode::Char('y')]);
    assert_eq!(app.jobs.list[0].state, JobState::Cancelling);
    for c in cmds {
        for ev in executor::run_inline(&app.ctx.clone(), c) {
            app.handle_event(ev);
        }
    }
    app.run_commands_blocking();
    assert!(exists(&s, "", "vm/100") && exists(&s, "a", "ct/200"));
    let log = status_text(&app);
    assert!(log.contains("move #1 CANCELLED"), "{log}");
    assert!(
        log.contains("2 groups not moved (cancelled): vm/100 (/), ct/200 (a)"),
        "{log}"
    );
    assert!(
        !log.contains("vm/100 (/) not moved"),
        "one line per group: {log}"
    );
}

#[test]
fn lock_held_by_another_process_shows_in_preview_and_status_and_nothing_moves() {
    let s = store();
    let lock = LockPaths::with_lock_dir(&s.locks, "store1")
        .group(&Namespace::root(), &GroupId::parse("vm/100").unwrap());
    let held = HeldLock::flock(&lock, false);
    let before = s.snapshot();
    let mut app = app_on(&s, false);
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Char('m'), KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter]);
    let Some(Popup::Preview(p)) = &app.popup else {
        panic!("no preview")
    };
    let outcome = p.outcome.clone().unwrap();
    assert_eq!(outcome.movable(), 0);
    // The preview text, unwrapped (wide), names the holder.
    let lines = preview::lines(&p.spec, &outcome, 400, &Theme::new(true));
    let preview: Vec<String> = lines.iter().map(ToString::to_string).collect();
    let preview = preview.join("\n");
    assert!(
        preview.contains(&format!("is locked by PID {}", held.pid)),
        "{preview}"
    );
    let text = screen(&mut app);
    assert!(text.contains("Will NOT move: 1 group"), "{text}");
    assert!(text.contains("Nothing can be moved"), "{text}");
    assert!(
        !text.contains("[ Move"),
        "a Move button with nothing movable: {text}"
    );
    // No dead end: y starts nothing, the preview stays open with only Cancel.
    press(&mut app, &[KeyCode::Char('y')]);
    assert!(matches!(app.popup, Some(Popup::Preview(_))));
    assert!(app.jobs.list.is_empty(), "a move was queued");
    assert_eq!(s.snapshot(), before, "something changed on disk");
    drop(held);
}

// ----- quitting -----

/// An app with a confirmed move whose command was taken but not run: "running".
fn app_with_running_move(s: &Store, no_color: bool) -> App {
    let mut app = app_on(s, no_color);
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Char('m'), KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter]);
    press_only(&mut app, &[KeyCode::Char('y')]);
    let cmds = app.take_commands();
    assert!(matches!(cmds[..], [Command::StartMove { .. }]));
    app
}

#[test]
fn q_asks_while_a_move_runs_and_ctrl_c_twice_forces() {
    let s = store();
    let mut app = app_with_running_move(&s, false);
    press_only(&mut app, &[KeyCode::Char('q')]);
    assert!(!app.should_quit());
    assert!(matches!(app.popup, Some(Popup::ConfirmQuit)));
    press_only(&mut app, &[KeyCode::Char('n')]);
    assert!(app.popup.is_none() && !app.should_quit());
    ctrl_c(&mut app);
    assert!(!app.should_quit(), "one Ctrl-C only asks");
    ctrl_c(&mut app);
    assert!(app.should_quit() && app.forced_quit());
    assert!(app.jobs.list[0].cancel.is_cancelled());

    // y waits for the running move to stop, then quits.
    let mut app = app_with_running_move(&s, false);
    press_only(&mut app, &[KeyCode::Char('q'), KeyCode::Char('y')]);
    assert!(!app.should_quit());
    app.handle_event(AppEvent::Job(JobMsg::Done(1)));
    assert!(app.should_quit() && !app.forced_quit());
}

// ----- render snapshots -----

#[test]
fn picker_for_a_group_80x24() {
    let s = store();
    snap_both("picker_group_80x24", |nc| {
        let mut app = app_on(&s, nc);
        select_row(&mut app, "vm/100");
        press(&mut app, &[KeyCode::Char('p')]);
        app
    });
}

#[test]
fn picker_for_a_namespace_hides_its_subtree_80x24() {
    let s = store();
    snap_both("picker_namespace_80x24", |nc| {
        let mut app = app_on(&s, nc);
        select_row(&mut app, " a ");
        press(&mut app, &[KeyCode::Char('p'), KeyCode::Tab]);
        app
    });
    let mut app = app_on(&s, false);
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Char('p')]);
    let Some(Popup::Picker(p)) = &app.popup else {
        panic!()
    };
    let names: Vec<String> = p.candidates().iter().map(|n| n.human()).collect();
    assert_eq!(names, ["/", "b"]);
    let mut app = app_on(&s, false);
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Char('p')]);
    let Some(Popup::Picker(p)) = &app.popup else {
        panic!()
    };
    let names: Vec<String> = p.candidates().iter().map(|n| n.human()).collect();
    assert_eq!(
        names,
        ["a", "a/sub", "b"],
        "sorted, without the group's own"
    );
}

#[test]
fn preview_80x24_scrolls() {
    let s = Store::demo(40);
    snap_both("preview_namespace_80x24", |nc| {
        let mut app = app_on(&s, nc);
        select_row(&mut app, "prod");
        press(&mut app, &[KeyCode::Char('p')]);
        chars(&mut app, "archive");
        press(&mut app, &[KeyCode::Enter]);
        app
    });
    let mut app = app_on(&s, false);
    select_row(&mut app, "prod");
    press(&mut app, &[KeyCode::Char('p')]);
    chars(&mut app, "archive");
    press(&mut app, &[KeyCode::Enter]);
    let first = screen(&mut app);
    assert!(first.contains("more lines"), "{first}");
    press(&mut app, &[KeyCode::PageDown]);
    assert_ne!(screen(&mut app), first, "PgDn scrolls the preview");
    assert!(exists(&s, "prod", "vm/100") || s.ns_dir("prod").is_dir());
}

/// A running move fed with engine events, with a fixed clock for rate and ETA.
fn app_with_progress(s: &Store, nc: bool) -> App {
    let mut app = app_with_running_move(s, nc);
    let (ns, g) = (Namespace::root(), GroupId::parse("vm/100").unwrap());
    let events = [
        ProgressEvent::GroupStarted {
            ns: ns.clone(),
            group: g.clone(),
            target_ns: Namespace::parse("b").unwrap(),
            snapshots: 3,
            merge: false,
        },
        ProgressEvent::SnapshotMoved {
            ns: ns.clone(),
            group: g.clone(),
            time: SnapshotTime::parse(T1).unwrap(),
            done: 1,
            total: 3,
        },
        ProgressEvent::Warning {
            message: "S3: retrying object chunk 1/2 after a timeout".into(),
        },
    ];
    for ev in events {
        app.handle_event(AppEvent::Job(JobMsg::Engine(1, ev)));
    }
    fix_clock(&mut app);
    app
}

/// 1 snapshot in 4 s: a deterministic rate and ETA.
fn fix_clock(app: &mut App) {
    let job = app.jobs.get_mut(1).unwrap();
    let t0 = Instant::now();
    job.started = Some(t0);
    job.last_update = Some(t0 + Duration::from_secs(4));
}

#[test]
fn progress_line_80x24() {
    let s = store();
    snap_both("progress_80x24", |nc| app_with_progress(&s, nc));
    let mut app = app_with_progress(&s, false);
    let text = screen(&mut app);
    assert!(
        text.contains("snapshots 1/3, 0.2/s, ETA 0:08"),
        "counts, rate and ETA: {text}"
    );
    // Browsing still works while the move runs.
    assert!(press(&mut app, &[KeyCode::Char('k')]));
}

#[test]
fn s3_progress_line_counts_objects_and_bytes_of_the_preview() {
    let s = store();
    let mut app = app_with_progress(&s, false);
    // A filesystem preview copies nothing: the line has no objects.
    assert!(!screen(&mut app).contains("objects"));
    let to_copy = ObjectStats {
        objects: 6,
        bytes: 3 << 10,
    };
    app.jobs.get_mut(1).unwrap().to_copy = to_copy;
    let (ns, group) = (Namespace::root(), GroupId::parse("vm/100").unwrap());
    let events = [
        // The preview listed them already: the move's own listing adds nothing.
        ProgressEvent::ObjectsPlanned {
            ns: ns.clone(),
            group: group.clone(),
            snapshots: 3,
            objects: 6,
            bytes: 3 << 10,
        },
        ProgressEvent::ObjectsCopied {
            ns,
            group,
            objects: 2,
            bytes: 1 << 10,
        },
    ];
    for ev in events {
        app.handle_event(AppEvent::Job(JobMsg::Engine(1, ev)));
    }
    fix_clock(&mut app);
    assert_eq!(app.jobs.get_mut(1).unwrap().to_copy, to_copy);
    let text = draw_at(&mut app, 120, 24).backend().to_string();
    assert!(
        text.contains("snapshots 1/3, 0.2/s, ETA 0:08, objects 2/6, 1.0 KiB/3.0 KiB"),
        "{text}"
    );
}

#[test]
fn status_pane_focused_80x24() {
    let s = store();
    snap_both("status_focused_80x24", |nc| {
        let mut app = app_with_progress(&s, nc);
        app.handle_event(AppEvent::Job(JobMsg::Engine(
            1,
            ProgressEvent::GroupFailed {
                ns: Namespace::parse("a").unwrap(),
                group: GroupId::parse("ct/200").unwrap(),
                reason: FailReason::LockConflict,
                message: "group ct/200 in namespace 'a' is locked by PID 4242 \
                          (proxmox-backup-proxy) — backup or other PBS task running?"
                    .into(),
            },
        )));
        fix_clock(&mut app);
        press_only(&mut app, &[KeyCode::Char('s')]);
        app
    });
    // Scrolling and per-move logs.
    let mut app = app_with_progress(&s, false);
    press_only(&mut app, &[KeyCode::Char('s'), KeyCode::Right]);
    assert_eq!(app.status_view.job, Some(1));
    assert!(screen(&mut app).contains("Move #1 log"));
    press_only(&mut app, &[KeyCode::Esc]);
    assert!(!app.status_view.focused);
}

#[test]
fn quit_question_80x24() {
    let s = store();
    snap_both("quit_confirm_80x24", |nc| {
        let mut app = app_with_running_move(&s, nc);
        press_only(&mut app, &[KeyCode::Char('q')]);
        app
    });
}

#[test]
fn help_lists_the_move_keys_from_the_keymap() {
    let s = store();
    let keymap = Keymap::parse(
        DEFAULT_KEYMAP,
        Some("[tree]\npick_target = [\"t\"]\n[preview]\nyes = [\"Y\"]\n"),
    )
    .unwrap();
    let lines = help::lines(&keymap, &Theme::new(true));
    let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
    let text = text.join("\n");
    assert!(text.contains("Target picker") && text.contains("Dry-run preview"));
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("t ") && l.contains("pick target"))
    );
    assert!(text.lines().any(|l| l.trim_start().starts_with("Y ")));
    let footer = help::hints(&keymap, Context::Tree, &Theme::new(true), 200).to_string();
    assert!(footer.contains("t move"), "{footer}");
    let _ = s;
}

// ----- interrupted moves: the resume prompt -----

/// One state dir per test process; the binary that leaves an interrupted move behind writes
/// its journal there too, and the app's context reads it from there.
fn journal_dir() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap()).path();
    dir.to_path_buf()
}

/// `vm/100` root → `b`, killed by a fail-point after its second snapshot: split in two.
fn interrupted_move(s: &Store) {
    s.cut_at(
        &journal_dir(),
        "after-rename:2",
        &["move-group", "--group", "vm/100", "--target-ns", "b"],
    );
    assert!(exists(s, "", "vm/100") && exists(s, "b", "vm/100"));
}

fn fixed_pending() -> Vec<PendingMove> {
    vec![
        PendingMove {
            id: "1732530000-000001-4242-0".into(),
            kind: "move-group",
            source: "vm/100 in '/'".into(),
            target: "'b'".into(),
            state: "interrupted".into(),
            running: false,
            groups_done: 0,
            groups_total: 1,
            snapshots_moved: 2,
            namespaces: vec![Namespace::root(), Namespace::parse("b").unwrap()],
        },
        PendingMove {
            id: "1732530100-000002-4243-0".into(),
            kind: "move-ns",
            source: "'a'".into(),
            target: "'b/a'".into(),
            state: "partial".into(),
            running: false,
            groups_done: 1,
            groups_total: 2,
            snapshots_moved: 2,
            namespaces: vec![
                Namespace::root(),
                Namespace::parse("a").unwrap(),
                Namespace::parse("b").unwrap(),
                Namespace::parse("b/a").unwrap(),
            ],
        },
    ]
}

#[test]
#[ignore = "needs root"]
fn a_batch_cut_mid_way_is_one_move_in_the_resume_prompt_and_resume_finishes_it() {
    support::require_root();
    let s = Store::empty(&["a", "b"]);
    for g in ["vm/101", "vm/202", "ct/303"] {
        s.add_group("a", g, "root@pam", &[T1, T2]);
    }
    let before = s.snapshot().snapshot_files();
    let batch = [
        "move-group",
        "--ns",
        "a",
        "--group",
        "vm/*",
        "--group",
        "ct/303",
        "--target-ns",
        "b",
    ];
    // vm/101 moved, vm/202 split (1 of 2), ct/303 not reached.
    s.cut_at(&s.state_dir(), "after-rename:3", &batch);
    let mut app = app_on(&s, true);
    app.ctx = app.ctx.clone().with_journal_dir(s.state_dir());
    let listed = pending(&app.ctx).unwrap();
    assert_eq!(listed.len(), 1, "one move for the whole batch: {listed:?}");
    app.offer_resume(listed);
    let text = screen(&mut app);
    for needle in [
        "move-group",
        "3 groups in 'a' → 'b'",
        "interrupted: 1/3 group(s) done, 3 snapshot(s) moved",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    press(&mut app, &[KeyCode::Tab, KeyCode::Enter]);
    for g in ["vm/101", "vm/202", "ct/303"] {
        assert!(exists(&s, "b", g) && !exists(&s, "a", g), "{g} moved");
    }
    assert_eq!(before, s.snapshot().snapshot_files(), "every snapshot once");
    let log = status_text(&app);
    assert!(
        log.contains("resume move-group of 3 groups (vm/101, vm/202, ct/303) 'a' -> 'b'")
            && log.contains("completed"),
        "{log}"
    );
    assert!(
        log.contains("moving what is still at the source of 2 group(s) in 'a' to 'b'"),
        "{log}"
    );
}

#[test]
fn resume_prompt_at_start_80x24() {
    let s = store();
    snap_both("resume_prompt_80x24", |no_color| {
        let mut app = app_on(&s, no_color);
        app.offer_resume(fixed_pending());
        app
    });
}

#[test]
fn resume_prompt_lists_the_moves_and_focuses_later() {
    let s = store();
    let mut app = app_on(&s, true);
    app.offer_resume(fixed_pending());
    let text = screen(&mut app);
    for needle in [
        "1732530000-000001-4242-0",
        "move-group",
        "vm/100 in '/' → 'b'",
        "interrupted: 0/1 group(s) done, 2 snapshot(s) moved",
        "move-ns",
        "'a' → 'b/a'",
        "partial: 1/2 group(s) done",
        ">[ Later ]<",
        "[ Resume ]",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    // The footer comes from the keymap of the prompt's context.
    assert!(
        text.contains("y resume") && text.contains("n later"),
        "{text}"
    );
    assert!(matches!(app.popup, Some(Popup::Resume(_))));
    // No prompt without interrupted moves.
    let mut quiet = app_on(&s, true);
    quiet.offer_resume(Vec::new());
    assert!(quiet.popup.is_none());
}

#[test]
fn later_changes_nothing_and_resume_finishes_the_move_and_refreshes_the_tree() {
    let s = store();
    let before = s.snapshot().snapshot_files();
    interrupted_move(&s);
    let split = s.snapshot();
    let mut app = app_on(&s, true);
    app.ctx = app.ctx.clone().with_journal_dir(journal_dir());
    let pending = pending(&app.ctx).unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].state, "interrupted");
    assert_eq!(pending[0].snapshots_moved, 2);
    app.offer_resume(pending);

    // Enter on the focused (safe) button: Later. Nothing runs, nothing changes.
    press(&mut app, &[KeyCode::Enter]);
    assert!(app.popup.is_none());
    assert!(app.take_commands().is_empty());
    assert_eq!(split, s.snapshot(), "Later changed the datastore");
    assert!(
        status_text(&app).contains("left as they are"),
        "{}",
        status_text(&app)
    );

    // R reads the journal again (a background command) and shows the prompt.
    press_only(&mut app, &[KeyCode::Char('R')]);
    assert!(screen(&mut app).contains("reading the operation journal"));
    let commands = app.take_commands();
    // Besides the journal read, drawing asks only for the manifests of rows on screen.
    let (pending, facts): (Vec<&Command>, Vec<&Command>) = commands
        .iter()
        .partition(|c| !matches!(c, Command::ReadFacts(_)));
    assert_eq!(pending, vec![&Command::ListPending], "{facts:?}");
    for c in commands {
        for ev in executor::run_inline(&app.ctx, c) {
            app.handle_event(ev);
        }
    }
    assert!(screen(&mut app).contains("vm/100 in '/' → 'b'"));
    // Tab to [Resume], Enter: the CLI's resume engine runs as a job.
    press(&mut app, &[KeyCode::Tab, KeyCode::Enter]);
    assert!(app.popup.is_none());
    assert!(!exists(&s, "", "vm/100"), "the rest moved");
    assert_eq!(before, s.snapshot().snapshot_files(), "every snapshot once");
    assert!(s.group_dir("b", "vm/100").join(T3).is_dir());
    let log = status_text(&app);
    assert!(
        log.contains("resume move-group vm/100 '' -> 'b'") && log.contains("completed"),
        "{log}"
    );
    assert!(log.contains("moving what is still at the source"), "{log}");
    assert!(log.contains("resume #1 finished: moved 1 group"), "{log}");
    assert_eq!(app.jobs.list[0].state, JobState::Finished);
    // The tree was refreshed: the root lists no group any more (it had vm/100).
    let text = screen(&mut app);
    let root = text.lines().find(|l| l.contains("> - /")).unwrap();
    assert!(root.contains("2 ns") && !root.contains("group"), "{text}");
    // Nothing left: the prompt says so and Resume does nothing.
    press(&mut app, &[KeyCode::Char('R')]);
    assert!(screen(&mut app).contains("nothing to resume"));
    press(&mut app, &[KeyCode::Char('y')]);
    assert!(app.popup.is_none());
    assert_eq!(app.jobs.list.len(), 1, "no second job");
}

// ----- the terminal is lost -----

#[test]
fn without_a_terminal_the_running_and_the_queued_move_both_finish() {
    let s = store();
    let before = s.snapshot().snapshot_files();
    let mut app = app_on(&s, true);
    // Move #1 is confirmed; its command is held back, so it "runs" while #2 is confirmed.
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Char('m'), KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter]);
    press_only(&mut app, &[KeyCode::Char('y')]);
    let running = app.take_commands();
    assert!(matches!(running[..], [Command::StartMove { .. }]));
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Enter]);
    select_row(&mut app, "ct/200");
    press(&mut app, &[KeyCode::Char('m'), KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter]);
    press_only(&mut app, &[KeyCode::Char('y')]);
    assert_eq!(app.jobs.queued(), 1);
    // The quit question is open when the terminal goes: it answers nothing.
    press_only(&mut app, &[KeyCode::Char('q')]);
    assert!(matches!(app.popup, Some(Popup::ConfirmQuit)));

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (ctx, sender) = (app.ctx.clone(), tx.clone());
    std::thread::spawn(move || {
        for c in running {
            for ev in executor::run_inline(&ctx, c) {
                let _ = sender.send(ev);
            }
        }
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let never = std::future::pending::<()>();
    let detached = finish_detached(&mut app, &tx, &mut rx, never);
    runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(60), detached).await })
        .expect("returns once both moves ended");

    assert!(app.jobs.list.iter().all(|j| j.state == JobState::Finished));
    assert!(exists(&s, "b", "vm/100") && exists(&s, "b", "ct/200"));
    assert!(!exists(&s, "", "vm/100") && !exists(&s, "a", "ct/200"));
    assert_eq!(s.snapshot().snapshot_files(), before, "content unchanged");
    let log = status_text(&app);
    assert!(log.contains("move #1 finished: moved 1 group"), "{log}");
    assert!(log.contains("move #2 finished: moved 1 group"), "{log}");
}

#[test]
fn the_next_start_says_what_a_detached_tui_did() {
    use support::api::{DetachedReport, FinishedOp};
    let s = store();
    let mut app = app_on(&s, true);
    let op = |status: &str, moved| FinishedOp {
        id: "1700000000-000000-4242-0".into(),
        op: "move-group vm/100 '' -> 'b'".into(),
        status: status.into(),
        groups_done: 1,
        groups_total: 1,
        snapshots_moved: moved,
    };
    app.report_detached(&[
        DetachedReport {
            pid: 4242,
            running: false,
            finished: vec![op("ok", 3), op("partial", 1)],
        },
        DetachedReport {
            pid: 4343,
            running: true,
            finished: Vec::new(),
        },
    ]);
    let lines: Vec<_> = app.status.lines().skip(1).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(
        lines[0].text,
        "after the terminal was lost: move-group vm/100 '' -> 'b': ok: 1/1 group(s) done, 3 snapshot(s) moved"
    );
    assert_eq!(lines[0].level, Level::Info);
    assert_eq!(lines[1].level, Level::Warn);
    assert!(
        lines[2]
            .text
            .contains("4343 lost its terminal and is still finishing")
    );
}

/// A namespace move whose source holds a symlinked group dir, type dir and child namespace:
/// the real group moves, each symlink is a failure line in the move's log ("left in
/// place"), and the summary counts them as failed, as the CLI does (exit 4).
#[test]
fn symlinks_left_in_place_by_a_namespace_move_are_failures_in_the_log() {
    let s = Store::empty(&["src", "other"]);
    s.add_group("src", "vm/1", "root@pam", &[T1]);
    let elsewhere = Store::empty(&["x"]);
    elsewhere.add_group("x", "vm/2", "root@pam", &[T1]);
    elsewhere.add_group("x", "ct/3", "root@pam", &[T1]);
    let outside = elsewhere.ns_dir("x");
    let links = [
        (outside.join("vm/2"), s.ns_dir("src").join("vm/2")),
        (outside.join("ct"), s.ns_dir("src").join("ct")),
        (outside.clone(), s.ns_dir("src").join("ns/linked")),
    ];
    std::fs::create_dir_all(s.ns_dir("src").join("ns")).unwrap();
    for (target, link) in &links {
        std::os::unix::fs::symlink(target, link).unwrap();
    }
    let mut app = app_on(&s, true);
    select_row(&mut app, " src");
    press(&mut app, &[KeyCode::Char('p')]);
    chars(&mut app, "other");
    press(&mut app, &[KeyCode::Enter]);
    assert!(
        matches!(app.popup, Some(Popup::Preview(_))),
        "{}",
        screen(&mut app)
    );
    press(&mut app, &[KeyCode::Char('y')]);
    assert!(exists(&s, "other/src", "vm/1"), "the real group moved");
    let errors: Vec<String> = app
        .status
        .lines()
        .filter(|l| l.level == Level::Error)
        .map(|l| l.text.clone())
        .collect();
    for (_, link) in &links {
        assert!(link.symlink_metadata().unwrap().is_symlink(), "left alone");
        let line = format!("left in place: {} is a symlink", link.display());
        assert!(errors.contains(&line), "{line} not in {errors:?}");
    }
    let log = status_text(&app);
    let summary = log
        .lines()
        .find(|l| l.contains("finished"))
        .unwrap_or_else(|| panic!("no summary: {log}"));
    assert!(
        summary.contains("moved 1 group") && summary.contains("3 failed"),
        "{summary}"
    );
    assert!(summary.contains("3 symlinks left in place"), "{summary}");
    let last = app.status.lines().last().unwrap();
    assert_eq!(last.level, Level::Warn, "not a plain success: {last:?}");
}
