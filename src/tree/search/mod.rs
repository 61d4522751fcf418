//! The search index: every namespace and group of the datastore with what a user may search
//! it by (type/id, namespace path, owner, group notes, the newest snapshot's comment), in
//! tree order, so that a search finds nodes that were never loaded in the browser.
//!
//! `build` walks the datastore once (blocking: run it off the UI thread); `query` answers
//! from memory; `comments` then reads every group's newest comment (blocking, batched).
//! A listing of one namespace level (`replace_level`) patches the index, so it
//! stays current between full builds.

mod build;
pub mod comments;
mod query;

pub use build::build;
pub use comments::{GroupComment, read_comments};
pub use query::Query;

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use crate::tree::model::GroupInfo;
use crate::tree::names::{GroupId, Namespace};
use crate::tree::natural::{group_cmp, natural_cmp};

/// One searchable node: a namespace (`group: None`) or a group in `ns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub ns: Namespace,
    pub group: Option<GroupId>,
    pub owner: Option<String>,
    /// First line of the group's `notes` file.
    pub notes: Option<String>,
    /// The newest snapshot's comment (first line of its manifest notes). Filled by whoever
    /// reads manifests ([`SearchIndex::set_comment`]); the scan here does not.
    pub comment: Option<String>,
    /// Lower-cased text of the entry's own fields, built once.
    own: String,
    /// Lower-cased namespace path.
    path: String,
}

impl IndexEntry {
    pub fn namespace(ns: Namespace) -> Self {
        let path = ns.human().to_lowercase();
        Self {
            ns,
            group: None,
            owner: None,
            notes: None,
            comment: None,
            own: path.clone(),
            path,
        }
    }

    pub fn group(info: &GroupInfo, notes: Option<String>) -> Self {
        let mut e = Self {
            ns: info.ns.clone(),
            group: Some(info.group.clone()),
            owner: info.owner.clone(),
            notes,
            comment: None,
            own: String::new(),
            path: info.ns.human().to_lowercase(),
        };
        e.refresh_text();
        e
    }

    fn refresh_text(&mut self) {
        let Some(g) = &self.group else {
            self.own = self.ns.human().to_lowercase();
            return;
        };
        let mut own = g.to_string();
        for part in [&self.owner, &self.notes, &self.comment]
            .into_iter()
            .flatten()
        {
            own.push('\n');
            own.push_str(part);
        }
        self.own = own.to_lowercase();
    }

    /// The node this entry stands for.
    pub fn hit(&self) -> Hit {
        Hit {
            ns: self.ns.clone(),
            group: self.group.clone(),
        }
    }
}

/// A node found by a search: a namespace, or a group in one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hit {
    pub ns: Namespace,
    pub group: Option<GroupId>,
}

/// Tree order (depth first, as the browser shows it): a namespace, then its child namespaces
/// with everything below them, then its own groups; siblings in natural order.
pub fn tree_order(
    a: (&Namespace, Option<&GroupId>),
    b: (&Namespace, Option<&GroupId>),
) -> Ordering {
    let (ca, cb) = (a.0.components(), b.0.components());
    for (x, y) in ca.iter().zip(cb) {
        let ord = natural_cmp(x, y);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    match (ca.len().cmp(&cb.len()), a.1, b.1) {
        (Ordering::Equal, None, None) => Ordering::Equal,
        (Ordering::Equal, None, Some(_)) => Ordering::Less,
        (Ordering::Equal, Some(_), None) => Ordering::Greater,
        (Ordering::Equal, Some(x), Some(y)) => group_cmp(x, y),
        // `a` is in an ancestor of `b`'s namespace: the ancestor itself comes first, its
        // groups after everything below it.
        (Ordering::Less, None, _) => Ordering::Less,
        (Ordering::Less, Some(_), _) => Ordering::Greater,
        (Ordering::Greater, _, None) => Ordering::Greater,
        (Ordering::Greater, _, Some(_)) => Ordering::Less,
    }
}

fn entry_order(a: &IndexEntry, b: &IndexEntry) -> Ordering {
    tree_order((&a.ns, a.group.as_ref()), (&b.ns, b.group.as_ref()))
}

/// Every namespace and group, in tree order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchIndex {
    entries: Vec<IndexEntry>,
}

impl SearchIndex {
    pub fn from_entries(mut entries: Vec<IndexEntry>) -> Self {
        entries.sort_by(entry_order);
        entries.dedup_by(|a, b| a.ns == b.ns && a.group == b.group);
        Self { entries }
    }

    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry matching `q`, in tree order.
    pub fn search<'a>(&'a self, q: &'a Query) -> impl Iterator<Item = &'a IndexEntry> + 'a {
        self.entries.iter().filter(move |e| q.matches(e))
    }

    /// A fresh listing of `ns`: its groups are replaced by `groups` (keeping the notes and
    /// comment known for a group that was there before), child namespaces that are gone are
    /// dropped with everything below them, new ones are added.
    pub fn replace_level(&mut self, ns: &Namespace, children: &[Namespace], groups: &[GroupInfo]) {
        let mut kept: HashMap<GroupId, IndexEntry> = HashMap::new();
        for e in std::mem::take(&mut self.entries) {
            match &e.group {
                Some(g) if e.ns == *ns => {
                    kept.insert(g.clone(), e);
                }
                _ if below_dropped_child(ns, children, &e.ns) => {}
                _ => self.entries.push(e),
            }
        }
        let known: HashSet<Namespace> = self
            .entries
            .iter()
            .filter(|e| e.group.is_none())
            .map(|e| e.ns.clone())
            .collect();
        for c in std::iter::once(ns).chain(children) {
            if !known.contains(c) {
                self.entries.push(IndexEntry::namespace(c.clone()));
            }
        }
        for info in groups {
            let mut e = IndexEntry::group(info, None);
            if let Some(old) = kept.remove(&info.group) {
                e.notes = old.notes;
                e.comment = old.comment;
                e.refresh_text();
            }
            self.entries.push(e);
        }
        self.entries.sort_by(entry_order);
    }

    /// Every group, in tree order (what the comment pass reads).
    pub fn groups(&self) -> Vec<(Namespace, GroupId)> {
        self.entries
            .iter()
            .filter_map(|e| Some((e.ns.clone(), e.group.clone()?)))
            .collect()
    }

    /// A batch of the comment pass.
    pub fn set_comments(&mut self, batch: Vec<GroupComment>) {
        for c in batch {
            self.set_comment(&c.ns, &c.group, c.comment);
        }
    }

    /// The manifest reader's hook: the newest snapshot's comment of a group.
    pub fn set_comment(&mut self, ns: &Namespace, group: &GroupId, comment: Option<String>) {
        let key = (ns, Some(group));
        let found = self
            .entries
            .binary_search_by(|e| tree_order((&e.ns, e.group.as_ref()), key));
        if let Ok(i) = found {
            self.entries[i].comment = comment;
            self.entries[i].refresh_text();
        }
    }
}

/// `e` lies under a child of `ns` that the new listing no longer has.
fn below_dropped_child(ns: &Namespace, children: &[Namespace], e: &Namespace) -> bool {
    match ns.contains(e) {
        Some(0) | None => false,
        Some(_) => {
            let child = &e.components()[..=ns.depth()];
            !children.iter().any(|c| c.components() == child)
        }
    }
}

#[cfg(test)]
mod tests;
