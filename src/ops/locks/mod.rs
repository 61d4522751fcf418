//! Every lock a move takes or honours, PBS's and our own.
//!
//! In the order a move takes them: the datastore is registered as busy for unmount and
//! s3-refresh ([`active_ops`]) and GC is excluded for the whole operation ([`gc`]); then the
//! namespace locks ([`namespace`]) and the group and snapshot locks of every scheme a PBS on
//! this host may use — lock files ([`flock`] at the paths of [`paths`], relative to an open
//! lock dir, [`dir`]) and PBS < 3.3.5's directory flocks ([`old_scheme`]). [`move_set`] is the
//! engine's view: the deduplicated, ordered lock set of one move, with conflicts as `Busy`.
//! [`holder`] names the process behind a conflict.

pub mod active_ops;
pub mod backup_identity;
pub mod dir;
pub mod flock;
pub mod gc;
pub mod holder;
pub mod move_set;
pub mod namespace;
pub mod old_scheme;
pub mod paths;
