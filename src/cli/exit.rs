//! Exit codes of the CLI contract and the error that carries one.

use std::fmt;

use crate::ops::error::MoveError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Done = 0,
    /// Refused or failed; nothing changed.
    Refused = 1,
    Usage = 2,
    /// A lock is held, GC or another move is running; nothing changed.
    Busy = 3,
    /// Some groups moved; the others are still at the source.
    Partial = 4,
    /// Cancelled by the user (Ctrl-C, SIGTERM): what moved stays moved, consistently split.
    Cancelled = 5,
}

/// A failure on its way to the user: one line of text and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn refused(message: impl fmt::Display) -> Self {
        Self {
            exit: Exit::Refused,
            message: message.to_string(),
        }
    }

    pub fn usage(message: impl fmt::Display) -> Self {
        Self {
            exit: Exit::Usage,
            message: message.to_string(),
        }
    }
}

/// The one mapping of an engine error to the contract's exit codes.
impl From<MoveError> for Failure {
    fn from(e: MoveError) -> Self {
        let exit = if matches!(e, MoveError::Cancelled) {
            Exit::Cancelled
        } else if e.is_busy() {
            Exit::Busy
        } else {
            Exit::Refused
        };
        Self {
            exit,
            message: e.to_string(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
