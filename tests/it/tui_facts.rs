//! The browser shows what PBS knows about each snapshot: backup size, crypt mode, verify
//! state and time, comment, protected, for the rows on screen only; damaged manifests as a
//! warning; notes in a scrollable popup. TestBackend at 80×24, with and without NO_COLOR.

use crate::support;

use crossterm::event::KeyCode;
use support::api::{ArchiveCrypt, VerifyState};
use support::store::manifest_spec;
use support::tui::{
    App, Command, Popup, Selection, app_on, assert_no_colour, draw, executor, lines, press, screen,
    select_row,
};
use support::{Store, epoch_times};

const T1: &str = "2025-01-01T00:00:00Z";
const T2: &str = "2025-02-01T00:00:00Z";
const T3: &str = "2025-03-01T00:00:00Z";

/// vm/100: plain, signed+failed, and newest encrypted with notes; ct/101: a bad CRC.
fn store() -> Store {
    let s = Store::empty(&[]);
    s.add_group("", "vm/100", "root@pam", &[T1, T2, T3]);
    let mut signed = manifest_spec("vm/100", T2, 11 << 30);
    signed.archives[0].crypt = ArchiveCrypt::SignOnly;
    signed.verified = Some((VerifyState::Failed, 1_738_400_000));
    s.write_manifest("", "vm/100", T2, &signed);
    let mut newest = manifest_spec("vm/100", T3, 40 << 30);
    newest.archives[0].crypt = ArchiveCrypt::Encrypt;
    newest.notes = Some("before the kernel upgrade\nticket OPS-1234\nkeep it".to_string());
    newest.verified = Some((VerifyState::Ok, 1_740_790_800));
    s.write_manifest("", "vm/100", T3, &newest);
    let notes: String = (1..=30).map(|i| format!("group note line {i}\n")).collect();
    std::fs::write(s.group_dir("", "vm/100").join("notes"), notes).unwrap();
    s.add_group("", "ct/101", "root@pam", &[T1, T2]);
    let broken = s.group_dir("", "ct/101").join(T2).join("index.json.blob");
    let mut raw = std::fs::read(&broken).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 0x01;
    std::fs::write(&broken, raw).unwrap();
    s
}

/// The app with the manifests of the rows on screen read (a draw asks for them).
fn settled(s: &Store, no_color: bool) -> App {
    let mut app = app_on(s, no_color);
    draw(&mut app);
    app.run_commands_blocking();
    app
}

