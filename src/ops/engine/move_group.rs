//! The move-group operation the CLI and the TUI run: pre-flight, namespace locks (shared),
//! the crash journal around one [`lock_and_move_group_journaled`], and the report.

use crate::ops::context::MoveContext;
use crate::ops::engine::lock_and_move::{
    GroupFailure, GroupOpts, GroupOutcome, TreeChecked, lock_and_move_group_journaled,
};
use crate::ops::engine::request::MoveGroupRequest;
use crate::ops::error::MoveError;
use crate::ops::failpoint;
use crate::ops::journal::crash::OpJournal;
use crate::ops::journal::record::{OpKind, Record, Status};
use crate::ops::locks::flock::LockMode;
use crate::ops::locks::move_set::lock_namespaces;
use crate::ops::progress::{Progress, ProgressEvent};
use crate::ops::report::{FailedGroup, MoveReport, MovedGroup};
use crate::ops::safety::security::TreeDepth;
use crate::ops::safety::snapshot_listing::SnapshotEntries;
use crate::tree::{GroupId, Namespace};

/// Moves one group. `Err` means refused or busy before anything changed.
pub fn move_group(
    ctx: &MoveContext,
    req: &MoveGroupRequest,
    progress: &Progress,
) -> Result<MoveReport, MoveError> {
    ctx.check_datastore()?;
    let checked = crate::ops::engine::checks::check_move_group_read(
        &ctx.ds,
        &req.ns,
        &req.target_ns,
        &req.group,
        req.merge,
        TreeDepth::SnapshotsBeforeLock,
    )?;
    let preflight = match checked.read {
        Some(mut read) => Preflight {
            snapshots: Some(read.snapshot_times().len()),
            entries: read.take_snapshot_entries(),
        },
        None => Preflight::default(),
    };
    failpoint::hit("after-preflight");
    let _op = ctx.begin_operation()?;
    let _ns_guards = lock_namespaces(
        &ctx.locks,
        &[
            (req.ns.clone(), LockMode::Shared),
            (req.target_ns.clone(), LockMode::Shared),
        ],
    )?;
    let journal = OpJournal::begin(ctx, OpKind::from_group(req))?;
    let result = move_group_locked(ctx, req, Some(preflight), progress, journal.as_ref());
    close_journal(journal.as_ref(), &result);
    finish(result?, progress)
}

/// Closes an operation's journal: `resume` leaves finished operations alone.
pub fn close_journal(journal: Option<&OpJournal>, result: &Result<MoveReport, MoveError>) {
    let Some(j) = journal else { return };
    // Best effort: an unclosed journal only makes `resume` re-check a consistent datastore.
    let _ = j.record(&Record::Done {
        status: Status::of(result),
    });
}

/// What [`move_group`]'s full pre-flight ([`TreeDepth::SnapshotsBeforeLock`]) found just
/// before the locks.
#[derive(Debug, Clone, Default)]
pub struct Preflight {
    /// Snapshots it listed (`None`: the group dir was gone), for the progress plan only.
    pub snapshots: Option<usize>,
    /// Each snapshot dir's entries, stamped: the move reads again only dirs changed since.
    pub entries: Option<SnapshotEntries>,
}

/// [`move_group`] once the namespace locks are held (also `resume`'s way of finishing one).
/// `preflight`: the full pre-flight just ran (see [`GroupOpts::tree`]).
pub fn move_group_locked(
    ctx: &MoveContext,
    req: &MoveGroupRequest,
    preflight: Option<Preflight>,
    progress: &Progress,
    journal: Option<&OpJournal>,
) -> Result<MoveReport, MoveError> {
    let tree = match &preflight {
        Some(Preflight {
            entries: Some(read),
            ..
        }) => TreeChecked::Read(read),
        Some(_) => TreeChecked::Yes,
        None => TreeChecked::No,
    };
    // The pre-flight's count spares a third listing of a large group dir.
    let snapshots = match preflight.as_ref().and_then(|p| p.snapshots) {
        Some(n) => n,
        None => ctx.ds.list_snapshot_times(&req.ns, &req.group)?.len(),
    };
    progress.emit(ProgressEvent::Planned {
        groups: 1,
        snapshots,
        bytes: 0,
    });
    let mut report = MoveReport::default();
    let result = lock_and_move_group_journaled(
        ctx,
        &req.ns,
        &req.group,
        &req.target_ns,
        GroupOpts {
            merge: req.merge,
            tree,
            plan: None,
        },
        progress,
        journal,
    );
    record(
        &mut report,
        progress,
        &req.ns,
        &req.group,
        &req.target_ns,
        result,
    );
    Ok(report)
}

pub(crate) fn finish(report: MoveReport, progress: &Progress) -> Result<MoveReport, MoveError> {
    progress.emit(ProgressEvent::Finished {
        report: report.clone(),
    });
    Ok(report)
}

/// Adds one group's result to the report and tells the UI.
pub(crate) fn record(
    report: &mut MoveReport,
    progress: &Progress,
    ns: &Namespace,
    group: &GroupId,
    target_ns: &Namespace,
    result: Result<GroupOutcome, GroupFailure>,
) {
    match result {
        Ok(outcome) => {
            report.orphans.extend(outcome.orphans);
            report.warnings.extend(outcome.warnings);
            report.moved.push(MovedGroup {
                ns: ns.clone(),
                group: group.clone(),
                target_ns: target_ns.clone(),
                snapshots: outcome.snapshots,
            });
            progress.emit(ProgressEvent::GroupDone {
                ns: ns.clone(),
                group: group.clone(),
                target_ns: target_ns.clone(),
                snapshots: outcome.snapshots,
            });
        }
        Err(f) => {
            progress.emit(ProgressEvent::GroupFailed {
                ns: ns.clone(),
                group: group.clone(),
                reason: f.reason,
                message: f.message.clone(),
            });
            report.failed.push(FailedGroup {
                ns: ns.clone(),
                group: group.clone(),
                reason: f.reason,
                message: f.message,
                snapshots_moved: f.moved,
                refused: f.refused,
            });
        }
    }
}
