//! The comment pass: once the index is built, the newest snapshot's comment of every group,
//! read from its manifest and handed on in batches, so the search finds groups that were
//! never on screen by their comment.

use crate::tree::datastore::Datastore;
use crate::tree::manifest::read_newest_facts;
use crate::tree::names::{GroupId, Namespace};

/// A group's newest snapshot's comment (`None`: it has none, or no readable manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupComment {
    pub ns: Namespace,
    pub group: GroupId,
    pub comment: Option<String>,
}

/// Groups a batch holds: few enough events for a 10,000-group store, early first results.
pub const BATCH: usize = 250;

/// Reads the comment of each of `groups`, handing them to `sink` `BATCH` at a time; stops
/// early (returning `false`) once `stopped` says so. An unreadable group counts as having
/// no comment: the browser reports it when the user gets there.
pub fn read_comments(
    ds: &Datastore,
    groups: &[(Namespace, GroupId)],
    stopped: &dyn Fn() -> bool,
    sink: &mut dyn FnMut(Vec<GroupComment>),
) -> bool {
    for chunk in groups.chunks(BATCH) {
        if stopped() {
            return false;
        }
        let batch = chunk
            .iter()
            .map(|(ns, group)| GroupComment {
                comment: newest_comment(ds, ns, group),
                ns: ns.clone(),
                group: group.clone(),
            })
            .collect();
        sink(batch);
    }
    true
}

fn newest_comment(ds: &Datastore, ns: &Namespace, group: &GroupId) -> Option<String> {
    let (_, facts) = read_newest_facts(ds, ns, group).ok()??;
    facts.ok()?.comment().map(str::to_string)
}
