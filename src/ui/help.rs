//! The `?` overlay and the footer hints, both generated from the loaded keymap.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::app::Action;
use super::keymap::{Context, Keymap};
use super::theme::Theme;

/// Contexts in the order help lists them.
const HELP_ORDER: [Context; 9] = [
    Context::Tree,
    Context::Picker,
    Context::Preview,
    Context::Resume,
    Context::Status,
    Context::Confirm,
    Context::Filter,
    Context::Help,
    Context::Global,
];

/// Width of the key column.
const KEY_COL: usize = 18;

/// Help text: one section per context, one line per action with all its keys.
pub fn lines(keymap: &Keymap, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for ctx in HELP_ORDER {
        let bindings = keymap.bindings(ctx);
        if bindings.iter().all(|(_, keys)| keys.is_empty()) {
            continue;
        }
        if !out.is_empty() {
            out.push(Line::from(""));
        }
        out.push(Line::styled(ctx.title().to_string(), theme.title));
        for (action, _) in bindings {
            let Some(keys) = keymap.keys_label(ctx, *action) else {
                continue;
            };
            out.push(Line::from(vec![
                Span::styled(format!("  {keys:<KEY_COL$}"), theme.key),
                Span::raw(action.describe(ctx)),
            ]));
        }
    }
    out.push(Line::from(""));
    out.push(Line::styled(
        "Keys can be changed in ~/.config/pbs-mover/keymap.toml",
        theme.dim,
    ));
    out
}

pub fn render(frame: &mut Frame, area: Rect, keymap: &Keymap, theme: &Theme, scroll: u16) {
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

/// Footer: the most useful keys of the current context, e.g. `? help  / filter  q quit`.
/// Hints that do not fit into `width` columns are left out rather than cut.
pub fn hints(keymap: &Keymap, ctx: Context, theme: &Theme, width: usize) -> Line<'static> {
    let actions: &[Action] = match ctx {
        // Most important first: narrow terminals drop hints from the end.
        Context::Tree => &[
            Action::Help,
            Action::Quit,
            Action::Mark,
            Action::Select,
            Action::PickTarget,
            Action::CancelMove,
            Action::StatusFocus,
            Action::Filter,
            Action::Expand,
            Action::Refresh,
            Action::Resume,
        ],
        Context::Filter => &[Action::Accept, Action::ClearFilter],
        Context::Help => &[Action::Close],
        Context::Picker => &[
            Action::Accept,
            Action::Close,
            Action::NextField,
            Action::Toggle,
        ],
        Context::Preview => &[Action::Yes, Action::No, Action::NextField, Action::Down],
        Context::Confirm => &[Action::Yes, Action::No, Action::ForceQuit],
        Context::Resume => &[Action::Yes, Action::No, Action::NextField, Action::Accept],
        Context::Status => &[
            Action::Close,
            Action::Up,
            Action::NextLog,
            Action::CancelMove,
        ],
        Context::Global => &[],
    };
    let mut spans = Vec::new();
    let mut used = 0;
    for action in actions {
        let Some(key) = keymap.first_key(ctx, *action) else {
            continue;
        };
        let (key, label) = (key.to_string(), format!(" {}  ", action.hint_in(ctx)));
        used += key.chars().count() + label.trim_end().chars().count();
        if used > width {
            break;
        }
        used += 2;
        spans.push(Span::styled(key, theme.key));
        spans.push(Span::styled(label, theme.dim));
    }
    Line::from(spans)
}
