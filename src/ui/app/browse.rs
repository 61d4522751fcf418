//! Moving through the tree (the search is in `search`).

use tui_tree_widget::{TreeItem, TreeState};

use crate::ui::model::{NodeKey, NodePath, Selection, ns_of};
use crate::ui::panes::tree as tree_pane;

use super::App;

impl App {
    // ----- tree items and navigation -----

    /// The tree items for rendering, rebuilt only after the model, filter or open set changed.
    pub fn items(&mut self) -> &[TreeItem<'static, NodeKey>] {
        if self.items_dirty {
            let view = tree_pane::TreeView {
                state: &self.tree_state,
                marks: &self.marks,
                search: &self.search,
                sort: self.sort,
                theme: &self.theme,
            };
            let new = tree_pane::build_items(&self.model, &view);
            let old = std::mem::replace(&mut self.items, new);
            self.items_dirty = false;
            self.fix_selection(&old);
        }
        &self.items
    }

    /// The items and the widget state, borrowed together for rendering.
    pub fn tree_parts(&mut self) -> (&[TreeItem<'static, NodeKey>], &mut TreeState<NodeKey>) {
        self.items();
        (&self.items, &mut self.tree_state)
    }

    /// Visible rows as key paths, top to bottom.
    pub fn visible_paths(&mut self) -> Vec<NodePath> {
        self.items();
        self.tree_state
            .flatten(&self.items)
            .into_iter()
            .map(|f| f.identifier)
            .collect()
    }

    pub(crate) fn selected_index(&mut self, rows: &[NodePath]) -> Option<usize> {
        let sel = self.tree_state.selected();
        rows.iter().position(|p| p.as_slice() == sel)
    }

    pub(super) fn move_by(&mut self, delta: isize) -> bool {
        let rows = self.visible_paths();
        let Some(last) = rows.len().checked_sub(1) else {
            return false;
        };
        let target = match self.selected_index(&rows) {
            Some(i) => i.saturating_add_signed(delta).min(last),
            None => 0,
        };
        self.tree_state.select(rows[target].clone())
    }

    pub(super) fn move_to(&mut self, index: usize) -> bool {
        let rows = self.visible_paths();
        match rows.get(index.min(rows.len().saturating_sub(1))) {
            Some(p) => self.tree_state.select(p.clone()),
            None => false,
        }
    }

    /// After the items changed the selected node may be gone (filtered out, moved away):
    /// select the nearest sibling that is still there (the next one, else the previous one,
    /// as a file manager does after a delete), else the nearest visible ancestor, else the
    /// first row. `old` are the items before the change.
    pub(super) fn fix_selection(&mut self, old: &[TreeItem<'static, NodeKey>]) {
        let rows: Vec<NodePath> = self
            .tree_state
            .flatten(&self.items)
            .into_iter()
            .map(|f| f.identifier)
            .collect();
        let mut sel = self.tree_state.selected().to_vec();
        if sel.is_empty() || rows.contains(&sel) {
            return;
        }
        if let Some(sibling) = self.surviving_sibling(old, &sel, &rows) {
            self.tree_state.select(sibling);
            return;
        }
        while !sel.is_empty() {
            if rows.contains(&sel) {
                self.tree_state.select(sel);
                return;
            }
            sel.pop();
        }
        self.tree_state
            .select(rows.into_iter().next().unwrap_or_default());
    }

    /// The sibling of the vanished `sel` closest below it in the old rows, else above it,
    /// that is still among `rows`.
    fn surviving_sibling(
        &self,
        old: &[TreeItem<'static, NodeKey>],
        sel: &NodePath,
        rows: &[NodePath],
    ) -> Option<NodePath> {
        let parent = &sel[..sel.len().saturating_sub(1)];
        let siblings: Vec<NodePath> = self
            .tree_state
            .flatten(old)
            .into_iter()
            .map(|f| f.identifier)
            .filter(|p| p.len() == sel.len() && p.starts_with(parent))
            // A placeholder is never the answer, but may be the vanished row itself
            // ("loading… more groups" under a namespace now listed whole).
            .filter(|p| p == sel || !matches!(p.last(), Some(NodeKey::Placeholder)))
            .collect();
        let at = siblings.iter().position(|p| p == sel)?;
        let after = siblings[at + 1..].iter();
        let before = siblings[..at].iter().rev();
        after.chain(before).find(|p| rows.contains(p)).cloned()
    }

    pub(super) fn expand(&mut self) -> bool {
        let path = self.tree_state.selected().to_vec();
        let loaded = match path.last() {
            Some(NodeKey::Ns(ns)) => self.ensure_ns_loaded(&ns.clone()),
            Some(NodeKey::Group(g)) => {
                let (ns, g) = (ns_of(&path), g.clone());
                self.ensure_group_loaded(&ns, &g)
            }
            _ => return false,
        };
        if self.tree_state.open(path.clone()) {
            self.items_dirty = true;
            return true;
        }
        // Already open: step into it, as file managers do.
        let rows = self.visible_paths();
        let next = self.selected_index(&rows).and_then(|i| rows.get(i + 1));
        match next {
            Some(child) if child.starts_with(&path) => self.tree_state.select(child.clone()),
            _ => loaded,
        }
    }

    pub(super) fn collapse(&mut self) -> bool {
        let path = self.tree_state.selected().to_vec();
        if self.tree_state.close(&path) {
            self.items_dirty = true;
            return true;
        }
        if path.len() > 1 {
            return self.tree_state.select(path[..path.len() - 1].to_vec());
        }
        false
    }

    /// The node under the cursor.
    pub fn selection(&self) -> Selection {
        let path = self.tree_state.selected();
        match path.last() {
            None => Selection::None,
            Some(NodeKey::Ns(ns)) => Selection::Ns(ns.clone()),
            Some(NodeKey::Group(g)) => Selection::Group(ns_of(path), g.clone()),
            Some(NodeKey::Snap(t)) => match path.iter().rev().nth(1) {
                Some(NodeKey::Group(g)) => Selection::Snapshot(ns_of(path), g.clone(), t.clone()),
                _ => Selection::None,
            },
            Some(NodeKey::Placeholder) => Selection::Placeholder,
        }
    }
}
