//! `move-group` and `move-ns`: run the engine (or its dry-run), print the result, pick the
//! exit code.

use serde::Serialize;

use super::args::{GlobalArgs, MoveGroupArgs, MoveNsArgs};
use super::context::open_context;
use super::exit::{Exit, Failure};
use super::group_args::{parse_group_args, resolve, single};
use super::progress::Reporter;
use super::wait::{WaitEnd, WaitLimit, Waiter, busy_in_plan};
use super::{parse_ns, print_json};
use crate::ops::context::MoveContext;
use crate::ops::engine::move_group::move_group;
use crate::ops::engine::move_groups::{move_groups, plan_move_groups};
use crate::ops::engine::move_ns::move_namespace;
use crate::ops::engine::plan::{
    MovePlan, merge_into_existing_text, namespace_mapping, plan_move_group, plan_move_namespace,
};
use crate::ops::engine::request::{MoveGroupRequest, MoveNsRequest};
use crate::ops::engine::symlinks::left_by_move;
use crate::ops::error::MoveError;
use crate::ops::progress::Progress;
use crate::ops::report::{
    FailReason, FailedGroup, KeptNamespace, LeftInPlace, MoveReport, MovedGroup, OrphanEntry,
};
use crate::tree::Namespace;

/// The `--json` object of DESIGN.md §2, plus details (extensions are additive).
#[derive(Debug, Serialize)]
struct MoveOutput<'a> {
    ok: bool,
    op: &'a str,
    dry_run: bool,
    moved: Vec<MovedGroup>,
    failed: Vec<FailedEntry>,
    error: Option<String>,
    namespaces_created: Vec<Namespace>,
    namespaces_removed: Vec<Namespace>,
    namespaces_kept: Vec<KeptNamespace>,
    orphans: Vec<OrphanEntry>,
    warnings: Vec<String>,
    /// `move-ns` into a namespace that exists: its name (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    merge_into_existing: Option<Namespace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<MovePlan>,
}

/// One `failed` entry of the JSON: a group that did not move, or a symlink left in place
/// (the same keys, `group` null unless it is a group dir, plus its `path`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum FailedEntry {
    Group(FailedGroup),
    Left(LeftInPlace),
}

/// A report's `failed` entries: its failed groups, then what it left in place.
pub(crate) fn failed_entries(report: &MoveReport) -> Vec<FailedEntry> {
    let groups = report.failed.iter().cloned().map(FailedEntry::Group);
    let left = report.left_in_place.iter().cloned().map(FailedEntry::Left);
    groups.chain(left).collect()
}

/// The exit code a report stands for.
pub fn exit_for(report: &MoveReport) -> Exit {
    if report.is_complete() {
        Exit::Done
    } else if report
        .failed
        .iter()
        .any(|f| f.reason == FailReason::Cancelled)
    {
        // The user asked for it: that, not what was left, is the outcome.
        Exit::Cancelled
    } else if !report.moved.is_empty() || report.snapshots_moved() > 0 {
        Exit::Partial
    } else if report.left_in_place.is_empty()
        && report
            .failed
            .iter()
            .all(|f| f.reason == FailReason::LockConflict)
    {
        Exit::Busy
    } else {
        Exit::Refused
    }
}

/// The request parsed from the arguments, then the datastore opened, in that order; a
/// failure of either is printed as the command's own (`--json`) output.
fn prepare<R>(
    global: &GlobalArgs,
    op: &str,
    dry_run: bool,
    json: bool,
    request: impl FnOnce() -> Result<R, Failure>,
) -> Result<(MoveContext, R), Failure> {
    request()
        .and_then(|req| Ok((open_context(global)?, req)))
        .map_err(|f| report_failure(op, dry_run, json, f))
}

