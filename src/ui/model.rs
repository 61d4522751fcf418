//! What the browser knows about the datastore so far, filled level by level as the user
//! expands nodes, and what the user points at ([`Selection`]) and marked ([`Marks`]) in it.
//! Pure data (no ratatui), addressed by stable keys so that a refresh keeps the cursor and
//! the opened nodes.

use std::collections::{BTreeSet, HashMap};

use crate::tree::{GroupId, GroupInfo, Namespace, SnapshotInfo, SnapshotTime};

use super::facts::FactsCache;
use super::tasks::moves::MoveSource;
use super::tasks::scans::Generation;

/// One tree node's identifier among its siblings; a node is addressed by the path of keys
/// from the root. Keys carry names, not indexes, so they survive reloads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NodeKey {
    Ns(Namespace),
    Group(GroupId),
    Snap(SnapshotTime),
    /// "loading…", "not loaded" or an error line under a node.
    Placeholder,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadState {
    NotLoaded,
    Loading,
    Loaded,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct NsEntry {
    pub state: LoadState,
    pub generation: Generation,
    pub children: Vec<Namespace>,
    /// Sorted by group id.
    pub groups: Vec<GroupEntry>,
    /// The size pass for this namespace's groups is still running.
    pub sizing: bool,
    /// `Some(n)` while only the first groups of a first listing are in (`groups` holds a
    /// part of the `n` groups): counts over the namespace are not known yet.
    pub groups_total: Option<usize>,
}

impl NsEntry {
    fn new(generation: Generation) -> Self {
        Self {
            state: LoadState::Loading,
            generation,
            children: Vec::new(),
            groups: Vec::new(),
            sizing: false,
            groups_total: None,
        }
    }

    /// Only the first part of the groups is listed yet.
    pub fn is_partial(&self) -> bool {
        self.groups_total.is_some()
    }

    /// How many groups the namespace holds (also while only a part is listed).
    pub fn group_count(&self) -> usize {
        self.groups_total.unwrap_or(self.groups.len())
    }

    pub fn group(&self, id: &GroupId) -> Option<&GroupEntry> {
        let i = self
            .groups
            .binary_search_by(|g| g.info.group.cmp(id))
            .ok()?;
        self.groups.get(i)
    }

    fn group_mut(&mut self, id: &GroupId) -> Option<&mut GroupEntry> {
        let i = self
            .groups
            .binary_search_by(|g| g.info.group.cmp(id))
            .ok()?;
        self.groups.get_mut(i)
    }

    /// Totals over the groups directly in this namespace.
    pub fn totals(&self) -> NsTotals {
        let mut t = NsTotals {
            listed: !self.is_partial(),
            ..NsTotals::default()
        };
        for g in &self.groups {
            let i = &g.info;
            t.snapshots += i.snapshots;
            t.size += i.size.unwrap_or(0);
            t.sizes_known &= i.size.is_some();
            t.protected_known &= i.protected.is_some();
            t.protected += i.protected.unwrap_or(0);
            t.with_notes += usize::from(i.has_notes);
            t.newest = t.newest.max(i.newest.clone());
            t.oldest = match (t.oldest, &i.oldest) {
                (None, o) => o.clone(),
                (Some(a), Some(b)) => Some(a.min(b.clone())),
                (a, None) => a,
            };
        }
        t
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsTotals {
    /// Every group is listed: without it the sums below cover only the groups listed so far.
    pub listed: bool,
    pub snapshots: usize,
    pub size: u64,
    /// Every group's size is known (the size pass finished).
    pub sizes_known: bool,
    /// Every group's protected count is known (the size pass finished).
    pub protected_known: bool,
    pub protected: usize,
    pub with_notes: usize,
    pub newest: Option<SnapshotTime>,
    pub oldest: Option<SnapshotTime>,
}

impl Default for NsTotals {
    fn default() -> Self {
        Self {
            listed: true,
            snapshots: 0,
            size: 0,
            sizes_known: true,
            protected_known: true,
            protected: 0,
            with_notes: 0,
            newest: None,
            oldest: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GroupEntry {
    pub info: GroupInfo,
    pub state: LoadState,
    pub generation: Generation,
    pub snapshots: Vec<SnapshotInfo>,
}

impl GroupEntry {
    fn new(info: GroupInfo) -> Self {
        Self {
            info,
            state: LoadState::NotLoaded,
            generation: 0,
            snapshots: Vec::new(),
        }
    }

    pub fn snapshot(&self, t: &SnapshotTime) -> Option<&SnapshotInfo> {
        let i = self.snapshots.binary_search_by(|s| s.time.cmp(t)).ok()?;
        self.snapshots.get(i)
    }
}

/// The loaded part of the datastore.
#[derive(Debug, Default)]
pub struct Model {
    namespaces: HashMap<Namespace, NsEntry>,
    next_generation: Generation,
    /// What the manifests of the groups seen so far say.
    pub facts: FactsCache,
}

impl Model {
    pub fn ns(&self, ns: &Namespace) -> Option<&NsEntry> {
        self.namespaces.get(ns)
    }

    pub fn group(&self, ns: &Namespace, group: &GroupId) -> Option<&GroupEntry> {
        self.ns(ns)?.group(group)
    }

    pub fn ns_state(&self, ns: &Namespace) -> LoadState {
        self.ns(ns)
            .map_or(LoadState::NotLoaded, |e| e.state.clone())
    }

    fn bump(&mut self) -> Generation {
        self.next_generation += 1;
        self.next_generation
    }

    /// Marks `ns` as loading (keeping what is shown until the new listing arrives) and
    /// returns the generation its results must carry.
    pub fn start_ns_load(&mut self, ns: &Namespace) -> Generation {
        let generation = self.bump();
        let entry = self
            .namespaces
            .entry(ns.clone())
            .or_insert_with(|| NsEntry::new(generation));
        entry.generation = generation;
        entry.state = LoadState::Loading;
        generation
    }

    /// Stores a namespace listing; `false` when it is stale.
    pub fn finish_ns_load(
        &mut self,
        ns: &Namespace,
        generation: Generation,
        result: Result<(Vec<Namespace>, Vec<GroupInfo>), String>,
    ) -> bool {
        let Some(entry) = self.namespaces.get_mut(ns) else {
            return false;
        };
        if entry.generation != generation {
            return false;
        }
        match result {
            Ok((children, groups)) => {
                let old = std::mem::take(&mut entry.groups);
                entry.children = children;
                entry.groups = merge_groups(old, groups);
                entry.state = LoadState::Loaded;
                entry.sizing = !entry.groups.is_empty();
            }
            Err(e) => {
                // A part alone would pass for the whole namespace.
                if entry.groups_total.is_some() {
                    entry.groups.clear();
                    entry.children.clear();
                }
                entry.state = LoadState::Failed(e);
            }
        }
        entry.groups_total = None;
        true
    }

    /// Shows the first groups of a namespace's first listing; `false` when stale, or when the
    /// namespace already shows a whole listing (a re-scan keeps it until the new one is
    /// complete rather than shrink to a part).
    pub fn apply_ns_part(
        &mut self,
        ns: &Namespace,
        generation: Generation,
        children: Vec<Namespace>,
        groups: Vec<GroupInfo>,
        total: usize,
    ) -> bool {
        let Some(entry) = self.namespaces.get_mut(ns) else {
            return false;
        };
        let shows_whole =
            !entry.is_partial() && (!entry.groups.is_empty() || !entry.children.is_empty());
        if entry.generation != generation || shows_whole {
            return false;
        }
        let old = std::mem::take(&mut entry.groups);
        entry.children = children;
        entry.groups = merge_groups(old, groups);
        entry.groups_total = Some(total);
        true
    }

    /// Fills in sizes from a size batch; `false` when stale.
    pub fn apply_sizes(
        &mut self,
        ns: &Namespace,
        generation: Generation,
        infos: Vec<GroupInfo>,
        done: bool,
    ) -> bool {
        let Some(entry) = self.namespaces.get_mut(ns) else {
            return false;
        };
        if entry.generation != generation {
            return false;
        }
        for info in infos {
            if let Some(g) = entry.group_mut(&info.group) {
                g.info = info;
            }
        }
        if done {
            entry.sizing = false;
        }
        true
    }

    /// Marks a group's snapshots as loading; `None` when the group is unknown.
    pub fn start_group_load(&mut self, ns: &Namespace, group: &GroupId) -> Option<Generation> {
        let generation = self.bump();
        let g = self.namespaces.get_mut(ns)?.group_mut(group)?;
        g.state = LoadState::Loading;
        g.generation = generation;
        Some(generation)
    }

    /// Stores a group's snapshots; `false` when stale.
    pub fn finish_group_load(
        &mut self,
        ns: &Namespace,
        group: &GroupId,
        generation: Generation,
        result: Result<Vec<SnapshotInfo>, String>,
    ) -> bool {
        let Some(g) = self.namespaces.get_mut(ns).and_then(|e| e.group_mut(group)) else {
            return false;
        };
        if g.generation != generation {
            return false;
        }
        match result {
            Ok(mut snaps) => {
                snaps.sort_by(|a, b| a.time.cmp(&b.time));
                g.snapshots = snaps;
                g.state = LoadState::Loaded;
            }
            Err(e) => g.state = LoadState::Failed(e),
        }
        true
    }
}

/// New listing, but groups that were already loaded keep their snapshots and sizes until
/// the next pass replaces them, so a refresh does not make the tree flicker or collapse.
fn merge_groups(old: Vec<GroupEntry>, new: Vec<GroupInfo>) -> Vec<GroupEntry> {
    let mut old: HashMap<GroupId, GroupEntry> =
        old.into_iter().map(|g| (g.info.group.clone(), g)).collect();
    let mut out: Vec<GroupEntry> = new
        .into_iter()
        .map(|info| match old.remove(&info.group) {
            Some(mut prev) => {
                let (size, protected) = (prev.info.size, prev.info.protected);
                prev.info = info;
                prev.info.size = prev.info.size.or(size);
                prev.info.protected = prev.info.protected.or(protected);
                prev
            }
            None => GroupEntry::new(info),
        })
        .collect();
    out.sort_by(|a, b| a.info.group.cmp(&b.info.group));
    out
}

/// What the cursor is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    None,
    Ns(Namespace),
    Group(Namespace, GroupId),
    Snapshot(Namespace, GroupId, SnapshotTime),
    /// A "loading…" or error line under `Ns`/`Group` parent.
    Placeholder,
}

pub type NodePath = Vec<NodeKey>;

/// The namespace a node path is in: the last namespace key on it.
pub fn ns_of(path: &[NodeKey]) -> Namespace {
    path.iter()
        .rev()
        .find_map(|k| match k {
            NodeKey::Ns(ns) => Some(ns.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// What `m` and Space chose as the move source: groups (any namespaces) or one namespace.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Marks {
    pub groups: BTreeSet<(Namespace, GroupId)>,
    pub ns: Option<Namespace>,
}

impl Marks {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.ns.is_none()
    }

    pub fn has_group(&self, ns: &Namespace, g: &GroupId) -> bool {
        self.groups.contains(&(ns.clone(), g.clone()))
    }

    pub fn source(&self) -> Option<MoveSource> {
        match &self.ns {
            Some(ns) => Some(MoveSource::Namespace(ns.clone())),
            None if !self.groups.is_empty() => {
                Some(MoveSource::Groups(self.groups.iter().cloned().collect()))
            }
            None => None,
        }
    }
}
