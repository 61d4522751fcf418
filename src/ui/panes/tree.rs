//! The tree pane: turns the loaded model into tui-tree-widget items and renders them.
//!
//! Only loaded levels become items; a closed or unloaded node gets a single placeholder
//! child so the widget still shows it as expandable. Search hits are highlighted, never
//! hidden; namespaces come before groups, both in the sort order of `ui::sort`.

use std::collections::HashSet;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Paragraph};
use tui_tree_widget::{Tree, TreeItem, TreeState};

use crate::tree::{GroupId, Namespace, SnapshotInfo};
use crate::ui::keys::action::Action;

use crate::ui::format;
use crate::ui::model::{GroupEntry, LoadState, Marks, Model, NodeKey, NsEntry, ns_of};
use crate::ui::search::SearchUi;
use crate::ui::sort::{self, SortKey};
use crate::ui::theme::Theme;

/// The search line (`/`): what was typed; the hits live in [`SearchUi`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FilterState {
    pub text: String,
    /// The input line has focus.
    pub editing: bool,
}

/// What a key did to the filter line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOutcome {
    Ignored,
    /// Typing is over; the filter stays.
    Kept,
    /// The text changed.
    Edited,
    /// The filter is gone.
    Cleared,
}

impl FilterState {
    /// The filter line's answer to an action of its context.
    pub fn handle(&mut self, action: Action) -> FilterOutcome {
        match action {
            Action::Accept => {
                self.editing = false;
                FilterOutcome::Kept
            }
            Action::Backspace if self.text.pop().is_some() => FilterOutcome::Edited,
            Action::ClearFilter => FilterOutcome::Cleared,
            _ => FilterOutcome::Ignored,
        }
    }

    pub fn type_char(&mut self, c: char) -> FilterOutcome {
        self.text.push(c);
        FilterOutcome::Edited
    }
}

type Item = TreeItem<'static, NodeKey>;

/// What the tree shows besides the model: the open nodes, marks, search hits, sort key.
pub struct TreeView<'a> {
    pub state: &'a TreeState<NodeKey>,
    pub marks: &'a Marks,
    pub search: &'a SearchUi,
    pub sort: SortKey,
    pub theme: &'a Theme,
}

struct Builder<'a> {
    model: &'a Model,
    view: &'a TreeView<'a>,
    opened: &'a HashSet<Vec<NodeKey>>,
}

/// Items for the whole visible tree (root namespace at the top).
pub fn build_items(model: &Model, view: &TreeView<'_>) -> Vec<Item> {
    let b = Builder {
        model,
        view,
        opened: view.state.opened(),
    };
    let root = Namespace::root();
    let mut path = vec![NodeKey::Ns(root.clone())];
    vec![b.namespace(&mut path, &root)]
}

impl Builder<'_> {
    fn namespace(&self, path: &mut Vec<NodeKey>, ns: &Namespace) -> Item {
        let theme = self.view.theme;
        let name = ns_name(ns);
        let entry = self.model.ns(ns);
        let open = self.opened.contains(path);
        // A namespace being re-scanned keeps showing what it had.
        let data = entry.filter(|e| {
            e.state == LoadState::Loaded || !e.children.is_empty() || !e.groups.is_empty()
        });
        // A closed node's children are never looked at.
        let children = match (open, data) {
            (true, Some(e)) => self.ns_children(path, e),
            (false, Some(e)) => {
                placeholder_if(!e.children.is_empty() || !e.groups.is_empty(), theme)
            }
            (true, None) => vec![state_placeholder(entry.map(|e| &e.state), theme)],
            // Not listed yet: it may have children.
            (false, None) => placeholder_if(true, theme),
        };
        let mut text = ns_text(&name, entry, theme);
        if self.view.search.is_hit(ns, None) {
            hit_text(&mut text, theme);
        }
        if self.view.marks.ns.as_ref() == Some(ns) {
            mark_text(&mut text, theme);
        }
        node(NodeKey::Ns(ns.clone()), text, children)
    }

    fn ns_children(&self, path: &mut Vec<NodeKey>, e: &NsEntry) -> Vec<Item> {
        let mut kids = Vec::with_capacity(e.children.len() + e.groups.len());
        for child in sort::namespaces(&e.children) {
            path.push(NodeKey::Ns(child.clone()));
            kids.push(self.namespace(path, child));
            path.pop();
        }
        for g in self.view.sort.groups(&e.groups) {
            path.push(NodeKey::Group(g.info.group.clone()));
            kids.push(self.group(path, g));
            path.pop();
        }
        kids
    }

    fn group(&self, path: &[NodeKey], g: &GroupEntry) -> Item {
        let theme = self.view.theme;
        let label = g.info.group.to_string();
        let open = self.opened.contains(path);
        let loaded = g.state == LoadState::Loaded;
        let children = match (open, loaded) {
            (true, true) => g
                .snapshots
                .iter()
                .map(|s| snapshot_item(s, theme))
                .collect(),
            (false, true) => placeholder_if(!g.snapshots.is_empty(), theme),
            (true, false) if g.info.snapshots > 0 => {
                vec![state_placeholder(Some(&g.state), theme)]
            }
            (_, false) => placeholder_if(g.info.snapshots > 0, theme),
        };
        let ns = ns_of(path);
        let mut text = group_text(&label, g, theme);
        if self.view.search.is_hit(&ns, Some(&g.info.group)) {
            hit_text(&mut text, theme);
        }
        if self.view.marks.has_group(&ns, &g.info.group) {
            mark_text(&mut text, theme);
        }
        node(NodeKey::Group(g.info.group.clone()), text, children)
    }
}

