//! TUI render and app-state tests: the real App on a generated demo datastore, drawn into a
//! ratatui TestBackend (80×24, 60×16, 40×12, with and without NO_COLOR), compared with insta
//! snapshots in tests/snapshots/. Scans run inline (`run_commands_blocking`).

use crate::support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pbs_mover::tree::{GroupId, Namespace};
use ratatui::style::{Color, Modifier};
use support::Store;
use support::tui::{
    AppEvent, Command, DEFAULT_KEYMAP, Keymap, ScanRequest, Selection, app_on, assert_no_colour,
    chars, datastore, draw, draw_at, key, lines, new_app, press, scans, select_row,
};

#[test]
fn initial_screen_80x24() {
    let s = Store::demo(40);
    let mut app = app_on(&s, false);
    insta::assert_snapshot!("initial_80x24", draw(&mut app).backend());
}

#[test]
fn group_with_snapshots_and_snapshot_details_80x24() {
    let s = Store::demo(40);
    let mut app = app_on(&s, false);
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Enter]);
    insta::assert_snapshot!("group_expanded_80x24", draw(&mut app).backend());
    press(&mut app, &[KeyCode::Char('l')]);
    assert!(matches!(app.selection(), Selection::Snapshot(..)));
    insta::assert_snapshot!("snapshot_details_80x24", draw(&mut app).backend());
}

#[test]
fn namespace_details_show_full_path() {
    let s = Store::demo(40);
    let mut app = app_on(&s, false);
    select_row(&mut app, "prod");
    press(&mut app, &[KeyCode::Char('l')]);
    select_row(&mut app, " web");
    press(&mut app, &[KeyCode::Char('l')]);
    select_row(&mut app, "eu-west");
    assert_eq!(
        app.selection(),
        Selection::Ns(Namespace::parse("prod/web/eu-west").unwrap())
    );
    insta::assert_snapshot!("nested_namespace_80x24", draw(&mut app).backend());
}

#[test]
fn help_overlay_80x24() {
    let s = Store::demo(40);
    let mut app = app_on(&s, false);
    assert!(press(&mut app, &[KeyCode::Char('?')]));
    insta::assert_snapshot!("help_80x24", draw(&mut app).backend());
    assert!(press(&mut app, &[KeyCode::Esc]));
    assert!(app.help.is_none());
}

#[test]
fn filter_80x24() {
    let s = Store::demo(40);
    let mut app = app_on(&s, false);
    press(&mut app, &[KeyCode::Char('/')]);
    chars(&mut app, "cust");
    insta::assert_snapshot!("filter_typing_80x24", draw(&mut app).backend());
    press(&mut app, &[KeyCode::Enter]);
    assert!(!app.filter.editing);
    assert_eq!(app.filter.text, "cust");
    // Esc in the tree clears the filter.
    assert!(press(&mut app, &[KeyCode::Esc]));
    assert_eq!(app.filter.text, "");
    // A second Esc has nothing to do: no redraw.
    assert!(!press(&mut app, &[KeyCode::Esc]));
}

#[test]
fn filter_with_no_match_says_so() {
    let s = Store::demo(40);
    let mut app = app_on(&s, false);
    press(&mut app, &[KeyCode::Char('/')]);
    chars(&mut app, "zzz-nothing");
    let t = draw(&mut app);
    assert!(t.backend().to_string().contains("/zzz-nothing: no matches"));
    // q is text while typing a filter, not quit.
    press(&mut app, &[KeyCode::Char('q')]);
    assert!(!app.should_quit());
    assert_eq!(app.filter.text, "zzz-nothingq");
}

#[test]
fn minimum_size_60x16() {
    let s = Store::demo(40);
    let mut app = app_on(&s, false);
    insta::assert_snapshot!("minimum_60x16", draw_at(&mut app, 60, 16).backend());
}

