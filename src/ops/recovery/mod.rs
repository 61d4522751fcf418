//! Finishing or reversing moves after the fact, from the crash journal and the disk.
//!
//! [`pending`] finds the operations `resume` would finish (the TUI offers them at start);
//! [`resume`] runs them: for each, the move's namespace locks, then [`repair`] of the groups
//! a crash caught in flight (under their group locks), then the operation simply run again
//! through the engine, and the journal closed. [`undo`] moves a finished operation back
//! exactly, after checking nothing changed since. [`detached`] tells the next start what the
//! moves of a TUI whose terminal went away did.

pub mod detached;
pub mod leftover;
pub mod pending;
pub mod repair;
pub mod resume;
pub mod resume_plan;
pub mod undo;
