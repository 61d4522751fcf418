//! The notes popup (`i`): the full notes of a group (its `notes` file) or of a snapshot
//! (its manifest's `unprotected.notes`), wrapped to the popup and scrollable.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::centered;
use crate::ui::format;
use crate::ui::keys::action::Action;
use crate::ui::keys::context::Context;
use crate::ui::keys::keymap::Keymap;
use crate::ui::tasks::manifests::{NotesRequest, NotesResult};
use crate::ui::theme::Theme;

#[derive(Debug, Clone)]
pub struct NotesState {
    pub request: NotesRequest,
    /// `None` while the notes are being read; `Ok(None)`: there are none.
    pub text: Option<Result<Option<String>, String>>,
    pub scroll: usize,
    /// Text rows of the last draw (for paging and the end of scrolling).
    pub rows: usize,
    /// Wrapped lines of the last draw.
    pub lines: usize,
}

/// What a key did in the notes popup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotesOutcome {
    /// It stays open; redraw when `true`.
    Stay(bool),
    Close,
}

impl NotesState {
    pub fn new(request: NotesRequest) -> Self {
        Self {
            request,
            text: None,
            scroll: 0,
            rows: 10,
            lines: 0,
        }
    }

    /// Takes the read it waits for; `false` for any other (a popup opened since).
    pub fn on_notes(&mut self, r: NotesResult) -> bool {
        if r.request != self.request {
            return false;
        }
        self.text = Some(r.result);
        true
    }

    pub fn handle(&mut self, action: Action) -> NotesOutcome {
        let last = self.lines.saturating_sub(self.rows);
        let page = self.rows.max(2) - 1;
        let before = self.scroll;
        self.scroll = match action {
            Action::Up => self.scroll.saturating_sub(1),
            Action::Down => self.scroll + 1,
            Action::PageUp => self.scroll.saturating_sub(page),
            Action::PageDown => self.scroll + page,
            Action::Top => 0,
            Action::Bottom => last,
            Action::Close => return NotesOutcome::Close,
            _ => return NotesOutcome::Stay(false),
        }
        .min(last);
        NotesOutcome::Stay(self.scroll != before)
    }

    fn title(&self) -> String {
        let r = &self.request;
        match &r.time {
            None => format!(" Notes: {} ", r.group),
            Some(t) => format!(" Notes: {}/{} ", r.group, t),
        }
    }
}

pub fn render(frame: &mut Frame, area: Rect, p: &mut NotesState, keymap: &Keymap, t: &Theme) {
    let popup = centered(area, 72, 18);
    frame.render_widget(Clear, popup);
    let close = keymap.first_key(Context::Notes, Action::Close);
    let hint = close.map_or(String::new(), |k| format!("{k} closes "));
    let block = Block::bordered()
        .border_style(t.focus_border)
        .title(Span::styled(p.title(), t.title))
        .title_bottom(Span::styled(hint, t.dim));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let body = body_lines(p, inner.width as usize, t);
    p.rows = inner.height as usize;
    p.lines = body.len();
    p.scroll = p.scroll.min(p.lines.saturating_sub(p.rows));
    let visible: Vec<Line> = body.into_iter().skip(p.scroll).take(p.rows).collect();
    frame.render_widget(Paragraph::new(visible), inner);
}

fn body_lines(p: &NotesState, width: usize, t: &Theme) -> Vec<Line<'static>> {
    match &p.text {
        None => vec![Line::styled("reading…", t.dim)],
        Some(Ok(None)) => vec![Line::styled("no notes", t.dim)],
        Some(Ok(Some(text))) if text.trim().is_empty() => vec![Line::styled("no notes", t.dim)],
        Some(Ok(Some(text))) => text
            .lines()
            .flat_map(|l| format::wrap(&sanitize(l), width))
            .map(Line::from)
            .collect(),
        Some(Err(e)) => vec![Line::styled(format!("⚠ {e}"), t.warn)],
    }
}

/// Control characters (a tab, an escape sequence typed into the GUI) would move the
/// terminal's cursor; they are shown as spaces.
fn sanitize(line: &str) -> String {
    line.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
