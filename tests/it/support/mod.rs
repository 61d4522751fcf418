//! Shared helpers for the integration tests: generated datastores ([`store`]), the real
//! binary and its outputs ([`cli`]), locks held by other processes ([`locks`]), the embedded
//! S3 server ([`s3`]), the crash harness shared by FS and S3 ([`crash`]), the TUI on a
//! TestBackend ([`tui`]) and in a pseudo-terminal ([`pty`]).

pub mod api;
pub mod cli;
pub mod crash;
pub mod locks;
pub mod pty;
#[cfg(feature = "s3-server")]
pub mod s3;
pub mod store;
pub mod tui;

pub use cli::*;
pub use locks::*;
pub use store::*;
