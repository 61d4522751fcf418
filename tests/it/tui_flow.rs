//! No dead ends in the TUI (issue 15.5): a preview with nothing movable offers only Cancel,
//! a namespace move's picker starts on a valid target, the cursor survives moves, the status
//! pane follows the newest move, `x` asks first, refused and running moves are never listed
//! as interrupted. App-state tests on the real App, a render snapshot at 80×24 with and
//! without NO_COLOR, and a journal flock held by another process.

use crate::support;

use crossterm::event::{KeyCode, MouseEventKind};
use pbs_mover::tree::Namespace;
use support::api::{MoveContext, pending};
use support::tui::{
    App, Command, DEFAULT_KEYMAP, JobState, Keymap, Level, Popup, Selection, Theme, app_on,
    assert_no_colour, chars, click, datastore, draw, draw_at, executor, find_on_screen, help,
    mouse, new_app, press, press_only, screen, select_row, status_text,
};
use support::{HeldLock, Store};

const T1: &str = "2024-01-01T00:00:00Z";
const T2: &str = "2024-02-01T00:00:00Z";
const T3: &str = "2024-03-01T00:00:00Z";

/// root: vm/100 (3 snapshots), vm/101 (1); a: ct/200 (2); a/sub: host/web1 (1); b: empty.
fn store() -> Store {
    let s = Store::empty(&["a", "a/sub", "b"]);
    s.add_group("", "vm/100", "root@pam", &[T1, T2, T3]);
    s.add_group("", "vm/101", "root@pam", &[T1]);
    s.add_group("a", "ct/200", "root@pam", &[T1, T2]);
    s.add_group("a/sub", "host/web1", "backup@pbs", &[T1]);
    s
}

fn ns(s: &str) -> Namespace {
    Namespace::parse(s).unwrap()
}

/// The preview of moving `a/sub` into its own parent `a`: refused, nothing movable.
fn refused_preview(s: &Store, no_color: bool) -> App {
    let mut app = app_on(s, no_color);
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Enter]);
    select_row(&mut app, "sub");
    press(&mut app, &[KeyCode::Char('p')]);
    chars(&mut app, "a");
    press(&mut app, &[KeyCode::Enter]);
    app
}

/// `vm/100` → `b` through picker and preview, confirmed.
fn move_vm100_to_b(app: &mut App) {
    select_row(app, "vm/100");
    press(app, &[KeyCode::Char('p')]);
    chars(app, "b");
    press(app, &[KeyCode::Enter, KeyCode::Char('y')]);
}

#[test]
fn preview_nothing_movable_80x24() {
    let s = store();
    let mut app = refused_preview(&s, false);
    insta::assert_snapshot!("preview_nothing_movable_80x24", draw(&mut app).backend());
    let mut app = refused_preview(&s, true);
    let t = draw(&mut app);
    assert_no_colour(&t);
    insta::assert_snapshot!("preview_nothing_movable_80x24_no_color", t.backend());
}

#[test]
fn preview_with_nothing_movable_has_only_cancel_and_y_does_nothing() {
    let s = store();
    let before = s.snapshot();
    let mut app = refused_preview(&s, true);
    let text = screen(&mut app);
    assert!(
        text.contains("Nothing can be moved: the move is refused"),
        "{text}"
    );
    assert!(
        text.contains("source and target namespace must be different"),
        "{text}"
    );
    assert!(
        text.contains(">[ Cancel ]<") && !text.contains("[ Move"),
        "{text}"
    );
    assert!(
        !text.contains("start the move"),
        "footer offers a move: {text}"
    );
    // y, Tab + Enter: nothing starts, the preview stays; n closes it.
    press(
        &mut app,
        &[KeyCode::Char('y'), KeyCode::Tab, KeyCode::Enter],
    );
    assert!(
        app.popup.is_none(),
        "Enter on the only button (Cancel) closes"
    );
    assert!(app.jobs.list.is_empty(), "a refused move was started");
    let mut app = refused_preview(&s, true);
    press_only(&mut app, &[KeyCode::Char('y')]);
    assert!(matches!(app.popup, Some(Popup::Preview(_))));
    assert!(app.take_commands().is_empty());
    assert_eq!(s.snapshot(), before);
}

