//! The lines a move writes into the status log: one per engine event worth telling, and the
//! final summary.

use crate::ops::progress::ProgressEvent;
use crate::ops::report::{FailReason, MoveReport};
use crate::ui::format;
use crate::ui::panes::status::Level;
use crate::ui::tasks::jobs::{Job, JobState};
use crate::ui::tasks::moves::MoveSpec;

/// The status line for an engine event worth a line in the log.
pub fn describe_event(job: &mut Job, ev: ProgressEvent) -> (Level, String) {
    match ev {
        ProgressEvent::GroupDone {
            ns,
            group,
            target_ns,
            snapshots,
        } => {
            job.groups_done += 1;
            let n = format::count(snapshots, "snapshot", "snapshots");
            let text = format!(
                "moved {group}: {} → {} ({n})",
                ns.human(),
                target_ns.human()
            );
            (Level::Info, text)
        }
        ProgressEvent::GroupDeferred { ns, group, message } => (
            Level::Warn,
            format!(
                "{group} ({}) deferred, retried after the others: {message}",
                ns.human()
            ),
        ),
        ProgressEvent::GroupFailed {
            ns,
            group,
            reason,
            message,
        } => {
            job.groups_failed += 1;
            let (level, kind) = match reason {
                FailReason::Cancelled => (Level::Warn, "cancelled"),
                FailReason::LockConflict => (Level::Error, "lock conflict"),
                FailReason::Error => (Level::Error, "failed"),
            };
            let text = format!("{group} ({}) not moved ({kind}): {message}", ns.human());
            (level, text)
        }
        ProgressEvent::NamespaceCreated { ns } => {
            (Level::Info, format!("created namespace {}", ns.human()))
        }
        ProgressEvent::NamespaceRemoved { ns } => (
            Level::Info,
            format!("removed emptied namespace {}", ns.human()),
        ),
        ProgressEvent::NamespaceKept { ns, reason } => (
            Level::Warn,
            format!("namespace {} left behind: {reason}", ns.human()),
        ),
        ProgressEvent::Warning { message } => (Level::Warn, message),
        other => (Level::Info, format!("{other:?}")),
    }
}

/// One failure line per symlink a namespace move left at the source: the CLI lists them
/// in `failed`, so the log does too.
pub fn left_in_place_lines(report: &MoveReport) -> Vec<(Level, String)> {
    report
        .left_in_place
        .iter()
        .map(|l| {
            let text = format!("left in place: {} is a symlink", l.path.display());
            (Level::Error, text)
        })
        .collect()
}

/// How many groups a cancel left at the source, with the first few named: one clause of
/// the summary instead of one line per group.
fn cancelled_line(cancelled: &[String]) -> Option<String> {
    const NAMED: usize = 3;
    let (first, rest) = cancelled.split_at(cancelled.len().min(NAMED));
    if first.is_empty() {
        return None;
    }
    let more = match rest.len() {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Some(format!(
        "; {} not moved (cancelled): {}{more}",
        format::count(cancelled.len(), "group", "groups"),
        first.join(", ")
    ))
}

/// The final line of a move.
pub fn summary(job: &Job) -> (Level, String) {
    let t = job.totals();
    let left: usize = job.reports.iter().map(|r| r.left_in_place.len()).sum();
    let failed = t.failed + left;
    let moved = format!(
        "moved {} ({})",
        format::count(t.moved, "group", "groups"),
        format::count(t.snapshots, "snapshot", "snapshots")
    );
    let mut text = if job.state == JobState::Cancelling {
        format!(
            "move #{} CANCELLED: {moved}; the rest stays at the source (both sides consistent)",
            job.id
        )
    } else {
        let what = match job.spec {
            MoveSpec::Resume { .. } => "resume",
            _ => "move",
        };
        format!("{what} #{} finished: {moved}, {failed} failed", job.id)
    };
    if left > 0 {
        let links = format::count(left, "symlink", "symlinks");
        text.push_str(&format!(" ({links} left in place)"));
    }
    if let Some(line) = cancelled_line(&job.cancelled) {
        text.push_str(&line);
    }
    if !t.kept.is_empty() {
        let kept: Vec<&str> = t.kept.iter().map(|(ns, _)| ns.as_str()).collect();
        text.push_str(&format!("; namespaces left behind: {}", kept.join(", ")));
    }
    let level = match (t.moved, failed) {
        (_, 0) => Level::Info,
        (0, _) => Level::Error,
        _ => Level::Warn,
    };
    (level, text)
}
