//! The prompt listing interrupted moves (at start, and on `R`): id, kind, source → target and
//! how far each got, with [Later] (focused: changes nothing) and [Resume] (runs the CLI's
//! `resume` engine in the background; what it does goes to the move log).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::app::Action;
use super::format;
use super::keymap::{Context, Keymap};
use super::picker::centered;
use super::theme::Theme;
use crate::ops::recovery::pending::PendingMove;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeButton {
    Later,
    Resume,
}

#[derive(Debug, Clone)]
pub struct ResumeState {
    /// `None` while the journal is being read.
    pub pending: Option<Result<Vec<PendingMove>, String>>,
    /// Starts on Later: Enter alone never starts anything.
    pub focus: ResumeButton,
    pub scroll: usize,
}

impl ResumeState {
    pub fn new(pending: Option<Result<Vec<PendingMove>, String>>) -> Self {
        Self {
            pending,
            focus: ResumeButton::Later,
            scroll: 0,
        }
    }
}

fn key(keymap: &Keymap, ctx: Context, a: Action) -> String {
    keymap
        .first_key(ctx, a)
        .map_or_else(|| "?".to_string(), |k| k.to_string())
}

/// The prompt's text (without the buttons), cut to `width` columns.
pub fn lines(p: &ResumeState, keymap: &Keymap, t: &Theme, width: usize) -> Vec<Line<'static>> {
    let cut = |s: String| format::truncate(&s, width);
    let list = match &p.pending {
        None => return vec![Line::styled("reading the operation journal…", t.dim)],
        Some(Err(e)) => {
            return vec![Line::styled(
                cut(format!("cannot read the operation journal: {e}")),
                t.error,
            )];
        }
        Some(Ok(list)) if list.is_empty() => {
            return vec![Line::from("No interrupted moves: nothing to resume.")];
        }
        Some(Ok(list)) => list,
    };
    let mut out = vec![Line::styled(
        cut(format!(
            "{} move(s) did not finish (crash, kill, lost session or a fault):",
            list.len()
        )),
        t.title,
    )];
    for m in list {
        out.push(Line::from(vec![
            Span::styled(cut(format!("  {} ", m.id)), t.dim),
            Span::styled(m.kind.to_string(), t.label),
        ]));
        out.push(Line::from(cut(format!("    {} → {}", m.source, m.target))));
        out.push(Line::styled(
            cut(format!(
                "    {}: {}/{} group(s) done, {} snapshot(s) moved",
                m.state, m.groups_done, m.groups_total, m.snapshots_moved
            )),
            t.warn,
        ));
    }
    out.push(Line::from(""));
    for text in [
        "Resume finishes them in the background, like 'pbs-mover resume',".to_string(),
        "and the move log shows exactly what it did.".to_string(),
        format!(
            "Later changes nothing; {} opens this again.",
            key(keymap, Context::Tree, Action::Resume)
        ),
    ] {
        out.push(Line::styled(cut(text), t.dim));
    }
    out
}

pub fn render(frame: &mut Frame, area: Rect, p: &mut ResumeState, keymap: &Keymap, t: &Theme) {
    let width = area.width.saturating_sub(4).min(76);
    let body = lines(p, keymap, t, width.saturating_sub(2) as usize);
    let height = (body.len() as u16 + 4).min(area.height.saturating_sub(2));
    let popup = centered(area, width, height);
    let title = format!(
        " Interrupted moves — {} resume, {} later ",
        key(keymap, Context::Resume, Action::Yes),
        key(keymap, Context::Resume, Action::No)
    );
    let block = Block::bordered()
        .border_style(t.focus_border)
        .title(Span::styled(title, t.title));
    frame.render_widget(Clear, popup);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    if inner.height < 3 {
        return;
    }
    let rows = inner.height as usize - 2;
    p.scroll = p.scroll.min(body.len().saturating_sub(rows));
    let visible: Vec<Line> = body.into_iter().skip(p.scroll).take(rows).collect();
    let text = Rect {
        height: inner.height - 2,
        ..inner
    };
    frame.render_widget(Paragraph::new(visible), text);
    let buttons = Rect {
        y: inner.y + inner.height - 1,
        height: 1,
        ..inner
    };
    frame.render_widget(Paragraph::new(button_line(p, t)), buttons);
}

fn button_line(p: &ResumeState, t: &Theme) -> Line<'static> {
    // Brackets and a `>` mark the focused button, so it is visible without colour.
    let button = |b: ResumeButton, label: &str| {
        if p.focus == b {
            Span::styled(format!(">[ {label} ]<"), t.selected)
        } else {
            Span::styled(format!(" [ {label} ] "), t.group)
        }
    };
    let ready = matches!(&p.pending, Some(Ok(l)) if !l.is_empty());
    let resume = if ready { "Resume" } else { "Resume (nothing)" };
    Line::from(vec![
        button(ResumeButton::Later, "Later"),
        Span::raw(" "),
        button(ResumeButton::Resume, resume),
    ])
}