/// A search hit: its name in the hit style (underlined without colour).
fn hit_text(text: &mut Text<'static>, theme: &Theme) {
    if let Some(name) = text.lines.first_mut().and_then(|l| l.spans.first_mut()) {
        name.style = name.style.patch(theme.hit);
    }
}

/// A `*` before the name, and the marked style on it: visible without colour.
fn mark_text(text: &mut Text<'static>, theme: &Theme) {
    if let Some(line) = text.lines.first_mut() {
        line.spans.insert(0, Span::styled("* ", theme.marked));
        if let Some(name) = line.spans.get_mut(1) {
            name.style = name.style.patch(theme.marked);
        }
    }
}

fn node(key: NodeKey, text: Text<'static>, children: Vec<Item>) -> Item {
    // Keys are unique among siblings by construction (names in one directory).
    match TreeItem::new(key.clone(), text.clone(), children) {
        Ok(item) => item,
        Err(_) => TreeItem::new_leaf(key, text),
    }
}

fn placeholder_if(cond: bool, theme: &Theme) -> Vec<Item> {
    if cond {
        vec![TreeItem::new_leaf(
            NodeKey::Placeholder,
            Span::styled("…", theme.dim),
        )]
    } else {
        Vec::new()
    }
}

fn state_placeholder(state: Option<&LoadState>, theme: &Theme) -> Item {
    let text = match state {
        Some(LoadState::Loading) => Span::styled("loading…", theme.dim),
        Some(LoadState::Failed(e)) => Span::styled(format!("error: {e}"), theme.error),
        _ => Span::styled("…", theme.dim),
    };
    TreeItem::new_leaf(NodeKey::Placeholder, text)
}

/// The last component, `/` for the root.
pub fn ns_name(ns: &Namespace) -> String {
    ns.name().unwrap_or("/").to_string()
}

fn ns_text(name: &str, entry: Option<&NsEntry>, theme: &Theme) -> Text<'static> {
    let mut spans = vec![Span::styled(name.to_string(), theme.namespace)];
    let stats = match entry.map(|e| (&e.state, e)) {
        Some((LoadState::Loading, _)) => "loading…".to_string(),
        Some((LoadState::Failed(_), _)) => "error".to_string(),
        Some((LoadState::Loaded, e)) => ns_stats(e),
        _ => String::new(),
    };
    if !stats.is_empty() {
        spans.push(Span::styled(format!("  {stats}"), theme.dim));
    }
    Line::from(spans).into()
}

fn ns_stats(e: &NsEntry) -> String {
    if e.children.is_empty() && e.groups.is_empty() {
        return "empty".to_string();
    }
    let mut parts = Vec::new();
    if !e.children.is_empty() {
        parts.push(format::count(e.children.len(), "ns", "ns"));
    }
    if !e.groups.is_empty() {
        parts.push(format::count(e.groups.len(), "group", "groups"));
        let t = e.totals();
        parts.push(if t.sizes_known {
            format::size(t.size)
        } else {
            "…".to_string()
        });
    }
    parts.join("  ")
}

fn group_text(label: &str, g: &GroupEntry, theme: &Theme) -> Text<'static> {
    let i = &g.info;
    let size = i.size.map_or("…".to_string(), format::size);
    let stats = format!("  {}  {size}", format::count(i.snapshots, "snap", "snaps"));
    Line::from(vec![
        Span::styled(label.to_string(), theme.group),
        Span::styled(stats, theme.dim),
    ])
    .into()
}

fn snapshot_item(s: &SnapshotInfo, theme: &Theme) -> Item {
    let mut stats = format!("  {}", format::size(s.size));
    if s.protected {
        stats.push_str("  protected");
    }
    if !s.finished {
        stats.push_str("  unfinished");
    }
    let text = Line::from(vec![
        Span::styled(s.time.as_str().to_string(), theme.snapshot),
        Span::styled(stats, theme.dim),
    ]);
    TreeItem::new_leaf(NodeKey::Snap(s.time.clone()), text)
}

/// Renders the tree into `area` (the caller draws nothing else there).
pub fn render(
    frame: &mut Frame,
    area: Rect,
    items: &[Item],
    state: &mut TreeState<NodeKey>,
    theme: &Theme,
    title: String,
    bottom: Option<String>,
) {
    let mut block = Block::bordered()
        .border_style(theme.focus_border)
        .title(Span::styled(title, theme.title));
    if let Some(b) = bottom {
        block = block.title_bottom(Span::styled(b, theme.title));
    }
    match Tree::new(items) {
        Ok(tree) => {
            let tree = tree
                .block(block)
                .highlight_style(theme.selected)
                // A marker as well as the highlight: the selection must survive NO_COLOR and
                // terminals that ignore reverse video.
                .highlight_symbol("> ")
                .node_closed_symbol("+ ")
                .node_open_symbol("- ")
                .node_no_children_symbol("  ");
            frame.render_stateful_widget(tree, area, state);
        }
        Err(e) => frame.render_widget(Paragraph::new(e.to_string()).block(block), area),
    }
}

/// Groups of a namespace as shown (helper for details and tests).
pub fn group_ids(entry: &NsEntry) -> Vec<GroupId> {
    entry.groups.iter().map(|g| g.info.group.clone()).collect()
}
