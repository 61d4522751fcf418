//! The move workflow on top of the browser: marks → target picker → dry-run preview →
//! confirmed background move → status log → tree refresh. The engine runs only through
//! [`Command`]s.

use std::time::Instant;

use crate::ops::progress::ProgressEvent;
use crate::ops::recovery::detached::DetachedReport;
use crate::ops::report::FailReason;
use crate::tree::backend::ObjectStats;
use crate::tree::{GroupId, Namespace};
use crate::ui::model::{Marks, Selection};
use crate::ui::panes::status::Level;
use crate::ui::popups::Popup;
use crate::ui::tasks::Command;
use crate::ui::tasks::jobs::JobState;
use crate::ui::tasks::moves::{JobId, JobMsg, MoveSpec};

use super::move_log::{describe_event, left_in_place_lines, summary};
use super::{App, Quit};

impl App {
    // ----- marks -----

    /// The group a selection is about (a snapshot counts as its group).
    pub(super) fn selected_group(&self) -> Option<(Namespace, GroupId)> {
        match self.selection() {
            Selection::Group(ns, g) | Selection::Snapshot(ns, g, _) => Some((ns, g)),
            _ => None,
        }
    }

    pub(super) fn mark(&mut self) -> bool {
        if let Some(key) = self.selected_group() {
            let only_this = self.marks.groups.len() == 1 && self.marks.groups.contains(&key);
            self.marks = Marks::default();
            if !only_this {
                self.marks.groups.insert(key);
            }
        } else if let Selection::Ns(ns) = self.selection() {
            if ns.is_root() {
                self.status
                    .push(Level::Warn, "the root namespace cannot be moved");
                return true;
            }
            let same = self.marks.ns.as_ref() == Some(&ns);
            self.marks = Marks::default();
            if !same {
                self.marks.ns = Some(ns);
            }
        } else {
            return false;
        }
        self.items_dirty = true;
        true
    }

    pub(super) fn toggle_select(&mut self) -> bool {
        let Some(key) = self.selected_group() else {
            self.status
                .push(Level::Info, "Space selects groups; mark a namespace with m");
            return true;
        };
        self.marks.ns = None;
        if !self.marks.groups.remove(&key) {
            self.marks.groups.insert(key);
        }
        self.items_dirty = true;
        true
    }

    pub(super) fn unmark(&mut self) -> bool {
        if self.marks.is_empty() {
            return false;
        }
        self.marks = Marks::default();
        self.items_dirty = true;
        true
    }

    // ----- starting moves -----

    /// Queues the previewed move and starts it when nothing else runs.
    pub(super) fn confirm_move(&mut self) -> bool {
        let Some(Popup::Preview(p)) = &self.popup else {
            return false;
        };
        // The user must have seen the plan before anything runs.
        let Some(outcome) = &p.outcome else {
            return false;
        };
        let spec = p.spec.clone();
        let id = self.jobs.add(spec.clone(), &outcome.plan);
        self.popup = None;
        self.marks = Marks::default();
        self.items_dirty = true;
        if self.jobs.running().is_some() {
            let msg = format!("move #{id} queued: {}", spec.describe());
            self.status.push_job(id, Level::Info, msg);
        }
        self.start_next_job();
        true
    }

    pub(super) fn start_next_job(&mut self) {
        let Some(job) = self.jobs.start_next(Instant::now()) else {
            return;
        };
        let (id, spec, cancel) = (job.id, job.spec.clone(), job.cancel.clone());
        let msg = format!("move #{id} started: {}", spec.describe());
        self.status.push_job(id, Level::Info, msg);
        self.status_view.follow(id);
        self.commands.push(Command::StartMove { id, spec, cancel });
    }

    // ----- running moves -----

    pub(super) fn cancel_running(&mut self) -> bool {
        let Some(id) = self.jobs.running().map(|j| j.id) else {
            self.status.push(Level::Info, "no move is running");
            return true;
        };
        let Some(job) = self.jobs.get_mut(id) else {
            return false;
        };
        if !job.request_cancel() {
            return false;
        }
        let msg = format!(
            "cancelling move #{id}: it stops after the current snapshot; what moved stays moved"
        );
        self.status.push_job(id, Level::Warn, msg);
        true
    }

