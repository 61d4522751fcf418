//! A group summed up from its snapshots' manifests, as PBS's content view shows a group
//! row: the total size, and the newest snapshot's comment and verify state.

use std::collections::BTreeMap;

use super::error::ManifestError;
use super::facts::{SnapshotFacts, VerifyState};
use super::read::read_facts;
use crate::tree::scan::error::ScanError;
use crate::tree::{Datastore, GroupId, Namespace, SnapshotTime};

/// Every snapshot's manifest facts (or why they could not be read), by time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFacts {
    pub snapshots: BTreeMap<SnapshotTime, Result<SnapshotFacts, ManifestError>>,
}

impl GroupFacts {
    /// Sum of the readable snapshots' backup sizes.
    pub fn size(&self) -> u64 {
        self.snapshots
            .values()
            .flatten()
            .fold(0u64, |a, f| a.saturating_add(f.size))
    }

    /// The newest snapshot that has a manifest (a running backup has none yet), with
    /// its facts or its damage.
    pub fn newest(&self) -> Option<(&SnapshotTime, &Result<SnapshotFacts, ManifestError>)> {
        self.snapshots
            .iter()
            .rev()
            .find(|(_, r)| r.as_ref().err() != Some(&ManifestError::Missing))
    }

    pub fn newest_facts(&self) -> Option<&SnapshotFacts> {
        self.newest().and_then(|(_, r)| r.as_ref().ok())
    }

    pub fn comment(&self) -> Option<&str> {
        self.newest_facts().and_then(SnapshotFacts::comment)
    }

    pub fn verify_state(&self) -> Option<VerifyState> {
        self.newest_facts().and_then(SnapshotFacts::verify_state)
    }

    /// Snapshots whose manifest is damaged or unreadable (not merely missing).
    pub fn damaged(&self) -> usize {
        self.snapshots
            .values()
            .filter(|r| r.as_ref().is_err_and(ManifestError::is_damage))
            .count()
    }

    /// The first damaged snapshot's error, for a warning marker.
    pub fn first_damage(&self) -> Option<(&SnapshotTime, &ManifestError)> {
        self.snapshots.iter().find_map(|(t, r)| match r {
            Err(e) if e.is_damage() => Some((t, e)),
            _ => None,
        })
    }
}

/// A snapshot's time with its manifest facts or why they could not be read.
pub type SnapshotRead = (SnapshotTime, Result<SnapshotFacts, ManifestError>);

/// The newest snapshot that has a manifest, read without reading the older ones (what
/// [`GroupFacts::newest`] finds after reading them all): for the search's comment pass.
pub fn read_newest_facts(
    ds: &Datastore,
    ns: &Namespace,
    group: &GroupId,
) -> Result<Option<SnapshotRead>, ScanError> {
    for time in ds.list_snapshot_times(ns, group)?.into_iter().rev() {
        match read_facts(&ds.snapshot_path(ns, group, &time)) {
            Err(ManifestError::Missing) => continue,
            facts => return Ok(Some((time, facts))),
        }
    }
    Ok(None)
}

/// Reads the manifest of every snapshot of a group.
pub fn read_group_facts(
    ds: &Datastore,
    ns: &Namespace,
    group: &GroupId,
) -> Result<GroupFacts, ScanError> {
    let mut out = GroupFacts::default();
    for time in ds.list_snapshot_times(ns, group)? {
        let facts = read_facts(&ds.snapshot_path(ns, group, &time));
        out.snapshots.insert(time, facts);
    }
    Ok(out)
}
