//! The help text and the footer hints, both generated from the actions and the loaded keymap.

use ratatui::text::{Line, Span};

use super::action::Action;
use super::context::Context;
use super::keymap::Keymap;
use crate::ui::theme::Theme;

/// Contexts in the order help lists them.
const HELP_ORDER: [Context; 10] = [
    Context::Tree,
    Context::Notes,
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
        Context::Notes => &[Action::Close, Action::Down],
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
