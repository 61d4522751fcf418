//! `resume`: unfinished moves finished from the command line.

use serde::Serialize;

use super::args::GlobalArgs;
use super::context::open_context;
use super::exit::{Exit, Failure};
use super::moves::exit_for;
use super::print_json;
use super::progress::Reporter;
use crate::ops::progress::Progress;
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
    namespaces_created: Vec<Namespace>,
    namespaces_removed: Vec<Namespace>,
    orphans: Vec<OrphanEntry>,
    warnings: Vec<String>,
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
    let outcome = open_context(global).and_then(|ctx| {
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
            namespaces_created: r.namespaces_created,
            namespaces_removed: r.namespaces_removed,
            orphans: r.orphans,
            warnings: r.warnings,
        });
    } else if nothing {
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
    Ok(exit)
}
