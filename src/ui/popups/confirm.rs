//! "Moves are still running — quit?", with the moves listed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::centered;
use crate::ui::format;
use crate::ui::keys::action::Action;
use crate::ui::keys::context::Context;
use crate::ui::keys::keymap::Keymap;
use crate::ui::tasks::jobs::Jobs;
use crate::ui::theme::Theme;

/// What a key did in the quit question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmOutcome {
    Ignored,
    /// Cancel the moves and quit once they stopped.
    Quit,
    Stay,
}

pub fn handle(action: Action) -> ConfirmOutcome {
    match action {
        Action::Yes => ConfirmOutcome::Quit,
        Action::No => ConfirmOutcome::Stay,
        _ => ConfirmOutcome::Ignored,
    }
}

/// "Cancel move #N?": what cancelling does, and the keys.
pub fn render_cancel(frame: &mut Frame, area: Rect, keymap: &Keymap, jobs: &Jobs, t: &Theme) {
    let key = |a| {
        keymap
            .first_key(Context::Confirm, a)
            .map_or("?".to_string(), |k| k.to_string())
    };
    let mut lines = Vec::new();
    if let Some(job) = jobs.running() {
        let text = format!("#{} {}", job.id, job.spec.describe());
        lines.push(Line::styled(format::truncate(&text, 60), t.title));
    }
    lines.push(Line::from(
        "It stops after the current snapshot; what moved stays moved,",
    ));
    lines.push(Line::from(
        "the rest stays at the source (both sides consistent).",
    ));
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled(key(Action::Yes), t.key),
        Span::raw(": cancel the move   "),
        Span::styled(key(Action::No), t.key),
        Span::raw(": let it run"),
    ]));
    let popup = centered(area, 66, lines.len() as u16 + 2);
    let block = Block::bordered()
        .border_style(t.focus_border)
        .title(Span::styled(" Cancel the running move? ", t.title));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

/// "Moves are running — quit?" with the moves listed.
pub fn render(frame: &mut Frame, area: Rect, keymap: &Keymap, jobs: &Jobs, t: &Theme) {
    let key = |a| {
        keymap
            .first_key(Context::Confirm, a)
            .map_or("?".to_string(), |k| k.to_string())
    };
    let mut lines = vec![Line::styled("Moves are still running or queued:", t.title)];
    for job in jobs.list.iter().filter(|j| j.is_active()) {
        let text = format!("  #{} {} ({})", job.id, job.spec.describe(), job.state);
        lines.push(Line::from(format::truncate(&text, 60)));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled(key(Action::Yes), t.key),
        Span::raw(": cancel them and quit (waits for the current snapshot)"),
    ]));
    lines.push(Line::from(vec![
        Span::styled(key(Action::No), t.key),
        Span::raw(": stay"),
    ]));
    let force = keymap.first_key(Context::Global, Action::ForceQuit);
    if let Some(k) = force {
        lines.push(Line::from(vec![
            Span::styled(k.to_string(), t.key),
            Span::raw(" again: quit NOW (resume finishes a cut move)"),
        ]));
    }
    let popup = centered(area, 66, lines.len() as u16 + 2);
    let block = Block::bordered()
        .border_style(t.focus_border)
        .title(Span::styled(" Quit? ", t.title));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
