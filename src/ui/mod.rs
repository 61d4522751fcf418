//! The terminal UI: a lazily loaded, read-only browser of namespaces, groups and snapshots.
//!
//! Layout of the module: [`app`] holds the state and turns keys into [`app::Action`]s and
//! side effects into [`app::Command`]s; [`event_loop`] runs it on tokio; [`view`] and the
//! pane modules render it; [`keymap`] loads `assets/keymap.toml` plus the user's override.
//! Nothing outside `src/ui` depends on this module.

pub mod app;
pub mod details;
pub mod event_loop;
pub mod format;
pub mod help;
pub mod keymap;
pub mod model;
pub mod scan_jobs;
pub mod status;
pub mod terminal;
pub mod theme;
pub mod tree_view;
pub mod view;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::tree::Datastore;

use app::App;
use keymap::Keymap;
use status::Level;
use theme::Theme;

/// Opens the TUI on `ds` and returns when the user quits.
pub fn run(ds: Datastore, lock_dir: PathBuf) -> anyhow::Result<()> {
    let started = Instant::now();
    let (keymap, keymap_note) = Keymap::load();
    let mut app = App::new(Arc::new(ds), lock_dir, keymap, Theme::from_env());
    if let Some(note) = keymap_note {
        let level = if note.contains("ignored") {
            Level::Warn
        } else {
            Level::Info
        };
        app.status.push(level, note);
    }
    // Scans run on blocking threads; two async workers are plenty for input and channels.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(event_loop::run(app, started))
}
