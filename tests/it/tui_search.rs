//! Searching the whole datastore in the TUI (`/`, n/N, Enter, Esc), selecting every match
//! (`*`) into one batch move, the sort key (`o`) and the position in the tree title:
//! app-state tests on the real App with scans and moves run inline, results checked on
//! disk, and insta render tests at 80×24 with and without NO_COLOR.

use crate::support;

use crossterm::event::KeyCode;
use pbs_mover::tree::{GroupId, Namespace};
use support::Store;
use support::tui::{
    AppEvent, Command, Keymap, Selection, app_on, assert_no_colour, chars, datastore, draw,
    executor, new_app, press, screen,
};

const T1: &str = "2024-01-01T00:00:00Z";
const T2: &str = "2024-02-01T00:00:00Z";
const T3: &str = "2024-03-01T00:00:00Z";

fn ns(s: &str) -> Namespace {
    Namespace::parse(s).unwrap()
}

fn gid(s: &str) -> GroupId {
    GroupId::parse(s).unwrap()
}

/// root: vm/99, vm/100, vm/1000; a/b/c (three levels down): vm/1234 with notes;
/// x: ct/1234 owned by alice@pbs; target: empty.
fn store() -> Store {
    let s = Store::empty(&["a", "a/b", "a/b/c", "x", "target"]);
    s.add_group("", "vm/1000", "root@pam", &[T1]);
    s.add_group("", "vm/99", "root@pam", &[T1, T2, T3]);
    s.add_group("", "vm/100", "root@pam", &[T1, T2]);
    s.add_group("a/b/c", "vm/1234", "root@pam", &[T1, T2]);
    std::fs::write(
        s.group_dir("a/b/c", "vm/1234").join("notes"),
        "primary database\nmore text\n",
    )
    .unwrap();
    s.add_group("x", "ct/1234", "alice@pbs", &[T1]);
    s
}

fn search(app: &mut support::tui::App, text: &str) {
    press(app, &[KeyCode::Char('/')]);
    chars(app, text);
}

#[test]
fn search_finds_a_group_in_a_namespace_never_loaded_and_n_n_walk_the_matches() {
    let s = store();
    let mut app = app_on(&s, true);
    assert!(
        app.model.ns(&ns("a/b/c")).is_none(),
        "a/b/c is not loaded yet"
    );
    search(&mut app, "1234");
    // The first match in tree order: three levels down, its way listed and opened.
    assert_eq!(
        app.selection(),
        Selection::Group(ns("a/b/c"), gid("vm/1234"))
    );
    assert!(app.model.ns(&ns("a/b/c")).is_some());
    let text = screen(&mut app);
    assert!(text.contains("/1234: 1 of 2 matches"), "{text}");
    // Enter keeps the cursor on the match.
    press(&mut app, &[KeyCode::Enter]);
    assert!(!app.filter.editing);
    assert_eq!(
        app.selection(),
        Selection::Group(ns("a/b/c"), gid("vm/1234"))
    );
    press(&mut app, &[KeyCode::Char('n')]);
    assert_eq!(app.selection(), Selection::Group(ns("x"), gid("ct/1234")));
    assert!(screen(&mut app).contains("2 of 2 matches"));
    // Wraps around, and N goes back.
    press(&mut app, &[KeyCode::Char('n')]);
    assert_eq!(
        app.selection(),
        Selection::Group(ns("a/b/c"), gid("vm/1234"))
    );
    press(&mut app, &[KeyCode::Char('N')]);
    assert_eq!(app.selection(), Selection::Group(ns("x"), gid("ct/1234")));
    // Esc in the tree clears the search; n then only says so.
    press(&mut app, &[KeyCode::Esc]);
    assert!(app.search.hits.is_empty());
    press(&mut app, &[KeyCode::Char('n')]);
    assert_eq!(app.selection(), Selection::Group(ns("x"), gid("ct/1234")));
}

