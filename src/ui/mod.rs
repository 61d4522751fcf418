//! The terminal UI.

use std::path::PathBuf;

use crate::tree::Datastore;

/// Opens the TUI on `ds` and returns when the user quits.
pub fn run(_ds: Datastore, _lock_dir: PathBuf) -> anyhow::Result<()> {
    anyhow::bail!("the TUI is not built yet")
}
