//! The crate-internal items (pbs_mover::ops) the suites call directly, re-exported in one
//! place: a rename of a module in src/ops touches this file, not every suite. The UI's are
//! in [`super::tui`].

pub use pbs_mover::ops::context::MoveContext;
pub use pbs_mover::ops::engine::lock_and_move::GROUP_RENAME_OFF_ENV;
pub use pbs_mover::ops::engine::move_group::move_group;
pub use pbs_mover::ops::engine::move_groups::move_groups;
pub use pbs_mover::ops::engine::request::MoveGroupRequest;
pub use pbs_mover::ops::journal::gc as move_journal;
pub use pbs_mover::ops::locks::flock::{self as lock, LockError, LockMode};
pub use pbs_mover::ops::locks::gc as gc_lock;
pub use pbs_mover::ops::locks::holder::LockKind;
pub use pbs_mover::ops::locks::namespace as ns_lock;
pub use pbs_mover::ops::locks::paths::LockPaths;
pub use pbs_mover::ops::progress::{CancelToken, Progress, ProgressEvent};
pub use pbs_mover::ops::recovery::detached::{DetachedReport, FinishedOp};
pub use pbs_mover::ops::recovery::pending::{PendingMove, pending};
pub use pbs_mover::ops::report::FailReason;
#[cfg(feature = "s3-server")]
pub use pbs_mover::ops::report::MoveReport;
pub use pbs_mover::ops::safety::ownership;
pub use pbs_mover::tree::backend::ObjectStats;
pub use pbs_mover::tree::manifest::{
    self as manifest, ArchiveCrypt, CryptMode, ManifestError, VerifyState,
};
