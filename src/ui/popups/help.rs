//! The `?` overlay: the help text of every context, scrollable.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::ui::keys::action::Action;
use crate::ui::keys::context::Context;
use crate::ui::keys::help::lines;
use crate::ui::keys::keymap::Keymap;
use crate::ui::theme::Theme;

/// The open overlay.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HelpState {
    pub scroll: u16,
}

/// What a key did in help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpOutcome {
    /// Help stays open; redraw when `true`.
    Stay(bool),
    Close,
}

impl HelpState {
    pub fn handle(&mut self, action: Action) -> HelpOutcome {
        match action {
            Action::Up if self.scroll > 0 => self.scroll -= 1,
            Action::Down => self.scroll = self.scroll.saturating_add(1),
            Action::Close | Action::Help => return HelpOutcome::Close,
            _ => return HelpOutcome::Stay(false),
        }
        HelpOutcome::Stay(true)
    }
}

pub fn render(frame: &mut Frame, area: Rect, keymap: &Keymap, theme: &Theme, help: HelpState) {
    let scroll = help.scroll;
    let lines = lines(keymap, theme);
    let width = lines.iter().map(Line::width).max().unwrap_or(20) as u16 + 4;
    let height = lines.len() as u16 + 2;
    let [popup] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(popup);
    // Do not scroll past the end: the last page stays full.
    let max_scroll = height.saturating_sub(popup.height);
    let scroll_keys = [Action::Down, Action::Up]
        .map(|a| keymap.first_key(Context::Help, a).map(|k| k.to_string()));
    let title = match scroll_keys {
        [Some(down), Some(up)] if max_scroll > 0 => format!(" Help (scroll: {down}/{up}) "),
        _ => " Help ".to_string(),
    };
    let block = Block::bordered()
        .border_style(theme.focus_border)
        .title(Span::styled(title, theme.title));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll.min(max_scroll), 0)),
        popup,
    );
}
