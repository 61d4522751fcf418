//! The move sources chosen with `m` and Space in the tree.

use std::collections::BTreeSet;

use crate::tree::{GroupId, Namespace};
use crate::ui::popups::picker::MoveSource;

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
