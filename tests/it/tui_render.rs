//! TUI render and app-state tests: the real App on a generated demo datastore, drawn into a
//! ratatui TestBackend (80×24, 60×16, 40×12, with and without NO_COLOR), compared with insta
//! snapshots in tests/snapshots/. Scans run inline (`run_commands_blocking`).

use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pbs_mover::demo::{DemoSpec, create_demo};
use pbs_mover::tree::{Datastore, GroupId, Locator, Namespace};
use pbs_mover::ui::app::App;
use pbs_mover::ui::keys::keymap::Keymap;
use pbs_mover::ui::model::Selection;
use pbs_mover::ui::tasks::scans::ScanRequest;
use pbs_mover::ui::tasks::{AppEvent, Command};
use pbs_mover::ui::theme::Theme;
use pbs_mover::ui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};

struct Fixture {
    _dir: tempfile::TempDir,
    ds: Arc<Datastore>,
}

fn demo(groups: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    // A fixed store name keeps the title line (and so the snapshots) stable.
    let store = dir.path().join("store1");
    std::fs::create_dir(&store).unwrap();
    create_demo(
        &store,
        DemoSpec {
            groups,
            full_chunk_store: false,
        },
    )
    .unwrap();
    let ds = Locator {
        path: Some(store),
        config_dir: Some(dir.path().join("no-config")),
        ..Default::default()
    }
    .locate()
    .unwrap();
    Fixture {
        _dir: dir,
        ds: Arc::new(ds),
    }
}

fn app_on(f: &Fixture, no_color: bool) -> App {
    let mut app = App::new(
        Arc::clone(&f.ds),
        PathBuf::from("/nonexistent/locks"),
        Keymap::defaults(),
        Theme::new(no_color),
    );
    app.run_commands_blocking();
    app
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Presses keys one by one, running any scans they start; returns the last "redraw?" answer.
fn press(app: &mut App, keys: &[KeyCode]) -> bool {
    let mut changed = false;
    for k in keys {
        changed = app.handle_event(AppEvent::Key(key(*k)));
        app.run_commands_blocking();
    }
    changed
}

fn chars(app: &mut App, s: &str) {
    for c in s.chars() {
        press(app, &[KeyCode::Char(c)]);
    }
}

fn draw(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| view::draw(f, app)).unwrap();
    terminal
}

/// Selects the tree row whose text contains `label` by walking down from the top.
fn select_row(app: &mut App, label: &str) {
    press(app, &[KeyCode::Char('g')]);
    for _ in 0..200 {
        let t = draw(app, 80, 24);
        let row = selected_row_text(&t);
        if row.contains(label) {
            return;
        }
        press(app, &[KeyCode::Char('j')]);
    }
    panic!("no row with {label}");
}

fn selected_row_text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .find(|line| line.contains("│> "))
        .unwrap_or_default()
}

#[test]
fn initial_screen_80x24() {
    let f = demo(40);
    let mut app = app_on(&f, false);
    insta::assert_snapshot!("initial_80x24", draw(&mut app, 80, 24).backend());
}

#[test]
fn group_with_snapshots_and_snapshot_details_80x24() {
    let f = demo(40);
    let mut app = app_on(&f, false);
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Enter]);
    insta::assert_snapshot!("group_expanded_80x24", draw(&mut app, 80, 24).backend());
    press(&mut app, &[KeyCode::Char('l')]);
    assert!(matches!(app.selection(), Selection::Snapshot(..)));
    insta::assert_snapshot!("snapshot_details_80x24", draw(&mut app, 80, 24).backend());
}

#[test]
fn namespace_details_show_full_path() {
    let f = demo(40);
    let mut app = app_on(&f, false);
    select_row(&mut app, "prod");
    press(&mut app, &[KeyCode::Char('l')]);
    select_row(&mut app, " web");
    press(&mut app, &[KeyCode::Char('l')]);
    select_row(&mut app, "eu-west");
    assert_eq!(
        app.selection(),
        Selection::Ns(Namespace::parse("prod/web/eu-west").unwrap())
    );
    insta::assert_snapshot!("nested_namespace_80x24", draw(&mut app, 80, 24).backend());
}

