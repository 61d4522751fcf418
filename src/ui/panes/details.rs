//! The details pane: everything known about the node under the cursor.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::tree::manifest::{GroupFacts, ManifestError, SnapshotFacts, Verification};
use crate::tree::{GroupId, Namespace, SnapshotTime};

use crate::ui::facts::FactsState;
use crate::ui::format;
use crate::ui::model::{LoadState, Model, Selection};
use crate::ui::theme::Theme;

/// How far the details text is scrolled, for the selection it was scrolled on.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DetailsView {
    /// Lines scrolled down from the top; drawing clamps it.
    pub scroll: usize,
    /// The selection the offset belongs to: another one starts at the top.
    shown: Option<Selection>,
}

impl DetailsView {
    /// Scrolls by `rows` (down when `down`); `true` when there was a selection to scroll.
    pub fn scroll_by(&mut self, rows: usize, down: bool) -> bool {
        let before = self.scroll;
        self.scroll = if down {
            self.scroll.saturating_add(rows)
        } else {
            self.scroll.saturating_sub(rows)
        };
        self.scroll != before
    }

    /// Forgets the offset when the selection changed; clamps it so the last line stays at
    /// the bottom of `rows` visible ones.
    fn settle(&mut self, sel: &Selection, total: usize, rows: usize) {
        if self.shown.as_ref() != Some(sel) {
            self.shown = Some(sel.clone());
            self.scroll = 0;
        }
        self.scroll = self.scroll.min(total.saturating_sub(rows));
    }
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    model: &Model,
    sel: &Selection,
    view: &mut DetailsView,
    theme: &Theme,
) {
    let lines = lines(model, sel, theme);
    let rows = Block::bordered().inner(area).height as usize;
    // Clamped before the title is made: "scrolled N" counts lines that exist.
    view.settle(sel, lines.len(), rows);
    let title = if view.scroll > 0 {
        format!(" Details (scrolled {} of {}) ", view.scroll, lines.len())
    } else {
        " Details ".to_string()
    };
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Span::styled(title, theme.title));
    // No wrapping: file lists stay one per line; overlong values are clipped.
    let p = Paragraph::new(lines)
        .block(block)
        .scroll((u16::try_from(view.scroll).unwrap_or(u16::MAX), 0));
    frame.render_widget(p, area);
}

/// The details text for a selection (pure, so tests can check it without a terminal).
pub fn lines(model: &Model, sel: &Selection, theme: &Theme) -> Vec<Line<'static>> {
    match sel {
        Selection::None => vec![Line::from("nothing selected")],
        Selection::Placeholder => vec![Line::from("still loading, or see the status pane")],
        Selection::Ns(ns) => ns_lines(model, ns, theme),
        Selection::Group(ns, g) => group_lines(model, ns, g, theme),
        Selection::Snapshot(ns, g, t) => snapshot_lines(model, ns, g, t, theme),
    }
}

fn field(name: &str, value: impl Into<String>, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{name:<10}"), theme.label),
        Span::raw(value.into()),
    ])
}

fn time_or_dash(t: Option<&SnapshotTime>) -> String {
    t.map_or("-".to_string(), |t| t.as_str().to_string())
}

fn ns_lines(model: &Model, ns: &Namespace, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = vec![field("Namespace", ns.human(), theme)];
    let Some(e) = model.ns(ns) else {
        out.push(Line::from("not listed yet: expand it to scan"));
        return out;
    };
    match &e.state {
        LoadState::Loading => out.push(field("State", "scanning…", theme)),
        LoadState::Failed(err) => out.push(field("Error", err.clone(), theme)),
        _ => {}
    }
    let t = e.totals();
    out.push(field(
        "Children",
        format::count(e.children.len(), "namespace", "namespaces"),
        theme,
    ));
    let groups = match e.groups_total {
        Some(total) => format!("{total} ({} so far)", e.groups.len()),
        None => e.groups.len().to_string(),
    };
    out.push(field("Groups", groups, theme));
    // Sums over a part of the groups would be wrong numbers: not known yet.
    let known = |known: bool, v: String| if known { v } else { "…".to_string() };
    out.push(field(
        "Snapshots",
        known(t.listed, t.snapshots.to_string()),
        theme,
    ));
    let read = model
        .facts
        .total(ns, e.groups.iter().map(|g| &g.info.group));
    let size = if !t.listed {
        "…".to_string()
    } else if read.complete() {
        format::size(read.size)
    } else {
        format!("{} of {} groups read", read.read, read.groups)
    };
    out.push(field("Size", size, theme));
    out.push(field(
        "Protected",
        known(t.listed && t.protected_known, t.protected.to_string()),
        theme,
    ));
    out.push(field(
        "Notes",
        known(t.listed, format!("{} groups", t.with_notes)),
        theme,
    ));
    out.push(field(
        "Newest",
        known(t.listed, time_or_dash(t.newest.as_ref())),
        theme,
    ));
    out.push(field(
        "Oldest",
        known(t.listed, time_or_dash(t.oldest.as_ref())),
        theme,
    ));
    out.push(Line::styled("(direct groups only)", theme.dim));
    out
}

