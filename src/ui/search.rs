//! The browser's search: the datastore's search index (built in the background, patched
//! by every listing), the hits of the current query in the order the tree shows them, which one the cursor is
//! on, and a jump that waits for the namespaces on its way to be listed.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use crate::ops::progress::CancelToken;
use crate::tree::search::{Hit, Query, SearchIndex, tree_order};
use crate::tree::{GroupId, Namespace};

use super::model::{NodeKey, NodePath};

/// Whether the index covers the whole datastore yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    /// The full build runs; until it ends the index holds what was listed so far.
    Building,
    /// Every group is indexed; the comment pass still reads their newest comments.
    Comments,
    Ready,
    /// The build failed; the index holds what was listed.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct SearchUi {
    pub index: SearchIndex,
    pub state: IndexState,
    /// Identifies the newest build; an older result is dropped.
    pub generation: u64,
    /// Hits of the current query, in tree order.
    pub hits: Vec<Hit>,
    pub hit_set: HashSet<Hit>,
    /// Index into `hits` of the match the cursor went to.
    pub current: Option<usize>,
    /// A jump waiting for a namespace on its way to be listed.
    pub goto: Option<Hit>,
    /// Where the cursor was when the search started (Esc goes back there).
    pub origin: Option<NodePath>,
    /// Stops the running comment pass (a new build makes it stale).
    pub comments_cancel: Option<CancelToken>,
}

impl Default for SearchUi {
    fn default() -> Self {
        Self {
            index: SearchIndex::default(),
            state: IndexState::Building,
            generation: 0,
            hits: Vec::new(),
            hit_set: HashSet::new(),
            current: None,
            goto: None,
            origin: None,
            comments_cancel: None,
        }
    }
}

impl SearchUi {
    /// Recomputes the hits for `text` in the order the tree shows them: `shown` gives the
    /// displayed group order of a listed namespace (`None`: not listed, name order). The
    /// current hit stays current when it still matches.
    pub fn update_hits(&mut self, text: &str, shown: &dyn Fn(&Namespace) -> Option<Vec<GroupId>>) {
        let before = self.current.and_then(|i| self.hits.get(i)).cloned();
        let q = Query::parse(text);
        self.hits = if q.is_empty() {
            Vec::new()
        } else {
            self.index.search(&q).map(|e| e.hit()).collect()
        };
        sort_as_shown(&mut self.hits, shown);
        self.hit_set = self.hits.iter().cloned().collect();
        self.current = before.and_then(|b| self.hits.iter().position(|h| *h == b));
    }

    pub fn clear(&mut self) {
        self.hits.clear();
        self.hit_set.clear();
        self.current = None;
        self.goto = None;
        self.origin = None;
    }

    /// The hit `delta` steps from the current one (wrapping), made current.
    pub fn step(&mut self, delta: isize) -> Option<Hit> {
        let n = self.hits.len();
        if n == 0 {
            return None;
        }
        let i = match self.current {
            None if delta < 0 => n - 1,
            None => 0,
            Some(i) => (i as isize + delta).rem_euclid(n as isize) as usize,
        };
        self.current = Some(i);
        self.hits.get(i).cloned()
    }

    pub fn is_hit(&self, ns: &Namespace, group: Option<&GroupId>) -> bool {
        !self.hit_set.is_empty()
            && self.hit_set.contains(&Hit {
                ns: ns.clone(),
                group: group.cloned(),
            })
    }

    /// `k of n matches`, `no matches`, with `indexing…` while the build runs.
    pub fn summary(&self, text: &str) -> Option<String> {
        if text.trim().is_empty() {
            return None;
        }
        let n = self.hits.len();
        let mut s = match (self.current, n) {
            (_, 0) => "no matches".to_string(),
            (Some(i), _) => format!("{} of {n} matches", i + 1),
            (None, _) => format!("{n} matches"),
        };
        match &self.state {
            IndexState::Building => s.push_str(", indexing…"),
            IndexState::Comments => s.push_str(", indexing comments…"),
            IndexState::Failed(_) => s.push_str(", loaded levels only"),
            IndexState::Ready => {}
        }
        Some(s)
    }
}

/// Reorders the groups of each namespace among `hits` (tree order) as the tree shows them.
/// Only comparisons of two groups of one namespace change, so the order stays total.
fn sort_as_shown(hits: &mut [Hit], shown: &dyn Fn(&Namespace) -> Option<Vec<GroupId>>) {
    let mut ranks: HashMap<Namespace, HashMap<GroupId, usize>> = HashMap::new();
    for h in hits.iter().filter(|h| h.group.is_some()) {
        if !ranks.contains_key(&h.ns) {
            let order = shown(&h.ns).unwrap_or_default();
            let rank = order.into_iter().enumerate().map(|(i, g)| (g, i)).collect();
            ranks.insert(h.ns.clone(), rank);
        }
    }
    let rank = |h: &Hit| {
        let g = h.group.as_ref()?;
        ranks.get(&h.ns)?.get(g).copied()
    };
    hits.sort_by(|a, b| {
        let by_tree = tree_order((&a.ns, a.group.as_ref()), (&b.ns, b.group.as_ref()));
        match (a.ns == b.ns, rank(a), rank(b)) {
            (true, Some(x), Some(y)) => x.cmp(&y).then(by_tree),
            // A group the listing does not show yet goes after those it shows.
            (true, Some(_), None) if b.group.is_some() => Ordering::Less,
            (true, None, Some(_)) if a.group.is_some() => Ordering::Greater,
            _ => by_tree,
        }
    });
}

/// The tree path of a hit: the root, every namespace down to it, the group.
pub fn hit_path(hit: &Hit) -> NodePath {
    let mut ns = Namespace::root();
    let mut path = vec![NodeKey::Ns(ns.clone())];
    for c in hit.ns.components() {
        // Components of a valid namespace are valid names.
        let Ok(child) = ns.child(c) else { break };
        ns = child;
        path.push(NodeKey::Ns(ns.clone()));
    }
    if let Some(g) = &hit.group {
        path.push(NodeKey::Group(g.clone()));
    }
    path
}
