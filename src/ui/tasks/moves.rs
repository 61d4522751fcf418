//! Background moves: what the user asked for ([`MoveSpec`]) and how it runs (one blocking
//! job that calls the one move engine in `crate::ops`, reporting through [`JobMsg`]s).

use std::sync::Arc;

use crate::ops::context::MoveContext;
use crate::ops::engine::move_group::move_group;
use crate::ops::engine::move_groups::move_groups;
use crate::ops::engine::move_ns::move_namespace;
use crate::ops::engine::request::{MoveGroupRequest, MoveNsRequest};
use crate::ops::error::MoveError;
use crate::ops::progress::{CancelToken, Progress, ProgressEvent};
use crate::ops::recovery::resume::{ResumeStatus, resume};
use crate::tree::{GroupId, Namespace};

/// Numbers the moves of one session, from 1.
pub type JobId = u32;

/// What is being moved, before the target is picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveSource {
    Groups(Vec<(Namespace, GroupId)>),
    Namespace(Namespace),
}

impl MoveSource {
    pub fn describe(&self) -> String {
        match self {
            MoveSource::Groups(g) if g.len() == 1 => format!("group {}", g[0].1),
            MoveSource::Groups(g) => format!("{} groups", g.len()),
            MoveSource::Namespace(ns) => format!("namespace {}", ns.human()),
        }
    }
}

/// One move as the user confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveSpec {
    /// One or more groups (possibly from different namespaces) into one target namespace:
    /// one journaled batch per source namespace (see [`run_job`]), one after the other.
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
    /// A group the job did not start because it was cancelled first (it stays at the source);
    /// the log sums these up in one line.
    Cancelled { job: JobId, what: String },
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
            for batch in batches(groups, target, *merge) {
                run_batch(ctx, id, &batch, &progress, emit);
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

/// The marked groups as engine batches: one per source namespace, in the order the
/// namespaces first appear (a batch is one journaled operation of one namespace into one
/// target).
fn batches(
    groups: &[(Namespace, GroupId)],
    target: &Namespace,
    merge: bool,
) -> Vec<Vec<MoveGroupRequest>> {
    let mut out: Vec<Vec<MoveGroupRequest>> = Vec::new();
    for (ns, group) in groups {
        let req = MoveGroupRequest {
            ns: ns.clone(),
            group: group.clone(),
            target_ns: target.clone(),
            merge,
        };
        match out
            .iter_mut()
            .find(|b| b.first().is_some_and(|r| r.ns == *ns))
        {
            Some(batch) => batch.push(req),
            None => out.push(vec![req]),
        }
    }
    out
}

/// One batch: a single group is the plain move-group operation, several are one
/// `move_groups` operation. A batch the cancel reached before it started stays at the
/// source, group by group in the log's one-line summary.
fn run_batch(
    ctx: &MoveContext,
    id: JobId,
    batch: &[MoveGroupRequest],
    progress: &Progress,
    emit: &Emit,
) {
    let what = |r: &MoveGroupRequest| format!("{} ({})", r.group, r.ns.human());
    if progress.cancel.is_cancelled() {
        for r in batch {
            emit(JobMsg::Cancelled {
                job: id,
                what: what(r),
            });
        }
        return;
    }
    let result = match batch {
        [one] => move_group(ctx, one, progress),
        _ => move_groups(ctx, batch, progress),
    };
    // Refused or busy as a whole (a namespace lock, the datastore): each group says so, as
    // when they ran one by one.
    if let Err(e) = result {
        for r in batch {
            emit(rejected(id, what(r), &e));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_groups_batch_per_source_namespace_in_first_seen_order() {
        let ns = |s: &str| Namespace::parse(s).unwrap();
        let g = |s: &str| GroupId::parse(s).unwrap();
        let marked = [
            (ns("b"), g("vm/1")),
            (ns("a"), g("vm/2")),
            (ns("b"), g("ct/3")),
        ];
        let got: Vec<Vec<String>> = batches(&marked, &ns("t"), true)
            .iter()
            .map(|b| {
                b.iter()
                    .map(|r| format!("{}:{}>{}", r.ns.human(), r.group, r.target_ns.human()))
                    .collect()
            })
            .collect();
        assert_eq!(got, [vec!["b:vm/1>t", "b:ct/3>t"], vec!["a:vm/2>t"]]);
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
