//! The dry-run preview: the engine's own plan (`ops::engine::plan`) for the picked move, listing what
//! moves, what is refused and which locks are held right now. Nothing runs until the user
//! confirms; the default button is Cancel.

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::ops::engine::plan::{MovePlan, NotesPlan, merge_into_existing_text};

use super::centered;
use crate::ui::format::{self, wrap};
use crate::ui::keys::action::Action;
use crate::ui::tasks::moves::MoveSpec;
use crate::ui::tasks::plan::PlanOutcome;
use crate::ui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Cancel,
    Move,
}

#[derive(Debug, Clone)]
pub struct PreviewState {
    pub spec: MoveSpec,
    /// Which plan result belongs to this preview (an older one may still arrive).
    pub seq: u64,
    /// `None` while the dry run runs.
    pub outcome: Option<PlanOutcome>,
    pub scroll: usize,
    pub focus: Button,
    /// Rows of text visible at the last draw (for paging and the scroll limit).
    pub rows: usize,
}

/// What a key did in the preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewOutcome {
    /// The preview stays open; redraw when `true`.
    Stay(bool),
    /// Closed: nothing is moved.
    Cancel,
    /// The user chose to move (only once the plan is shown).
    Confirm,
}

impl PreviewState {
    /// The preview's answer to an action of its context.
    pub fn handle(&mut self, action: Action) -> PreviewOutcome {
        let page = self.rows.max(2) as isize - 1;
        let changed = match action {
            Action::Up => self.scroll_by(-1, usize::MAX),
            Action::Down => self.scroll_by(1, usize::MAX),
            Action::PageUp => self.scroll_by(-page, usize::MAX),
            Action::PageDown => self.scroll_by(page, usize::MAX),
            Action::NextField | Action::PrevField => {
                self.focus = match self.focus {
                    Button::Cancel => Button::Move,
                    Button::Move => Button::Cancel,
                };
                true
            }
            Action::Accept if self.focus == Button::Move => return self.confirm(),
            Action::Accept | Action::No => return PreviewOutcome::Cancel,
            Action::Yes => return self.confirm(),
            _ => false,
        };
        PreviewOutcome::Stay(changed)
    }

    /// The user must have seen the plan before anything runs.
    fn confirm(&self) -> PreviewOutcome {
        match self.outcome {
            Some(_) => PreviewOutcome::Confirm,
            None => PreviewOutcome::Stay(false),
        }
    }

    /// The dry run with sequence number `seq` finished; `true` when it is this preview's.
    pub fn on_plan(&mut self, seq: u64, outcome: PlanOutcome) -> bool {
        if seq != self.seq {
            return false;
        }
        self.outcome = Some(outcome);
        true
    }

    pub fn new(spec: MoveSpec, seq: u64) -> Self {
        Self {
            spec,
            seq,
            outcome: None,
            scroll: 0,
            focus: Button::Cancel,
            rows: 10,
        }
    }

    pub fn scroll_by(&mut self, delta: isize, total: usize) -> bool {
        let max = total.saturating_sub(self.rows);
        let new = self.scroll.saturating_add_signed(delta).min(max);
        let changed = new != self.scroll;
        self.scroll = new;
        changed
    }
}

/// One item, wrapped with a hanging indent.
fn item(out: &mut Vec<Line<'static>>, text: &str, width: usize, style: ratatui::style::Style) {
    for (i, piece) in wrap(text, width.saturating_sub(4)).into_iter().enumerate() {
        let indent = if i == 0 { "  " } else { "    " };
        out.push(Line::from(vec![
            Span::raw(indent),
            Span::styled(piece, style),
        ]));
    }
}

fn heading(out: &mut Vec<Line<'static>>, text: String, t: &Theme) {
    out.push(Line::styled(text, t.title));
}

/// The preview text, wrapped to `width` columns.
pub fn lines(
    spec: &MoveSpec,
    outcome: &PlanOutcome,
    width: usize,
    t: &Theme,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let plan = &outcome.plan;
    for e in &outcome.errors {
        item(&mut out, &format!("REFUSED: {e}"), width, t.error);
    }
    for c in &plan.conflicts {
        item(&mut out, &format!("BUSY (whole move): {c}"), width, t.error);
    }
    if let Some(ns) = &plan.merge_into_existing {
        item(&mut out, &merge_into_existing_text(ns), width, t.warn);
    }
    let (ok, bad): (Vec<_>, Vec<_>) = plan
        .groups
        .iter()
        .partition(|g| g.refusal.is_none() && g.conflicts.is_empty());
    let snaps: usize = ok.iter().map(|g| g.snapshots).sum();
    let bytes: u64 = ok.iter().map(|g| g.bytes).sum();
    heading(
        &mut out,
        format!(
            "Will move: {}, {}, {}",
            format::count(ok.len(), "group", "groups"),
            format::count(snaps, "snapshot", "snapshots"),
            format::size(bytes)
        ),
        t,
    );
    for g in &ok {
        let mut s = format!(
            "{} {} → {}  {}",
            g.group,
            g.ns.human(),
            g.target_ns.human(),
            format::count(g.snapshots, "snap", "snaps")
        );
        if g.merge {
            s.push_str("  MERGE into existing group");
        }
        if g.notes == NotesPlan::KeepTarget {
            s.push_str("  (target keeps its notes)");
        }
        if g.s3_objects > 0 {
            s.push_str(&format!(
                "  S3: {} objects, {}",
                g.s3_objects,
                format::size(g.s3_bytes)
            ));
        }
        item(&mut out, &s, width, t.group);
    }
    if !bad.is_empty() {
        heading(
            &mut out,
            format!(
                "Will NOT move: {}",
                format::count(bad.len(), "group", "groups")
            ),
            t,
        );
    }
    for g in &bad {
        let why = match &g.refusal {
            Some(r) => format!("refused: {r}"),
            None => format!("lock conflict: {}", g.conflicts.join("; ")),
        };
        let s = format!("{} ({}): {why}", g.group, g.ns.human());
        item(&mut out, &s, width, t.warn);
    }
    ns_sections(&mut out, spec, plan, width, t);
    out
}

