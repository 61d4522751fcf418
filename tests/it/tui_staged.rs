//! A large namespace is listed in two parts: its first page of groups (name order) is shown
//! at once, the whole listing replaces it. The real App and scanner on a generated datastore;
//! the scan results are fed back by hand so the state between the two parts can be looked at.

use crate::support;

use crossterm::event::KeyCode;
use pbs_mover::tree::{GroupId, Namespace};
use support::Store;
use support::tui::{
    App, AppEvent, Command, Keymap, ScanRequest, Selection, chars, datastore, draw, key, lines,
    new_app, press, scans, screen, select_row,
};

const T1: &str = "2024-01-01T00:00:00Z";
const T2: &str = "2024-02-01T00:00:00Z";

/// Root groups: vm/1 … vm/300 (2 snapshots each; natural order differs from byte order),
/// one group without an owner file (a warning), and a child namespace `prod`.
const GROUPS: usize = 300;

fn store() -> Store {
    let s = Store::empty(&["prod"]);
    for i in 1..=GROUPS {
        s.add_group("", &format!("vm/{i}"), "root@pam", &[T1, T2]);
    }
    std::fs::create_dir_all(s.group_dir("", "ct/7").join(T1)).unwrap();
    s.add_group("prod", "vm/9000", "root@pam", &[T1]);
    s
}

/// An App whose first scans have not run, and the results of its root listing in order.
fn app_and_root_results(s: &Store) -> (App, Vec<scans::ScanResult>) {
    let ds = datastore(s);
    let mut app = new_app(s, ds.clone(), Keymap::defaults(), true);
    let commands = app.take_commands();
    assert_eq!(commands.len(), 1, "only the root listing at start");
    let Some(Command::Scan(req @ ScanRequest::Namespace { .. })) = commands.into_iter().next()
    else {
        panic!("the first command lists the root");
    };
    let mut results = Vec::new();
    scans::run(&ds, req, &mut |r| results.push(r));
    (app, results)
}

