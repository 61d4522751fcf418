//! `resume` and `history`: the operation journal from the command line.

use serde::Serialize;

use super::args::{GlobalArgs, UndoArgs};
use super::context::open_context;
use super::exit::{Exit, Failure};
use super::moves::exit_for;
use super::print_json;
use super::progress::Reporter;
use crate::ops::journal::crash::list_entries;
use crate::ops::progress::Progress;
use crate::ops::recovery::pending::{is_running, running, running_label};
use crate::ops::recovery::resume::{ResumedOp, resume};
use crate::ops::report::{FailedGroup, MovedGroup, OrphanEntry};
use crate::tree::Namespace;

/// The move JSON shape of DESIGN.md §2 with op "resume", plus what was done per operation.
#[derive(Debug, Serialize)]
struct ResumeOutput {
    ok: bool,
    op: &'static str,
    dry_run: bool,
    moved: Vec<MovedGroup>,
    failed: Vec<FailedGroup>,
    error: Option<String>,
    /// True when there was nothing to resume (a second run).
    nothing_to_do: bool,
    operations: Vec<ResumedOp>,
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
fn running_ops(ctx: &crate::ops::context::MoveContext) -> Vec<RunningOp> {
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

fn failed_output(error: String) -> ResumeOutput {
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

pub fn run_resume(global: &GlobalArgs, json: bool) -> Result<Exit, Failure> {
    let json = json || global.json_progress;
    let (reporter, progress) = Reporter::start_move(global, json);
    reporter.conclude(|| resume_and_print(global, json, &progress))
}

fn resume_and_print(global: &GlobalArgs, json: bool, progress: &Progress) -> Result<Exit, Failure> {
    let mut running = Vec::new();
    let outcome = open_context(global).and_then(|ctx| {
        running = running_ops(&ctx);
        resume(&ctx, progress).map_err(|e| Failure {
            exit: if e.is_busy() {
                Exit::Busy
            } else {
                Exit::Refused
            },
            message: e.to_string(),
        })
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
            moved: r.moved,
            failed: r.failed,
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
        for r in &running {
            eprintln!(
                "skipped {} ({}): {}, not interrupted; it finishes there",
                r.op,
                r.id,
                running_label(r.pid)
            );
        }
        print_resumed(&outcome, nothing);
    }
    Ok(exit)
}

fn print_resumed(outcome: &crate::ops::recovery::resume::ResumeOutcome, nothing: bool) {
    if nothing {
        eprintln!("nothing to resume: no unfinished moves for this datastore");
    } else {
        for op in &outcome.operations {
            eprintln!("{} {} ({}):", op.status, op.op, op.id);
            for a in &op.actions {
                eprintln!("  {a}");
            }
            if let Some(e) = &op.error {
                eprintln!("  error: {e}");
            }
        }
        for m in &outcome.report.moved {
            eprintln!(
                "moved group '{}' from '{}' to '{}' ({} snapshots)",
                m.group, m.ns, m.target_ns, m.snapshots
            );
        }
    }
}

#[derive(Debug, Serialize)]
struct HistoryItem {
    id: String,
    op: String,
    started: u64,
    /// "ok", "partial", "failed", "busy", "cancelled", "refused", "gave-up", "unfinished" or
    /// "running" (another process runs it right now).
    status: String,
    groups: usize,
    snapshots_renamed: usize,
}

pub fn run_history(global: &GlobalArgs, json: bool) -> Result<Exit, Failure> {
    let ds = super::open_datastore(global)?;
    let state = global.state_dir.as_path();
    let entries = list_entries(state, &ds.name, &ds.base).map_err(Failure::refused)?;
    let items: Vec<HistoryItem> = entries
        .iter()
        .filter_map(|e| {
            let (op, _, started) = e.begin()?;
            let groups = e.groups();
            Some(HistoryItem {
                id: e.id.clone(),
                op: op.describe(),
                started,
                status: match e.status() {
                    Some(s) => s.to_string(),
                    // Its process still holds the journal: not interrupted.
                    None if is_running(&e.path) => "running".to_string(),
                    None => "unfinished".to_string(),
                },
                groups: groups.len(),
                snapshots_renamed: groups.iter().map(|g| g.renamed.len()).sum(),
            })
        })
        .collect();
    if json {
        print_json(
            &serde_json::json!({"ok": true, "op": "history", "moves": items, "error": null}),
        );
    } else {
        for i in &items {
            println!(
                "{}  {:<10}  {}  ({} group(s), {} snapshot(s))",
                i.id, i.status, i.op, i.groups, i.snapshots_renamed
            );
        }
    }
    Ok(Exit::Done)
}

/// `undo [--last | ID] [--dry-run] [--json]`: the reverse move, run (or planned) like any move,
/// after checking that the datastore still holds exactly what the move left.
pub fn run_undo(global: &GlobalArgs, args: &UndoArgs) -> Result<Exit, Failure> {
    use crate::ops::engine::plan::{plan_move_group, plan_move_namespace};
    use crate::ops::error::MoveError;
    use crate::ops::recovery::undo::{Reverse, check_unchanged, pick, reverse_of, undo};
    let op = "undo";
    let json = args.json || global.json_progress;
    let running = (!args.dry_run).then(|| Reporter::start_move(global, json));
    let to_failure = |e: MoveError| Failure {
        exit: if e.is_busy() {
            Exit::Busy
        } else {
            Exit::Refused
        },
        message: e.to_string(),
    };
    let prepared = (|| -> Result<_, Failure> {
        let ctx = open_context(global)?;
        // Before the journal is read: a user who may not undo need not be able to read it.
        ctx.check_writer().map_err(to_failure)?;
        let state = global.state_dir.as_path();
        let entries = list_entries(state, &ctx.ds.name, &ctx.ds.base).map_err(Failure::refused)?;
        let entry = pick(&entries, args.id.as_deref())
            .map_err(Failure::refused)?
            .clone();
        let reverse = reverse_of(&entry).map_err(Failure::refused)?;
        if args.dry_run {
            ctx.check_datastore().map_err(to_failure)?;
            check_unchanged(&ctx, &entry).map_err(to_failure)?;
        }
        Ok((ctx, entry, reverse))
    })();
    let (ctx, entry, reverse) = match prepared {
        Ok(p) => p,
        Err(f) => {
            if json {
                let mut out = failed_output(f.message.clone());
                out.op = op;
                out.dry_run = args.dry_run;
                print_json(&out);
            }
            return Err(f);
        }
    };
    match (&reverse, running) {
        (Reverse::Group(req), None) => {
            super::moves::finish_plan(op, json, plan_move_group(&ctx, req))
        }
        (Reverse::Namespace(req), None) => {
            super::moves::finish_plan(op, json, plan_move_namespace(&ctx, req))
        }
        (_, Some((reporter, progress))) => {
            let result = undo(&ctx, &entry, &reverse, &progress);
            reporter.conclude(|| super::moves::finish_move(op, json, result))
        }
    }
}
