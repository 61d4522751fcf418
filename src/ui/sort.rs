//! The order of the tree's rows: namespaces always by name (natural order, before the
//! groups, as PBS's GUI lists them); groups by the key the user cycles through.

use std::cmp::Ordering;

use crate::tree::Namespace;
use crate::tree::natural::{group_cmp, ns_cmp};

use super::model::GroupEntry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Natural order of type/id: `vm/99 < vm/100 < vm/1000`.
    #[default]
    Name,
    /// Newest backup first.
    Newest,
    /// Largest first; groups whose size is not known yet last.
    Size,
    /// Most snapshots first.
    Snapshots,
}

impl SortKey {
    pub fn next(self) -> Self {
        match self {
            Self::Name => Self::Newest,
            Self::Newest => Self::Size,
            Self::Size => Self::Snapshots,
            Self::Snapshots => Self::Name,
        }
    }

    /// As shown in the tree title.
    pub fn label(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Newest => "newest",
            Self::Size => "size",
            Self::Snapshots => "snapshots",
        }
    }

    fn cmp(self, a: &GroupEntry, b: &GroupEntry) -> Ordering {
        let (x, y) = (&a.info, &b.info);
        let by_key = match self {
            Self::Name => Ordering::Equal,
            Self::Newest => y.newest.cmp(&x.newest),
            Self::Size => y.size.cmp(&x.size),
            Self::Snapshots => y.snapshots.cmp(&x.snapshots),
        };
        // Ties (and the name order itself) by name, so the order is total and stable.
        by_key.then_with(|| group_cmp(&x.group, &y.group))
    }

    /// A namespace's groups in this order.
    pub fn groups(self, groups: &[GroupEntry]) -> Vec<&GroupEntry> {
        let mut v: Vec<&GroupEntry> = groups.iter().collect();
        v.sort_by(|a, b| self.cmp(a, b));
        v
    }
}

/// Child namespaces in natural order.
pub fn namespaces(children: &[Namespace]) -> Vec<&Namespace> {
    let mut v: Vec<&Namespace> = children.iter().collect();
    v.sort_by(|a, b| ns_cmp(a, b));
    v
}
