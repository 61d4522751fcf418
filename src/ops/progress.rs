//! Progress events and cancellation: how a running move talks to the CLI or the TUI.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::ops::report::{FailReason, MoveReport};
use crate::tree::{GroupId, Namespace, SnapshotTime};

/// Serialized for `--json-progress`: `{"event":"snapshot_moved","ns":..,...}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// The plan is known: how much will move. `bytes` stays 0 for a real move: an S3
    /// datastore's objects are only listed batch by batch, see `ObjectsPlanned`.
    Planned {
        groups: usize,
        snapshots: usize,
        bytes: u64,
    },
    /// S3: one lock batch of a group is listed; its `objects` and `bytes` will be copied
    /// for `snapshots` of its snapshots. These grow the move's totals as groups start.
    ObjectsPlanned {
        ns: Namespace,
        group: GroupId,
        snapshots: usize,
        objects: u64,
        bytes: u64,
    },
    /// S3: every object of one more snapshot is copied; `objects` and `bytes` are that
    /// snapshot's (they add up to the batch's `ObjectsPlanned`). Copies of a batch that
    /// fails are removed again.
    ObjectsCopied {
        ns: Namespace,
        group: GroupId,
        objects: u64,
        bytes: u64,
    },
    GroupStarted {
        ns: Namespace,
        group: GroupId,
        target_ns: Namespace,
        snapshots: usize,
        merge: bool,
    },
    SnapshotMoved {
        ns: Namespace,
        group: GroupId,
        time: SnapshotTime,
        done: usize,
        total: usize,
    },
    GroupDone {
        ns: Namespace,
        group: GroupId,
        target_ns: Namespace,
        snapshots: usize,
    },
    /// Lock conflict; the group is retried once after the others.
    GroupDeferred {
        ns: Namespace,
        group: GroupId,
        message: String,
    },
    GroupFailed {
        ns: Namespace,
        group: GroupId,
        reason: FailReason,
        message: String,
    },
    NamespaceCreated {
        ns: Namespace,
    },
    NamespaceRemoved {
        ns: Namespace,
    },
    NamespaceKept {
        ns: Namespace,
        reason: String,
    },
    Warning {
        message: String,
    },
    Finished {
        report: MoveReport,
    },
}

/// Set by the UI, checked by the engine between snapshots.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

type Sink = Arc<dyn Fn(ProgressEvent) + Send + Sync>;

/// Where events go, plus the cancel token. Cloning shares both.
#[derive(Clone, Default)]
pub struct Progress {
    sink: Option<Sink>,
    pub cancel: CancelToken,
}

impl Progress {
    /// Discards events; never cancelled.
    pub fn silent() -> Self {
        Self::default()
    }

    pub fn new(sink: impl Fn(ProgressEvent) + Send + Sync + 'static, cancel: CancelToken) -> Self {
        Self {
            sink: Some(Arc::new(sink)),
            cancel,
        }
    }

    /// Sends to a tokio channel (the TUI); a closed channel is ignored.
    pub fn to_channel(
        tx: tokio::sync::mpsc::UnboundedSender<ProgressEvent>,
        cancel: CancelToken,
    ) -> Self {
        Self::new(move |ev| drop(tx.send(ev)), cancel)
    }

    pub fn emit(&self, ev: ProgressEvent) {
        if let Some(sink) = &self.sink {
            sink(ev);
        }
    }

    pub fn warn(&self, message: impl Into<String>) {
        self.emit(ProgressEvent::Warning {
            message: message.into(),
        });
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}
