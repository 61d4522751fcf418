//! What the crash journal says, line by line: the operation ([`OpKind`]), its steps
//! ([`Record`]) and how it ended ([`Status`]). The JSON of these types is the journal's
//! on-disk format: journals written by earlier versions must keep parsing. Names are typed
//! and written as their text, as before; a line whose name does not parse is unreadable
//! like a torn one.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ops::engine::request::{MoveGroupRequest, MoveNsRequest};
use crate::ops::error::MoveError;
use crate::ops::report::{FailReason, MoveReport};
use crate::tree::{GroupId, Namespace};

/// The operation a journal belongs to: enough to run it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum OpKind {
    MoveGroup {
        ns: Namespace,
        group: GroupId,
        target_ns: Namespace,
        merge: bool,
    },
    MoveNs {
        ns: Namespace,
        target_ns: Namespace,
        max_depth: Option<usize>,
        delete_source: bool,
        merge: bool,
    },
    /// Several groups of one namespace into one target (`move-group` with several `--group`
    /// values or a pattern, the TUI's batch of marked groups): the groups that passed the
    /// pre-flight, in the order they move. Added later: older journals never hold it.
    MoveGroups {
        ns: Namespace,
        groups: Vec<GroupId>,
        target_ns: Namespace,
        merge: bool,
    },
}

impl OpKind {
    pub fn from_group(req: &MoveGroupRequest) -> Self {
        Self::MoveGroup {
            ns: req.ns.clone(),
            group: req.group.clone(),
            target_ns: req.target_ns.clone(),
            merge: req.merge,
        }
    }

    pub fn from_ns(req: &MoveNsRequest) -> Self {
        Self::MoveNs {
            ns: req.ns.clone(),
            target_ns: req.target_ns.clone(),
            max_depth: req.max_depth,
            delete_source: req.delete_source,
            merge: req.merge,
        }
    }

    /// A batch of `groups` of `ns` into `target_ns`.
    pub fn from_groups(
        ns: &Namespace,
        groups: &[GroupId],
        target_ns: &Namespace,
        merge: bool,
    ) -> Self {
        Self::MoveGroups {
            ns: ns.clone(),
            groups: groups.to_vec(),
            target_ns: target_ns.clone(),
            merge,
        }
    }

    /// `move-group vm/100 '' -> 'a'` for listings.
    pub fn describe(&self) -> String {
        match self {
            Self::MoveGroup {
                ns,
                group,
                target_ns,
                ..
            } => format!("move-group {group} '{ns}' -> '{target_ns}'"),
            Self::MoveNs { ns, target_ns, .. } => format!("move-ns '{ns}' -> '{target_ns}'"),
            Self::MoveGroups {
                ns,
                groups,
                target_ns,
                ..
            } => format!(
                "move-group of {} groups ({}) '{ns}' -> '{target_ns}'",
                groups.len(),
                first_names(groups)
            ),
        }
    }

    /// The source and target namespace, whatever the kind.
    pub fn namespaces(&self) -> (&Namespace, &Namespace) {
        match self {
            Self::MoveGroup { ns, target_ns, .. }
            | Self::MoveNs { ns, target_ns, .. }
            | Self::MoveGroups { ns, target_ns, .. } => (ns, target_ns),
        }
    }
}

