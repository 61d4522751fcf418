//! The status pane: a bounded log of messages, scan warnings and (later) move progress.

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::theme::Theme;

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
        if level == Level::Warn {
            self.warnings += 1;
        }
        if self.lines.len() == MAX_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(StatusLine {
            level,
            text: text.into(),
        });
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

/// Renders the newest lines that fit (the log follows its tail).
pub fn render(frame: &mut Frame, area: Rect, log: &StatusLog, theme: &Theme) {
    let mut title = format!(
        " Status ({}",
        super::format::count(log.len(), "line", "lines")
    );
    if log.warnings() > 0 {
        title.push_str(&format!(", {} warnings", log.warnings()));
    }
    if log.dropped > 0 {
        title.push_str(&format!(", {} older dropped", log.dropped));
    }
    title.push_str(") ");
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Span::styled(title, theme.title));
    let rows = block.inner(area).height as usize;
    let mut lines: Vec<Line> = log
        .lines()
        .rev()
        .take(rows)
        .map(|l| render_line(l, theme))
        .collect();
    lines.reverse();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_line<'a>(line: &'a StatusLine, theme: &Theme) -> Line<'a> {
    // A word prefix, not only colour, tells warnings and errors apart (NO_COLOR, colour-blind).
    let (prefix, style) = match line.level {
        Level::Info => ("", theme.group),
        Level::Warn => ("warning: ", theme.warn),
        Level::Error => ("error: ", theme.error),
    };
    Line::from(vec![
        Span::styled(prefix, style),
        Span::styled(line.text.as_str(), style),
    ])
}
