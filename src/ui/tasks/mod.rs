//! Work the UI hands off: [`Command`]s the state asks for, [`AppEvent`]s that come back, and
//! the one [`executor`] that runs a command (on a blocking thread in the event loop, or
//! inline in tests). Scans, dry runs and moves are blocking code that never sees ratatui.

pub mod executor;
pub mod jobs;
pub mod manifests;
pub mod moves;
pub mod plan;
pub mod scans;

use crossterm::event::{KeyEvent, MouseEvent};

use crate::ops::progress::CancelToken;
use crate::ops::recovery::pending::PendingMove;
use crate::tree::GroupId;
use crate::tree::Namespace;
use crate::tree::search::{GroupComment, SearchIndex};

use manifests::{FactsRequest, FactsResult, NotesRequest, NotesResult};
use moves::{JobId, JobMsg, MoveSpec};
use plan::PlanOutcome;
use scans::{ScanRequest, ScanResult};

/// Input to the state machine.
#[derive(Debug, Clone)]
pub enum AppEvent {
    Key(KeyEvent),
    /// A click or wheel turn (only when the mouse is on: see `App::mouse`).
    Mouse(MouseEvent),
    Resize,
    Scan(ScanResult),
    /// Every namespace of the datastore, for the target picker.
    Namespaces(Result<Vec<Namespace>, String>),
    /// A dry-run plan for the preview with sequence number `seq`.
    Plan {
        seq: u64,
        outcome: PlanOutcome,
    },
    /// Progress and results of a background move.
    Job(JobMsg),
    /// The moves `resume` would finish (read from the operation journal).
    Pending(Result<Vec<PendingMove>, String>),
    /// The search index of the whole datastore (build number `generation`).
    Index {
        generation: u64,
        result: Result<SearchIndex, String>,
    },
    /// A batch of the comment pass over index `generation`; `done` on the last.
    Comments {
        generation: u64,
        batch: Vec<GroupComment>,
        done: bool,
    },
    /// A group's manifests, read for the rows on screen.
    Facts(FactsResult),
    /// A batch of the size read of a namespace (`seq` of its request); `done` on the last.
    NsFacts {
        seq: u64,
        batch: Vec<FactsResult>,
        done: bool,
    },
    /// Notes text for the notes popup.
    Notes(NotesResult),
}

/// Side effects requested by the state, executed outside it.
#[derive(Debug, Clone)]
pub enum Command {
    Scan(ScanRequest),
    ListNamespaces,
    Plan {
        seq: u64,
        spec: MoveSpec,
    },
    /// Runs the engine for a confirmed move; `cancel` is checked between snapshots.
    StartMove {
        id: JobId,
        spec: MoveSpec,
        cancel: CancelToken,
    },
    /// Reads the operation journal for moves `resume` would finish.
    ListPending,
    /// Builds the search index of the whole datastore.
    BuildIndex {
        generation: u64,
    },
    /// Reads the newest comment of each group for index `generation`, until cancelled.
    IndexComments {
        generation: u64,
        groups: Vec<(Namespace, GroupId)>,
        cancel: CancelToken,
    },
    /// Reads every snapshot manifest of a group.
    ReadFacts(FactsRequest),
    /// Reads the manifests of a namespace's groups (its size), until cancelled.
    ReadNsFacts {
        seq: u64,
        ns: Namespace,
        groups: Vec<GroupId>,
        cancel: CancelToken,
    },
    /// Reads a group's or a snapshot's notes.
    ReadNotes(NotesRequest),
}

impl PartialEq for Command {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Command::Scan(a), Command::Scan(b)) => a == b,
            (Command::ListNamespaces, Command::ListNamespaces) => true,
            (Command::Plan { seq: a, .. }, Command::Plan { seq: b, .. }) => a == b,
            (Command::StartMove { id: a, .. }, Command::StartMove { id: b, .. }) => a == b,
            (Command::ListPending, Command::ListPending) => true,
            (Command::BuildIndex { generation: a }, Command::BuildIndex { generation: b }) => {
                a == b
            }
            (
                Command::IndexComments { generation: a, .. },
                Command::IndexComments { generation: b, .. },
            ) => a == b,
            (Command::ReadFacts(a), Command::ReadFacts(b)) => a == b,
            (Command::ReadNsFacts { seq: a, .. }, Command::ReadNsFacts { seq: b, .. }) => a == b,
            (Command::ReadNotes(a), Command::ReadNotes(b)) => a == b,
            _ => false,
        }
    }
}
