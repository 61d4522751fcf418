//! Finishing or reversing moves after the fact, from the crash journal and the disk.
//!
//! [`resume`] finishes (or retries) operations a crash, a kill or a fault cut short: it repairs
//! the group in flight under the move's locks, then runs the operation again. [`undo`] moves a
//! finished operation back exactly. [`detached`] tells the next start what the moves of a TUI
//! whose terminal went away did.

pub mod detached;
pub mod pending;
pub mod repair;
pub mod resume;
pub mod undo;
