//! The one executor of [`Command`]s: runs a command to its end on the calling (blocking)
//! thread and hands every result to a sink. The event loop calls it on a blocking thread
//! with the sink feeding its channel; tests and headless use collect the events inline.

use std::sync::{Arc, Mutex};

use crate::ops::context::MoveContext;
use crate::tree::{Datastore, Namespace};

use super::moves::{Emit, run_job};
use super::{AppEvent, Command, manifests, plan, scans};

/// Where a command's results go. Shared with the move engine's progress callback.
pub type Sink = Arc<dyn Fn(AppEvent) + Send + Sync>;

/// Runs `command` to its end; directory walks, dry runs and moves block.
pub fn execute(ctx: &MoveContext, command: Command, sink: &Sink) {
    match command {
        Command::Scan(req) => scans::run(&ctx.ds, req, &mut |r| sink(AppEvent::Scan(r))),
        Command::ListNamespaces => sink(AppEvent::Namespaces(list_all_namespaces(&ctx.ds))),
        Command::Plan { seq, spec } => {
            let outcome = plan::compute(ctx, &spec);
            sink(AppEvent::Plan { seq, outcome });
        }
        Command::ListPending => {
            let pending = crate::ops::recovery::pending::pending(ctx).map_err(|e| e.to_string());
            sink(AppEvent::Pending(pending));
        }
        Command::BuildIndex { generation } => {
            let result = crate::tree::search::build(&ctx.ds).map_err(|e| e.to_string());
            sink(AppEvent::Index { generation, result });
        }
        Command::IndexComments {
            generation,
            groups,
            cancel,
        } => {
            let stopped = || cancel.is_cancelled();
            let mut send = |batch| {
                sink(AppEvent::Comments {
                    generation,
                    batch,
                    done: false,
                })
            };
            if crate::tree::search::read_comments(&ctx.ds, &groups, &stopped, &mut send) {
                let batch = Vec::new();
                sink(AppEvent::Comments {
                    generation,
                    batch,
                    done: true,
                });
            }
        }
        Command::ReadFacts(req) => sink(AppEvent::Facts(manifests::read_group(&ctx.ds, req))),
        Command::ReadNsFacts {
            seq,
            ns,
            groups,
            cancel,
        } => {
            let mut send = |batch| {
                sink(AppEvent::NsFacts {
                    seq,
                    batch,
                    done: false,
                })
            };
            if manifests::read_groups(&ctx.ds, &ns, &groups, &cancel, &mut send) {
                let batch = Vec::new();
                sink(AppEvent::NsFacts {
                    seq,
                    batch,
                    done: true,
                });
            }
        }
        Command::ReadNotes(req) => sink(AppEvent::Notes(manifests::read_notes(&ctx.ds, req))),
        Command::StartMove { id, spec, cancel } => {
            let sink = Arc::clone(sink);
            let emit: Emit = Arc::new(move |m| sink(AppEvent::Job(m)));
            run_job(ctx, id, &spec, &cancel, &emit);
        }
    }
}

/// Runs a command to the end on this thread; its results as events (tests, headless use).
pub fn run_inline(ctx: &MoveContext, command: Command) -> Vec<AppEvent> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&events);
    let sink: Sink = Arc::new(move |ev| {
        if let Ok(mut v) = into.lock() {
            v.push(ev);
        }
    });
    execute(ctx, command, &sink);
    let events = events.lock().map(|mut v| std::mem::take(&mut *v));
    events.unwrap_or_default()
}

/// Every namespace of the datastore, parents first (for the picker).
fn list_all_namespaces(ds: &Datastore) -> Result<Vec<Namespace>, String> {
    ds.list_namespaces_recursive(&Namespace::root(), None)
        .map(|l| l.items)
        .map_err(|e| e.to_string())
}
