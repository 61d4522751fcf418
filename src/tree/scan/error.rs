//! What can go wrong reading a datastore tree.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ScanError {
    #[error("namespace '{0}' does not exist")]
    NoNamespace(String),
    #[error("group '{group}' does not exist in namespace '{ns}'")]
    NoGroup { ns: String, group: String },
    #[error("snapshot '{0}' does not exist")]
    NoSnapshot(String),
    #[error("{path} is a symlink; pbs-mover never follows symlinks inside a datastore")]
    Symlink { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Maps an I/O error on `path` into [`ScanError::Io`] naming it.
pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ScanError + '_ {
    move |source| ScanError::Io {
        path: path.to_path_buf(),
        source,
    }
}
