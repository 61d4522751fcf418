//! The terminal UI: a lazily loaded browser of namespaces, groups and snapshots, and the
//! move workflow (marks, target picker, dry-run preview, background moves, status log).
//!
//! Layout of the module: [`app`] holds the state and routes keys ([`keys::action::Action`]s
//! from the [`keys`] map) and background results; it asks for side effects with
//! [`tasks::Command`]s that the one [`tasks::executor`] runs; [`event_loop`] runs it all on
//! tokio; [`view`] lays out the [`panes`] and [`popups`], each of which draws itself.
//! Nothing outside `src/ui` depends on this module.

pub mod app;
pub mod event_loop;
pub mod facts;
pub mod format;
pub mod keys;
pub mod model;
pub mod panes;
pub mod popups;
pub mod search;
pub mod sort;
pub mod tasks;
pub mod terminal;
pub mod theme;
pub mod view;

use std::time::Instant;

use crate::ops::context::MoveContext;

use app::App;
use keys::keymap::{Keymap, KeymapOrigin};
use panes::status::Level;
use theme::Theme;

/// Opens the TUI on the context's datastore and returns when the user quits. Moves run
/// through `ctx`, the same engine the CLI uses. `no_mouse`: `--no-mouse`.
pub fn run(ctx: MoveContext, no_mouse: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let (keymap, keymap_origin) = Keymap::load();
    // Interrupted moves are offered for resuming at start (a prompt; `R` opens it later).
    // Reading the journal is a few small files: done before the first frame.
    let pending = crate::ops::recovery::pending::pending(&ctx);
    // What the moves of a TUI that lost its terminal did after that (told once).
    let detached = crate::ops::recovery::detached::take_reports(&ctx);
    let mut app = App::with_context(ctx, keymap, Theme::from_env());
    app.mouse &= !no_mouse;
    match detached {
        Ok(reports) => app.report_detached(&reports),
        Err(e) => app.status.push(
            Level::Warn,
            format!("cannot read what a detached pbs-mover did: {e}"),
        ),
    }
    match pending {
        Ok(pending) => app.offer_resume(pending),
        Err(e) => app.status.push(
            Level::Warn,
            format!("cannot read the operation journal: {e}"),
        ),
    }
    match &keymap_origin {
        KeymapOrigin::Defaults => {}
        KeymapOrigin::Loaded(_) => app.status.push(Level::Info, keymap_origin.to_string()),
        KeymapOrigin::Ignored { .. } => app.status.push(Level::Warn, keymap_origin.to_string()),
    }
    // Scans run on blocking threads; two async workers are plenty for input and channels.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(event_loop::run(app, started));
    // Normal quits happen only after every move stopped; a forced quit must not wait for
    // the move thread (the engine's journal lets `resume` finish a cut move).
    runtime.shutdown_background();
    result
}
