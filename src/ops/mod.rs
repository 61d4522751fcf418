//! Operations on a datastore: PBS-compatible locks, move plans, the move engine, journals.
//! Nothing here may depend on the UI.
//!
//! A move, top to bottom: the CLI or the TUI builds a [`context::MoveContext`] (datastore,
//! lock paths, PBS version, crash-journal dir) and a request ([`engine::request`]); the
//! [`engine`] checks and plans it, takes the [`locks`], journals every step ([`journal`]) and
//! reports through [`progress`] and [`report`]. [`recovery`] finishes or reverses what a crash
//! or a user left behind, from the crash journal and the disk.
//!
//! Beside the four folders: [`pbs_version`] (which PBS runs here, so which lock schemes a
//! move honours — read by the context and shown by the CLI), [`safety`] (refusing untrusted
//! dirs and symlinks, owning what we create as `backup`) and [`failpoint`] (crash points for
//! the crash tests, passed by the engine and the journal).

pub mod context;
pub mod engine;
pub mod error;
pub mod failpoint;
pub mod journal;
pub mod locks;
pub mod pbs_version;
pub mod progress;
pub mod recovery;
pub mod report;
pub mod safety;
pub mod verify;