#[test]
fn namespace_picker_starts_on_a_valid_target() {
    let s = store();
    let mut app = app_on(&s, true);
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Enter]);
    select_row(&mut app, "sub");
    press(&mut app, &[KeyCode::Char('p')]);
    let Some(Popup::Picker(p)) = &app.popup else {
        panic!("no picker")
    };
    let picked = p.picked().unwrap();
    assert_ne!(picked, ns("a"), "the picker starts on the current parent");
    // Enter at once previews a move that can happen.
    press(&mut app, &[KeyCode::Enter]);
    let text = screen(&mut app);
    assert!(!text.contains("REFUSED"), "{text}");
    assert!(text.contains("Will move: 1 group"), "{text}");
    // A top-level namespace: its parent is the root, which is skipped too.
    let mut app = app_on(&s, true);
    select_row(&mut app, " b ");
    press(&mut app, &[KeyCode::Char('p')]);
    let Some(Popup::Picker(p)) = &app.popup else {
        panic!("no picker")
    };
    assert_eq!(p.picked(), Some(ns("a")));
}

#[test]
fn cursor_stays_on_its_node_or_the_nearest_surviving_one_after_a_move() {
    let s = store();
    let mut app = app_on(&s, true);
    // The moved group's row is gone: the cursor goes to its next sibling, not to `/`.
    move_vm100_to_b(&mut app);
    assert!(!s.group_dir("", "vm/100").exists());
    // The cursor is put right when the new rows are built, as for every frame.
    draw(&mut app);
    let sel = app.selection();
    assert!(
        matches!(&sel, Selection::Group(n, g) if n.is_root() && g.to_string() == "vm/101"),
        "{sel:?}"
    );
    // A marked group moves while the cursor is elsewhere: the cursor stays put.
    select_row(&mut app, "vm/101");
    press(&mut app, &[KeyCode::Char('m')]);
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter, KeyCode::Char('y')]);
    assert!(s.group_dir("b", "vm/101").exists());
    draw(&mut app);
    assert_eq!(app.selection(), Selection::Ns(ns("a")));
    // The last group of a level: the previous sibling.
    select_row(&mut app, " b ");
    press(&mut app, &[KeyCode::Enter]);
    select_row(&mut app, "vm/101");
    press(&mut app, &[KeyCode::Char('p')]);
    chars(&mut app, "a");
    press(&mut app, &[KeyCode::Enter, KeyCode::Char('y')]);
    assert!(s.group_dir("a", "vm/101").exists());
    draw(&mut app);
    let sel = app.selection();
    assert!(
        matches!(&sel, Selection::Group(n, g) if *n == ns("b") && g.to_string() == "vm/100"),
        "{sel:?}"
    );
}

#[test]
fn status_pane_follows_the_newest_move_unless_scrolled() {
    let s = store();
    let mut app = app_on(&s, true);
    move_vm100_to_b(&mut app);
    // s, Tab: move #1's own log; Esc back to the tree.
    press(&mut app, &[KeyCode::Char('s'), KeyCode::Tab, KeyCode::Esc]);
    assert_eq!(app.status_view.job, Some(1));
    // Move #2: two groups (four lines in its log, more than the pane's three rows).
    select_row(&mut app, "vm/101");
    press(&mut app, &[KeyCode::Char(' ')]);
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Enter]);
    select_row(&mut app, "ct/200");
    press(&mut app, &[KeyCode::Char(' '), KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter, KeyCode::Char('y')]);
    assert_eq!(app.status_view.job, Some(2), "the pane stayed on move #1");
    let text = screen(&mut app);
    assert!(text.contains("Move #2 log"), "{text}");
    assert!(text.contains("move #2 finished"), "{text}");
    // Scrolled up, the pane stays where the user is reading.
    press(
        &mut app,
        &[KeyCode::Char('s'), KeyCode::Char('k'), KeyCode::Esc],
    );
    draw(&mut app);
    let scrolled = app.status_view.scroll;
    assert!(scrolled > 0, "no line to scroll up to");
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Tab, KeyCode::Backspace]);
    chars(&mut app, "a2");
    press(&mut app, &[KeyCode::Enter, KeyCode::Char('y')]);
    assert!(s.ns_dir("b/a2").is_dir());
    assert_eq!(app.status_view.job, Some(2), "a scrolled pane jumped");
    // In the whole log, scrolled up, new lines do not push the view.
    press(&mut app, &[KeyCode::Char('s'), KeyCode::Tab, KeyCode::Tab]);
    assert_eq!(app.status_view.job, None);
    press(&mut app, &[KeyCode::Char('k')]);
    let shown = status_body(&mut app);
    for i in 0..5 {
        app.status.push(Level::Info, format!("new line {i}"));
    }
    assert_eq!(status_body(&mut app), shown, "a scrolled view moved");
    press(&mut app, &[KeyCode::Char('G')]);
    assert!(
        status_body(&mut app).contains("new line 4"),
        "G follows again"
    );
}

