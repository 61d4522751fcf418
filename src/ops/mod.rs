//! Operations on a datastore: PBS-compatible locks, move plans, the move engine, journals.
//! Nothing here may depend on the UI.

pub mod active_ops;
pub mod checks;
pub mod context;
pub mod detached;
pub mod error;
pub mod failpoint;
pub mod gc_lock;
pub mod group_mover;
pub mod lock;
pub mod lock_dir;
pub mod lock_holder;
pub mod lock_path;
pub mod locking;
pub mod move_journal;
pub mod moves;
pub mod ns_cleanup;
pub mod ns_lock;
pub mod old_locks;
pub mod op_journal;
pub mod ownership;
pub mod pbs_version;
pub mod plan;
pub mod progress;
pub mod report;
pub mod resume;
pub mod security;
pub mod undo;
