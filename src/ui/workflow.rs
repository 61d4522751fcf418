//! The move workflow on top of the browser: marks → target picker → dry-run preview →
//! confirmed background move → status log → tree refresh; plus quit safety.
//!
//! All of it is state changes on [`App`]; the engine runs only through [`Command`]s.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossterm::event::KeyEvent;

use crate::ops::context::MoveContext;
use crate::ops::progress::ProgressEvent;
use crate::ops::recovery::detached::DetachedReport;
use crate::ops::report::FailReason;
use crate::tree::{Datastore, GroupId, Namespace};

use super::app::{Action, App, AppEvent, Command, Selection};
use super::format;
use super::jobs::{Emit, Job, JobId, JobMsg, JobState, MoveSpec, run_job};
use super::keymap::{Context, typed_char};
use super::picker::{MoveSource, PickerState};
use super::preview::{Button, PlanOutcome, PreviewState};
use super::resume_prompt::{ResumeButton, ResumeState};
use super::status::Level;
use crate::ops::engine::plan::MovePlan;
use crate::ops::recovery::pending::PendingMove;

/// What `m` and Space chose as the move source: groups (any namespaces) or one namespace.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Marks {
    pub groups: BTreeSet<(Namespace, GroupId)>,
    pub ns: Option<Namespace>,
}