/// The rows of the status pane under its title, as drawn at 80×24.
fn status_body(app: &mut App) -> String {
    let text = screen(app);
    text.lines()
        .skip_while(|l| !l.contains("Status ("))
        .skip(1)
        .take_while(|l| !l.contains("└"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn scroll_titles_count_real_lines() {
    let s = store();
    let mut app = app_on(&s, true);
    move_vm100_to_b(&mut app);
    for i in 0..40 {
        app.status.push(Level::Info, format!("line {i}"));
    }
    press(&mut app, &[KeyCode::Char('s'), KeyCode::Char('g')]);
    let text = screen(&mut app);
    let title = text
        .lines()
        .find(|l| l.contains("Status ("))
        .unwrap_or_default()
        .to_string();
    assert!(!title.contains("922337"), "{title}");
    let n: usize = title
        .split("scrolled up ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no scroll count in {title:?}"));
    assert!(n > 0 && n < app.status.len(), "{title}");
    assert_eq!(n, app.status_view.scroll);
}

/// An app with a confirmed move whose command was taken but not run: "running".
fn app_with_running_move(s: &Store) -> (App, Vec<Command>) {
    let mut app = app_on(s, true);
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Char('m'), KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter]);
    press_only(&mut app, &[KeyCode::Char('y')]);
    let cmds = app.take_commands();
    assert!(matches!(cmds[..], [Command::StartMove { .. }]));
    (app, cmds)
}

#[test]
fn x_asks_before_cancelling() {
    let s = store();
    let (mut app, _cmds) = app_with_running_move(&s);
    press_only(&mut app, &[KeyCode::Char('x')]);
    assert!(matches!(app.popup, Some(Popup::ConfirmCancel(1))));
    let text = screen(&mut app);
    assert!(text.contains("Cancel the running move?"), "{text}");
    assert!(
        text.contains("y cancel the move") && text.contains("n let it run"),
        "{text}"
    );
    press_only(&mut app, &[KeyCode::Char('n')]);
    assert!(app.popup.is_none());
    assert_eq!(app.jobs.list[0].state, JobState::Running, "n cancelled it");
    assert!(!app.jobs.list[0].cancel.is_cancelled());
    // From the focused status pane too.
    press_only(&mut app, &[KeyCode::Char('s'), KeyCode::Char('x')]);
    assert!(matches!(app.popup, Some(Popup::ConfirmCancel(1))));
    press_only(&mut app, &[KeyCode::Char('y')]);
    assert_eq!(app.jobs.list[0].state, JobState::Cancelling);
    assert!(app.jobs.list[0].cancel.is_cancelled());
    // No move running: x only says so.
    let mut idle = app_on(&s, true);
    press_only(&mut idle, &[KeyCode::Char('x')]);
    assert!(idle.popup.is_none());
    assert!(status_text(&idle).contains("no move is running"));
}

