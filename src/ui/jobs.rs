//! Background moves: what the user asked for ([`MoveSpec`]), how it runs (one blocking job
//! that calls the one move engine in `crate::ops`), and the state the UI keeps per move
//! (counts, rate, ETA, outcome). No ratatui here: the status pane renders this state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ops::context::MoveContext;
use crate::ops::engine::move_group::move_group;
use crate::ops::engine::move_ns::move_namespace;
use crate::ops::engine::plan::MovePlan;
use crate::ops::engine::request::{MoveGroupRequest, MoveNsRequest};
use crate::ops::error::MoveError;
use crate::ops::progress::{CancelToken, Progress, ProgressEvent};
use crate::ops::recovery::resume::{ResumeStatus, resume};
use crate::ops::report::MoveReport;
use crate::tree::{GroupId, Namespace};

pub type JobId = u32;

/// One move as the user confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveSpec {
    /// One or more groups (possibly from different namespaces) into one target namespace:
    /// one `move_group` call per group, one after the other.
    Groups {
        groups: Vec<(Namespace, GroupId)>,
        target: Namespace,
        merge: bool,
    },
    Namespace(MoveNsRequest),
    /// `pbs-mover resume`: finishes every interrupted move of the datastore (`ids` as listed
    /// when the user chose it); `namespaces` are the listings it may change.
    Resume {
        ids: Vec<String>,
        namespaces: Vec<Namespace>,
    },
}

impl MoveSpec {
    /// `vm/100 → archive`, `3 groups → archive`, `ns prod/db → archive/db`.
    pub fn describe(&self) -> String {
        match self {
            MoveSpec::Groups { groups, target, .. } => match groups.as_slice() {
                [(ns, g)] => format!("{g} ({}) → {}", ns.human(), target.human()),
                _ => format!("{} groups → {}", groups.len(), target.human()),
            },
            MoveSpec::Namespace(r) => format!("ns {} → {}", r.ns.human(), r.target_ns.human()),
            MoveSpec::Resume { ids, .. } => format!("resume {} interrupted move(s)", ids.len()),
        }
    }

