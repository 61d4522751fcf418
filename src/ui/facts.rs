//! What the browser has read from the manifests so far: per group, every snapshot's facts,
//! read in the background for the rows on screen only and kept until the group's
//! namespace is re-scanned (a move or `r`).

use std::collections::HashMap;

use crate::tree::manifest::{GroupFacts, ManifestError, SnapshotFacts};
use crate::tree::{GroupId, Namespace, SnapshotTime};

/// One group's manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactsState {
    Reading,
    Ready(GroupFacts),
    /// The group could not be listed (the snapshots' own damage is inside `Ready`).
    Failed(String),
}

#[derive(Debug, Default)]
pub struct FactsCache {
    groups: HashMap<(Namespace, GroupId), FactsState>,
}

impl FactsCache {
    pub fn state(&self, ns: &Namespace, group: &GroupId) -> Option<&FactsState> {
        self.groups.get(&(ns.clone(), group.clone()))
    }

    pub fn group(&self, ns: &Namespace, group: &GroupId) -> Option<&GroupFacts> {
        match self.state(ns, group)? {
            FactsState::Ready(f) => Some(f),
            _ => None,
        }
    }

    pub fn snapshot(
        &self,
        ns: &Namespace,
        group: &GroupId,
        time: &SnapshotTime,
    ) -> Option<&Result<SnapshotFacts, ManifestError>> {
        self.group(ns, group)?.snapshots.get(time)
    }

    /// Marks the group as being read; `false` when it is known or already being read.
    pub fn start(&mut self, ns: &Namespace, group: &GroupId) -> bool {
        let key = (ns.clone(), group.clone());
        if self.groups.contains_key(&key) {
            return false;
        }
        self.groups.insert(key, FactsState::Reading);
        true
    }

    /// Stores a read; `false` when nobody waits for it any more (forgotten meanwhile).
    pub fn finish(
        &mut self,
        ns: &Namespace,
        group: &GroupId,
        result: Result<GroupFacts, String>,
    ) -> bool {
        match self.groups.get_mut(&(ns.clone(), group.clone())) {
            Some(slot @ FactsState::Reading) => {
                *slot = match result {
                    Ok(f) => FactsState::Ready(f),
                    Err(e) => FactsState::Failed(e),
                };
                true
            }
            _ => false,
        }
    }

    /// Stores a read made for a namespace's size; `false` when the group was known already
    /// (read for the screen meanwhile).
    pub fn fill(
        &mut self,
        ns: &Namespace,
        group: &GroupId,
        result: Result<GroupFacts, String>,
    ) -> bool {
        let key = (ns.clone(), group.clone());
        if !matches!(self.groups.get(&key), None | Some(FactsState::Reading)) {
            return false;
        }
        self.groups.insert(key, FactsState::Reading);
        self.finish(ns, group, result)
    }

    /// Drops what was read in `ns` (it is being re-scanned); reads in flight are ignored.
    pub fn forget_ns(&mut self, ns: &Namespace) {
        self.groups.retain(|(n, _), _| n != ns);
    }

    /// The backup size of `groups` when every one of them has been read, else how many were.
    pub fn total<'a>(&self, ns: &Namespace, groups: impl Iterator<Item = &'a GroupId>) -> NsSize {
        let mut t = NsSize::default();
        for g in groups {
            t.groups += 1;
            if let Some(f) = self.group(ns, g) {
                t.read += 1;
                t.size = t.size.saturating_add(f.size());
            }
        }
        t
    }
}

/// The backup size of a namespace's groups, as far as their manifests were read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NsSize {
    pub size: u64,
    pub read: usize,
    pub groups: usize,
}

impl NsSize {
    pub fn complete(&self) -> bool {
        self.read == self.groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_read_once_and_again_after_a_rescan() {
        let (ns, g) = (Namespace::root(), GroupId::parse("vm/100").unwrap());
        let mut c = FactsCache::default();
        assert!(c.start(&ns, &g));
        assert!(!c.start(&ns, &g), "already being read");
        assert!(c.finish(&ns, &g, Ok(GroupFacts::default())));
        assert!(!c.start(&ns, &g), "already read");
        assert_eq!(c.total(&ns, [&g].into_iter()).read, 1);
        c.forget_ns(&ns);
        assert!(c.state(&ns, &g).is_none());
        // A read that was in flight when the namespace was re-scanned is dropped.
        assert!(!c.finish(&ns, &g, Ok(GroupFacts::default())));
        assert!(c.start(&ns, &g));
    }
}