#[test]
fn help_overlay_80x24() {
    let f = demo(40);
    let mut app = app_on(&f, false);
    assert!(press(&mut app, &[KeyCode::Char('?')]));
    insta::assert_snapshot!("help_80x24", draw(&mut app, 80, 24).backend());
    assert!(press(&mut app, &[KeyCode::Esc]));
    assert!(app.help.is_none());
}

#[test]
fn filter_80x24() {
    let f = demo(40);
    let mut app = app_on(&f, false);
    press(&mut app, &[KeyCode::Char('/')]);
    chars(&mut app, "cust");
    insta::assert_snapshot!("filter_typing_80x24", draw(&mut app, 80, 24).backend());
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
    let f = demo(40);
    let mut app = app_on(&f, false);
    press(&mut app, &[KeyCode::Char('/')]);
    chars(&mut app, "zzz-nothing");
    let t = draw(&mut app, 80, 24);
    assert!(
        t.backend()
            .to_string()
            .contains("nothing matches the filter")
    );
    // q is text while typing a filter, not quit.
    press(&mut app, &[KeyCode::Char('q')]);
    assert!(!app.should_quit());
    assert_eq!(app.filter.text, "zzz-nothingq");
}

#[test]
fn minimum_size_60x16() {
    let f = demo(40);
    let mut app = app_on(&f, false);
    insta::assert_snapshot!("minimum_60x16", draw(&mut app, 60, 16).backend());
}

#[test]
fn too_small_40x12_shows_one_clear_line() {
    let f = demo(40);
    let mut app = app_on(&f, false);
    let t = draw(&mut app, 40, 12);
    insta::assert_snapshot!("too_small_40x12", t.backend());
    let text = t.backend().to_string();
    assert!(text.contains("need 60x16"), "{text}");
    // Tiny and zero-sized terminals must not panic either.
    for (w, h) in [(1, 1), (0, 0), (10, 0), (59, 30), (200, 15)] {
        draw(&mut app, w, h);
    }
}