#[test]
fn too_small_40x12_shows_one_clear_line() {
    let s = Store::demo(40);
    let mut app = app_on(&s, false);
    let t = draw_at(&mut app, 40, 12);
    insta::assert_snapshot!("too_small_40x12", t.backend());
    let text = t.backend().to_string();
    assert!(text.contains("need 60x16"), "{text}");
    // Tiny and zero-sized terminals must not panic either.
    for (w, h) in [(1, 1), (0, 0), (10, 0), (59, 30), (200, 15)] {
        draw_at(&mut app, w, h);
    }
}

#[test]
fn no_color_80x24_has_no_colours_and_a_visible_selection() {
    let s = Store::demo(40);
    let mut app = app_on(&s, true);
    press(&mut app, &[KeyCode::Char('j')]);
    let t = draw(&mut app);
    insta::assert_snapshot!("no_color_80x24", t.backend());
    assert_no_colour(&t);
    let buf = t.backend().buffer();
    let (y, line) = lines(&t)
        .into_iter()
        .find(|(_, s)| s.contains("│> "))
        .expect("a row with the > marker");
    let x = line.chars().position(|c| c == '>').unwrap() as u16;
    assert!(buf[(x + 2, y)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn colour_theme_highlights_the_selection() {
    let s = Store::demo(40);
    let mut app = app_on(&s, false);
    let t = draw(&mut app);
    let buf = t.backend().buffer();
    // Row 2 is the first tree row (title, border): the selected root.
    assert_eq!(buf[(3, 2)].bg, Color::Cyan);
    assert_eq!(buf[(1, 2)].symbol(), ">");
}

#[test]
fn navigation_keys() {
    let s = Store::demo(40);
    let mut app = app_on(&s, false);
    draw(&mut app);
    let rows = app.visible_paths();
    assert!(rows.len() >= 9, "{}", rows.len());
    assert!(
        !press(&mut app, &[KeyCode::Char('k')]),
        "up at the top changes nothing"
    );
    press(&mut app, &[KeyCode::Char('G')]);
    assert_eq!(app.tree_state.selected(), rows.last().unwrap().as_slice());
    assert!(
        !press(&mut app, &[KeyCode::Down]),
        "down at the bottom changes nothing"
    );
    press(&mut app, &[KeyCode::Home]);
    assert_eq!(app.tree_state.selected(), rows[0].as_slice());
    press(&mut app, &[KeyCode::PageDown]);
    let page = (app.page_rows - 1).min(rows.len() - 1);
    assert_eq!(app.tree_state.selected(), rows[page].as_slice());
    press(&mut app, &[KeyCode::PageUp]);
    assert_eq!(app.tree_state.selected(), rows[0].as_slice());
    // h on the open root collapses it; l opens it again.
    press(&mut app, &[KeyCode::Char('h')]);
    assert_eq!(app.visible_paths().len(), 1);
    press(&mut app, &[KeyCode::Char('l')]);
    assert_eq!(app.visible_paths().len(), rows.len());
    // Unbound keys do nothing and ask for no redraw.
    assert!(!press(&mut app, &[KeyCode::Char('Z')]));
}

#[test]
fn loading_is_lazy_one_level_per_expand() {
    let s = Store::demo(40);
    let ds = datastore(&s);
    let mut app = new_app(&s, ds.clone(), Keymap::defaults(), true);
    let first = app.take_commands();
    // The root level only: the search index of everything waits for its listing, so the
    // two do not share the cores while the tree is not shown yet.
    assert_eq!(
        first,
        vec![Command::Scan(ScanRequest::Namespace {
            generation: 1,
            ns: Namespace::root()
        })]
    );
    // Feed the result back by hand: it asks for the index build and the sizes of root's
    // groups, nothing deeper.
    let mut results = Vec::new();
    for req in scan_requests(first) {
        scans::run(&ds, req, &mut |r| results.push(r));
    }
    for r in results {
        assert!(app.handle_event(AppEvent::Scan(r)));
    }
    let mut next = app.take_commands();
    assert_eq!(next.len(), 2);
    assert_eq!(next.remove(0), Command::BuildIndex { generation: 1 });
    assert!(matches!(&next[0], Command::Scan(ScanRequest::Sizes { ns, .. }) if ns.is_root()));
    assert!(app.busy());
    for req in scan_requests(next) {
        scans::run(&ds, req, &mut |r| {
            app.handle_event(AppEvent::Scan(r));
        });
    }
    assert!(!app.busy());
    // Expanding "prod" lists exactly that namespace.
    select_row(&mut app, "prod");
    app.handle_event(AppEvent::Key(key(KeyCode::Enter)));
    let cmds = app.take_commands();
    assert_eq!(cmds.len(), 1);
    assert!(
        matches!(&cmds[0], Command::Scan(ScanRequest::Namespace { ns, .. }) if ns.to_string() == "prod")
    );
}

#[test]
fn stale_results_are_dropped_after_refresh() {
    let s = Store::demo(40);
    let mut app = app_on(&s, false);
    // Start two loads of root; only the newer generation may land.
    app.refresh_ns(&Namespace::root());
    let old = app.take_commands();
    app.refresh_ns(&Namespace::root());
    let mut results = Vec::new();
    let ds = datastore(&s);
    for req in scan_requests(old) {
        scans::run(&ds, req, &mut |r| results.push(r));
    }
    for r in results {
        assert!(!app.handle_event(AppEvent::Scan(r)), "stale result applied");
    }
    app.run_commands_blocking();
    assert!(!app.busy() || app.take_commands().is_empty());
}

#[test]
fn refresh_keeps_the_cursor_and_sees_changes() {
    let s = Store::demo(40);
    let mut app = app_on(&s, false);
    select_row(&mut app, "ct/");
    let before = app.selection();
    let Selection::Group(ns, g) = before.clone() else {
        panic!("{before:?}")
    };
    // A group appears behind our back; `r` picks it up and the cursor stays.
    let new = GroupId::parse("vm/999999").unwrap();
    std::fs::create_dir_all(datastore(&s).group_path(&ns, &new)).unwrap();
    press(&mut app, &[KeyCode::Char('r')]);
    assert_eq!(app.selection(), Selection::Group(ns.clone(), g));
    assert!(app.model.group(&ns, &new).is_some());
    // The new group has no owner file: that is reported in the status pane.
    let t = draw(&mut app);
    assert!(t.backend().to_string().contains("owner file missing"));
}

#[test]
fn quit_keys() {
    let s = Store::demo(4);
    let mut app = app_on(&s, false);
    press(&mut app, &[KeyCode::Char('q')]);
    assert!(app.should_quit());
    let mut app = app_on(&s, false);
    press(&mut app, &[KeyCode::Char('/')]);
    app.handle_event(AppEvent::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(app.should_quit(), "Ctrl-C quits even while typing a filter");
}

#[test]
fn user_keymap_changes_help_and_footer() {
    let s = Store::demo(4);
    let keymap = Keymap::parse(
        DEFAULT_KEYMAP,
        Some("[tree]\nquit = [\"x\"]\nhelp = [\"f2\"]\n"),
    )
    .unwrap();
    let mut app = new_app(&s, datastore(&s), keymap, true);
    app.run_commands_blocking();
    let footer = draw(&mut app).backend().to_string();
    assert!(footer.contains("F2 help"), "{footer}");
    assert!(footer.contains("x quit"), "{footer}");
    press(&mut app, &[KeyCode::F(2)]);
    // The quit line is at the end of the browse keys: scroll down to it.
    press(&mut app, &[KeyCode::Down; 8]);
    let help = draw(&mut app).backend().to_string();
    assert!(help.contains("x   "), "{help}");
    press(&mut app, &[KeyCode::Esc]);
    press(&mut app, &[KeyCode::Char('q')]);
    assert!(!app.should_quit());
    press(&mut app, &[KeyCode::Char('x')]);
    assert!(app.should_quit());
}

/// The scan requests among queued commands.
fn scan_requests(commands: Vec<Command>) -> Vec<ScanRequest> {
    commands
        .into_iter()
        .filter_map(|c| match c {
            Command::Scan(req) => Some(req),
            _ => None,
        })
        .collect()
}
