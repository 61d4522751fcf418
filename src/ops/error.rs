//! Typed move errors: callers must tell a lock conflict (retry later) from a refusal.

use thiserror::Error;

use crate::ops::locks::flock::LockError;
use crate::ops::safety::ownership::CannotOwn;
use crate::tree::backend::BackendError;
use crate::tree::scan::error::ScanError;

#[derive(Debug, Error)]
pub enum MoveError {
    /// A precondition does not hold; nothing was changed. Exit code 1.
    #[error("{0}")]
    Refused(String),
    /// A lock is held (backup, verify, GC, another move); nothing was changed. Exit code 3.
    #[error("{0}")]
    Busy(String),
    /// The operation failed while running; what was done is reported separately.
    #[error("{0}")]
    Failed(String),
    /// The user cancelled between snapshots.
    #[error("cancelled")]
    Cancelled,
}

impl MoveError {
    pub fn refused(msg: impl Into<String>) -> Self {
        Self::Refused(msg.into())
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        Self::Failed(msg.into())
    }

    pub fn is_busy(&self) -> bool {
        matches!(self, Self::Busy(_))
    }

    /// A lock that could not be taken: `Busy` when another process holds it, `Failed` on
    /// I/O trouble. `what` names what the lock protects: "group vm/100 in namespace 'a'".
    pub fn from_lock(what: &str, e: LockError) -> Self {
        if e.is_conflict() {
            Self::Busy(e.with_what(what).to_string())
        } else {
            Self::failed(format!("cannot lock {what}: {e}"))
        }
    }
}

impl From<ScanError> for MoveError {
    fn from(e: ScanError) -> Self {
        match e {
            // A fault, not a verdict: `resume` treats `Refused` as final and would never retry.
            ScanError::Io { .. } => Self::Failed(e.to_string()),
            ScanError::NoNamespace(_)
            | ScanError::NoGroup { .. }
            | ScanError::NoSnapshot(_)
            | ScanError::Symlink { .. } => Self::Refused(e.to_string()),
        }
    }
}

impl From<CannotOwn> for MoveError {
    /// A refusal (exit 1): nothing was touched, and retrying as the same user cannot help.
    fn from(e: CannotOwn) -> Self {
        Self::Refused(e.to_string())
    }
}

impl From<BackendError> for MoveError {
    fn from(e: BackendError) -> Self {
        Self::Failed(e.0)
    }
}

/// Adds context to an I/O error on a path, as a `Failed` move error.
pub fn io_failed(what: &str, path: &std::path::Path, e: std::io::Error) -> MoveError {
    MoveError::Failed(format!("{what} {}: {e}", path.display()))
}

/// The refusal for a symlink found where a move would rename or read (`path`).
pub fn symlink_refusal(path: &std::path::Path) -> MoveError {
    MoveError::refused(format!(
        "{} is a symlink; pbs-mover never moves or follows symlinks inside a datastore — replace it with the real directory or file first",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_io_error_is_a_fault_not_a_refusal() {
        let io = ScanError::Io {
            path: "/x".into(),
            source: std::io::Error::other("EIO"),
        };
        assert!(matches!(MoveError::from(io), MoveError::Failed(_)));
        let missing = ScanError::NoNamespace("a".into());
        assert!(matches!(MoveError::from(missing), MoveError::Refused(_)));
    }
}
