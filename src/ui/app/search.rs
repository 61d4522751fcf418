//! Searching the whole datastore: the index build in the background, the search line, the
//! jump to a hit (listing the namespaces on its way first), n/N, and selecting every
//! matching group.

use crossterm::event::KeyEvent;

use crate::ops::progress::CancelToken;
use crate::tree::search::{GroupComment, Hit, SearchIndex};
use crate::tree::{GroupId, GroupInfo, Namespace};
use crate::ui::keys::action::Action;
use crate::ui::keys::keymap::typed_char;
use crate::ui::model::{LoadState, NodeKey};
use crate::ui::panes::status::Level;
use crate::ui::panes::tree::{FilterOutcome, FilterState};
use crate::ui::search::{IndexState, hit_path};
use crate::ui::tasks::Command;

use super::App;

impl App {
    // ----- the index -----

    /// (Re)builds the index of the whole datastore in the background; what is listed
    /// meanwhile still patches the current one.
    pub fn rebuild_index(&mut self) {
        self.new_index_build();
        self.index_waits_for_root = false;
        let generation = self.search.generation;
        self.commands.push(Command::BuildIndex { generation });
    }

    /// The first build, started once the root namespace is listed: the build reads the
    /// root's groups too, and on a large datastore it would take half of the cores the
    /// listing needs to show the tree. Meanwhile the index learns what is listed.
    pub(super) fn defer_index_build(&mut self) {
        self.new_index_build();
        self.index_waits_for_root = true;
    }

    pub(super) fn start_deferred_index(&mut self) {
        if std::mem::take(&mut self.index_waits_for_root) {
            let generation = self.search.generation;
            self.commands.push(Command::BuildIndex { generation });
        }
    }

    fn new_index_build(&mut self) {
        self.stop_comment_pass();
        self.search.generation += 1;
        self.search.state = IndexState::Building;
    }

    pub(super) fn on_index(
        &mut self,
        generation: u64,
        result: Result<SearchIndex, String>,
    ) -> bool {
        if generation != self.search.generation {
            return false;
        }
        match result {
            Ok(index) => {
                self.search.index = index;
                self.start_comment_pass();
                self.refresh_hits();
                // Typed while the index was built: the cursor goes to the first match now,
                // as it does on typing.
                if self.search.current.is_none()
                    && let Some(hit) = self.search.step(1)
                {
                    self.goto_hit(hit);
                }
                return true;
            }
            Err(e) => {
                self.status.push(
                    Level::Warn,
                    format!("search index: {e}; searching what is loaded"),
                );
                self.search.state = IndexState::Failed(e);
            }
        }
        self.refresh_hits();
        true
    }

    /// Reads every group's newest comment in the background (the build does not).
    fn start_comment_pass(&mut self) {
        let cancel = CancelToken::new();
        self.search.comments_cancel = Some(cancel.clone());
        self.search.state = IndexState::Comments;
        self.commands.push(Command::IndexComments {
            generation: self.search.generation,
            groups: self.search.index.groups(),
            cancel,
        });
    }

    fn stop_comment_pass(&mut self) {
        if let Some(cancel) = self.search.comments_cancel.take() {
            cancel.cancel();
        }
    }

    /// A batch of the comment pass; an older build's is dropped.
    pub(super) fn on_comments(
        &mut self,
        generation: u64,
        batch: Vec<GroupComment>,
        done: bool,
    ) -> bool {
        if generation != self.search.generation {
            return false;
        }
        self.search.index.set_comments(batch);
        if done {
            self.search.comments_cancel = None;
            self.search.state = IndexState::Ready;
        }
        self.refresh_hits();
        // Only the search line and the hits show it.
        done || !self.filter.text.is_empty()
    }

    /// A namespace level was listed: the index learns it at once.
    pub(super) fn index_listing(
        &mut self,
        ns: &Namespace,
        children: &[Namespace],
        groups: &[GroupInfo],
    ) {
        self.search.index.replace_level(ns, children, groups);
        self.refresh_hits();
        if let Some(hit) = self.search.goto.take() {
            self.goto_hit(hit);
        }
    }

    /// The manifest reader learnt a group's newest comment.
    pub(super) fn index_comment(
        &mut self,
        ns: &Namespace,
        group: &GroupId,
        comment: Option<String>,
    ) {
        self.search.index.set_comment(ns, group, comment);
        self.refresh_hits();
    }

    /// The hits of the search line, in the order the tree shows them.
    fn update_hits(&mut self) {
        let (model, sort) = (&self.model, self.sort);
        let shown = |ns: &Namespace| {
            let e = model.ns(ns)?;
            Some(
                sort.groups(&e.groups)
                    .iter()
                    .map(|g| g.info.group.clone())
                    .collect(),
            )
        };
        self.search.update_hits(&self.filter.text, &shown);
    }