#[test]
fn search_matches_namespace_paths_owners_and_notes() {
    let s = store();
    let mut app = app_on(&s, true);
    search(&mut app, "primary");
    assert_eq!(
        app.selection(),
        Selection::Group(ns("a/b/c"), gid("vm/1234"))
    );
    press(&mut app, &[KeyCode::Esc]);
    search(&mut app, "alice");
    assert_eq!(app.selection(), Selection::Group(ns("x"), gid("ct/1234")));
    press(&mut app, &[KeyCode::Esc]);
    search(&mut app, "a/b");
    assert_eq!(app.selection(), Selection::Ns(ns("a/b")));
    press(&mut app, &[KeyCode::Esc]);
    // A namespace term narrows the groups: only the one in x.
    search(&mut app, "x 1234");
    assert_eq!(app.search.hits.len(), 1);
    assert_eq!(app.selection(), Selection::Group(ns("x"), gid("ct/1234")));
}

#[test]
fn esc_while_typing_goes_back_to_where_the_search_started() {
    let s = store();
    let mut app = app_on(&s, true);
    press(&mut app, &[KeyCode::Char('G')]);
    let start = app.selection();
    search(&mut app, "1234");
    assert_ne!(app.selection(), start);
    press(&mut app, &[KeyCode::Esc]);
    assert_eq!(app.selection(), start);
    assert!(app.filter.text.is_empty() && !app.filter.editing);
    // Nothing matches: said in the tree's border, the cursor stays.
    search(&mut app, "no-such-thing");
    assert_eq!(app.selection(), start);
    assert!(screen(&mut app).contains("/no-such-thing: no matches"));
}

#[test]
fn before_the_index_arrives_loaded_levels_are_searched_and_indexing_is_shown() {
    let s = store();
    let mut app = new_app(&s, datastore(&s), Keymap::defaults(), true);
    // Run the scans, hold the index build back.
    let mut held = Vec::new();
    loop {
        let cmds = app.take_commands();
        if cmds.is_empty() {
            break;
        }
        for c in cmds {
            if matches!(c, Command::BuildIndex { .. }) {
                held.push(c);
                continue;
            }
            for ev in executor::run_inline(&app.ctx.clone(), c) {
                app.handle_event(ev);
            }
        }
    }
    search(&mut app, "vm/1");
    // vm/100 and vm/1000 are in the loaded root: found, with the build still running.
    let text = screen(&mut app);
    assert!(text.contains("1 of 2 matches, indexing…"), "{text}");
    assert_eq!(app.selection(), Selection::Group(ns(""), gid("vm/100")));
    for c in held {
        for ev in executor::run_inline(&app.ctx.clone(), c) {
            app.handle_event(ev);
        }
    }
    app.run_commands_blocking();
    // Now the whole datastore: vm/1234 three levels down matches too, the current match
    // stays current.
    let text = screen(&mut app);
    assert!(text.contains("2 of 3 matches"), "{text}");
    assert!(!text.contains("indexing"), "{text}");
}

#[test]
fn star_selects_every_match_across_namespaces_for_one_batch_move() {
    let s = store();
    let mut app = app_on(&s, true);
    search(&mut app, "1234");
    press(&mut app, &[KeyCode::Enter, KeyCode::Char('*')]);
    let marked: Vec<_> = app.marks.groups.iter().cloned().collect();
    assert_eq!(
        marked,
        [(ns("a/b/c"), gid("vm/1234")), (ns("x"), gid("ct/1234"))]
    );
    press(&mut app, &[KeyCode::Char('p')]);
    chars(&mut app, "target");
    press(&mut app, &[KeyCode::Enter]);
    let text = screen(&mut app);
    assert!(text.contains("Will move: 2 groups, 3 snapshots"), "{text}");
    press(&mut app, &[KeyCode::Char('y')]);
    assert!(s.group_dir("target", "vm/1234").is_dir());
    assert!(s.group_dir("target", "ct/1234").is_dir());
    assert!(!s.group_dir("a/b/c", "vm/1234").exists());
    assert!(!s.group_dir("x", "ct/1234").exists());
    // The index was rebuilt after the move: the groups are found at their new place.
    press(&mut app, &[KeyCode::Esc]);
    search(&mut app, "1234");
    let found: Vec<_> = app.search.hits.iter().map(|h| h.ns.human()).collect();
    assert_eq!(found, ["target", "target"]);
}