pub fn run_move_group(global: &GlobalArgs, args: &MoveGroupArgs) -> Result<Exit, Failure> {
    let op = "move-group";
    let json = args.json || global.json_progress;
    // Before the datastore is opened (see `Reporter::start_move`); a dry run changes
    // nothing, so Ctrl-C may end it as it always did.
    let running = (!args.dry_run).then(|| Reporter::start_move(global, json));
    let (ctx, (ns, target_ns, patterns)) = prepare(global, op, args.dry_run, json, || {
        Ok((
            parse_ns(&args.ns)?,
            parse_ns(&args.target_ns)?,
            parse_group_args(&args.group)?,
        ))
    })?;
    let groups =
        resolve(&ctx.ds, &ns, &patterns).map_err(|f| report_failure(op, args.dry_run, json, f))?;
    let reqs: Vec<MoveGroupRequest> = groups
        .into_iter()
        .map(|group| MoveGroupRequest {
            ns: ns.clone(),
            group,
            target_ns: target_ns.clone(),
            merge: !args.no_merge,
        })
        .collect();
    let one = single(&patterns).then(|| reqs.first()).flatten();
    let Some((reporter, progress)) = running else {
        let plan = match one {
            Some(req) => plan_move_group(&ctx, req),
            None => plan_move_groups(&ctx, &reqs),
        };
        return finish_plan(op, json, plan);
    };
    let result = run_waiting(
        WaitLimit::from_arg(args.wait.wait),
        &reporter,
        &progress,
        || {
            busy_in_plan(&match one {
                Some(req) => plan_move_group(&ctx, req),
                None => plan_move_groups(&ctx, &reqs),
            })
        },
        || match one {
            Some(req) => move_group(&ctx, req, &progress),
            None => move_groups(&ctx, &reqs, &progress),
        },
    );
    reporter.conclude(|| finish_move(op, json, result))
}

pub fn run_move_ns(global: &GlobalArgs, args: &MoveNsArgs) -> Result<Exit, Failure> {
    let op = "move-ns";
    let json = args.json || global.json_progress;
    let running = (!args.dry_run).then(|| Reporter::start_move(global, json));
    let (ctx, req) = prepare(global, op, args.dry_run, json, || {
        Ok(MoveNsRequest {
            ns: parse_ns(&args.ns)?,
            target_ns: parse_ns(&args.target_ns)?,
            max_depth: args.max_depth,
            delete_source: !args.keep_source,
            merge: !args.no_merge,
        })
    })?;
    let Some((reporter, progress)) = running else {
        // The plan plus what the move would leave in place (symlinks, never followed).
        let left = namespace_mapping(&ctx, &req)
            .map(|m| left_by_move(&ctx, &req, &m))
            .unwrap_or_default();
        return finish_plan_leaving(op, json, plan_move_namespace(&ctx, &req), left);
    };
    let result = run_waiting(
        WaitLimit::from_arg(args.wait.wait),
        &reporter,
        &progress,
        || busy_in_plan(&plan_move_namespace(&ctx, &req)),
        || move_namespace(&ctx, &req, &progress),
    );
    reporter.conclude(|| finish_move(op, json, result))
}

/// Runs a move, with `--wait` first waiting while its dry run (`probe`) sees something busy,
/// and once more whenever the move itself ended busy (a lock taken between the look and
/// the move) while time is left.
pub(crate) fn run_waiting(
    limit: WaitLimit,
    reporter: &Reporter,
    progress: &Progress,
    mut probe: impl FnMut() -> Option<String>,
    mut run: impl FnMut() -> Result<MoveReport, MoveError>,
) -> Result<MoveReport, MoveError> {
    let mut waiter = Waiter::new(limit);
    let say = |line: &str| reporter.say(line);
    loop {
        if let WaitEnd::Cancelled(message) = waiter.until_free(&progress.cancel, &say, &mut probe) {
            reporter.say(&message);
            return Err(MoveError::Cancelled);
        }
        let result = run();
        let busy = match &result {
            Err(e) => e.is_busy(),
            Ok(report) => exit_for(report) == Exit::Busy,
        };
        if !(busy && waiter.again()) {
            return result;
        }
    }
}

fn empty_output(op: &str, dry_run: bool, error: Option<String>) -> MoveOutput<'_> {
    MoveOutput {
        ok: false,
        op,
        dry_run,
        moved: Vec::new(),
        failed: Vec::new(),
        error,
        namespaces_created: Vec::new(),
        namespaces_removed: Vec::new(),
        namespaces_kept: Vec::new(),
        orphans: Vec::new(),
        warnings: Vec::new(),
        merge_into_existing: None,
        plan: None,
    }
}

pub(crate) fn report_failure(op: &str, dry_run: bool, json: bool, f: Failure) -> Failure {
    if json {
        print_json(&empty_output(op, dry_run, Some(f.message.clone())));
    }
    f
}

