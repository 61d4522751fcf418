//! `resume`: unfinished moves finished from the command line.

use serde::Serialize;

use super::args::{GlobalArgs, ResumeArgs};
use super::context::open_context;
use super::exit::{Exit, Failure};
use super::moves::{FailedEntry, exit_for, failed_entries};
use super::progress::Reporter;
use super::wait::{WaitEnd, WaitLimit, Waiter, busy_in_plan};
use super::{print_json, print_out};
use crate::ops::context::MoveContext;
use crate::ops::error::MoveError;
use crate::ops::progress::Progress;
use crate::ops::recovery::pending::{running, running_label};
use crate::ops::recovery::resume::{ResumeOutcome, ResumedOp, resume};
use crate::ops::recovery::resume_plan::{PlannedResume, plan_resume, predicted_report};
use crate::ops::report::{MovedGroup, OrphanEntry};
use crate::tree::Namespace;

/// The move JSON shape of DESIGN.md §2 with op "resume", plus what was done (or, with
/// `--dry-run`, what would be done) per operation.
#[derive(Debug, Serialize)]
struct ResumeOutput<O: Serialize> {
    ok: bool,
    op: &'static str,
    dry_run: bool,
    moved: Vec<MovedGroup>,
    failed: Vec<FailedEntry>,
    error: Option<String>,
    /// True when there was nothing to resume (a second run).
    nothing_to_do: bool,
    operations: Vec<O>,
    /// Moves another process runs right now: skipped, not interrupted.
    running: Vec<RunningOp>,
    namespaces_created: Vec<Namespace>,
    namespaces_removed: Vec<Namespace>,
    orphans: Vec<OrphanEntry>,
    warnings: Vec<String>,
}

/// A move `resume` skipped because its process still runs it.
#[derive(Debug, Serialize)]
struct RunningOp {
    id: String,
    op: String,
    pid: Option<u32>,
}

/// The moves running right now (their journal is locked), read before `resume` starts:
/// it leaves them alone, and the user should know why.
fn running_ops(ctx: &MoveContext) -> Vec<RunningOp> {
    let Ok(list) = running(ctx) else {
        return Vec::new(); // `resume` itself reports an unreadable journal
    };
    list.into_iter()
        .map(|(e, pid)| RunningOp {
            op: e
                .begin()
                .map_or_else(String::new, |(op, _, _)| op.describe()),
            id: e.id,
            pid,
        })
        .collect()
}

fn running_text(running: &[RunningOp]) -> String {
    running
        .iter()
        .map(|r| {
            format!(
                "skipped {} ({}): {}, not interrupted; it finishes there\n",
                r.op,
                r.id,
                running_label(r.pid)
            )
        })
        .collect()
}

fn failed_output(error: String) -> ResumeOutput<ResumedOp> {
    ResumeOutput {
        ok: false,
        op: "resume",
        dry_run: false,
        moved: Vec::new(),
        failed: Vec::new(),
        error: Some(error),
        nothing_to_do: false,
        operations: Vec::new(),
        running: Vec::new(),
        namespaces_created: Vec::new(),
        namespaces_removed: Vec::new(),
        orphans: Vec::new(),
        warnings: Vec::new(),
    }
}

pub fn run_resume(global: &GlobalArgs, args: &ResumeArgs) -> Result<Exit, Failure> {
    let json = args.json || global.json_progress;
    if args.dry_run {
        return plan_and_print(global, json);
    }
    let (reporter, progress) = Reporter::start_move(global, json);
    let limit = WaitLimit::from_arg(args.wait.wait);
    reporter.conclude(|| resume_and_print(global, json, limit, &reporter, &progress))
}

/// `resume --dry-run`: the journal and the disk read, nothing locked, created or written.
fn plan_and_print(global: &GlobalArgs, json: bool) -> Result<Exit, Failure> {
    let mut running = Vec::new();
    let planned = open_context(global).and_then(|ctx| {
        running = running_ops(&ctx);
        plan_resume(&ctx).map_err(Failure::from)
    });
    let plans = match planned {
        Ok(p) => p,
        Err(f) => {
            if json {
                let mut out = failed_output(f.message.clone());
                out.dry_run = true;
                print_json(&out);
            }
            return Err(f);
        }
    };
    let report = predicted_report(&plans);
    let errors: Vec<String> = plans
        .iter()
        .filter_map(|p| p.error.as_ref().map(|e| format!("{}: {e}", p.id)))
        .collect();
    let exit = if plans.iter().any(|p| p.busy) {
        Exit::Busy
    } else if !errors.is_empty() {
        Exit::Refused
    } else {
        exit_for(&report)
    };
    if json {
        print_json(&ResumeOutput {
            ok: exit == Exit::Done,
            op: "resume",
            dry_run: true,
            failed: failed_entries(&report),
            moved: report.moved,
            error: (!errors.is_empty()).then(|| errors.join("; ")),
            nothing_to_do: plans.is_empty(),
            operations: plans,
            running,
            namespaces_created: report.namespaces_created,
            namespaces_removed: report.namespaces_removed,
            orphans: report.orphans,
            warnings: report.warnings,
        });
    } else {
        eprint!("{}", running_text(&running));
        print_out(&plan_text(&plans));
    }
    Ok(exit)
}

