//! The datastore model: names, config files, locating a datastore, scanning it.
//! Nothing here may depend on the UI.

pub mod backend;
pub mod config;
pub mod datastore;
pub mod glob;
pub mod hex;
pub mod manifest;
pub mod model;
pub mod names;
pub mod natural;
pub mod s3;
pub mod scan;
pub mod search;

pub use datastore::{BackendConfig, Datastore, Locator};
pub use model::{FileInfo, GroupInfo, Listing, ScanWarning, SnapshotInfo};
pub use names::{BackupType, GroupId, NameError, Namespace, SnapshotTime};