fn ns_sections(
    out: &mut Vec<Line<'static>>,
    spec: &MoveSpec,
    plan: &MovePlan,
    width: usize,
    t: &Theme,
) {
    if !plan.namespaces_to_create.is_empty() {
        heading(out, "Namespaces to create:".into(), t);
        item(
            out,
            &join_ns(&plan.namespaces_to_create),
            width,
            t.namespace,
        );
    }
    if !plan.namespaces_to_remove.is_empty() {
        heading(out, "Source namespaces to remove (emptied):".into(), t);
        item(
            out,
            &join_ns(&plan.namespaces_to_remove),
            width,
            t.namespace,
        );
    }
    for k in &plan.namespaces_kept {
        item(
            out,
            &format!("keeps namespace {}: {}", k.ns.human(), k.reason),
            width,
            t.warn,
        );
    }
    if let MoveSpec::Namespace(r) = spec
        && !r.delete_source
    {
        item(
            out,
            "source namespaces are kept (keep source is on)",
            width,
            t.dim,
        );
    }
}

fn join_ns(list: &[crate::tree::Namespace]) -> String {
    let names: Vec<String> = list.iter().map(ToString::to_string).collect();
    names.join(", ")
}

pub fn render(frame: &mut Frame, area: ratatui::layout::Rect, p: &mut PreviewState, t: &Theme) {
    let popup = centered(area, 76, 22);
    frame.render_widget(Clear, popup);
    let title = format!(" Dry run: {} ", p.spec.describe());
    let block = Block::bordered()
        .border_style(t.focus_border)
        .title(Span::styled(title, t.title));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    if inner.height < 3 {
        return;
    }
    let text_area = ratatui::layout::Rect {
        height: inner.height - 2,
        ..inner
    };
    p.rows = text_area.height as usize;
    let body = match &p.outcome {
        None => vec![Line::styled("computing the plan (dry run)…", t.dim)],
        Some(o) => lines(&p.spec, o, text_area.width as usize, t),
    };
    let total = body.len();
    p.scroll = p.scroll.min(total.saturating_sub(p.rows));
    let visible: Vec<Line> = body.into_iter().skip(p.scroll).take(p.rows).collect();
    frame.render_widget(Paragraph::new(visible), text_area);
    let more = if total > p.scroll + p.rows {
        format!("  ↓ {} more lines", total - p.scroll - p.rows)
    } else {
        String::new()
    };
    let buttons = ratatui::layout::Rect {
        y: inner.y + inner.height - 1,
        height: 1,
        ..inner
    };
    frame.render_widget(Paragraph::new(button_line(p, more, t)), buttons);
}

fn button_line(p: &PreviewState, more: String, t: &Theme) -> Line<'static> {
    // Brackets and a `>` mark the focused button, so it is visible without colour.
    let button = |b: Button, label: &str| {
        if p.focus == b {
            Span::styled(format!(">[ {label} ]<"), t.selected)
        } else {
            Span::styled(format!(" [ {label} ] "), t.group)
        }
    };
    let move_label = match p.outcome.as_ref().map(PlanOutcome::movable) {
        None => "Move (planning…)".to_string(),
        Some(0) => "Move (nothing movable)".to_string(),
        Some(n) => format!("Move {n}"),
    };
    Line::from(vec![
        button(Button::Cancel, "Cancel"),
        Span::raw(" "),
        button(Button::Move, &move_label),
        Span::styled(more, t.dim),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::engine::request::MoveNsRequest;
    use crate::tree::Namespace;

    fn text(plan: MovePlan) -> String {
        let ns = |s: &str| Namespace::parse(s).unwrap();
        let spec = MoveSpec::Namespace(MoveNsRequest {
            ns: ns("prod"),
            target_ns: ns("archive"),
            max_depth: None,
            delete_source: true,
            merge: true,
        });
        let outcome = PlanOutcome {
            plan,
            errors: Vec::new(),
        };
        lines(&spec, &outcome, 100, &Theme::new(true))
            .iter()
            .map(|l| l.to_string() + "\n")
            .collect()
    }

    #[test]
    fn a_namespace_move_into_an_existing_namespace_says_it_merges() {
        let plan = MovePlan {
            merge_into_existing: Some(Namespace::parse("archive").unwrap()),
            ..MovePlan::default()
        };
        assert!(
            text(plan).contains("merging into existing namespace 'archive'"),
            "one line says so"
        );
        assert!(!text(MovePlan::default()).contains("merging into existing"));
    }
}
