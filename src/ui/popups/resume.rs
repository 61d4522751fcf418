//! The prompt listing interrupted moves (at start, and on `R`): id, kind, source → target and
//! how far each got, with [Later] (focused: changes nothing) and [Resume] (runs the CLI's
//! `resume` engine in the background; what it does goes to the move log).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::centered;
use crate::ops::recovery::pending::PendingMove;
use crate::tree::Namespace;
use crate::ui::format;
use crate::ui::keys::action::Action;
use crate::ui::keys::context::Context;
use crate::ui::keys::keymap::Keymap;
use crate::ui::tasks::moves::MoveSpec;
use crate::ui::theme::Theme;

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

/// What a key did in the resume prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeOutcome {
    /// The prompt stays open; redraw when `true`.
    Stay(bool),
    /// Closed: the interrupted moves are left as they are.
    Later,
    /// Closed: there was nothing to resume.
    Nothing,
    /// Closed: run the CLI's `resume` for these moves.
    Resume(MoveSpec),
}

impl ResumeState {
    /// The prompt's answer to an action of its context.
    pub fn handle(&mut self, action: Action) -> ResumeOutcome {
        match action {
            Action::Up => self.scroll = self.scroll.saturating_sub(1),
            Action::Down => self.scroll = self.scroll.saturating_add(1),
            Action::NextField | Action::PrevField => {
                self.focus = match self.focus {
                    ResumeButton::Later => ResumeButton::Resume,
                    ResumeButton::Resume => ResumeButton::Later,
                };
            }
            Action::Accept if self.focus == ResumeButton::Resume => return self.resume(),
            Action::Yes => return self.resume(),
            Action::Accept | Action::No => return ResumeOutcome::Later,
            _ => return ResumeOutcome::Stay(false),
        }
        ResumeOutcome::Stay(true)
    }

    /// The resume job for the listed moves; nothing while the journal is still being read
    /// or could not be read.
    fn resume(&self) -> ResumeOutcome {
        let Some(Ok(all)) = &self.pending else {
            return ResumeOutcome::Stay(false);
        };
        // A move another process runs right now is not interrupted: never resumed from here.
        let pending: Vec<&PendingMove> = all.iter().filter(|m| !m.running).collect();
        if pending.is_empty() {
            return ResumeOutcome::Nothing;
        }
        let mut namespaces: Vec<Namespace> = pending
            .iter()
            .flat_map(|m| m.namespaces.iter().cloned())
            .collect();
        namespaces.sort();
        namespaces.dedup();
        ResumeOutcome::Resume(MoveSpec::Resume {
            ids: pending.iter().map(|m| m.id.clone()).collect(),
            namespaces,
        })
    }

    /// The journal was read; `false` when this prompt did not wait for it.
    pub fn on_pending(&mut self, result: Result<Vec<PendingMove>, String>) -> bool {
        if self.pending.is_some() {
            return false;
        }
        self.pending = Some(result);
        true
    }

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
    let (running, list): (Vec<&PendingMove>, Vec<&PendingMove>) =
        list.iter().partition(|m| m.running);
    let mut out = Vec::new();
    if !list.is_empty() {
        out.push(Line::styled(
            cut(format!(
                "{} move(s) did not finish (crash, kill, lost session or a fault):",
                list.len()
            )),
            t.title,
        ));
    } else {
        out.push(Line::from("No interrupted moves: nothing to resume."));
    }
    move_lines(&mut out, &list, t, width);
    if !running.is_empty() {
        out.push(Line::styled(
            cut(format!(
                "{} move(s) running right now in another process (not resumed):",
                running.len()
            )),
            t.title,
        ));
        move_lines(&mut out, &running, t, width);
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

/// Three lines per move: id and kind, source → target, how far it got.
fn move_lines(out: &mut Vec<Line<'static>>, list: &[&PendingMove], t: &Theme, width: usize) {
    let cut = |s: String| format::truncate(&s, width);
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
    let ready = matches!(&p.pending, Some(Ok(l)) if l.iter().any(|m| !m.running));
    let resume = if ready { "Resume" } else { "Resume (nothing)" };
    Line::from(vec![
        button(ResumeButton::Later, "Later"),
        Span::raw(" "),
        button(ResumeButton::Resume, resume),
    ])
}