/// `vm/100, vm/101, vm/102, …`: a listing line stays short for any batch.
fn first_names(groups: &[GroupId]) -> String {
    const SHOWN: usize = 3;
    let mut names: Vec<String> = groups.iter().take(SHOWN).map(ToString::to_string).collect();
    if groups.len() > SHOWN {
        names.push("…".into());
    }
    names.join(", ")
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename_all = "kebab-case")]
pub enum Record {
    Begin {
        v: u32,
        id: String,
        op: OpKind,
        store: String,
        base: PathBuf,
        backend: String,
        started: u64,
    },
    /// A target namespace is about to be created by this operation (durable before it is:
    /// a crash in between leaves a record of a namespace that may not exist).
    NsCreated {
        ns: Namespace,
        /// Whether the parent's `ns/` container existed before (absent in older journals):
        /// `undo` removes the container only if this move created it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_existed: Option<bool>,
    },
    /// Before the target group is created: the group's plan.
    Group {
        ns: Namespace,
        group: GroupId,
        target_ns: Namespace,
        target_existed: bool,
        snapshots: Vec<String>,
        /// The source's owner, for `undo` to recreate the source group exactly (absent in
        /// journals of older versions, as are the fields below).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        /// Whether the target's type dir (`vm/`) existed before: `undo` removes only the
        /// ones this move created.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        type_existed: Option<bool>,
    },
    /// A group a namespace move or batch is about to move, written with the plans of the
    /// other groups in ONE synced append before the first of them is locked (group commit:
    /// one sync per batch instead of one per group). The same facts as [`Record::Group`],
    /// read before the group lock; under the lock the group's `group` record follows, synced
    /// only when its facts differ from these. Until then nothing of the group has moved for
    /// sure; no other record refers to it. Added later: older journals never hold it.
    GroupPlanned {
        ns: Namespace,
        group: GroupId,
        target_ns: Namespace,
        target_existed: bool,
        snapshots: Vec<String>,
        owner: String,
        type_existed: bool,
    },
    /// Merge: the source's notes are about to be renamed onto the target, which had none.
    NotesMoved,
    /// Merge: the target keeps its own notes; the source's (removed with the source group)
    /// are kept here so `undo` can put them back.
    NotesKept {
        notes: String,
    },
    /// S3: every object of the snapshot copied and verified (keys for a later delete).
    Copied {
        t: String,
        src: Vec<String>,
        dst: Vec<String>,
    },
    /// The local snapshot dir is at the target.
    Renamed {
        t: String,
    },
    /// S3: the source objects are deleted.
    Deleted {
        t: String,
    },
    /// The group's move ended (completely or with a reported, consistent split).
    GroupDone {
        moved: usize,
        ok: bool,
    },
    /// About to remove an emptied source namespace (its dir, then its bucket marker).
    NsRemoving {
        ns: Namespace,
    },
    NsRemoved {
        ns: Namespace,
    },
    /// What a `resume` run did.
    Resumed {
        actions: Vec<String>,
    },
    /// When the operation ended: written just before `done` (absent in older journals).
    Ended {
        at: u64,
    },
    Done {
        status: Status,
    },
    /// `undo` starts moving this operation back; every record after it is the undo's.
    UndoBegin {
        started: u64,
    },
    /// How an undo attempt ended; `changed`: it moved something back (else the attempt
    /// counts as never made).
    UndoEnded {
        ok: bool,
        changed: bool,
        at: u64,
    },
}

/// What `resume` and `undo` rely on about one group's move, taken before its target group
/// is touched: planned for a whole batch up front ([`Record::GroupPlanned`]), then taken
/// again under the group lock ([`Record::Group`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFacts {
    pub ns: Namespace,
    pub group: GroupId,
    pub target_ns: Namespace,
    /// The target group existed before this move (an empty leftover dir does not count).
    pub target_existed: bool,
    /// The snapshots to move, oldest first.
    pub snapshots: Vec<String>,
    /// The source group's owner.
    pub owner: String,
    /// The target's type dir (`vm/`) existed before this move.
    pub type_existed: bool,
}

impl GroupFacts {
    /// The plan's line.
    pub fn planned(&self) -> Record {
        Record::GroupPlanned {
            ns: self.ns.clone(),
            group: self.group.clone(),
            target_ns: self.target_ns.clone(),
            target_existed: self.target_existed,
            snapshots: self.snapshots.clone(),
            owner: self.owner.clone(),
            type_existed: self.type_existed,
        }
    }

    /// The line written under the group lock, before the target group is touched.
    pub fn started(&self) -> Record {
        Record::Group {
            ns: self.ns.clone(),
            group: self.group.clone(),
            target_ns: self.target_ns.clone(),
            target_existed: self.target_existed,
            snapshots: self.snapshots.clone(),
            owner: Some(self.owner.clone()),
            type_existed: Some(self.type_existed),
        }
    }
}