#[test]
fn a_refused_merge_is_not_listed_as_interrupted() {
    let s = store();
    // Same group in the target with another owner: the merge is refused under the locks.
    s.add_group("b", "vm/100", "other@pbs", &["2023-01-01T00:00:00Z"]);
    let out = s.run(&["move-group", "--group", "vm/100", "--target-ns", "b"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("owner mismatch"), "{err}");
    assert!(s.group_dir("", "vm/100").is_dir());
    let journals: Vec<_> = std::fs::read_dir(s.state_dir().join("store1"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(journals.len(), 1, "{journals:?}");
    assert!(
        journals[0].contains(r#"{"e":"done","status":"refused"}"#),
        "{}",
        journals[0]
    );
    let mut app = app_on(&s, true);
    app.ctx = app.ctx.clone().with_journal_dir(s.state_dir());
    let list = pending(&app.ctx).unwrap();
    assert!(list.is_empty(), "{list:?}");
    app.offer_resume(list);
    assert!(app.popup.is_none(), "a refused merge offered for resume");
    let out = s.run(&["resume"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("nothing to resume"), "{said}");
}

/// A move of `vm/100` to `b` killed after its second snapshot, its journal then locked by
/// another process (as a running pbs-mover holds it) and named with that process's PID.
fn running_move(s: &Store) -> (HeldLock, MoveContext) {
    s.cut_at(
        &s.state_dir(),
        "after-rename:2",
        &["move-group", "--group", "vm/100", "--target-ns", "b"],
    );
    let dir = s.state_dir().join("store1");
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let held = HeldLock::exclusive(&path);
    // The lock follows the file: renamed to carry the holder's PID, as new journals do.
    let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
    let parts: Vec<&str> = stem.split('-').collect();
    let renamed = dir.join(format!("{}-{}-{}-0.jsonl", parts[0], parts[1], held.pid));
    std::fs::rename(&path, &renamed).unwrap();
    let ctx = MoveContext::filesystem(s.locate(), &s.locks).with_journal_dir(s.state_dir());
    (held, ctx)
}

#[test]
fn a_move_running_in_another_process_is_shown_running_not_resumable() {
    let s = store();
    let (held, ctx) = running_move(&s);
    let split = s.snapshot();
    let list = pending(&ctx).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(list[0].running);
    assert_eq!(list[0].state, format!("running in PID {}", held.pid));
    // At start: a line in the status pane, no resume prompt.
    let mut app = app_on(&s, true);
    app.ctx = ctx.clone();
    app.offer_resume(list);
    assert!(app.popup.is_none(), "a running move offered for resume");
    assert!(
        status_text(&app).contains(&format!("running in PID {}", held.pid)),
        "{}",
        status_text(&app)
    );
    // R lists it as running; y resumes nothing.
    press(&mut app, &[KeyCode::Char('R')]);
    let text = screen(&mut app);
    assert!(
        text.contains("running right now in another process"),
        "{text}"
    );
    assert!(
        text.contains(&format!("running in PID {}", held.pid)),
        "{text}"
    );
    assert!(text.contains("Resume (nothing)"), "{text}");
    press(&mut app, &[KeyCode::Char('y')]);
    assert!(app.jobs.list.is_empty(), "a running move was resumed");
    // The CLI's resume skips it with a line saying so.
    let out = s.run(&["resume"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("running in PID {}, not interrupted", held.pid)),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(s.snapshot(), split, "a running move was touched");
    let out = s.run(&["history"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("  running "), "{listed}");
    // Once that process is gone, it is interrupted and resumable again.
    drop(held);
    let list = pending(&ctx).unwrap();
    assert!(
        !list[0].running && list[0].state == "interrupted",
        "{list:?}"
    );
}

// ----- the mouse (issue 15.6) -----

#[test]
fn click_selects_and_double_click_expands_and_collapses() {
    let s = store();
    let mut app = app_on(&s, true);
    let (x, y) = find_on_screen(&mut app, "vm/100");
    assert!(click(&mut app, x, y));
    let sel = app.selection();
    assert!(
        matches!(&sel, Selection::Group(n, g) if n.is_root() && g.to_string() == "vm/100"),
        "{sel:?}"
    );
    let path = app.tree_state.selected().to_vec();
    assert!(!app.tree_state.opened().contains(&path));
    // A second click on the same row at once: expanded, its snapshots listed.
    click(&mut app, x, y);
    assert!(app.tree_state.opened().contains(&path));
    let text = screen(&mut app);
    assert!(text.contains("2024-03-01T00:00:00Z"), "{text}");
    // A third click is a new first click; two more collapse it again.
    click(&mut app, x, y);
    assert!(app.tree_state.opened().contains(&path));
    click(&mut app, x, y);
    assert!(!app.tree_state.opened().contains(&path));
    // A click on the status pane focuses it; a click on the tree comes back.
    let (sx, sy) = find_on_screen(&mut app, "Status (");
    click(&mut app, sx, sy + 1);
    assert!(app.status_view.focused);
    let (x, y) = find_on_screen(&mut app, " a ");
    click(&mut app, x + 1, y);
    assert!(!app.status_view.focused);
    assert_eq!(app.selection(), Selection::Ns(ns("a")));
}

#[test]
fn wheel_scrolls_the_pane_under_the_pointer_and_the_open_popup() {
    let s = Store::demo(40);
    let mut app = app_on(&s, true);
    let (x, y) = find_on_screen(&mut app, "customers");
    let sel = app.selection();
    assert_eq!(app.tree_state.get_offset(), 0);
    mouse(&mut app, MouseEventKind::ScrollDown, x, y);
    draw(&mut app);
    assert_eq!(app.tree_state.get_offset(), 3, "the tree did not scroll");
    assert_eq!(app.selection(), sel, "the wheel moved the cursor");
    mouse(&mut app, MouseEventKind::ScrollUp, x, y);
    assert_eq!(app.tree_state.get_offset(), 0);
    // Over the status pane: its log scrolls up (older lines).
    for i in 0..20 {
        app.status.push(Level::Info, format!("line {i}"));
    }
    let (sx, sy) = find_on_screen(&mut app, "Status (");
    mouse(&mut app, MouseEventKind::ScrollUp, sx, sy + 1);
    draw(&mut app);
    assert_eq!(app.status_view.scroll, 3);
    mouse(&mut app, MouseEventKind::ScrollDown, sx, sy + 1);
    assert_eq!(app.status_view.scroll, 0);
    // With the picker open, the wheel moves its list, wherever the pointer is.
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Char('p')]);
    let Some(Popup::Picker(p)) = &app.popup else {
        panic!("no picker")
    };
    let before = p.cursor;
    mouse(&mut app, MouseEventKind::ScrollDown, 0, 0);
    let Some(Popup::Picker(p)) = &app.popup else {
        panic!("no picker")
    };
    assert_eq!(p.cursor, before + 3);
}

/// The details pane's rows at 80×16 (its inner area is 7 rows high), title first.
fn details_rows(app: &mut App) -> Vec<String> {
    let t = draw_at(app, 80, 16);
    let d = app.areas.details;
    let buf = t.backend().buffer();
    (d.y..d.y + d.height)
        .map(|y| (d.x..d.x + d.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

#[test]
fn wheel_over_the_details_pane_scrolls_it_clamped_and_a_new_selection_starts_at_the_top() {
    let s = store();
    let mut app = app_on(&s, true);
    select_row(&mut app, "vm/100");
    let top = details_rows(&mut app);
    assert!(top[0].contains(" Details "), "{top:?}");
    assert!(
        top[1].contains("Group") && top[1].contains("vm/100"),
        "{top:?}"
    );
    let d = app.areas.details;
    let (x, y) = (d.x + 2, d.y + 2);
    assert!(mouse(&mut app, MouseEventKind::ScrollDown, x, y));
    let scrolled = details_rows(&mut app);
    assert!(scrolled[0].contains("scrolled 3 of"), "{scrolled:?}");
    assert_eq!(scrolled[1], top[4], "three lines down");
    let sel = app.selection();
    assert!(
        matches!(&sel, Selection::Group(_, g) if g.to_string() == "vm/100"),
        "the wheel moved the cursor: {sel:?}"
    );
    // Far down: clamped so the last line is at the bottom, the title counts real lines.
    for _ in 0..20 {
        mouse(&mut app, MouseEventKind::ScrollDown, x, y);
    }
    let bottom = details_rows(&mut app);
    let total: usize = bottom[0]
        .split(" of ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{bottom:?}"));
    assert!(total >= 10, "{bottom:?}");
    assert_eq!(app.details_view.scroll, total - 7, "{bottom:?}");
    assert!(bottom[0].contains(&format!("scrolled {} of {total}", total - 7)));
    assert!(
        bottom[7].contains("Oldest"),
        "the last line shows: {bottom:?}"
    );
    mouse(&mut app, MouseEventKind::ScrollUp, x, y);
    assert_eq!(app.details_view.scroll, total - 10);
    // The keys scroll it too, a line at a time.
    press(&mut app, &[KeyCode::Char('K')]);
    assert_eq!(app.details_view.scroll, total - 11);
    press(&mut app, &[KeyCode::Char('J'), KeyCode::Char('J')]);
    assert_eq!(app.details_view.scroll, total - 9);
    // Another selection is shown from its first line.
    press(&mut app, &[KeyCode::Char('j')]);
    let next = details_rows(&mut app);
    assert!(
        next[0].contains(" Details ") && !next[0].contains("scrolled"),
        "{next:?}"
    );
    assert!(
        next[1].contains("Group") && next[1].contains("vm/101"),
        "{next:?}"
    );
}

#[test]
fn picker_rows_are_clicked_and_a_double_click_previews() {
    let s = store();
    let mut app = app_on(&s, true);
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Char('p')]);
    let (x, y) = find_on_screen(&mut app, "    b");
    click(&mut app, x + 4, y);
    let Some(Popup::Picker(p)) = &app.popup else {
        panic!("no picker")
    };
    assert_eq!(p.picked(), Some(ns("b")));
    click(&mut app, x + 4, y);
    assert!(matches!(app.popup, Some(Popup::Preview(_))), "double click");
    assert!(screen(&mut app).contains("Will move: 1 group, 3 snapshots"));
    // A click outside a popup does nothing (popups are modal).
    let before = app.selection();
    click(&mut app, 1, 3);
    assert!(matches!(app.popup, Some(Popup::Preview(_))));
    assert_eq!(app.selection(), before);
}

#[test]
fn mouse_off_in_the_keymap_ignores_clicks_and_keys_still_work() {
    let s = store();
    let keymap = Keymap::parse(DEFAULT_KEYMAP, Some("[options]\nmouse = false\n")).unwrap();
    let help_text = |k: &Keymap| {
        let lines = help::lines(k, &Theme::new(true));
        lines
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(help_text(&Keymap::defaults()).contains("double click: expand"));
    assert!(
        !help_text(&keymap).contains("double click"),
        "help offers a mouse that is off"
    );
    let mut app = new_app(&s, datastore(&s), keymap, true);
    app.run_commands_blocking();
    assert!(!app.mouse);
    let (x, y) = find_on_screen(&mut app, "vm/100");
    assert!(!click(&mut app, x, y));
    assert_eq!(app.selection(), Selection::Ns(Namespace::root()));
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Enter]);
    assert!(screen(&mut app).contains("2024-03-01T00:00:00Z"));
}

#[test]
fn a_cancelled_namespace_move_sums_up_its_groups_in_one_line() {
    let s = store();
    let mut app = app_on(&s, true);
    select_row(&mut app, " a ");
    press(&mut app, &[KeyCode::Char('m'), KeyCode::Char('p')]);
    chars(&mut app, "b");
    press(&mut app, &[KeyCode::Enter]);
    press_only(&mut app, &[KeyCode::Char('y')]);
    let cmds = app.take_commands();
    assert!(matches!(cmds[..], [Command::StartMove { .. }]));
    press_only(&mut app, &[KeyCode::Char('x'), KeyCode::Char('y')]);
    assert_eq!(app.jobs.list[0].state, JobState::Cancelling);
    for c in cmds {
        for ev in executor::run_inline(&app.ctx.clone(), c) {
            app.handle_event(ev);
        }
    }
    app.run_commands_blocking();
    assert!(s.group_dir("a", "ct/200").is_dir() && s.group_dir("a/sub", "host/web1").is_dir());
    let log = status_text(&app);
    assert!(log.contains("move #1 CANCELLED"), "{log}");
    assert!(
        !log.contains(") not moved (cancelled)"),
        "one line per group: {log}"
    );
    assert_eq!(
        log.lines().filter(|l| l.contains("cancelled")).count(),
        1,
        "only the summary tells of cancelled groups: {log}"
    );
    assert!(log.contains("2 groups not moved (cancelled): ct/200 (a), host/web1 (a/sub)"));
}
