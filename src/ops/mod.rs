//! Operations on a datastore: PBS-compatible locks, move plans, the move engine, journals.
//! Nothing here may depend on the UI.

pub mod lock;
pub mod lock_holder;
pub mod lock_path;
pub mod move_journal;
pub mod ns_lock;
pub mod ownership;