fn plan_text(plans: &[PlannedResume]) -> String {
    if plans.is_empty() {
        return "dry run: nothing to resume: no unfinished moves for this datastore\n".into();
    }
    let mut text = String::new();
    for p in plans {
        text.push_str(&format!(
            "dry run: would resume {} {} ({}):\n",
            p.state, p.op, p.id
        ));
        for a in &p.actions {
            text.push_str(&format!("  {a}\n"));
        }
        if let Some(plan) = &p.plan {
            for line in super::plan_text::render(plan).lines() {
                text.push_str(&format!("    {line}\n"));
            }
        }
        if let Some(e) = &p.error {
            text.push_str(&format!("  would stop: {e}\n"));
        }
    }
    text
}

/// `resume --wait`: waits while its dry run sees something busy, and again while a resume
/// only found locks held (nothing changed) and time is left.
fn resume_waiting(
    ctx: &MoveContext,
    limit: WaitLimit,
    reporter: &Reporter,
    progress: &Progress,
) -> Result<ResumeOutcome, MoveError> {
    let mut waiter = Waiter::new(limit);
    let say = |line: &str| reporter.say(line);
    let probe = || match plan_resume(ctx) {
        Err(e) => e.is_busy().then(|| e.to_string()),
        Ok(plans) => plans
            .iter()
            .find(|p| p.busy)
            .and_then(|p| p.error.clone())
            .or_else(|| {
                plans
                    .iter()
                    .find_map(|p| busy_in_plan(&Ok(p.plan.clone()?)))
            }),
    };
    loop {
        if let WaitEnd::Cancelled(message) = waiter.until_free(&progress.cancel, &say, probe) {
            reporter.say(&message);
            return Err(MoveError::Cancelled);
        }
        let result = resume(ctx, progress);
        let busy = match &result {
            Err(e) => e.is_busy(),
            Ok(o) => o.busy() && o.report.moved.is_empty() && o.report.snapshots_moved() == 0,
        };
        if !(busy && waiter.again()) {
            return result;
        }
    }
}

fn resume_and_print(
    global: &GlobalArgs,
    json: bool,
    limit: WaitLimit,
    reporter: &Reporter,
    progress: &Progress,
) -> Result<Exit, Failure> {
    let mut running = Vec::new();
    let outcome = open_context(global).and_then(|ctx| {
        running = running_ops(&ctx);
        resume_waiting(&ctx, limit, reporter, progress).map_err(Failure::from)
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(f) => {
            if json {
                print_json(&failed_output(f.message.clone()));
            }
            return Err(f);
        }
    };
    let errors = outcome.errors();
    let mut exit = exit_for(&outcome.report);
    if outcome.busy() {
        exit = Exit::Busy;
    } else if !errors.is_empty() && exit == Exit::Done {
        exit = Exit::Refused;
    }
    let nothing = outcome.operations.is_empty();
    if json {
        let r = outcome.report;
        print_json(&ResumeOutput {
            ok: exit == Exit::Done,
            op: "resume",
            dry_run: false,
            failed: failed_entries(&r),
            moved: r.moved,
            error: (!errors.is_empty()).then(|| errors.join("; ")),
            nothing_to_do: nothing,
            operations: outcome.operations,
            running,
            namespaces_created: r.namespaces_created,
            namespaces_removed: r.namespaces_removed,
            orphans: r.orphans,
            warnings: r.warnings,
        });
    } else {
        eprint!("{}", running_text(&running));
        print_out(&result_text(&outcome));
    }
    Ok(exit)
}

/// What `resume` did, for people (stdout).
fn result_text(outcome: &ResumeOutcome) -> String {
    if outcome.operations.is_empty() {
        return "nothing to resume: no unfinished moves for this datastore\n".into();
    }
    let mut text = String::new();
    for op in &outcome.operations {
        text.push_str(&format!("{} {} ({}):\n", op.status, op.op, op.id));
        for a in &op.actions {
            text.push_str(&format!("  {a}\n"));
        }
        if let Some(e) = &op.error {
            text.push_str(&format!("  error: {e}\n"));
        }
    }
    for m in &outcome.report.moved {
        text.push_str(&format!(
            "moved group '{}' from '{}' to '{}' ({} snapshots)\n",
            m.group, m.ns, m.target_ns, m.snapshots
        ));
    }
    text
}
