//! The state the UI keeps per move: queued, running, cancelling, finished; counts, rate,
//! ETA and the engine's reports. No ratatui here: the status pane renders this state.

use std::time::{Duration, Instant};

use crate::ops::engine::plan::MovePlan;
use crate::ops::progress::CancelToken;
use crate::ops::report::MoveReport;
use crate::tree::backend::ObjectStats;

use super::moves::{JobId, MoveSpec};

/// Shown in lower case in the quit question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display)]
#[strum(serialize_all = "lowercase")]
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
    /// Tells the engine to stop; set by [`Job::request_cancel`] only, read by the engine only.
    pub cancel: CancelToken,
    pub groups_total: usize,
    pub groups_done: usize,
    pub groups_failed: usize,
    pub snaps_total: usize,
    pub snaps_done: usize,
    /// S3: bucket objects and bytes to copy (the preview's; `resume` adds its listings)
    /// and copied so far.
    pub to_copy: ObjectStats,
    pub copied: ObjectStats,
    /// The group being moved now.
    pub current: Option<String>,
    pub started: Option<Instant>,
    /// When the last progress arrived; rate and ETA are computed up to here, so an idle
    /// screen needs no ticking clock.
    pub last_update: Option<Instant>,
    pub reports: Vec<MoveReport>,
    /// Engine calls that changed nothing (refused, busy).
    pub rejected: Vec<String>,
    /// Groups left at the source because the move was cancelled (one summary line).
    pub cancelled: Vec<String>,
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
            to_copy: plan.s3_copies(),
            copied: ObjectStats::default(),
            current: None,
            started: None,
            last_update: None,
            reports: Vec::new(),
            rejected: Vec::new(),
            cancelled: Vec::new(),
        }
    }

    /// Asks the engine to stop after the current snapshot: `false` unless the job runs and
    /// was not asked yet. The token is only the wire to the engine; the UI reads `state`.
    pub fn request_cancel(&mut self) -> bool {
        if self.state != JobState::Running {
            return false;
        }
        self.cancel.cancel();
        self.state = JobState::Cancelling;
        true
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
                JobState::Running => running |= job.request_cancel(),
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
    use crate::tree::{GroupId, Namespace};

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
}