    pub(super) fn on_job(&mut self, msg: JobMsg) -> bool {
        match msg {
            JobMsg::Engine(id, ev) => self.on_engine_event(id, ev),
            JobMsg::Rejected {
                job,
                what,
                error,
                busy,
            } => {
                if let Some(j) = self.jobs.get_mut(job) {
                    j.rejected.push(what.clone());
                }
                let kind = if busy { "busy" } else { "refused" };
                let text = format!("{what} not moved ({kind}): {error}");
                self.status.push_job(job, Level::Error, text);
            }
            JobMsg::Cancelled { job, what } => {
                if let Some(j) = self.jobs.get_mut(job) {
                    j.cancelled.push(what);
                }
            }
            JobMsg::Note { job, warn, text } => {
                let level = if warn { Level::Warn } else { Level::Info };
                self.status.push_job(job, level, text);
            }
            JobMsg::Done(id) => self.on_job_done(id),
        }
        true
    }

    pub(super) fn on_engine_event(&mut self, id: JobId, ev: ProgressEvent) {
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        job.last_update = Some(Instant::now());
        let log = match ev {
            ProgressEvent::Planned {
                groups, snapshots, ..
            } => {
                // A batch reports one plan per group; its totals come from the preview.
                match job.spec {
                    MoveSpec::Namespace(_) => {
                        job.groups_total = groups;
                        job.snaps_total = snapshots;
                    }
                    // Each move `resume` finishes announces what is left of it.
                    MoveSpec::Resume { .. } => {
                        job.groups_total += groups;
                        job.snaps_total += snapshots;
                    }
                    MoveSpec::Groups { .. } => {}
                }
                None
            }
            ProgressEvent::GroupStarted { ns, group, .. } => {
                job.current = Some(format!("{group} ({})", ns.human()));
                None
            }
            ProgressEvent::SnapshotMoved { .. } => {
                job.snaps_done += 1;
                None
            }
            // S3 copy progress: counted for the progress line, never logged.
            ProgressEvent::ObjectsPlanned { objects, bytes, .. } => {
                // The preview has the others' totals; `resume` plans as it goes.
                if matches!(job.spec, MoveSpec::Resume { .. }) {
                    job.to_copy += ObjectStats { objects, bytes };
                }
                None
            }
            ProgressEvent::ObjectsCopied { objects, bytes, .. } => {
                job.copied += ObjectStats { objects, bytes };
                None
            }
            ProgressEvent::Finished { report } => {
                for (level, text) in left_in_place_lines(&report) {
                    self.status.push_job(id, level, text);
                }
                job.reports.push(report);
                None
            }
            // Counted, not logged one by one: the summary names them in one line.
            ProgressEvent::GroupFailed {
                ns,
                group,
                reason: FailReason::Cancelled,
                ..
            } => {
                job.groups_failed += 1;
                job.cancelled.push(format!("{group} ({})", ns.human()));
                None
            }
            other => Some(describe_event(job, other)),
        };
        if let Some((level, text)) = log {
            self.status.push_job(id, level, text);
        }
    }

    pub(super) fn on_job_done(&mut self, id: JobId) {
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        // Before `Finished`: the summary tells a cancelled move from a finished one.
        let (level, text) = summary(job);
        job.state = JobState::Finished;
        job.current = None;
        let affected = job.spec.affected_namespaces();
        self.status.push_job(id, level, text);
        // Moved groups and namespaces are found at their new place.
        self.rebuild_index();
        for ns in affected {
            // Only what is loaded needs a refresh; a moved-away namespace is gone.
            if self.model.ns(&ns).is_some() && self.ctx.ds.namespace_exists(&ns).unwrap_or(false) {
                self.refresh_ns(&ns);
            }
        }
        if self.quit == Quit::WhenIdle {
            if self.jobs.active() == 0 {
                self.quit = Quit::Now;
            }
            return;
        }
        self.start_next_job();
    }

    /// At start: what the moves of a TUI that lost its terminal did after that, one line
    /// per move (they ran to their end; nobody could see it).
    pub fn report_detached(&mut self, reports: &[DetachedReport]) {
        for r in reports {
            let pid = r.pid;
            if r.running {
                let msg =
                    format!("pbs-mover {pid} lost its terminal and is still finishing its moves");
                self.status.push(Level::Warn, msg);
            } else if r.finished.is_empty() {
                let msg = format!("pbs-mover {pid} lost its terminal; no move ended after that");
                self.status.push(Level::Info, msg);
            }
            for op in &r.finished {
                let level = if op.is_ok() { Level::Info } else { Level::Warn };
                let msg = format!(
                    "after the terminal was lost: {}: {}: {}/{} group(s) done, {} snapshot(s) moved",
                    op.op, op.status, op.groups_done, op.groups_total, op.snapshots_moved
                );
                self.status.push(level, msg);
            }
        }
    }
}