#[test]
fn star_without_a_search_or_without_group_matches_selects_nothing() {
    let s = store();
    let mut app = app_on(&s, true);
    press(&mut app, &[KeyCode::Char('*')]);
    assert!(app.marks.is_empty());
    search(&mut app, "a/b");
    press(&mut app, &[KeyCode::Enter, KeyCode::Char('*')]);
    assert!(
        app.marks.is_empty(),
        "namespaces are not selected by a pattern"
    );
}

#[test]
fn a_rescan_updates_the_index_without_waiting_for_a_rebuild() {
    let s = store();
    let mut app = app_on(&s, true);
    s.add_group("", "vm/4242", "root@pam", &[T1]);
    press(&mut app, &[KeyCode::Char('r')]);
    search(&mut app, "4242");
    assert_eq!(app.selection(), Selection::Group(ns(""), gid("vm/4242")));
}

#[test]
fn groups_are_in_natural_order_and_o_cycles_the_sort_key() {
    let s = store();
    let mut app = app_on(&s, true);
    let groups = |app: &mut support::tui::App| -> Vec<String> {
        app.visible_paths()
            .iter()
            .filter(|p| p.len() == 2)
            .filter_map(|p| match p.last() {
                Some(pbs_mover::ui::model::NodeKey::Group(g)) => Some(g.to_string()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(groups(&mut app), ["vm/99", "vm/100", "vm/1000"]);
    let title = |app: &mut support::tui::App| screen(app).lines().nth(1).unwrap().to_string();
    assert!(
        title(&mut app).contains("sort: name  1/7"),
        "{}",
        title(&mut app)
    );
    // newest: all have T1 as oldest; vm/99 has T3, vm/100 T2.
    press(&mut app, &[KeyCode::Char('o')]);
    assert_eq!(groups(&mut app), ["vm/99", "vm/100", "vm/1000"]);
    assert!(title(&mut app).contains("sort: newest"));
    press(&mut app, &[KeyCode::Char('o')]);
    assert!(title(&mut app).contains("sort: size"));
    // Sizes: three snapshots' files are more than one's.
    assert_eq!(groups(&mut app), ["vm/99", "vm/100", "vm/1000"]);
    press(&mut app, &[KeyCode::Char('o')]);
    assert!(title(&mut app).contains("sort: snapshots"));
    s.add_group(
        "",
        "vm/5",
        "root@pam",
        &[T1, T2, T3, "2024-04-01T00:00:00Z"],
    );
    press(&mut app, &[KeyCode::Char('r')]);
    assert_eq!(groups(&mut app), ["vm/5", "vm/99", "vm/100", "vm/1000"]);
    press(&mut app, &[KeyCode::Char('o')]);
    assert!(title(&mut app).contains("sort: name"));
    assert_eq!(groups(&mut app), ["vm/5", "vm/99", "vm/100", "vm/1000"]);
    // The position follows the cursor.
    press(&mut app, &[KeyCode::Char('G')]);
    assert!(title(&mut app).contains("8/8"), "{}", title(&mut app));
}

// ----- render snapshots -----

fn both(name: &str, mut build: impl FnMut(bool) -> support::tui::App) {
    let mut app = build(false);
    insta::assert_snapshot!(name.to_string(), draw(&mut app).backend());
    let mut app = build(true);
    let t = draw(&mut app);
    assert_no_colour(&t);
    insta::assert_snapshot!(format!("{name}_no_color"), t.backend());
}

#[test]
fn search_results_80x24() {
    both("search_results_80x24", |no_color| {
        let s = store();
        let mut app = app_on(&s, no_color);
        search(&mut app, "1234");
        press(&mut app, &[KeyCode::Enter]);
        app
    });
    both("search_typing_80x24", |no_color| {
        let s = Store::demo(40);
        let mut app = app_on(&s, no_color);
        search(&mut app, "ct/1");
        app
    });
}

#[test]
fn sort_modes_80x24() {
    for (presses, name) in [
        (1, "sort_newest_80x24"),
        (2, "sort_size_80x24"),
        (3, "sort_snapshots_80x24"),
    ] {
        both(name, |no_color| {
            let s = Store::demo(40);
            let mut app = app_on(&s, no_color);
            for _ in 0..presses {
                press(&mut app, &[KeyCode::Char('o')]);
            }
            app
        });
    }
}

#[test]
fn hits_are_highlighted_in_colour_and_without() {
    use ratatui::style::{Color, Modifier};
    for no_color in [false, true] {
        let s = store();
        let mut app = app_on(&s, no_color);
        search(&mut app, "1234");
        press(&mut app, &[KeyCode::Enter]);
        // Off the match, so the selection style does not cover it.
        press(&mut app, &[KeyCode::Char('g')]);
        let t = draw(&mut app);
        let (y, line) = support::tui::lines(&t)
            .into_iter()
            .find(|(_, l)| l.contains("vm/1234"))
            .unwrap();
        let x = line.find("vm/1234").unwrap();
        let x = line[..x].chars().count() as u16;
        let cell = &t.backend().buffer()[(x, y)];
        if no_color {
            assert!(cell.modifier.contains(Modifier::UNDERLINED), "{cell:?}");
        } else {
            assert_eq!(cell.bg, Color::Yellow, "{cell:?}");
        }
    }
}

#[test]
fn the_index_answers_after_a_build_event_only_for_its_generation() {
    let s = store();
    let mut app = app_on(&s, true);
    // A stale build result (older generation) is dropped.
    let stale = AppEvent::Index {
        generation: 0,
        result: Err("stale".into()),
    };
    assert!(!app.handle_event(stale));
}

/// Runs the App's commands inline like `run_commands_blocking`, but keeps the comment
/// passes back (returned), so a test sees the state while one runs.
fn run_holding_comment_passes(app: &mut support::tui::App) -> Vec<Command> {
    let mut held = Vec::new();
    loop {
        let commands = app.take_commands();
        if commands.is_empty() {
            return held;
        }
        for c in commands {
            if matches!(c, Command::IndexComments { .. }) {
                held.push(c);
                continue;
            }
            for ev in executor::run_inline(&app.ctx.clone(), c) {
                app.handle_event(ev);
            }
        }
    }
}

fn run_held(app: &mut support::tui::App, held: Vec<Command>) {
    for c in held {
        for ev in executor::run_inline(&app.ctx.clone(), c) {
            app.handle_event(ev);
        }
    }
}

#[test]
fn the_comment_pass_finds_a_group_never_on_screen_by_its_newest_comment() {
    use support::store::manifest_spec;
    let s = store();
    let mut old = manifest_spec("vm/1234", T1, 1 << 30);
    old.notes = Some("an older comment".to_string());
    s.write_manifest("a/b/c", "vm/1234", T1, &old);
    let mut spec = manifest_spec("vm/1234", T2, 1 << 30);
    spec.notes = Some("before the kernel upgrade\nsecond line".to_string());
    s.write_manifest("a/b/c", "vm/1234", T2, &spec);
    // A backup still running: no manifest yet, so T2 stays the newest with a comment.
    let running = s.group_dir("a/b/c", "vm/1234").join(T3);
    std::fs::create_dir(&running).unwrap();
    std::fs::write(running.join("root.pxar.didx"), "partial").unwrap();

    let mut app = new_app(&s, datastore(&s), Keymap::defaults(), true);
    let held = run_holding_comment_passes(&mut app);
    assert_eq!(held.len(), 1, "one comment pass after the build: {held:?}");
    search(&mut app, "kernel");
    run_holding_comment_passes(&mut app);
    assert!(app.search.hits.is_empty(), "comments not read yet");
    let text = screen(&mut app);
    assert!(text.contains("no matches, indexing comments…"), "{text}");
    run_held(&mut app, held);
    assert_eq!(
        app.search
            .hits
            .iter()
            .map(|h| (h.ns.clone(), h.group.clone()))
            .collect::<Vec<_>>(),
        vec![(ns("a/b/c"), Some(gid("vm/1234")))]
    );
    assert!(
        app.model.ns(&ns("a/b/c")).is_none(),
        "read without listing a/b/c"
    );
    let text = screen(&mut app);
    assert!(
        text.contains("/kernel: 1 matches ") || text.contains("/kernel: 1 match"),
        "{text}"
    );
    assert!(!text.contains("indexing"), "{text}");
    // Only the newest snapshot with a manifest counts, and only its first line.
    press(&mut app, &[KeyCode::Esc]);
    search(&mut app, "older comment");
    assert!(app.search.hits.is_empty());
    press(&mut app, &[KeyCode::Esc]);
    search(&mut app, "second line");
    assert!(app.search.hits.is_empty());
}

#[test]
fn a_new_index_build_cancels_the_running_comment_pass_and_drops_its_batches() {
    let s = store();
    let mut app = new_app(&s, datastore(&s), Keymap::defaults(), true);
    let stale = run_holding_comment_passes(&mut app);
    app.rebuild_index();
    let fresh = run_holding_comment_passes(&mut app);
    assert_eq!(fresh.len(), 1);
    // The old pass was cancelled: it reads nothing and reports nothing.
    for c in stale.clone() {
        assert!(executor::run_inline(&app.ctx.clone(), c).is_empty());
    }
    // A batch of an older generation is dropped even if it was already on its way.
    let Command::IndexComments { generation, .. } = &stale[0] else {
        unreachable!()
    };
    let late = AppEvent::Comments {
        generation: *generation,
        batch: Vec::new(),
        done: true,
    };
    assert!(!app.handle_event(late));
    search(&mut app, "1234");
    assert!(screen(&mut app).contains("indexing comments…"));
    run_held(&mut app, fresh);
    assert!(!screen(&mut app).contains("indexing"));
}

/// The group under the cursor, as `type/id`.
fn selected_group(app: &support::tui::App) -> String {
    match app.selection() {
        Selection::Group(_, g) => g.to_string(),
        other => panic!("not on a group: {other:?}"),
    }
}

#[test]
fn n_and_shift_n_follow_the_sort_order_the_tree_shows() {
    // By name vm/1, vm/2, vm/3; by snapshots vm/2 (3), vm/3 (2), vm/1 (1).
    let s = Store::empty(&[]);
    s.add_group("", "vm/1", "root@pam", &[T1]);
    s.add_group("", "vm/2", "root@pam", &[T1, T2, T3]);
    s.add_group("", "vm/3", "root@pam", &[T1, T2]);
    let mut app = app_on(&s, true);
    press(&mut app, &[KeyCode::Char('o'), KeyCode::Char('o')]);
    press(&mut app, &[KeyCode::Char('o')]);
    assert!(screen(&mut app).contains("sort: snapshots"));
    search(&mut app, "vm/");
    press(&mut app, &[KeyCode::Enter]);
    assert_eq!(selected_group(&app), "vm/2", "the first match as shown");
    let mut walked = vec![selected_group(&app)];
    for _ in 0..3 {
        press(&mut app, &[KeyCode::Char('n')]);
        walked.push(selected_group(&app));
    }
    assert_eq!(walked, ["vm/2", "vm/3", "vm/1", "vm/2"]);
    press(&mut app, &[KeyCode::Char('N')]);
    assert_eq!(
        selected_group(&app),
        "vm/1",
        "N wraps back to the last shown"
    );
    // `o` back to name order while the search stays: n goes on from vm/1 in that order.
    press(&mut app, &[KeyCode::Char('o')]);
    assert!(screen(&mut app).contains("sort: name"));
    press(&mut app, &[KeyCode::Char('n')]);
    assert_eq!(selected_group(&app), "vm/2");
    press(&mut app, &[KeyCode::Char('n')]);
    assert_eq!(selected_group(&app), "vm/3");
}
