//! The mouse, as a shortcut for keys: a click selects the tree row (or picker row) under the
//! pointer, a double click expands or collapses it (in the picker: previews the move), the
//! wheel scrolls the pane under the pointer, or the open popup. Everything it does has a key.

use std::time::{Duration, Instant};

use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use crate::ui::keys::action::Action;
use crate::ui::model::NodePath;
use crate::ui::popups::Popup;

use super::App;

/// Two clicks on the same row within this are a double click (GTK's default is 400 ms).
const DOUBLE_CLICK: Duration = Duration::from_millis(400);
/// Rows one wheel notch scrolls.
const WHEEL_ROWS: usize = 3;

/// Where the panes were drawn last: what a pointer position is over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScreenAreas {
    pub tree: Rect,
    pub details: Rect,
    pub status: Rect,
    /// The picker's list rows, while the picker is open.
    pub picker_list: Rect,
}

/// What was clicked last, to tell a double click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LastClick {
    Tree(NodePath),
    Picker(usize),
}

impl App {
    /// A mouse event from the terminal; `true` when something visible changed.
    pub fn handle_mouse(&mut self, ev: MouseEvent) -> bool {
        if !self.mouse {
            return false;
        }
        let at = Position::new(ev.column, ev.row);
        match ev.kind {
            MouseEventKind::Down(MouseButton::Left) if ev.modifiers == KeyModifiers::NONE => {
                self.click(at)
            }
            MouseEventKind::ScrollDown => self.wheel(at, true),
            MouseEventKind::ScrollUp => self.wheel(at, false),
            _ => false,
        }
    }

    fn click(&mut self, at: Position) -> bool {
        // Help and the popups are modal: a click elsewhere does nothing.
        if self.help.is_some() {
            return false;
        }
        match &self.popup {
            Some(Popup::Picker(_)) => return self.click_picker(at),
            Some(_) => return false,
            None => {}
        }
        if self.areas.status.contains(at) {
            let changed = !self.status_view.focused;
            self.status_view.focused = true;
            return changed;
        }
        if !self.areas.tree.contains(at) {
            return false;
        }
        // Ends a filter being typed, as Enter would; the rows stay as filtered.
        self.filter.editing = false;
        self.status_view.focused = false;
        let Some(path) = self.tree_state.rendered_at(at).map(<[_]>::to_vec) else {
            return true;
        };
        let double = self.is_double(LastClick::Tree(path.clone()));
        self.tree_state.select(path.clone());
        if !double {
            return true;
        }
        if self.tree_state.opened().contains(&path) {
            self.collapse()
        } else {
            self.expand()
        }
    }

    fn click_picker(&mut self, at: Position) -> bool {
        let list = self.areas.picker_list;
        if !list.contains(at) {
            return false;
        }
        let Some(Popup::Picker(p)) = &mut self.popup else {
            return false;
        };
        let Some(row) = p.row_at((at.y - list.y) as usize, list.height as usize) else {
            return false;
        };
        p.cursor = row;
        p.field = crate::ui::popups::picker::Field::List;
        if self.is_double(LastClick::Picker(row)) {
            return self.apply(Action::Accept);
        }
        true
    }

    /// Whether this click repeats the previous one on the same thing in time; remembers it.
    fn is_double(&mut self, what: LastClick) -> bool {
        let now = Instant::now();
        let double = matches!(&self.last_click, Some((t, w))
            if *w == what && now.duration_since(*t) <= DOUBLE_CLICK);
        // A third click starts over instead of toggling again.
        self.last_click = if double { None } else { Some((now, what)) };
        double
    }

    fn wheel(&mut self, at: Position, down: bool) -> bool {
        if self.help.is_some() || self.popup.is_some() {
            // The open popup (or help) scrolls, wherever the pointer is.
            let action = if down { Action::Down } else { Action::Up };
            let mut changed = false;
            for _ in 0..WHEEL_ROWS {
                changed |= self.apply(action);
            }
            return changed;
        }
        if self.areas.status.contains(at) {
            let v = &mut self.status_view;
            // The log's scroll counts lines up from the newest; drawing clamps it.
            v.scroll = if down {
                v.scroll.saturating_sub(WHEEL_ROWS)
            } else {
                v.scroll.saturating_add(WHEEL_ROWS)
            };
            return true;
        }
        if self.areas.details.contains(at) {
            // Drawing clamps the offset to the text's length.
            return self.details_view.scroll_by(WHEEL_ROWS, down);
        }
        if self.areas.tree.contains(at) {
            // The view scrolls, the cursor stays on its node (the keys bring it back).
            return if down {
                self.tree_state.scroll_down(WHEEL_ROWS)
            } else {
                self.tree_state.scroll_up(WHEEL_ROWS)
            };
        }
        false
    }
}
