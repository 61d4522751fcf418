//! The move engine: one engine for the CLI and the TUI, for real moves and dry runs.
//!
//! What it owns: the [`request`] (what the user asked for), the refusals ([`checks`]), the
//! dry-run [`plan`], and the two operations. In the order a move calls them:
//!
//! 1. [`checks`] — refusals before anything is locked (also what [`plan`] reports);
//! 2. [`move_group`] / [`move_ns`] — the operation: the context's datastore checks and GC
//!    exclusion, the namespace locks, the crash journal opened; for a namespace move the
//!    target namespaces created parent-first and the groups moved one by one (a
//!    lock-conflicted group retried once after the others);
//! 3. [`lock_and_move`] — PBS's `lock_and_move_group` for each group, the one place a
//!    group's snapshots change namespace (a group whose target does not exist yet moves whole:
//!    `lock_and_move/whole_group.rs`);
//! 4. [`cleanup`] — emptied source namespaces removed deepest-first (or kept, with why);
//! 5. back in [`move_group`]: the journal closed with its status, the report sent.
//!
//! [`move_groups`] runs several groups of one namespace as one journaled operation (one crash
//! journal, one status), the way a namespace move runs its groups. Both record every group's
//! plan up front with one journal sync ([`group_plans`]).

pub mod checks;
pub mod cleanup;
pub mod group_plans;
pub mod lock_and_move;
pub mod move_group;
pub mod move_groups;
pub mod move_ns;
pub mod plan;
pub mod request;
pub mod symlinks;
