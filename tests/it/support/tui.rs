//! The TUI on a ratatui TestBackend: the real [`App`] on a [`Store`] (its lock and config
//! dirs in the store's temp dir), key presses that run whatever they start inline, drawing
//! and reading the screen. The UI items the suites use are re-exported here, so a rename in
//! src/ui touches this file only.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use pbs_mover::tree::Datastore;
use pbs_mover::ui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

pub use pbs_mover::ui::app::App;
pub use pbs_mover::ui::event_loop::finish_detached;
pub use pbs_mover::ui::keys::context::Context;
pub use pbs_mover::ui::keys::help;
pub use pbs_mover::ui::keys::keymap::{DEFAULT_KEYMAP, Keymap};
pub use pbs_mover::ui::model::Selection;
pub use pbs_mover::ui::panes::status::Level;
pub use pbs_mover::ui::popups::{Popup, preview};
pub use pbs_mover::ui::tasks::jobs::JobState;
pub use pbs_mover::ui::tasks::moves::JobMsg;
pub use pbs_mover::ui::tasks::scans::{self, ScanRequest};
pub use pbs_mover::ui::tasks::{AppEvent, Command, executor};
pub use pbs_mover::ui::theme::Theme;

use super::Store;

/// The datastore at `s`, located like the binary does (with `s`'s config dir).
pub fn datastore(s: &Store) -> Arc<Datastore> {
    Arc::new(s.locate())
}

/// A new App on `ds` (of `s`, with `s`'s lock dir); the scans it queues are not run yet.
pub fn new_app(s: &Store, ds: Arc<Datastore>, keymap: Keymap, no_color: bool) -> App {
    App::new(ds, s.locks.clone(), keymap, Theme::new(no_color))
}

/// The App on `s` with the default keys, its first scans run.
pub fn app_on(s: &Store, no_color: bool) -> App {
    let mut app = new_app(s, datastore(s), Keymap::defaults(), no_color);
    app.run_commands_blocking();
    app
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Presses keys one by one, running whatever they start (scans, plans, moves) to the end;
/// returns the last "redraw?" answer.
pub fn press(app: &mut App, keys: &[KeyCode]) -> bool {
    let mut changed = false;
    for k in keys {
        changed = app.handle_event(AppEvent::Key(key(*k)));
        app.run_commands_blocking();
    }
    changed
}

/// A mouse event at column `x`, row `y` (no modifiers), running what it starts.
pub fn mouse(app: &mut App, kind: MouseEventKind, x: u16, y: u16) -> bool {
    let ev = MouseEvent {
        kind,
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    };
    let changed = app.handle_event(AppEvent::Mouse(ev));
    app.run_commands_blocking();
    changed
}

/// A left click at column `x`, row `y`.
pub fn click(app: &mut App, x: u16, y: u16) -> bool {
    mouse(app, MouseEventKind::Down(MouseButton::Left), x, y)
}

/// Where `label` is on the 80×24 screen (column, row) after drawing it.
pub fn find_on_screen(app: &mut App, label: &str) -> (u16, u16) {
    let t = draw(app);
    lines(&t)
        .into_iter()
        .find_map(|(y, line)| {
            let x = line.find(label)?;
            Some((line[..x].chars().count() as u16, y))
        })
        .unwrap_or_else(|| panic!("{label} not on screen:\n{}", t.backend()))
}

/// Presses keys without running the commands they queue.
pub fn press_only(app: &mut App, keys: &[KeyCode]) {
    for k in keys {
        app.handle_event(AppEvent::Key(key(*k)));
    }
}

/// Types `s`, one key press a character.
pub fn chars(app: &mut App, s: &str) {
    for c in s.chars() {
        press(app, &[KeyCode::Char(c)]);
    }
}

pub fn ctrl_c(app: &mut App) {
    app.handle_event(AppEvent::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
}

/// The app drawn on a `w`×`h` TestBackend.
pub fn draw_at(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| view::draw(f, app)).unwrap();
    terminal
}

/// The app drawn at 80×24.
pub fn draw(app: &mut App) -> Terminal<TestBackend> {
    draw_at(app, 80, 24)
}

/// The screen at 80×24 as text.
pub fn screen(app: &mut App) -> String {
    draw(app).backend().to_string()
}

/// Each line of the screen with its row number.
pub fn lines(t: &Terminal<TestBackend>) -> Vec<(u16, String)> {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            let s: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            (y, s)
        })
        .collect()
}

/// The text of the selected tree row (the one with the `>` marker), or "".
pub fn selected_row_text(t: &Terminal<TestBackend>) -> String {
    lines(t)
        .into_iter()
        .map(|(_, line)| line)
        .find(|line| line.contains("│> "))
        .unwrap_or_default()
}

/// Selects the tree row whose text contains `label` by walking down from the top.
pub fn select_row(app: &mut App, label: &str) {
    press(app, &[KeyCode::Char('g')]);
    for _ in 0..200 {
        let t = draw(app);
        if selected_row_text(&t).contains(label) {
            return;
        }
        press(app, &[KeyCode::Char('j')]);
    }
    panic!("no row with {label}");
}

/// No cell has a colour (NO_COLOR).
pub fn assert_no_colour(t: &Terminal<TestBackend>) {
    for cell in t.backend().buffer().content() {
        assert_eq!(cell.fg, Color::Reset, "colour under NO_COLOR: {cell:?}");
        assert_eq!(cell.bg, Color::Reset, "colour under NO_COLOR: {cell:?}");
    }
}

/// The whole status log as text, whatever fits on screen.
pub fn status_text(app: &App) -> String {
    app.status
        .lines()
        .map(|l| l.text.clone())
        .collect::<Vec<_>>()
        .join("\n")
}
