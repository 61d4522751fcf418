//! The move engine: one engine for the CLI and the TUI, for real moves and dry runs.
//!
//! A move calls, in order: [`checks`] (refusals before anything is locked), [`plan`] (the
//! same checks plus every lock conflict it can see — this is the dry run), then
//! [`move_ns`] for a namespace (target namespaces created, groups one by one, a conflicted
//! group retried once, emptied sources removed by [`cleanup`]), or directly the group move:
//! [`lock_and_move`] is PBS's `lock_and_move_group`, the one place a group's snapshots change
//! namespace (a group whose target does not exist moves whole, `lock_and_move/whole_group.rs`).

pub mod checks;
pub mod cleanup;
pub mod lock_and_move;
pub mod move_group;
pub mod move_ns;
pub mod plan;
pub mod request;
