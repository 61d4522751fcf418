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

use crate::tree::manifest::{CryptMode, ManifestError, SnapshotFacts, VerifyState};
use crate::tree::{GroupId, Namespace, SnapshotInfo};
use crate::ui::facts::FactsState;
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
        let size = entry.and_then(|e| {
            let t = self
                .model
                .facts
                .total(ns, e.groups.iter().map(|g| &g.info.group));
            t.complete().then_some(t.size)
        });
        let mut text = ns_text(&name, entry, size, theme);
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
        if let Some(total) = e.groups_total {
            let more = total.saturating_sub(e.groups.len());
            let text = format!("loading… {} more", format::count(more, "group", "groups"));
            kids.push(TreeItem::new_leaf(
                NodeKey::Placeholder,
                Span::styled(text, self.view.theme.dim),
            ));
        }
        kids
    }

    fn group(&self, path: &[NodeKey], g: &GroupEntry) -> Item {
        let theme = self.view.theme;
        let label = g.info.group.to_string();
        let open = self.opened.contains(path);
        let loaded = g.state == LoadState::Loaded;
        let ns = ns_of(path);
        let children = match (open, loaded) {
            (true, true) => g
                .snapshots
                .iter()
                .map(|s| {
                    let facts = self.model.facts.snapshot(&ns, &g.info.group, &s.time);
                    snapshot_item(s, facts, theme)
                })
                .collect(),
            (false, true) => placeholder_if(!g.snapshots.is_empty(), theme),
            (true, false) if g.info.snapshots > 0 => {
                vec![state_placeholder(Some(&g.state), theme)]
            }
            (_, false) => placeholder_if(g.info.snapshots > 0, theme),
        };
        let facts = self.model.facts.state(&ns, &g.info.group);
        let mut text = group_text(&label, g, facts, theme);
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

/// `size`: the groups' backup size once every group's manifests were read.
fn ns_text(name: &str, entry: Option<&NsEntry>, size: Option<u64>, theme: &Theme) -> Text<'static> {
    let mut spans = vec![Span::styled(name.to_string(), theme.namespace)];
    let stats = match entry.map(|e| (&e.state, e)) {
        Some((LoadState::Loading, e)) if e.is_partial() => format!(
            "loading… {} of {}",
            e.groups.len(),
            format::count(e.group_count(), "group", "groups")
        ),
        Some((LoadState::Loading, _)) => "loading…".to_string(),
        Some((LoadState::Failed(_), _)) => "error".to_string(),
        Some((LoadState::Loaded, e)) => ns_stats(e, size),
        _ => String::new(),
    };
    if !stats.is_empty() {
        spans.push(Span::styled(format!("  {stats}"), theme.dim));
    }
    Line::from(spans).into()
}

fn ns_stats(e: &NsEntry, size: Option<u64>) -> String {
    if e.children.is_empty() && e.groups.is_empty() {
        return "empty".to_string();
    }
    let mut parts = Vec::new();
    if !e.children.is_empty() {
        parts.push(format::count(e.children.len(), "ns", "ns"));
    }
    if !e.groups.is_empty() {
        parts.push(format::count(e.groups.len(), "group", "groups"));
        parts.push(size.map_or("…".to_string(), format::size));
    }
    parts.join("  ")
}

/// `vm/100  12 snaps  392.0 GiB ✓ "before upgrade"`: size, verify mark and comment as
/// PBS's content view shows a group (total size, the newest snapshot's state and comment).
fn group_text(
    label: &str,
    g: &GroupEntry,
    facts: Option<&FactsState>,
    theme: &Theme,
) -> Text<'static> {
    let i = &g.info;
    let ready = match facts {
        Some(FactsState::Ready(f)) => Some(f),
        _ => None,
    };
    let size = ready.map_or("…".to_string(), |f| format::size(f.size()));
    let stats = format!("  {}  {size}", format::count(i.snapshots, "snap", "snaps"));
    let mut spans = vec![
        Span::styled(label.to_string(), theme.group),
        Span::styled(stats, theme.dim),
    ];
    if let Some(f) = ready {
        spans.extend(facts_marks(f.verify_state(), f.damaged() > 0, theme));
        if let Some(c) = f.comment() {
            spans.push(Span::styled(
                format!(" \"{}\"", format::truncate(c, 24)),
                theme.dim,
            ));
        }
    }
    Line::from(spans).into()
}

/// ` ✓` verified ok, ` ✗` verification failed, ` ⚠` a damaged manifest (visible without
/// colour; the details pane says it in words).
fn facts_marks(verify: Option<VerifyState>, damaged: bool, theme: &Theme) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    match verify {
        Some(VerifyState::Ok) => out.push(Span::styled(" ✓", theme.dim)),
        Some(VerifyState::Failed) => out.push(Span::styled(" ✗", theme.error)),
        None => {}
    }
    if damaged {
        out.push(Span::styled(" ⚠ manifest", theme.warn));
    }
    out
}

fn snapshot_item(
    s: &SnapshotInfo,
    facts: Option<&Result<SnapshotFacts, ManifestError>>,
    theme: &Theme,
) -> Item {
    let size = match facts {
        Some(Ok(f)) => format::size(f.size),
        _ if !s.finished => String::new(),
        Some(Err(_)) => "?".to_string(),
        None => "…".to_string(),
    };
    // Most telling first: the row is cut at the pane's edge.
    let mut spans = vec![
        Span::styled(s.time.as_str().to_string(), theme.snapshot),
        Span::styled(format!("  {size}"), theme.dim),
    ];
    match facts {
        Some(Ok(f)) => spans.extend(facts_marks(f.verify_state(), false, theme)),
        Some(Err(e)) if e.is_damage() => {
            spans.push(Span::styled(format!(" ⚠ manifest: {e}"), theme.warn));
        }
        _ => {}
    }
    let mut flags = String::new();
    if let Some(Ok(f)) = facts {
        match f.crypt_mode {
            CryptMode::None => {}
            m => flags.push_str(&format!("  {}", m.label())),
        }
    }
    if s.protected {
        flags.push_str("  protected");
    }
    if !s.finished {
        flags.push_str("  unfinished");
    }
    spans.push(Span::styled(flags, theme.dim));
    TreeItem::new_leaf(NodeKey::Snap(s.time.clone()), Line::from(spans))
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
