//! Why a manifest could not be read: one short line each, shown after "manifest: ".

use thiserror::Error;

/// A manifest that cannot be read. `Clone` so UI events can carry it; I/O errors are kept
/// as their message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ManifestError {
    /// No `index.json.blob`: the backup has not finished (or was never completed).
    #[error("missing (backup not finished)")]
    Missing,
    #[error("unreadable: {0}")]
    Unreadable(String),
    #[error("too large ({0} bytes)")]
    TooLarge(u64),
    #[error("truncated ({0} bytes)")]
    Truncated(usize),
    #[error("wrong magic (not a PBS blob)")]
    WrongMagic,
    /// PBS never encrypts manifests; an encrypted blob here is not a manifest.
    #[error("encrypted blob (PBS manifests are never encrypted)")]
    Encrypted,
    #[error("bad CRC")]
    BadCrc { stored: u32, computed: u32 },
    #[error("bad zstd data: {0}")]
    BadZstd(String),
    #[error("bad JSON: {0}")]
    BadJson(String),
}

impl ManifestError {
    /// Whether this is a damaged or unreadable manifest (a warning), rather than a backup
    /// that simply has none yet.
    pub fn is_damage(&self) -> bool {
        !matches!(self, ManifestError::Missing)
    }
}
