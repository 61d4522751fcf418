//! What PBS knows about a snapshot, read from its manifest `index.json.blob`: a DataBlob
//! (magic, CRC32, plain or zstd-compressed JSON) with the archive sizes, crypt modes, the
//! verify state and the snapshot notes. Read-only: nothing here writes to a datastore
//! except [`blob::encode`], which the demo and the tests use to write real manifests.
//!
//! `blob` decodes the container, `facts` turns the JSON into [`SnapshotFacts`], `read`
//! finds and reads the files (never through a symlink), `group` sums a group up.

pub mod blob;
mod error;
pub mod facts;
pub mod group;
mod read;

pub use error::ManifestError;
pub use facts::{ArchiveCrypt, CryptMode, SnapshotFacts, Verification, VerifyState};
pub use group::{GroupFacts, read_group_facts, read_newest_facts};
pub use read::{read_facts, read_group_notes};