impl Marks {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.ns.is_none()
    }

    pub fn has_group(&self, ns: &Namespace, g: &GroupId) -> bool {
        self.groups.contains(&(ns.clone(), g.clone()))
    }

    fn source(&self) -> Option<MoveSource> {
        match &self.ns {
            Some(ns) => Some(MoveSource::Namespace(ns.clone())),
            None if !self.groups.is_empty() => {
                Some(MoveSource::Groups(self.groups.iter().cloned().collect()))
            }
            None => None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Popup {
    Picker(PickerState),
    Preview(PreviewState),
    ConfirmQuit,
    Resume(ResumeState),
}

impl Popup {
    pub fn context(&self) -> Context {
        match self {
            Popup::Picker(_) => Context::Picker,
            Popup::Preview(_) => Context::Preview,
            Popup::ConfirmQuit => Context::Confirm,
            Popup::Resume(_) => Context::Resume,
        }
    }
}

/// How the status pane is shown.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StatusView {
    /// Keys go to the pane (scrolling, switching logs); it is drawn taller.
    pub focused: bool,
    /// Lines scrolled up from the newest; 0 follows the tail.
    pub scroll: usize,
    /// Show only this move's log; `None` = everything.
    pub job: Option<JobId>,
}

impl App {
    // ----- marks -----

    /// The group a selection is about (a snapshot counts as its group).
    fn selected_group(&self) -> Option<(Namespace, GroupId)> {
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

    // ----- picker -----

    /// Opens the target picker for the marks, or for the item under the cursor.
    pub(super) fn open_picker(&mut self) -> bool {
        let source = self.marks.source().or_else(|| match self.selection() {
            Selection::Ns(ns) if !ns.is_root() => Some(MoveSource::Namespace(ns)),
            _ => self.selected_group().map(|k| MoveSource::Groups(vec![k])),
        });
        let Some(source) = source else {
            self.status.push(
                Level::Info,
                "nothing to move: mark a group (m, Space for several) or a namespace (m)",
            );
            return true;
        };
        self.popup = Some(Popup::Picker(PickerState::new(source)));
        self.commands.push(Command::ListNamespaces);
        true
    }

    pub(super) fn on_namespaces(&mut self, result: Result<Vec<Namespace>, String>) -> bool {
        let Some(Popup::Picker(p)) = &mut self.popup else {
            return false;
        };
        match result {
            Ok(mut all) => {
                // By components: each namespace right above its children, like the tree.
                all.sort();
                p.all = Some(all);
            }
            Err(e) => {
                p.all = Some(Vec::new());
                p.error = Some(format!("cannot list namespaces: {e}"));
            }
        }
        true
    }

    pub(super) fn type_into_picker(&mut self, key: &KeyEvent) -> bool {
        let Some(c) = typed_char(key) else {
            return false;
        };
        match &mut self.popup {
            Some(Popup::Picker(p)) => p.type_char(c),
            _ => false,
        }
    }

    pub(super) fn apply_picker(&mut self, action: Action) -> bool {
        let Some(Popup::Picker(p)) = &mut self.popup else {
            return false;
        };
        match action {
            Action::Up => p.move_cursor(-1),
            Action::Down => p.move_cursor(1),
            Action::PageUp => p.move_cursor(-10),
            Action::PageDown => p.move_cursor(10),
            Action::NextField => {
                p.cycle_field(true);
                true
            }
            Action::PrevField => {
                p.cycle_field(false);
                true
            }
            Action::Toggle => p.toggle(),
            Action::Increase => p.step_depth(true),
            Action::Decrease => p.step_depth(false),
            Action::Backspace => p.backspace(),
            Action::Close => {
                self.popup = None;
                true
            }
            Action::Accept => self.picker_accept(),
            _ => false,
        }
    }

    fn picker_accept(&mut self) -> bool {
        let Some(Popup::Picker(p)) = &mut self.popup else {
            return false;
        };
        match p.spec() {
            Ok(spec) => {
                self.plan_seq += 1;
                let seq = self.plan_seq;
                self.popup = Some(Popup::Preview(PreviewState::new(spec.clone(), seq)));
                self.commands.push(Command::Plan { seq, spec });
            }
            Err(e) => p.error = Some(e),
        }
        true
    }

    // ----- preview -----

    pub(super) fn on_plan(&mut self, seq: u64, outcome: PlanOutcome) -> bool {
        match &mut self.popup {
            Some(Popup::Preview(p)) if p.seq == seq => {
                p.outcome = Some(outcome);
                true
            }
            _ => false,
        }
    }

    pub(super) fn apply_preview(&mut self, action: Action) -> bool {
        let Some(Popup::Preview(p)) = &mut self.popup else {
            return false;
        };
        let page = p.rows.max(2) as isize - 1;
        match action {
            Action::Up => p.scroll_by(-1, usize::MAX),
            Action::Down => p.scroll_by(1, usize::MAX),
            Action::PageUp => p.scroll_by(-page, usize::MAX),
            Action::PageDown => p.scroll_by(page, usize::MAX),
            Action::NextField | Action::PrevField => {
                p.focus = match p.focus {
                    Button::Cancel => Button::Move,
                    Button::Move => Button::Cancel,
                };
                true
            }
            Action::Accept if p.focus == Button::Move => self.confirm_move(),
            Action::Accept | Action::No => {
                self.popup = None;
                self.status.push(
                    Level::Info,
                    "move cancelled in the preview; nothing changed",
                );
                true
            }
            Action::Yes => self.confirm_move(),
            _ => false,
        }
    }

    /// Queues the previewed move and starts it when nothing else runs.
    fn confirm_move(&mut self) -> bool {
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

    fn start_next_job(&mut self) {
        let Some(job) = self.jobs.start_next(Instant::now()) else {
            return;
        };
        let (id, spec, cancel) = (job.id, job.spec.clone(), job.cancel.clone());
        let msg = format!("move #{id} started: {}", spec.describe());
        self.status.push_job(id, Level::Info, msg);
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
        if job.state == JobState::Cancelling {
            return false;
        }
        job.cancel.cancel();
        job.state = JobState::Cancelling;
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
            JobMsg::Note { job, warn, text } => {
                let level = if warn { Level::Warn } else { Level::Info };
                self.status.push_job(job, level, text);
            }
            JobMsg::Done(id) => self.on_job_done(id),
        }
        true
    }

    fn on_engine_event(&mut self, id: JobId, ev: ProgressEvent) {
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
            ProgressEvent::Finished { report } => {
                job.reports.push(report);
                None
            }
            other => Some(describe_event(job, other)),
        };
        if let Some((level, text)) = log {
            self.status.push_job(id, level, text);
        }
    }

    fn on_job_done(&mut self, id: JobId) {
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        job.state = JobState::Finished;
        job.current = None;
        let (level, text) = summary(job);
        let affected = job.spec.affected_namespaces();
        self.status.push_job(id, level, text);
        for ns in affected {
            // Only what is loaded needs a refresh; a moved-away namespace is gone.
            if self.model.ns(&ns).is_some() && self.ds.namespace_exists(&ns).unwrap_or(false) {
                self.refresh_ns(&ns);
            }
        }
        if self.quit_when_idle {
            if self.jobs.active() == 0 {
                self.quit = true;
            }
            return;
        }
        self.start_next_job();
    }

    // ----- resume prompt -----

    /// At start: asks whether to resume the interrupted moves, when there are any.
    pub fn offer_resume(&mut self, pending: Vec<PendingMove>) {
        if pending.is_empty() {
            return;
        }
        let msg = format!(
            "{} interrupted move(s) found in the operation journal",
            pending.len()
        );
        self.status.push(Level::Warn, msg);
        self.popup = Some(Popup::Resume(ResumeState::new(Some(Ok(pending)))));
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

    /// `R`: re-reads the journal and shows the prompt.
    pub(super) fn open_resume(&mut self) -> bool {
        self.popup = Some(Popup::Resume(ResumeState::new(None)));
        self.commands.push(Command::ListPending);
        true
    }

    pub(super) fn on_pending(&mut self, result: Result<Vec<PendingMove>, String>) -> bool {
        match &mut self.popup {
            Some(Popup::Resume(p)) if p.pending.is_none() => {
                p.pending = Some(result);
                true
            }
            _ => false,
        }
    }

    pub(super) fn apply_resume(&mut self, action: Action) -> bool {
        let Some(Popup::Resume(p)) = &mut self.popup else {
            return false;
        };
        match action {
            Action::Up => p.scroll = p.scroll.saturating_sub(1),
            Action::Down => p.scroll = p.scroll.saturating_add(1),
            Action::NextField | Action::PrevField => {
                p.focus = match p.focus {
                    ResumeButton::Later => ResumeButton::Resume,
                    ResumeButton::Resume => ResumeButton::Later,
                };
            }
            Action::Accept if p.focus == ResumeButton::Resume => return self.start_resume(),
            Action::Yes => return self.start_resume(),
            Action::Accept | Action::No => {
                self.popup = None;
                let key = self.keymap.first_key(Context::Tree, Action::Resume);
                let again = key.map_or(String::new(), |k| format!("press {k} or "));
                let msg = format!(
                    "interrupted moves left as they are; {again}run 'pbs-mover resume' to finish them"
                );
                self.status.push(Level::Info, msg);
            }
            _ => return false,
        }
        true
    }

    /// Queues the resume job (the CLI's engine) and starts it when nothing else runs.
    fn start_resume(&mut self) -> bool {
        let Some(Popup::Resume(p)) = &self.popup else {
            return false;
        };
        let Some(Ok(pending)) = &p.pending else {
            return false; // still reading the journal, or it could not be read
        };
        if pending.is_empty() {
            self.popup = None;
            return true;
        }
        let mut namespaces: Vec<Namespace> = pending
            .iter()
            .flat_map(|m| m.namespaces.iter().cloned())
            .collect();
        namespaces.sort();
        namespaces.dedup();
        let spec = MoveSpec::Resume {
            ids: pending.iter().map(|m| m.id.clone()).collect(),
            namespaces,
        };
        self.popup = None;
        let id = self.jobs.add(spec.clone(), &MovePlan::default());
        if self.jobs.running().is_some() {
            let msg = format!("#{id} queued: {}", spec.describe());
            self.status.push_job(id, Level::Info, msg);
        }
        self.start_next_job();
        true
    }

    // ----- status pane -----

    pub(super) fn apply_status(&mut self, action: Action) -> bool {
        let v = &mut self.status_view;
        let page = 5;
        let before = v.clone();
        match action {
            Action::Up => v.scroll = v.scroll.saturating_add(1),
            Action::Down => v.scroll = v.scroll.saturating_sub(1),
            Action::PageUp => v.scroll = v.scroll.saturating_add(page),
            Action::PageDown => v.scroll = v.scroll.saturating_sub(page),
            Action::Top => v.scroll = usize::MAX / 2,
            Action::Bottom => v.scroll = 0,
            Action::NextLog | Action::PrevLog => {
                let ids: Vec<Option<JobId>> = std::iter::once(None)
                    .chain(self.jobs.list.iter().map(|j| Some(j.id)))
                    .collect();
                let i = ids.iter().position(|j| *j == v.job).unwrap_or(0);
                let n = ids.len();
                let next = if action == Action::NextLog {
                    i + 1
                } else {
                    i + n - 1
                };
                v.job = ids[next % n];
                v.scroll = 0;
            }
            Action::CancelMove => return self.cancel_running(),
            Action::Close => v.focused = false,
            _ => return false,
        }
        *v != before
    }

    // ----- quitting -----

    /// `q`: quits at once when no move runs, else asks.
    pub(super) fn request_quit(&mut self) -> bool {
        if self.jobs.active() == 0 {
            self.quit = true;
        } else {
            self.popup = Some(Popup::ConfirmQuit);
        }
        true
    }

    /// Ctrl-C: like `q`, but a second Ctrl-C while it asks quits without waiting.
    pub(super) fn force_quit(&mut self) -> bool {
        if self.jobs.active() == 0 {
            self.quit = true;
        } else if matches!(self.popup, Some(Popup::ConfirmQuit)) {
            self.jobs.cancel_all();
            self.forced = true;
            self.quit = true;
        } else {
            self.popup = Some(Popup::ConfirmQuit);
        }
        true
    }

    pub(super) fn apply_confirm(&mut self, action: Action) -> bool {
        match action {
            Action::Yes => {
                self.popup = None;
                let (running, dropped) = self.jobs.cancel_all();
                if running {
                    self.quit_when_idle = true;
                    let msg = format!(
                        "quitting: the running move stops after the current snapshot ({dropped} queued dropped)"
                    );
                    self.status.push(Level::Warn, msg);
                } else {
                    self.quit = true;
                }
            }
            Action::No => self.popup = None,
            _ => return false,
        }
        true
    }

    /// Moves to list in the quit question.
    pub fn active_jobs(&self) -> Vec<&Job> {
        self.jobs.list.iter().filter(|j| j.is_active()).collect()
    }
}

/// The status line for an engine event worth a line in the log.
fn describe_event(job: &mut Job, ev: ProgressEvent) -> (Level, String) {
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

/// The final line of a move.
fn summary(job: &Job) -> (Level, String) {
    let t = job.totals();
    let moved = format!(
        "moved {} ({})",
        format::count(t.moved, "group", "groups"),
        format::count(t.snapshots, "snapshot", "snapshots")
    );
    let mut text = if job.cancel.is_cancelled() {
        format!(
            "move #{} CANCELLED: {moved}; the rest stays at the source (both sides consistent)",
            job.id
        )
    } else {
        let what = match job.spec {
            MoveSpec::Resume { .. } => "resume",
            _ => "move",
        };
        format!("{what} #{} finished: {moved}, {} failed", job.id, t.failed)
    };
    if !t.kept.is_empty() {
        let kept: Vec<&str> = t.kept.iter().map(|(ns, _)| ns.as_str()).collect();
        text.push_str(&format!("; namespaces left behind: {}", kept.join(", ")));
    }
    let level = match (t.moved, t.failed) {
        (_, 0) => Level::Info,
        (0, _) => Level::Error,
        _ => Level::Warn,
    };
    (level, text)
}

/// Every namespace of the datastore, parents first (for the picker).
pub fn list_all_namespaces(ds: &Datastore) -> Result<Vec<Namespace>, String> {
    ds.list_namespaces_recursive(&Namespace::root(), None)
        .map(|l| l.items)
        .map_err(|e| e.to_string())
}

/// Runs a command to the end on this thread; its results as events (tests, headless use).
pub fn run_command_inline(ds: &Datastore, ctx: &MoveContext, command: Command) -> Vec<AppEvent> {
    match command {
        Command::Scan(req) => {
            let mut out = Vec::new();
            super::scan_jobs::run(ds, req, &mut |r| out.push(AppEvent::Scan(r)));
            out
        }
        Command::ListNamespaces => vec![AppEvent::Namespaces(list_all_namespaces(ds))],
        Command::Plan { seq, spec } => vec![AppEvent::Plan {
            seq,
            outcome: super::preview::compute(ctx, &spec),
        }],
        Command::ListPending => vec![AppEvent::Pending(
            crate::ops::recovery::pending::pending(ctx).map_err(|e| e.to_string()),
        )],
        Command::StartMove { id, spec, cancel } => {
            let msgs = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&msgs);
            let emit: Emit = Arc::new(move |m| {
                if let Ok(mut v) = sink.lock() {
                    v.push(m);
                }
            });
            run_job(ctx, id, &spec, &cancel, &emit);
            let msgs = msgs.lock().map(|mut v| std::mem::take(&mut *v));
            msgs.unwrap_or_default()
                .into_iter()
                .map(AppEvent::Job)
                .collect()
        }
    }
}
