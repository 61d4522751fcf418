//! Lazy, symlink-refusing scanning of a datastore tree (filesystem or S3 local cache).

mod groups;
pub use groups::*;
