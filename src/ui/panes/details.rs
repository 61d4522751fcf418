//! The details pane: everything known about the node under the cursor.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::tree::{GroupId, Namespace, SnapshotTime};

use crate::ui::format;
use crate::ui::model::{LoadState, Model, Selection};
use crate::ui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, model: &Model, sel: &Selection, theme: &Theme) {
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Span::styled(" Details ", theme.title));
    let lines = lines(model, sel, theme);
    // No wrapping: file lists stay one per line; overlong values are clipped.
    let p = Paragraph::new(lines).block(block);
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
    out.push(field("Groups", e.groups.len().to_string(), theme));
    out.push(field("Snapshots", t.snapshots.to_string(), theme));
    let size = if t.sizes_known {
        format::size(t.size)
    } else {
        format!("{} so far (computing)", format::size(t.size))
    };
    out.push(field("Size", size, theme));
    out.push(field("Protected", t.protected.to_string(), theme));
    out.push(field("Notes", format!("{} groups", t.with_notes), theme));
    out.push(field("Newest", time_or_dash(t.newest.as_ref()), theme));
    out.push(field("Oldest", time_or_dash(t.oldest.as_ref()), theme));
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
    out.push(field(
        "Size",
        i.size.map_or_else(pending, format::size),
        theme,
    ));
    out.push(field(
        "Protected",
        i.protected.map_or_else(pending, |p| p.to_string()),
        theme,
    ));
    out.push(field(
        "Notes",
        if i.has_notes { "yes" } else { "no" },
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
    out.push(field("Size", format::size(s.size), theme));
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
    out.push(field("Files", s.files.len().to_string(), theme));
    for f in &s.files {
        out.push(Line::from(vec![
            Span::raw(format!("{:>10} ", format::size(f.size))),
            Span::raw(f.name.clone()),
        ]));
    }
    out
}