fn group_lines(model: &Model, ns: &Namespace, g: &GroupId, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = vec![
        field("Group", g.to_string(), theme),
        field("Namespace", ns.human(), theme),
    ];
    let Some(entry) = model.group(ns, g) else {
        out.push(Line::from("not listed"));
        return out;
    };
    let i = &entry.info;
    let owner = i.owner.clone().unwrap_or_else(|| "(missing)".to_string());
    out.push(field("Owner", owner, theme));
    out.push(field("Snapshots", i.snapshots.to_string(), theme));
    let pending = || "computing…".to_string();
    out.extend(group_facts_lines(model.facts.state(ns, g), theme));
    out.push(field(
        "Protected",
        i.protected.map_or_else(pending, |p| p.to_string()),
        theme,
    ));
    out.push(field(
        "Notes",
        if i.has_notes { "yes (i: show)" } else { "no" },
        theme,
    ));
    out.push(field("Newest", time_or_dash(i.newest.as_ref()), theme));
    out.push(field("Oldest", time_or_dash(i.oldest.as_ref()), theme));
    if let LoadState::Failed(e) = &entry.state {
        out.push(field("Error", e.clone(), theme));
    }
    out
}

fn snapshot_lines(
    model: &Model,
    ns: &Namespace,
    g: &GroupId,
    t: &SnapshotTime,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut out = vec![
        field("Snapshot", t.as_str().to_string(), theme),
        field("Group", g.to_string(), theme),
        field("Namespace", ns.human(), theme),
    ];
    let Some(s) = model.group(ns, g).and_then(|e| e.snapshot(t)) else {
        return out;
    };
    match model.facts.snapshot(ns, g, t) {
        Some(Ok(f)) => out.extend(snapshot_facts_lines(f, theme)),
        Some(Err(ManifestError::Missing)) | None if !s.finished => {}
        Some(Err(e)) => out.push(damage(e, theme)),
        None => out.push(field("Size", "reading manifest…", theme)),
    }
    out.push(field(
        "Protected",
        if s.protected { "yes" } else { "no" },
        theme,
    ));
    let state = if s.finished {
        "finished"
    } else {
        "unfinished (no manifest)"
    };
    out.push(field("State", state, theme));
    out.push(field(
        "Files",
        format!("{} (bytes on disk)", s.files.len()),
        theme,
    ));
    for f in &s.files {
        out.push(Line::from(vec![
            Span::raw(format!("{:>10} ", format::size(f.size))),
            Span::raw(f.name.clone()),
        ]));
    }
    out
}

/// A group's total size and its newest snapshot's verify state and comment.
fn group_facts_lines(state: Option<&FactsState>, theme: &Theme) -> Vec<Line<'static>> {
    let f = match state {
        Some(FactsState::Ready(f)) => f,
        Some(FactsState::Failed(e)) => return vec![field("Size", e.clone(), theme)],
        _ => return vec![field("Size", "reading manifests…", theme)],
    };
    let mut out = vec![field("Size", format::size(f.size()), theme)];
    if let Some(newest) = f.newest_facts() {
        out.extend(verify_lines(newest.verification.as_ref(), theme));
        if let Some(c) = newest.comment() {
            out.push(field("Comment", c.to_string(), theme));
        }
    }
    out.extend(group_damage(f, theme));
    out
}

/// "⚠ manifest: bad CRC" for the first damaged snapshot, with how many there are.
fn group_damage(f: &GroupFacts, theme: &Theme) -> Option<Line<'static>> {
    let (time, e) = f.first_damage()?;
    let more = match f.damaged() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    Some(Line::styled(
        format!("⚠ {time}: manifest: {e}{more}"),
        theme.warn,
    ))
}

fn snapshot_facts_lines(f: &SnapshotFacts, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = vec![
        field("Size", format::size(f.size), theme),
        field("Crypt", f.crypt_mode.label(), theme),
    ];
    out.extend(verify_lines(f.verification.as_ref(), theme));
    if let Some(c) = f.comment() {
        out.push(field("Comment", c.to_string(), theme));
    }
    if f.notes.as_deref().is_some_and(|n| n.lines().count() > 1) {
        out.push(field("Notes", "more lines (i: show)", theme));
    }
    out
}

fn damage(e: &ManifestError, theme: &Theme) -> Line<'static> {
    Line::styled(format!("⚠ manifest: {e}"), theme.warn)
}

/// `Verify ok` / `failed` / `not verified`, and when (its own line: the pane is narrow).
fn verify_lines(v: Option<&Verification>, theme: &Theme) -> Vec<Line<'static>> {
    let Some(v) = v else {
        return vec![field("Verify", "not verified", theme)];
    };
    let mut out = vec![field("Verify", v.state.as_str(), theme)];
    if let Some(t) = v.time {
        out.push(field("Verified", short_time(t), theme));
    }
    out
}

/// `2026-10-31 23:53` (UTC, as snapshot times are).
fn short_time(epoch: u64) -> String {
    let t = SnapshotTime::from_epoch(epoch);
    let s = t.as_str();
    match (s.get(..10), s.get(11..16)) {
        (Some(day), Some(hm)) => format!("{day} {hm}"),
        _ => s.to_string(),
    }
}