fn with_report<'a>(op: &'a str, dry_run: bool, report: MoveReport) -> MoveOutput<'a> {
    let error = (!report.is_complete()).then(|| summary_error(&report));
    let failed = failed_entries(&report);
    MoveOutput {
        ok: report.is_complete(),
        op,
        dry_run,
        moved: report.moved,
        failed,
        error,
        namespaces_created: report.namespaces_created,
        namespaces_removed: report.namespaces_removed,
        namespaces_kept: report.namespaces_kept,
        orphans: report.orphans,
        warnings: report.warnings,
        merge_into_existing: report.merge_into_existing,
        plan: None,
    }
}

/// PBS's wording for a partial namespace move, with the groups named.
fn summary_error(report: &MoveReport) -> String {
    let list = |reason: FailReason| -> Vec<String> {
        report
            .failed
            .iter()
            .filter(|f| f.reason == reason)
            .map(|f| format!("'{}' in '{}'", f.group, f.ns.human()))
            .collect()
    };
    let mut msg = format!(
        "{} group(s) could not be moved and remain at the source",
        report.failed.len()
    );
    if !report.left_in_place.is_empty() {
        let paths: Vec<String> = report
            .left_in_place
            .iter()
            .map(|l| l.path.display().to_string())
            .collect();
        msg.push_str(&format!(
            "; {} symlink(s) left in place, never followed: {}",
            paths.len(),
            paths.join(", ")
        ));
    }
    let kinds = [
        (
            FailReason::Error,
            "with an error (investigate before retrying)",
        ),
        (
            FailReason::LockConflict,
            "still lock-conflicted (rerun the move later)",
        ),
        (FailReason::Cancelled, "cancelled"),
    ];
    for (reason, label) in kinds {
        let groups = list(reason);
        if !groups.is_empty() {
            msg.push_str(&format!(
                "; {} {label}: {}",
                groups.len(),
                groups.join(", ")
            ));
        }
    }
    if report.failed.len() == 1 && report.left_in_place.is_empty() {
        msg = format!("{msg}: {}", report.failed[0].message);
    }
    msg
}

pub(crate) fn finish_plan(
    op: &str,
    json: bool,
    plan: Result<MovePlan, MoveError>,
) -> Result<Exit, Failure> {
    finish_plan_leaving(op, json, plan, Vec::new())
}

/// [`finish_plan`] with the symlinks the move would leave in place (`move-ns`).
fn finish_plan_leaving(
    op: &str,
    json: bool,
    plan: Result<MovePlan, MoveError>,
    left: Vec<LeftInPlace>,
) -> Result<Exit, Failure> {
    let plan = match plan {
        Ok(p) => p,
        Err(e) => return Err(refusal(op, true, json, e)),
    };
    let mut report = plan.predicted_report();
    report.left_in_place = left;
    let mut exit = exit_for(&report);
    if !plan.conflicts.is_empty() {
        exit = Exit::Busy;
        report.warnings.extend(plan.conflicts.iter().cloned());
    }
    if json {
        let mut out = with_report(op, true, report.clone());
        if !plan.conflicts.is_empty() {
            out.ok = false;
            out.error = Some(plan.conflicts.join("; "));
        }
        out.plan = Some(plan.clone());
        print_json(&out);
    } else {
        let mut text = super::plan_text::render(&plan);
        for l in &report.left_in_place {
            text.push_str(&format!("LEFT IN PLACE: {}\n", l.message));
        }
        super::print_out(&text);
    }
    Ok(exit)
}

fn refusal(op: &str, dry_run: bool, json: bool, e: MoveError) -> Failure {
    report_failure(op, dry_run, json, Failure::from(e))
}

pub(crate) fn finish_move(
    op: &str,
    json: bool,
    result: Result<MoveReport, MoveError>,
) -> Result<Exit, Failure> {
    let report = match result {
        Ok(r) => r,
        Err(e) => return Err(refusal(op, false, json, e)),
    };
    let exit = exit_for(&report);
    if json {
        print_json(&with_report(op, false, report));
    } else {
        if let Some(ns) = &report.merge_into_existing {
            eprintln!("{}", merge_into_existing_text(ns));
        }
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        let snapshots: usize = report.moved.iter().map(|m| m.snapshots).sum();
        super::print_out(&format!(
            "moved {} group(s), {snapshots} snapshot(s)\n",
            report.moved.len()
        ));
        if !report.is_complete() {
            eprintln!("error: {}", summary_error(&report));
        }
    }
    Ok(exit)
}
