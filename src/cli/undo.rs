//! `undo [--last | ID] [--dry-run] [--json]`: moves back exactly what a journaled move
//! moved, after checking that it is still where the move left it.

use super::args::{GlobalArgs, UndoArgs};
use super::context::open_context;
use super::exit::{Exit, Failure};
use super::moves::{finish_move, finish_plan, report_failure, run_waiting};
use super::progress::Reporter;
use super::wait::WaitLimit;
use crate::ops::journal::crash::list_entries;
use crate::ops::recovery::undo::{as_move_plan, pick, plan_undo, undo};

pub fn run_undo(global: &GlobalArgs, args: &UndoArgs) -> Result<Exit, Failure> {
    let op = "undo";
    let json = args.json || global.json_progress;
    let running = (!args.dry_run).then(|| Reporter::start_move(global, json));
    let prepared = (|| -> Result<_, Failure> {
        let ctx = open_context(global)?;
        // Before the journal is read: a user who may not undo need not be able to read it.
        ctx.check_writer().map_err(Failure::from)?;
        let state = global.state_dir.as_path();
        let entries = list_entries(state, &ctx.ds.name, &ctx.ds.base).map_err(Failure::refused)?;
        let entry = pick(&entries, args.id.as_deref())
            .map_err(Failure::refused)?
            .clone();
        if args.dry_run {
            ctx.check_datastore().map_err(Failure::from)?;
        }
        // Refuses here (changing nothing) when the move cannot be taken back.
        let plan = plan_undo(&ctx, &entry).map_err(Failure::from)?;
        Ok((ctx, entry, plan))
    })();
    let (ctx, entry, plan) = prepared.map_err(|f| report_failure(op, args.dry_run, json, f))?;
    match running {
        None => finish_plan(op, json, Ok(as_move_plan(&ctx, &plan))),
        Some((reporter, progress)) => {
            if let Some((op, _, _)) = entry.begin() {
                reporter.say(&format!("undoing move {} ({})", entry.id, op.describe()));
            }
            // Busy is all `--wait` waits for; `undo` itself changes nothing when it ends busy.
            let probe = || match plan_undo(&ctx, &entry) {
                Err(e) if e.is_busy() => Some(e.to_string()),
                _ => None,
            };
            let limit = WaitLimit::from_arg(args.wait.wait);
            let result = run_waiting(limit, &reporter, &progress, probe, || {
                undo(&ctx, &entry, &progress)
            });
            reporter.conclude(|| finish_move(op, json, result))
        }
    }
}
