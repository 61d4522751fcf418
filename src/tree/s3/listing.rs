//! How a lock batch lists its snapshots in the bucket: one capped listing of the whole group
//! when all snapshots of a side share it, else one listing per snapshot prefix. A group found
//! too large for the cap is remembered, so later batches list it per snapshot straight away.

use std::collections::{HashMap, HashSet};
use std::sync::MutexGuard;

use futures::{StreamExt, TryStreamExt, stream};

use super::backend::S3Backend;
use super::client::ObjectInfo;
use super::error::S3Error;
use crate::tree::backend::SnapshotRef;

/// One side (source or target) of a lock batch.
pub(super) struct BatchSide {
    /// The group prefix all `prefixes` are in, when it is worth listing whole.
    pub(super) group: Option<String>,
    /// `<group prefix><time>/` per snapshot, in batch order.
    pub(super) prefixes: Vec<String>,
}

impl S3Backend {
    /// The snapshot prefixes of one side of a batch, and their group prefix when they all
    /// share one and there are several of them (for one snapshot its own prefix is the
    /// cheaper listing).
    pub(super) fn batch_side<'a>(&self, snaps: impl Iterator<Item = &'a SnapshotRef>) -> BatchSide {
        let mut group: Option<String> = None;
        let mut shared = true;
        let mut prefixes = Vec::new();
        for s in snaps {
            let g = self.keys.group_prefix(s);
            shared &= group.as_ref().is_none_or(|first| *first == g);
            group.get_or_insert(g);
            prefixes.push(self.keys.snapshot_prefix(s));
        }
        BatchSide {
            group: group.filter(|_| shared && prefixes.len() > 1),
            prefixes,
        }
    }

    /// The objects of each source snapshot. A snapshot the group listing shows without
    /// objects is listed again under its own prefix before `prepare_copy` (in `copy`) may call it
    /// drift: only a listing of its own decides that.
    pub(super) async fn list_sources(
        &self,
        side: &BatchSide,
    ) -> Result<Vec<Vec<ObjectInfo>>, S3Error> {
        let mut listed = self.list_side(side).await?;
        if side.group.is_some() {
            let empty: Vec<usize> = (0..listed.len())
                .filter(|&i| listed[i].is_empty())
                .collect();
            self.relist(side, &empty, &mut listed).await?;
        }
        Ok(listed)
    }

    /// The objects of each snapshot prefix of `side`: from one capped listing of the group
    /// when it has one and is not known to be large, else one listing per prefix.
    pub(super) async fn list_side(
        &self,
        side: &BatchSide,
    ) -> Result<Vec<Vec<ObjectInfo>>, S3Error> {
        if let Some(group) = &side.group
            && !self.large_groups().contains(group)
        {
            match self
                .bucket
                .list_capped(group, self.list_page_keys, self.group_list_pages)
                .await?
            {
                Some(objects) => return Ok(split_by_prefix(group, &side.prefixes, objects)),
                None => {
                    self.large_groups().insert(group.clone());
                }
            }
        }
        self.list_each(&side.prefixes).await
    }

    fn large_groups(&self) -> MutexGuard<'_, HashSet<String>> {
        // The set only ever grows by whole entries: a panic elsewhere cannot corrupt it.
        self.large_groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lists the snapshots `which` of `side` again, each under its own prefix.
    pub(super) async fn relist(
        &self,
        side: &BatchSide,
        which: &[usize],
        listed: &mut [Vec<ObjectInfo>],
    ) -> Result<(), S3Error> {
        let prefixes: Vec<String> = which.iter().map(|&i| side.prefixes[i].clone()).collect();
        let again = self.list_each(&prefixes).await?;
        for (&i, objects) in which.iter().zip(again) {
            listed[i] = objects;
        }
        Ok(())
    }

    /// Objects of each snapshot prefix, listed concurrently, one listing per prefix.
    async fn list_each(&self, prefixes: &[String]) -> Result<Vec<Vec<ObjectInfo>>, S3Error> {
        stream::iter(prefixes)
            .map(|p| self.bucket.list(p))
            .buffered(self.concurrency)
            .try_collect()
            .await
    }
}

/// The objects of a group listing, sorted into the wanted snapshot prefixes
/// (`<group><time>/`); group-level objects (owner, notes) and other snapshots are dropped.
fn split_by_prefix(
    group: &str,
    prefixes: &[String],
    objects: Vec<ObjectInfo>,
) -> Vec<Vec<ObjectInfo>> {
    let index: HashMap<&str, usize> = prefixes
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let mut out = vec![Vec::new(); prefixes.len()];
    for o in objects {
        let Some(slash) = o.key.strip_prefix(group).and_then(|rest| rest.find('/')) else {
            continue;
        };
        if let Some(&i) = index.get(&o.key[..group.len() + slash + 1]) {
            out[i].push(o);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_by_prefix_keeps_only_wanted_snapshots() {
        let g = "s/.cnt/vm/1/";
        let wanted = vec![format!("{g}T1/"), format!("{g}T2/")];
        let objects = vec![
            ObjectInfo::fixture("s/.cnt/vm/1/owner", 1, None),
            ObjectInfo::fixture("s/.cnt/vm/1/T1/a", 2, None),
            ObjectInfo::fixture("s/.cnt/vm/1/T1/sub/b", 3, None),
            ObjectInfo::fixture("s/.cnt/vm/1/T3/a", 4, None),
            ObjectInfo::fixture("s/.cnt/vm/1/T2", 5, None),
            ObjectInfo::fixture("s/.cnt/vm/10/T1/a", 6, None),
        ];
        let split = split_by_prefix(g, &wanted, objects);
        let sizes: Vec<Vec<u64>> = split
            .iter()
            .map(|v| v.iter().map(|o| o.size).collect())
            .collect();
        assert_eq!(sizes, vec![vec![2, 3], vec![]]);
    }
}
