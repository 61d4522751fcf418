//! The status pane: a bounded log of messages, scan warnings and move logs, with a live
//! progress line for the running move. Focused (`s`), it grows, scrolls and can show one
//! move's log alone.

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::ui::format::{self, wrap};
use crate::ui::keys::action::Action;
use crate::ui::tasks::jobs::{JobState, Jobs, clock};
use crate::ui::tasks::moves::JobId;
use crate::ui::theme::Theme;

/// Old lines are dropped beyond this, so a datastore full of oddities cannot eat memory.
const MAX_LINES: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    pub level: Level,
    pub text: String,
    /// The move this line belongs to.
    pub job: Option<JobId>,
}

#[derive(Debug, Default)]
pub struct StatusLog {
    lines: VecDeque<StatusLine>,
    /// Lines dropped from the front, shown so the user knows the log is not complete.
    dropped: usize,
    warnings: usize,
}

impl StatusLog {
    pub fn push(&mut self, level: Level, text: impl Into<String>) {
        self.push_line(None, level, text.into());
    }

    /// A line of move `job`'s log.
    pub fn push_job(&mut self, job: JobId, level: Level, text: impl Into<String>) {
        self.push_line(Some(job), level, text.into());
    }

    fn push_line(&mut self, job: Option<JobId>, level: Level, text: String) {
        if level == Level::Warn {
            self.warnings += 1;
        }
        if self.lines.len() == MAX_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(StatusLine { level, text, job });
    }

    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &StatusLine> {
        self.lines.iter()
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn warnings(&self) -> usize {
        self.warnings
    }
}

/// How the status pane is shown.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StatusView {
    /// Keys go to the pane (scrolling, switching logs); it is drawn taller.
    pub focused: bool,
    /// Lines scrolled up from the newest; 0 follows the tail.
    pub scroll: usize,
    /// Show only this move's log; `None` = everything.
    pub job: Option<JobId>,
    /// (lines, width) of the last draw: a scrolled view keeps showing the same lines while
    /// new ones arrive below.
    drawn: (usize, usize),
}

/// What a key did in the focused status pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    /// Redraw when `true`.
    Changed(bool),
    /// The user asked to cancel the running move.
    CancelMove,
}

impl StatusView {
    /// The pane's answer to an action of its context; `jobs` are the logs it can show.
    pub fn handle(&mut self, action: Action, jobs: &Jobs) -> StatusOutcome {
        let page = 5;
        let before = self.clone();
        match action {
            Action::Up => self.scroll = self.scroll.saturating_add(1),
            Action::Down => self.scroll = self.scroll.saturating_sub(1),
            Action::PageUp => self.scroll = self.scroll.saturating_add(page),
            Action::PageDown => self.scroll = self.scroll.saturating_sub(page),
            // Far up; drawing clamps it to the oldest line.
            Action::Top => self.scroll = usize::MAX / 2,
            Action::Bottom => self.scroll = 0,
            Action::NextLog | Action::PrevLog => self.switch_log(action == Action::NextLog, jobs),
            Action::CancelMove => return StatusOutcome::CancelMove,
            Action::Close => self.focused = false,
            _ => return StatusOutcome::Changed(false),
        }
        StatusOutcome::Changed(*self != before)
    }

    /// A new move started: a pane showing one move's log switches to the new move's, unless
    /// the user scrolled it (then they are reading something and it stays put).
    pub fn follow(&mut self, id: JobId) {
        if self.scroll == 0 && self.job.is_some() {
            self.job = Some(id);
        }
    }

    /// Cycles through "everything" and each move's own log.
    fn switch_log(&mut self, forward: bool, jobs: &Jobs) {
        let ids: Vec<Option<JobId>> = std::iter::once(None)
            .chain(jobs.list.iter().map(|j| Some(j.id)))
            .collect();
        let i = ids.iter().position(|j| *j == self.job).unwrap_or(0);
        let n = ids.len();
        let next = if forward { i + 1 } else { i + n - 1 };
        self.job = ids[next % n];
        self.scroll = 0;
    }
}