fn details(app: &mut App) -> String {
    let t = draw(app);
    lines(&t)
        .into_iter()
        .map(|(_, l)| {
            l.split('│')
                .nth(3)
                .unwrap_or_default()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn group_row_and_details_show_the_manifest_facts_80x24() {
    for no_color in [false, true] {
        let s = store();
        let mut app = settled(&s, no_color);
        select_row(&mut app, "vm/100");
        let shown = screen(&mut app);
        assert!(shown.contains("52.0 GiB"), "{shown}");
        assert!(shown.contains("✓ \"before th"), "{shown}");
        let d = details(&mut app);
        assert!(
            d.contains("Verify    ok\nVerified  2025-03-01 01:00"),
            "{d}"
        );
        assert!(d.contains("Comment   before the kernel"), "{d}");
        let t = draw(&mut app);
        if no_color {
            assert_no_colour(&t);
            insta::assert_snapshot!("group_facts_80x24_no_color", t.backend());
        } else {
            insta::assert_snapshot!("group_facts_80x24", t.backend());
        }
    }
}

#[test]
fn snapshot_details_show_size_crypt_verify_comment_protected_80x24() {
    for no_color in [false, true] {
        let s = store();
        std::fs::write(s.group_dir("", "vm/100").join(T3).join(".protected"), b"").unwrap();
        let mut app = settled(&s, no_color);
        select_row(&mut app, "vm/100");
        press(&mut app, &[KeyCode::Enter]);
        select_row(&mut app, T3);
        assert!(matches!(app.selection(), Selection::Snapshot(..)));
        let d = details(&mut app);
        assert!(d.contains("Size      40.0 GiB"), "{d}");
        assert!(d.contains("Crypt     encrypted"), "{d}");
        assert!(d.contains("Protected yes"), "{d}");
        select_row(&mut app, T2);
        let d = details(&mut app);
        assert!(d.contains("Crypt     signed"), "{d}");
        assert!(
            d.contains("Verify    failed\nVerified  2025-02-01 08:53"),
            "{d}"
        );
        let shown = screen(&mut app);
        assert!(shown.contains("11.0 GiB ✗"), "{shown}");
        select_row(&mut app, T3);
        let t = draw(&mut app);
        if no_color {
            assert_no_colour(&t);
            insta::assert_snapshot!("snapshot_facts_80x24_no_color", t.backend());
        } else {
            insta::assert_snapshot!("snapshot_facts_80x24", t.backend());
        }
    }
}

#[test]
fn a_corrupt_manifest_shows_a_warning_not_a_panic() {
    let s = store();
    let mut app = settled(&s, true);
    select_row(&mut app, "ct/101");
    let shown = screen(&mut app);
    assert!(shown.contains("⚠ manifest"), "{shown}");
    let d = details(&mut app);
    assert!(d.contains("⚠ 2025-02-01T00:00:00Z: manif"), "{d}");
    press(&mut app, &[KeyCode::Enter]);
    select_row(&mut app, T2);
    let d = details(&mut app);
    assert!(d.contains("⚠ manifest: bad CRC"), "{d}");
    assert!(
        app.status
            .lines()
            .any(|l| l.text.contains("manifest: bad CRC"))
    );
    insta::assert_snapshot!("corrupt_manifest_80x24_no_color", draw(&mut app).backend());
}

#[test]
fn notes_popup_shows_and_scrolls_group_and_snapshot_notes() {
    let s = store();
    let mut app = settled(&s, true);
    select_row(&mut app, "vm/100");
    press(&mut app, &[KeyCode::Char('i')]);
    assert!(matches!(app.popup, Some(Popup::Notes(_))));
    let shown = screen(&mut app);
    assert!(shown.contains("Notes: vm/100"), "{shown}");
    assert!(shown.contains("group note line 1 "), "{shown}");
    assert!(!shown.contains("group note line 30"), "{shown}");
    press(&mut app, &[KeyCode::Char('G')]);
    let shown = screen(&mut app);
    assert!(shown.contains("group note line 30"), "{shown}");
    assert!(!shown.contains("group note line 1 "), "{shown}");
    insta::assert_snapshot!("notes_popup_80x24_no_color", draw(&mut app).backend());
    press(&mut app, &[KeyCode::Esc]);
    assert!(app.popup.is_none());
    press(&mut app, &[KeyCode::Enter]);
    select_row(&mut app, T3);
    press(&mut app, &[KeyCode::Char('i')]);
    let shown = screen(&mut app);
    assert!(shown.contains("ticket OPS-1234"), "{shown}");
    press(&mut app, &[KeyCode::Char('i')]);
    assert!(app.popup.is_none());
    // A snapshot without notes says so.
    select_row(&mut app, T1);
    press(&mut app, &[KeyCode::Char('i')]);
    assert!(screen(&mut app).contains("no notes"));
}

#[test]
fn manifests_are_read_only_for_rows_on_screen() {
    let s = Store::empty(&[]);
    let times = epoch_times(2);
    let times: Vec<&str> = times.iter().map(String::as_str).collect();
    for i in 0..60 {
        s.add_group("", &format!("vm/{}", 1000 + i), "root@pam", &times);
    }
    let mut app = app_on(&s, true);
    assert!(app.take_commands().is_empty());
    draw(&mut app);
    let reads: Vec<Command> = app
        .take_commands()
        .into_iter()
        .filter(|c| matches!(c, Command::ReadFacts(_)))
        .collect();
    // 24 rows minus title, footer, borders and the status pane: about a dozen groups.
    assert!(!reads.is_empty() && reads.len() < 20, "{}", reads.len());
    // Drawing again asks for nothing new; scrolling to the end asks for the rows there.
    draw(&mut app);
    assert!(app.take_commands().is_empty());
    press(&mut app, &[KeyCode::Char('G')]);
    draw(&mut app);
    let more = app.take_commands();
    assert!(
        more.iter()
            .any(|c| matches!(c, Command::ReadFacts(r) if r.group.id == "1059")),
        "{more:?}"
    );
}

/// The real event loop asks for the manifests of what it drew, without a key press.
#[test]
fn in_a_terminal_the_rows_on_screen_fill_in_by_themselves() {
    let s = Store::demo(40);
    let mut session = support::pty::Session::start(&s, 80, 24, &[("NO_COLOR", "1")]);
    session.wait_text("vm/100");
    // ratatui prints only the cells that changed: the sizes replacing the "…".
    session.wait_text("392.0 GiB");
    session.wait_text("542.9 GiB");
    session.send("q");
    let status = session.wait_exit(std::time::Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

/// The selected namespace's size is read in the background for groups never on screen,
/// batch by batch ("k of n groups read"), cancelled when the cursor leaves it.
#[test]
fn a_selected_namespace_size_is_read_in_the_background_and_cancelled_on_leaving() {
    let s = Store::empty(&["a"]);
    let times = epoch_times(2);
    let times: Vec<&str> = times.iter().map(String::as_str).collect();
    for i in 0..70 {
        s.add_group("a", &format!("vm/{}", 1000 + i), "root@pam", &times);
    }
    let mut app = app_on(&s, true);
    select_row(&mut app, " a");
    press(&mut app, &[KeyCode::Enter]);
    assert_eq!(
        app.selection(),
        Selection::Ns(pbs_mover::tree::Namespace::parse("a").unwrap())
    );
    draw(&mut app);
    let (mut screen_reads, mut held) = (0, Vec::new());
    for c in app.take_commands() {
        match c {
            Command::ReadNsFacts { .. } => held.push(c),
            Command::ReadFacts(_) => {
                screen_reads += 1;
                for ev in executor::run_inline(&app.ctx.clone(), c) {
                    app.handle_event(ev);
                }
            }
            _ => {}
        }
    }
    assert_eq!(held.len(), 1, "one background read for the namespace");
    let Command::ReadNsFacts { groups, cancel, .. } = &held[0] else {
        unreachable!()
    };
    assert_eq!(
        groups.len(),
        70 - screen_reads,
        "the rows on screen are not read twice"
    );
    let cancel = cancel.clone();
    let d = details(&mut app);
    assert!(
        d.contains(&format!("{screen_reads} of 70 groups read")),
        "{d}"
    );
    let mut events = executor::run_inline(&app.ctx.clone(), held.remove(0)).into_iter();
    assert!(app.handle_event(events.next().unwrap()), "the first batch");
    let d = details(&mut app);
    assert!(
        d.contains(&format!("{} of 70 groups read", screen_reads + 32)),
        "{d}"
    );
    // The cursor moves on: the read is cancelled, its late batches are dropped.
    press(&mut app, &[KeyCode::Char('j')]);
    draw(&mut app);
    assert!(cancel.is_cancelled());
    for ev in events {
        assert!(!app.handle_event(ev), "a late batch was taken");
    }
    // Back on the namespace: what is left is read, the size is complete.
    press(&mut app, &[KeyCode::Char('k')]);
    draw(&mut app);
    let again: Vec<Command> = app.take_commands();
    let left: usize = again
        .iter()
        .map(|c| match c {
            Command::ReadNsFacts { groups, .. } => groups.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(left, 70 - screen_reads - 32);
    for c in again {
        for ev in executor::run_inline(&app.ctx.clone(), c) {
            app.handle_event(ev);
        }
    }
    app.run_commands_blocking();
    let d = details(&mut app);
    let size = d
        .lines()
        .find(|l| l.starts_with("Size"))
        .unwrap_or_default()
        .to_string();
    assert!(!size.contains("groups read") && size.contains("GiB"), "{d}");
    // Nothing more is asked for while the cursor stays.
    draw(&mut app);
    assert!(app.take_commands().is_empty());
}