#[test]
fn no_color_80x24_has_no_colours_and_a_visible_selection() {
    let f = demo(40);
    let mut app = app_on(&f, true);
    press(&mut app, &[KeyCode::Char('j')]);
    let t = draw(&mut app, 80, 24);
    insta::assert_snapshot!("no_color_80x24", t.backend());
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, Color::Reset, "colour under NO_COLOR at {cell:?}");
        assert_eq!(cell.bg, Color::Reset, "colour under NO_COLOR at {cell:?}");
    }
    let (y, line) = (0..buf.area.height)
        .map(|y| {
            let s: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            (y, s)
        })
        .find(|(_, s)| s.contains("│> "))
        .expect("a row with the > marker");
    let x = line.chars().position(|c| c == '>').unwrap() as u16;
    assert!(buf[(x + 2, y)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn colour_theme_highlights_the_selection() {
    let f = demo(40);
    let mut app = app_on(&f, false);
    let t = draw(&mut app, 80, 24);
    let buf = t.backend().buffer();
    // Row 2 is the first tree row (title, border): the selected root.
    assert_eq!(buf[(3, 2)].bg, Color::Cyan);
    assert_eq!(buf[(1, 2)].symbol(), ">");
}

#[test]
fn navigation_keys() {
    let f = demo(40);
    let mut app = app_on(&f, false);
    draw(&mut app, 80, 24);
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
    let f = demo(40);
    let mut app = App::new(
        Arc::clone(&f.ds),
        PathBuf::from("/x"),
        Keymap::defaults(),
        Theme::new(true),
    );
    let first = app.take_commands();
    assert_eq!(
        first,
        vec![Command::Scan(ScanRequest::Namespace {
            generation: 1,
            ns: Namespace::root()
        })]
    );
    // Feed the result back by hand: it asks for the sizes of root's groups, nothing deeper.
    let mut results = Vec::new();
    for req in scans(first) {
        pbs_mover::ui::tasks::scans::run(&f.ds, req, &mut |r| results.push(r));
    }
    for r in results {
        assert!(app.handle_event(AppEvent::Scan(r)));
    }
    let next = app.take_commands();
    assert_eq!(next.len(), 1);
    assert!(matches!(&next[0], Command::Scan(ScanRequest::Sizes { ns, .. }) if ns.is_root()));
    assert!(app.busy());
    for req in scans(next) {
        pbs_mover::ui::tasks::scans::run(&f.ds, req, &mut |r| {
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
    let f = demo(40);
    let mut app = app_on(&f, false);
    // Start two loads of root; only the newer generation may land.
    app.refresh_ns(&Namespace::root());
    let old = app.take_commands();
    app.refresh_ns(&Namespace::root());
    let mut results = Vec::new();
    for req in scans(old) {
        pbs_mover::ui::tasks::scans::run(&f.ds, req, &mut |r| results.push(r));
    }
    for r in results {
        assert!(!app.handle_event(AppEvent::Scan(r)), "stale result applied");
    }
    app.run_commands_blocking();
    assert!(!app.busy() || app.take_commands().is_empty());
}

#[test]
fn refresh_keeps_the_cursor_and_sees_changes() {
    let f = demo(40);
    let mut app = app_on(&f, false);
    select_row(&mut app, "ct/");
    let before = app.selection();
    let Selection::Group(ns, g) = before.clone() else {
        panic!("{before:?}")
    };
    // A group appears behind our back; `r` picks it up and the cursor stays.
    let new = GroupId::parse("vm/999999").unwrap();
    std::fs::create_dir_all(f.ds.group_path(&ns, &new)).unwrap();
    press(&mut app, &[KeyCode::Char('r')]);
    assert_eq!(app.selection(), Selection::Group(ns.clone(), g));
    assert!(app.model.group(&ns, &new).is_some());
    // The new group has no owner file: that is reported in the status pane.
    let t = draw(&mut app, 80, 24);
    assert!(t.backend().to_string().contains("owner file missing"));
}

#[test]
fn quit_keys() {
    let f = demo(4);
    let mut app = app_on(&f, false);
    press(&mut app, &[KeyCode::Char('q')]);
    assert!(app.should_quit());
    let mut app = app_on(&f, false);
    press(&mut app, &[KeyCode::Char('/')]);
    app.handle_event(AppEvent::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(app.should_quit(), "Ctrl-C quits even while typing a filter");
}

#[test]
fn user_keymap_changes_help_and_footer() {
    let f = demo(4);
    let keymap = Keymap::parse(
        pbs_mover::ui::keys::keymap::DEFAULT_KEYMAP,
        Some("[tree]\nquit = [\"x\"]\nhelp = [\"f2\"]\n"),
    )
    .unwrap();
    let mut app = App::new(
        Arc::clone(&f.ds),
        PathBuf::from("/x"),
        keymap,
        Theme::new(true),
    );
    app.run_commands_blocking();
    let footer = draw(&mut app, 80, 24).backend().to_string();
    assert!(footer.contains("F2 help"), "{footer}");
    assert!(footer.contains("x quit"), "{footer}");
    press(&mut app, &[KeyCode::F(2)]);
    let help = draw(&mut app, 80, 24).backend().to_string();
    assert!(help.contains("x "), "{help}");
    press(&mut app, &[KeyCode::Esc]);
    press(&mut app, &[KeyCode::Char('q')]);
    assert!(!app.should_quit());
    press(&mut app, &[KeyCode::Char('x')]);
    assert!(app.should_quit());
}

/// The scan requests among queued commands.
fn scans(commands: Vec<Command>) -> Vec<ScanRequest> {
    commands
        .into_iter()
        .filter_map(|c| match c {
            Command::Scan(req) => Some(req),
            _ => None,
        })
        .collect()
}