fn details_of(app: &mut App) -> String {
    let t = draw(app);
    lines(&t)
        .into_iter()
        .filter_map(|(_, l)| l.split('│').nth(3).map(|d| d.trim_end().to_string()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of a details field, e.g. `Snapshots`.
fn field(details: &str, name: &str) -> String {
    details
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in\n{details}"))
        .trim()
        .to_string()
}

fn root_groups(app: &App) -> Vec<GroupId> {
    let e = app.model.ns(&Namespace::root()).expect("root listed");
    e.groups.iter().map(|g| g.info.group.clone()).collect()
}

#[test]
fn the_first_page_is_shown_before_the_whole_root_listing() {
    let s = store();
    let (mut app, mut results) = app_and_root_results(&s);
    assert_eq!(results.len(), 2, "a part, then the whole listing");
    let whole = results.pop().unwrap();
    let part = results.pop().unwrap();
    let scans::ScanResult::NamespacePart {
        groups,
        total,
        children,
        ..
    } = &part
    else {
        panic!("first a part: {part:?}")
    };
    assert_eq!(*total, GROUPS + 1);
    assert_eq!(children, &vec![Namespace::parse("prod").unwrap()]);
    // The first page in the tree's (natural) order: vm/1 … vm/128, not vm/1, vm/10, vm/100.
    let want: Vec<String> = (1..=scans::FIRST_PART).map(|i| format!("vm/{i}")).collect();
    let got: Vec<String> = groups.iter().map(|g| g.group.to_string()).collect();
    assert_eq!(got, want);

    assert!(app.handle_event(AppEvent::Scan(part)));
    assert!(app.root_listed() && !app.root_complete());
    assert!(app.busy(), "the listing is still outstanding");
    let text = screen(&mut app);
    assert!(text.contains("vm/2  2 snaps"), "{text}");
    assert!(text.contains("prod"), "{text}");
    assert!(
        text.contains(&format!(
            "loading… {} of {} groups",
            scans::FIRST_PART,
            GROUPS + 1
        )),
        "{text}"
    );
    assert!(
        !text.contains("owner file missing"),
        "warnings wait: {text}"
    );
    // Drawing a part reads no manifests and starts no index build yet: the rest of the
    // listing has the cores.
    let commands = app.take_commands();
    assert!(commands.is_empty(), "{commands:?}");

    assert!(app.handle_event(AppEvent::Scan(whole)));
    assert!(app.root_complete());
    assert!(
        app.take_urgent_frame(),
        "the whole listing is drawn at once"
    );
    assert_eq!(root_groups(&app).len(), GROUPS + 1);
    let text = screen(&mut app);
    assert!(!text.contains("more groups"), "{text}");
    assert!(text.contains("owner file missing"), "reported once, now");
    let commands = app.take_commands();
    assert!(commands.contains(&Command::BuildIndex { generation: 1 }));
}

#[test]
fn the_whole_listing_equals_one_read_of_the_level_and_the_one_shot_tree() {
    let s = store();
    let ds = datastore(&s);
    let (_, results) = app_and_root_results(&s);
    let Some(scans::ScanResult::Namespace { result, .. }) = results.last() else {
        panic!("{results:?}")
    };
    let (children, groups) = result.clone().unwrap();
    let root = Namespace::root();
    let one_shot = ds.list_groups(&root, false).unwrap();
    assert_eq!(groups.items, one_shot.items, "same groups, same order");
    assert_eq!(groups.warnings, one_shot.warnings, "same warnings");
    assert_eq!(children, ds.list_child_namespaces(&root).unwrap());

    // Staged (part applied and drawn, then the whole) against everything at once, in every
    // sort order `o` cycles through.
    let (mut staged, results) = app_and_root_results(&s);
    let mut results = results.into_iter();
    staged.handle_event(AppEvent::Scan(results.next().unwrap()));
    draw(&mut staged);
    for r in results {
        staged.handle_event(AppEvent::Scan(r));
    }
    staged.run_commands_blocking();
    let mut at_once = new_app(&s, ds, Keymap::defaults(), true);
    at_once.run_commands_blocking();
    for _ in 0..4 {
        draw(&mut staged);
        staged.run_commands_blocking();
        draw(&mut at_once);
        at_once.run_commands_blocking();
        assert_eq!(screen(&mut staged), screen(&mut at_once));
        assert_eq!(staged.visible_paths(), at_once.visible_paths());
        press(&mut staged, &[KeyCode::Char('o')]);
        press(&mut at_once, &[KeyCode::Char('o')]);
    }
    // The search index knows every root group either way.
    for app in [&mut staged, &mut at_once] {
        press(app, &[KeyCode::Char('/')]);
        chars(app, "vm/299");
        press(app, &[KeyCode::Enter]);
        let sel = app.selection();
        assert_eq!(
            sel,
            Selection::Group(Namespace::root(), GroupId::parse("vm/299").unwrap())
        );
    }
}

#[test]
fn counts_over_a_part_are_shown_as_not_known() {
    let s = store();
    let (mut app, results) = app_and_root_results(&s);
    let mut results = results.into_iter();
    app.handle_event(AppEvent::Scan(results.next().unwrap()));
    // The cursor is on the root: its details.
    let d = details_of(&mut app);
    assert_eq!(field(&d, "Snapshots"), "…", "{d}");
    assert_eq!(field(&d, "Protected"), "…", "{d}");
    assert_eq!(field(&d, "Newest"), "…", "{d}");
    assert_eq!(field(&d, "Size"), "…", "{d}");
    assert_eq!(
        field(&d, "Groups"),
        format!("{} ({} so far)", GROUPS + 1, scans::FIRST_PART),
        "the number of groups is known from the ids"
    );
    // Whole listing, size pass not run yet: the snapshot count is known, protected is not.
    for r in results {
        app.handle_event(AppEvent::Scan(r));
    }
    let d = details_of(&mut app);
    assert_eq!(field(&d, "Snapshots"), (2 * GROUPS + 1).to_string(), "{d}");
    assert_eq!(field(&d, "Groups"), (GROUPS + 1).to_string(), "{d}");
    assert_eq!(
        field(&d, "Protected"),
        "…",
        "not 0 before the size pass: {d}"
    );
    app.run_commands_blocking();
    let d = details_of(&mut app);
    assert_eq!(field(&d, "Protected"), "0", "{d}");
}

#[test]
fn the_cursor_on_a_row_of_the_part_survives_the_whole_listing() {
    let s = store();
    let (mut app, results) = app_and_root_results(&s);
    let mut results = results.into_iter();
    app.handle_event(AppEvent::Scan(results.next().unwrap()));
    select_row(&mut app, "vm/5 ");
    let want = Selection::Group(Namespace::root(), GroupId::parse("vm/5").unwrap());
    assert_eq!(app.selection(), want);
    for r in results {
        app.handle_event(AppEvent::Scan(r));
    }
    draw(&mut app);
    assert_eq!(app.selection(), want);

    // On the "loading… more" row, the cursor goes to the group now in its place.
    let (mut app, results) = app_and_root_results(&s);
    let mut results = results.into_iter();
    app.handle_event(AppEvent::Scan(results.next().unwrap()));
    draw(&mut app);
    app.handle_event(AppEvent::Key(key(KeyCode::End)));
    assert_eq!(app.selection(), Selection::Placeholder);
    for r in results {
        app.handle_event(AppEvent::Scan(r));
    }
    draw(&mut app);
    assert!(
        matches!(app.selection(), Selection::Group(ns, _) if ns.is_root()),
        "{:?}",
        app.selection()
    );
}

#[test]
fn a_move_while_the_root_is_still_listed_is_not_undone_by_the_old_listing() {
    let s = store();
    let (mut app, results) = app_and_root_results(&s);
    let mut results = results.into_iter();
    app.handle_event(AppEvent::Scan(results.next().unwrap()));
    // Move vm/3 (a row of the part) to prod before the whole listing arrived.
    select_row(&mut app, "vm/3 ");
    press(&mut app, &[KeyCode::Char('m'), KeyCode::Char('p')]);
    chars(&mut app, "prod");
    press(&mut app, &[KeyCode::Enter, KeyCode::Char('y')]);
    assert!(!s.group_dir("", "vm/3").exists());
    assert!(s.group_dir("prod", "vm/3").is_dir());
    // The refresh after the move listed the root again; the first load's listing is stale.
    assert!(app.root_complete());
    let vm3 = GroupId::parse("vm/3").unwrap();
    assert!(!root_groups(&app).contains(&vm3));
    for r in results {
        assert!(
            !app.handle_event(AppEvent::Scan(r)),
            "stale listing applied"
        );
    }
    assert!(!root_groups(&app).contains(&vm3));
    assert_eq!(root_groups(&app).len(), GROUPS);
    app.run_commands_blocking();
    assert!(!app.busy());
    let text = screen(&mut app);
    assert!(!text.contains("vm/3 "), "{text}");
}
