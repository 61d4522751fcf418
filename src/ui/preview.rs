//! The dry-run preview: the engine's own plan (`ops::engine::plan`) for the picked move, listing what
//! moves, what is refused and which locks are held right now. Nothing runs until the user
//! confirms; the default button is Cancel.

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::ops::context::MoveContext;
use crate::ops::engine::plan::{MovePlan, NotesPlan, plan_move_group, plan_move_namespace};
use crate::ops::engine::request::MoveGroupRequest;

use super::format;
use super::jobs::MoveSpec;
use super::picker::centered;
use super::theme::Theme;

/// The plan of a move plus errors that stopped planning part of it (datastore refusals).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOutcome {
    pub plan: MovePlan,
    pub errors: Vec<String>,
}

impl PlanOutcome {
    /// Groups that would move now.
    pub fn movable(&self) -> usize {
        if !self.plan.conflicts.is_empty() {
            return 0;
        }
        self.plan
            .groups
            .iter()
            .filter(|g| g.refusal.is_none() && g.conflicts.is_empty())
            .count()
    }
}

/// Dry-runs `spec` with the engine (blocking: run it off the UI thread).
pub fn compute(ctx: &MoveContext, spec: &MoveSpec) -> PlanOutcome {
    let mut out = PlanOutcome::default();
    match spec {
        MoveSpec::Groups {
            groups,
            target,
            merge,
        } => {
            for (ns, group) in groups {
                let req = MoveGroupRequest {
                    ns: ns.clone(),
                    group: group.clone(),
                    target_ns: target.clone(),
                    merge: *merge,
                };
                match plan_move_group(ctx, &req) {
                    Ok(p) => merge_plans(&mut out.plan, p),
                    Err(e) => out.errors.push(format!("{group} ({}): {e}", ns.human())),
                }
            }
        }
        MoveSpec::Namespace(req) => match plan_move_namespace(ctx, req) {
            Ok(p) => out.plan = p,
            Err(e) => out.errors.push(e.to_string()),
        },
        // Resume is offered by its own prompt, never previewed.
        MoveSpec::Resume { .. } => {}
    }
    out
}

fn merge_plans(into: &mut MovePlan, p: MovePlan) {
    into.groups.extend(p.groups);
    for c in p.conflicts {
        if !into.conflicts.contains(&c) {
            into.conflicts.push(c);
        }
    }
}

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

impl PreviewState {
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

/// Splits `text` into pieces of at most `width` characters, at spaces where possible.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        loop {
            let len = line.chars().count();
            let wlen = word.chars().count();
            let sep = usize::from(len > 0);
            if len + sep + wlen <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if len > 0 {
                out.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than a line (a path): hard cut.
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            out.push(head);
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
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
    use super::wrap;

    #[test]
    fn wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("aaaa bbbb cc", 9), ["aaaa bbbb", "cc"]);
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(wrap("abcdefghijkl", 8), ["abcdefgh", "ijkl"]);
    }
}