    /// Namespaces whose listing changes when this move runs (for the tree refresh).
    pub fn affected_namespaces(&self) -> Vec<Namespace> {
        let mut out = Vec::new();
        match self {
            MoveSpec::Groups { groups, target, .. } => {
                out.extend(groups.iter().map(|(ns, _)| ns.clone()));
                out.push(target.clone());
            }
            MoveSpec::Namespace(r) => {
                out.extend(r.ns.parent());
                out.extend(r.target_ns.parent());
                out.push(r.ns.clone());
            }
            MoveSpec::Resume { namespaces, .. } => out.extend(namespaces.iter().cloned()),
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Messages from a running job to the UI.
#[derive(Debug, Clone)]
pub enum JobMsg {
    /// An engine event of the job.
    Engine(JobId, ProgressEvent),
    /// One engine call ended before changing anything (refused, busy, failed, cancelled).
    Rejected {
        job: JobId,
        what: String,
        error: String,
        busy: bool,
    },
    /// A line for the job's log (what `resume` did).
    Note {
        job: JobId,
        warn: bool,
        text: String,
    },
    /// The job returned; no more messages for it.
    Done(JobId),
}

pub type Emit = Arc<dyn Fn(JobMsg) + Send + Sync>;

/// Runs one job to the end on the calling (blocking) thread. Everything it learns goes
/// through `emit`; the engine checks `cancel` between snapshots.
pub fn run_job(ctx: &MoveContext, id: JobId, spec: &MoveSpec, cancel: &CancelToken, emit: &Emit) {
    let sink = Arc::clone(emit);
    let progress = Progress::new(move |ev| sink(JobMsg::Engine(id, ev)), cancel.clone());
    match spec {
        MoveSpec::Groups {
            groups,
            target,
            merge,
        } => {
            for (ns, group) in groups {
                let what = format!("{group} ({})", ns.human());
                if cancel.is_cancelled() {
                    let error = "cancelled before it started; it stays at the source".into();
                    emit(JobMsg::Rejected {
                        job: id,
                        what,
                        error,
                        busy: false,
                    });
                    continue;
                }
                let req = MoveGroupRequest {
                    ns: ns.clone(),
                    group: group.clone(),
                    target_ns: target.clone(),
                    merge: *merge,
                };
                if let Err(e) = move_group(ctx, &req, &progress) {
                    emit(rejected(id, what, &e));
                }
            }
        }
        MoveSpec::Namespace(req) => {
            if let Err(e) = move_namespace(ctx, req, &progress) {
                emit(rejected(id, format!("namespace {}", req.ns.human()), &e));
            }
        }
        MoveSpec::Resume { .. } => run_resume(ctx, id, &progress, emit),
    }
    emit(JobMsg::Done(id));
}

/// The CLI's `resume`, reported line by line into the job's log.
fn run_resume(ctx: &MoveContext, id: JobId, progress: &Progress, emit: &Emit) {
    let note = |warn: bool, text: String| {
        emit(JobMsg::Note {
            job: id,
            warn,
            text,
        })
    };
    match resume(ctx, progress) {
        Ok(outcome) => {
            if outcome.operations.is_empty() {
                note(false, "nothing to resume: no unfinished moves".into());
            }
            for op in &outcome.operations {
                note(
                    op.status != ResumeStatus::Completed,
                    format!("resume {} ({}): {}", op.op, op.id, op.status),
                );
                for a in &op.actions {
                    note(false, format!("  {a}"));
                }
                if let Some(e) = &op.error {
                    note(true, format!("  error: {e}"));
                }
            }
            emit(JobMsg::Engine(
                id,
                ProgressEvent::Finished {
                    report: outcome.report,
                },
            ));
        }
        Err(e) => emit(rejected(id, "resume".into(), &e)),
    }
}

fn rejected(job: JobId, what: String, e: &MoveError) -> JobMsg {
    JobMsg::Rejected {
        job,
        what,
        error: e.to_string(),
        busy: e.is_busy(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    /// `x` was pressed; the engine stops after the current snapshot.
    Cancelling,
    Finished,
}

/// One move the UI knows about.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub spec: MoveSpec,
    pub state: JobState,
    pub cancel: CancelToken,
    pub groups_total: usize,
    pub groups_done: usize,
    pub groups_failed: usize,
    pub snaps_total: usize,
    pub snaps_done: usize,
    /// The group being moved now.
    pub current: Option<String>,
    pub started: Option<Instant>,
    /// When the last progress arrived; rate and ETA are computed up to here, so an idle
    /// screen needs no ticking clock.
    pub last_update: Option<Instant>,
    pub reports: Vec<MoveReport>,
    /// Engine calls that changed nothing (refused, busy).
    pub rejected: Vec<String>,
}

impl Job {
    fn new(id: JobId, spec: MoveSpec, plan: &MovePlan) -> Self {
        Self {
            id,
            spec,
            state: JobState::Queued,
            cancel: CancelToken::new(),
            groups_total: plan.groups.len(),
            groups_done: 0,
            groups_failed: 0,
            snaps_total: plan.snapshots(),
            snaps_done: 0,
            current: None,
            started: None,
            last_update: None,
            reports: Vec::new(),
            rejected: Vec::new(),
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(
            self.state,
            JobState::Queued | JobState::Running | JobState::Cancelling
        )
    }

    pub fn elapsed(&self) -> Duration {
        match (self.started, self.last_update) {
            (Some(s), Some(l)) => l.saturating_duration_since(s),
            _ => Duration::ZERO,
        }
    }

    /// Snapshots per second so far; `None` before the first one moved.
    pub fn rate(&self) -> Option<f64> {
        let secs = self.elapsed().as_secs_f64();
        (self.snaps_done > 0 && secs > 0.0).then(|| self.snaps_done as f64 / secs)
    }

    /// Time left at the current rate.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rate()?;
        let left = self.snaps_total.saturating_sub(self.snaps_done) as f64;
        Some(Duration::from_secs_f64(left / rate))
    }

    /// Totals over every engine report of this job.
    pub fn totals(&self) -> JobTotals {
        let mut t = JobTotals::default();
        for r in &self.reports {
            t.moved += r.moved.len();
            t.failed += r.failed.len();
            t.snapshots += r.snapshots_moved();
            t.kept.extend(
                r.namespaces_kept
                    .iter()
                    .map(|k| (k.ns.to_string(), k.reason.clone())),
            );
        }
        t.failed += self.rejected.len();
        t
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobTotals {
    pub moved: usize,
    pub failed: usize,
    pub snapshots: usize,
    /// Source namespaces left behind, with the reason.
    pub kept: Vec<(String, String)>,
}

/// Every move of this session, oldest first. One runs at a time: moves on one datastore
/// take overlapping locks, and a queue makes their order obvious to the user.
#[derive(Debug, Default)]
pub struct Jobs {
    pub list: Vec<Job>,
    next_id: JobId,
}

impl Jobs {
    /// Queues a move; returns its id.
    pub fn add(&mut self, spec: MoveSpec, plan: &MovePlan) -> JobId {
        self.next_id += 1;
        self.list.push(Job::new(self.next_id, spec, plan));
        self.next_id
    }

    pub fn get(&self, id: JobId) -> Option<&Job> {
        self.list.iter().find(|j| j.id == id)
    }

    pub fn get_mut(&mut self, id: JobId) -> Option<&mut Job> {
        self.list.iter_mut().find(|j| j.id == id)
    }

    pub fn running(&self) -> Option<&Job> {
        self.list
            .iter()
            .find(|j| matches!(j.state, JobState::Running | JobState::Cancelling))
    }

    pub fn queued(&self) -> usize {
        self.list
            .iter()
            .filter(|j| j.state == JobState::Queued)
            .count()
    }

    pub fn active(&self) -> usize {
        self.list.iter().filter(|j| j.is_active()).count()
    }

    /// The next queued job, marked running, when nothing runs.
    pub fn start_next(&mut self, now: Instant) -> Option<&Job> {
        if self.running().is_some() {
            return None;
        }
        let job = self.list.iter_mut().find(|j| j.state == JobState::Queued)?;
        job.state = JobState::Running;
        job.started = Some(now);
        job.last_update = Some(now);
        Some(job)
    }

    /// Cancels the running job (between snapshots) and drops every queued one.
    /// Returns (running cancelled, queued dropped).
    pub fn cancel_all(&mut self) -> (bool, usize) {
        let mut running = false;
        let mut dropped = 0;
        for job in &mut self.list {
            match job.state {
                JobState::Running => {
                    job.cancel.cancel();
                    job.state = JobState::Cancelling;
                    running = true;
                }
                JobState::Queued => {
                    job.state = JobState::Finished;
                    dropped += 1;
                }
                _ => {}
            }
        }
        (running, dropped)
    }
}

/// `1:05`, `1:02:03`.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> MoveSpec {
        MoveSpec::Groups {
            groups: vec![(Namespace::root(), GroupId::parse("vm/100").unwrap())],
            target: Namespace::parse("a").unwrap(),
            merge: true,
        }
    }

    #[test]
    fn rate_and_eta_follow_the_last_update() {
        let mut jobs = Jobs::default();
        let id = jobs.add(spec(), &MovePlan::default());
        let t0 = Instant::now();
        jobs.start_next(t0);
        let job = jobs.get_mut(id).unwrap();
        job.snaps_total = 30;
        job.snaps_done = 10;
        job.last_update = Some(t0 + Duration::from_secs(5));
        assert_eq!(job.rate(), Some(2.0));
        assert_eq!(job.eta(), Some(Duration::from_secs(10)));
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(clock(Duration::from_secs(65)), "1:05");
    }

    #[test]
    fn one_job_runs_at_a_time_and_cancel_drops_the_queue() {
        let mut jobs = Jobs::default();
        let a = jobs.add(spec(), &MovePlan::default());
        let b = jobs.add(spec(), &MovePlan::default());
        assert_eq!(jobs.start_next(Instant::now()).map(|j| j.id), Some(a));
        assert!(jobs.start_next(Instant::now()).is_none());
        assert_eq!(jobs.cancel_all(), (true, 1));
        assert!(jobs.get(a).unwrap().cancel.is_cancelled());
        assert_eq!(jobs.get(b).unwrap().state, JobState::Finished);
        assert_eq!(jobs.active(), 1, "the cancelling job is still active");
    }

    #[test]
    fn affected_namespaces_of_a_namespace_move() {
        let spec = MoveSpec::Namespace(MoveNsRequest {
            ns: Namespace::parse("a/b").unwrap(),
            target_ns: Namespace::parse("c/b").unwrap(),
            max_depth: None,
            delete_source: true,
            merge: false,
        });
        let names: Vec<String> = spec
            .affected_namespaces()
            .iter()
            .map(Namespace::human)
            .collect();
        assert_eq!(names, ["a", "a/b", "c"]);
    }
}
