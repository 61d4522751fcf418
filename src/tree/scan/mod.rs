//! Lazy, symlink-refusing scanning of a datastore tree (filesystem or S3 local cache).
//!
//! Every function lists one level: listing a namespace never walks the rest of the datastore.
//! Odd entries (stray files, invalid names, symlinks) become warnings and are skipped.
//!
//! `namespaces` lists what a namespace holds, `groups` reads one group and its snapshots
//! (`parallel` reads many), `real_dir` decides whether a path is a real directory, and
//! `nofollow` reads a directory level or a small file without following a symlink.

pub mod error;
mod groups;
mod namespaces;
pub mod nofollow;
pub(crate) mod parallel;
mod real_dir;