    pub(super) fn refresh_hits(&mut self) {
        if self.filter.text.is_empty() {
            return;
        }
        self.update_hits();
        self.items_dirty = true;
    }

    // ----- the search line -----

    /// `/`: a new search from the cursor's node.
    pub(super) fn start_search(&mut self) -> bool {
        self.search.clear();
        self.search.origin = Some(self.tree_state.selected().to_vec());
        self.filter = FilterState {
            text: String::new(),
            editing: true,
        };
        self.items_dirty = true;
        true
    }

    pub(super) fn apply_filter(&mut self, action: Action) -> bool {
        let outcome = self.filter.handle(action);
        self.after_filter(outcome)
    }

    /// Unbound characters go into the search line.
    pub(super) fn type_into_filter(&mut self, key: &KeyEvent) -> bool {
        match typed_char(key) {
            Some(c) => {
                let outcome = self.filter.type_char(c);
                self.after_filter(outcome)
            }
            None => false,
        }
    }

    fn after_filter(&mut self, outcome: FilterOutcome) -> bool {
        match outcome {
            FilterOutcome::Ignored => return false,
            // Enter: the cursor stays on the match.
            FilterOutcome::Kept => {}
            FilterOutcome::Edited => self.search_edited(),
            FilterOutcome::Cleared => {
                // Esc while typing: back to where the search started.
                let origin = self.search.origin.take();
                self.clear_filter();
                if let Some(path) = origin {
                    self.tree_state.select(path);
                }
            }
        }
        true
    }

    pub(super) fn clear_filter(&mut self) {
        self.filter = FilterState::default();
        self.search.clear();
        self.items_dirty = true;
    }

    /// Typing: the cursor goes to the first match.
    fn search_edited(&mut self) {
        self.search.current = None;
        self.search.goto = None;
        self.update_hits();
        self.items_dirty = true;
        if let Some(hit) = self.search.step(1) {
            self.goto_hit(hit);
        }
    }

    // ----- moving between hits -----

    /// `n` (`delta` 1) / `N` (-1).
    pub(super) fn next_match(&mut self, delta: isize) -> bool {
        if self.filter.text.is_empty() {
            self.status.push(Level::Info, "no search: type / first");
            return true;
        }
        // The sort key or the sizes may have changed the tree's order since the last step.
        self.update_hits();
        match self.search.step(delta) {
            Some(hit) => self.goto_hit(hit),
            None => {
                let msg = format!("no matches for '{}'", self.filter.text);
                self.status.push(Level::Info, msg);
                true
            }
        }
    }

    /// Opens the way to `hit` and puts the cursor on it; a namespace on the way that is
    /// not listed yet is listed first and the jump waits for it (`index_listing`).
    pub(super) fn goto_hit(&mut self, hit: Hit) -> bool {
        let path = hit_path(&hit);
        self.items_dirty = true;
        for end in 1..path.len() {
            let Some(NodeKey::Ns(ns)) = path.get(end - 1) else {
                break;
            };
            self.tree_state.open(path[..end].to_vec());
            match self.model.ns_state(ns) {
                LoadState::Loaded => {}
                LoadState::Loading => {
                    self.search.goto = Some(hit);
                    return true;
                }
                LoadState::NotLoaded => {
                    let ns = ns.clone();
                    self.load_ns(&ns);
                    self.search.goto = Some(hit);
                    return true;
                }
                LoadState::Failed(e) => {
                    let msg = format!("cannot go to the match: {} failed: {e}", ns.human());
                    self.status.push(Level::Warn, msg);
                    return true;
                }
            }
        }
        self.search.goto = None;
        self.tree_state.select(path);
        true
    }

    // ----- selecting by pattern -----

    /// Every group matching the search, in any namespace, into the multi-selection.
    pub(super) fn select_matches(&mut self) -> bool {
        if self.filter.text.is_empty() {
            self.status
                .push(Level::Info, "no search: type / and a pattern first");
            return true;
        }
        let groups: Vec<_> = self
            .search
            .hits
            .iter()
            .filter_map(|h| Some((h.ns.clone(), h.group.clone()?)))
            .collect();
        if groups.is_empty() {
            let msg = format!("no group matches '{}'", self.filter.text);
            self.status.push(Level::Info, msg);
            return true;
        }
        let n = groups.len();
        self.marks.ns = None;
        self.marks.groups.extend(groups);
        let msg = format!(
            "selected {n} group(s) matching '{}' ({} selected in all)",
            self.filter.text,
            self.marks.groups.len()
        );
        self.status.push(Level::Info, msg);
        self.items_dirty = true;
        true
    }
}
