//! What keeps a move from hurting the host or PBS, applied by the context, the checks and
//! the engine: [`security`] refuses datastores and lock dirs others could rewrite, and
//! symlinks in what moves; [`snapshot_listing`] reads snapshot dirs and tells whether a read
//! still holds under the lock; [`ownership`] makes what we create `backup:backup` with PBS's
//! modes, so proxmox-backup-proxy keeps working.

pub mod ownership;
pub mod security;
pub mod snapshot_listing;