/// How an operation ended: the last record of its journal. Written by the engine when it
/// closes the journal, read by `resume` (what is left to do), `undo` and `history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Everything moved.
    Ok,
    /// Some groups moved, the others are still at the source: `resume` retries them.
    Partial,
    /// An I/O or S3 error stopped it before anything moved: `resume` retries once the cause
    /// is gone.
    Failed,
    /// Only locks were in the way and nothing changed: the user retries, not `resume`.
    Busy,
    /// The user stopped it: `resume` must not continue what was cancelled on purpose.
    Cancelled,
    /// A precondition did not hold; nothing changed.
    Refused,
    /// A retry by `resume` moved nothing and failed again: it needs a person.
    GaveUp,
    /// `undo` moved it back (or started to: then `undo` again finishes it). Never written
    /// as a `done` record: read from the undo records that follow the move's own.
    Undone,
}

impl Status {
    /// The status an operation's result closes its journal with.
    pub fn of(result: &Result<MoveReport, MoveError>) -> Self {
        match result {
            Ok(r) if r.failed.is_empty() => Self::Ok,
            Ok(r) if r.failed.iter().any(|f| f.reason == FailReason::Cancelled) => Self::Cancelled,
            Ok(r) if !r.moved.is_empty() || r.snapshots_moved() > 0 => Self::Partial,
            Ok(r)
                if r.failed
                    .iter()
                    .all(|f| f.reason == FailReason::LockConflict) =>
            {
                Self::Busy
            }
            // Refused under the locks (a merge's owner or time mismatch): nothing to retry.
            Ok(r)
                if r.failed
                    .iter()
                    .all(|f| f.refused || f.reason == FailReason::LockConflict) =>
            {
                Self::Refused
            }
            Ok(_) => Self::Failed,
            Err(MoveError::Failed(_)) => Self::Failed,
            Err(MoveError::Busy(_)) => Self::Busy,
            Err(MoveError::Cancelled) => Self::Cancelled,
            Err(MoveError::Refused(_)) => Self::Refused,
        }
    }

    /// Whether `resume` still has work: groups an error left at the source. The others are
    /// final (`busy`: nothing changed, the user retries).
    pub fn is_resumable(self) -> bool {
        matches!(self, Self::Partial | Self::Failed)
    }

    /// Whether `undo` may look at it: the move ended (however) and is not undone yet.
    /// What it moved, if anything, is in its records.
    pub fn is_undoable(self) -> bool {
        self != Self::Undone
    }

    /// The word in the journal (and in `history`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Busy => "busy",
            Self::Cancelled => "cancelled",
            Self::Refused => "refused",
            Self::GaveUp => "gave-up",
            Self::Undone => "undone",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gid(s: &str) -> GroupId {
        GroupId::parse(s).unwrap()
    }

    #[test]
    fn a_batch_round_trips_and_older_kinds_still_parse() {
        let ns = Namespace::parse("a").unwrap();
        let target = Namespace::parse("b").unwrap();
        let groups: Vec<GroupId> = ["vm/100", "vm/101", "ct/1", "host/h"]
            .into_iter()
            .map(gid)
            .collect();
        let op = OpKind::from_groups(&ns, &groups, &target, false);
        let text = serde_json::to_string(&op).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"move-groups","ns":"a","groups":["vm/100","vm/101","ct/1","host/h"],"target_ns":"b","merge":false}"#
        );
        assert_eq!(serde_json::from_str::<OpKind>(&text).unwrap(), op);
        assert_eq!(
            op.describe(),
            "move-group of 4 groups (vm/100, vm/101, ct/1, …) 'a' -> 'b'"
        );
        let two = OpKind::from_groups(&ns, &groups[..2], &target, true);
        assert_eq!(
            two.describe(),
            "move-group of 2 groups (vm/100, vm/101) 'a' -> 'b'"
        );
        // What earlier versions wrote reads as before.
        let old = r#"{"kind":"move-group","ns":"","group":"vm/1","target_ns":"a","merge":true}"#;
        let op: OpKind = serde_json::from_str(old).unwrap();
        assert_eq!(op.describe(), "move-group vm/1 '' -> 'a'");
        assert_eq!(serde_json::to_string(&op).unwrap(), old);
    }
}
