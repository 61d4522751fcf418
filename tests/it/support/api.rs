//! The crate-internal items (pbs_mover::ops) the suites call directly, re-exported in one
//! place: a rename of a module in src/ops touches this file, not every suite. The UI's are
//! in [`super::tui`].

pub use pbs_mover::ops::context::MoveContext;
pub use pbs_mover::ops::detached::{DetachedReport, FinishedOp};
pub use pbs_mover::ops::group_mover::GROUP_RENAME_OFF_ENV;
pub use pbs_mover::ops::lock::{self, LockError, LockMode};
pub use pbs_mover::ops::lock_holder::LockKind;
pub use pbs_mover::ops::lock_path::LockPaths;
pub use pbs_mover::ops::moves::move_group;
pub use pbs_mover::ops::plan::MoveGroupRequest;
pub use pbs_mover::ops::progress::{CancelToken, Progress, ProgressEvent};
pub use pbs_mover::ops::report::FailReason;
#[cfg(feature = "s3-server")]
pub use pbs_mover::ops::report::MoveReport;
pub use pbs_mover::ops::resume::{PendingMove, pending};
pub use pbs_mover::ops::{gc_lock, move_journal, ns_lock, op_journal, ownership};