/// The progress line of the running move: counts, rate, ETA.
pub fn progress_text(jobs: &Jobs) -> Option<String> {
    let job = jobs.running()?;
    let mut s = format!(
        "#{} {}: groups {}/{}, snapshots {}/{}",
        job.id,
        if job.state == JobState::Cancelling {
            "cancelling"
        } else {
            "moving"
        },
        job.groups_done + job.groups_failed,
        job.groups_total,
        job.snaps_done,
        job.snaps_total
    );
    match (job.rate(), job.eta()) {
        (Some(rate), Some(eta)) => s.push_str(&format!(", {rate:.1}/s, ETA {}", clock(eta))),
        _ => s.push_str(", starting"),
    }
    // S3: after the ETA, which a narrow terminal must not cut off.
    if job.to_copy.objects > 0 {
        s.push_str(&format!(
            ", objects {}/{}, {}/{}",
            job.copied.objects,
            job.to_copy.objects,
            format::size(job.copied.bytes),
            format::size(job.to_copy.bytes)
        ));
    }
    if let Some(cur) = &job.current {
        s.push_str(&format!(" [{cur}]"));
    }
    let queued = jobs.queued();
    if queued > 0 {
        s.push_str(&format!(" +{queued} queued"));
    }
    Some(s)
}

fn title(log: &StatusLog, view: &StatusView) -> String {
    let mut title = match view.job {
        Some(id) => format!(" Move #{id} log"),
        None => " Status".to_string(),
    };
    title.push_str(&format!(" ({}", format::count(log.len(), "line", "lines")));
    if log.warnings() > 0 {
        title.push_str(&format!(", {} warnings", log.warnings()));
    }
    if log.dropped > 0 {
        title.push_str(&format!(", {} older dropped", log.dropped));
    }
    if view.scroll > 0 {
        title.push_str(&format!(", scrolled up {}", view.scroll));
    }
    title.push_str(") ");
    title
}

/// Renders the progress line (while a move runs) and the newest log lines that fit, or
/// older ones when scrolled. Long lines wrap: lock holders must be readable at 80 columns.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    log: &StatusLog,
    view: &mut StatusView,
    jobs: &Jobs,
    theme: &Theme,
) {
    let border = if view.focused {
        theme.focus_border
    } else {
        theme.border
    };
    let inner = Block::bordered().inner(area);
    let width = inner.width as usize;
    let mut rows = inner.height as usize;
    let mut top = Vec::new();
    if let Some(p) = progress_text(jobs) {
        top.push(Line::styled(format::truncate(&p, width), theme.key));
        rows = rows.saturating_sub(1);
    }
    let wrapped: Vec<Line> = log
        .lines()
        .filter(|l| view.job.is_none() || l.job == view.job)
        .flat_map(|l| render_line(l, view.job.is_none(), width, theme))
        .collect();
    if view.scroll > 0 && view.drawn.1 == width {
        view.scroll += wrapped.len().saturating_sub(view.drawn.0);
    }
    view.drawn = (wrapped.len(), width);
    // Clamped before the title is made: "scrolled up N" counts real lines.
    let max_scroll = wrapped.len().saturating_sub(rows);
    view.scroll = view.scroll.min(max_scroll);
    let end = wrapped.len() - view.scroll;
    let start = end.saturating_sub(rows);
    top.extend(wrapped[start..end].iter().cloned());
    let block = Block::bordered()
        .border_style(border)
        .title(Span::styled(title(log, view), theme.title));
    frame.render_widget(Paragraph::new(top).block(block), area);
}

fn render_line(line: &StatusLine, tag: bool, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    // A word prefix, not only colour, tells warnings and errors apart (NO_COLOR, colour-blind).
    let (prefix, style) = match line.level {
        Level::Info => ("", theme.group),
        Level::Warn => ("warning: ", theme.warn),
        Level::Error => ("error: ", theme.error),
    };
    let job = match (tag, line.job) {
        (true, Some(id)) => format!("#{id} "),
        _ => String::new(),
    };
    let text = format!("{job}{prefix}{}", line.text);
    wrap(&text, width.saturating_sub(2))
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let piece = if i == 0 { piece } else { format!("  {piece}") };
            Line::styled(piece, style)
        })
        .collect()
}
