//! The snapshot-by-snapshot path's batches, each locked one batch ahead.
//!
//! Each batch is locked whole, in time order, and read under its locks before any of it is
//! renamed, as before. What changes is who does it: while this thread journals and renames
//! batch k, a second thread drops batch k-1's locks (unlinking the renamed snapshots' source
//! lock files while still holding them, as PBS's `move_to` does) and locks and reads batch
//! k+1. Those are a third of a large merge's syscalls, and none of them touches what the
//! renames change. At most two batches are held at once, so this runs only where the lock
//! budget holds two; a group of one batch is moved on the calling thread.
//!
//! A group moved whole is one batch of every snapshot: there the reads run on a second
//! thread behind the locking, and the closes behind the lock-file removal.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

use super::{GroupMove, index_paths};
use crate::ops::context::MoveContext;
use crate::ops::error::{MoveError, io_failed};
use crate::ops::locks::dir::LockDir;
use crate::ops::locks::move_set::{
    SnapshotLock, SnapshotLocks, TELL_EVERY, snapshot_batch, snapshot_lock_budget,
    take_snapshot_locks, take_snapshot_locks_telling,
};
use crate::ops::locks::old_scheme::remove_manifest_lock;
use crate::ops::safety::snapshot_listing::SnapshotEntries;
use crate::tree::{GroupId, Namespace, SnapshotTime};

/// The snapshots of a batch still there under their locks, each with the post-rename paths
/// of its index files.
pub(super) type Present = Vec<(SnapshotTime, Vec<PathBuf>)>;

/// A batch locked and read: what its renames go on with.
pub(super) struct LockedBatch {
    pub locks: SnapshotLocks,
    pub present: Present,
}

/// A batch done with, on its way to the thread that releases it: its locks, and which of
/// its snapshots were renamed.
pub(super) struct Release {
    pub locks: SnapshotLocks,
    pub renamed: Vec<SnapshotTime>,
}

/// The part of a batch that never changes the datastore: locking the snapshots, reading
/// their index lists, and dropping the locks again.
pub(super) struct SnapshotLocker<'a> {
    pub ctx: &'a MoveContext,
    pub ns: &'a Namespace,
    pub group: &'a GroupId,
    pub target_ns: &'a Namespace,
    /// Each snapshot dir's entries as a check read them (see `GroupMove::listings`).
    pub listings: Option<&'a SnapshotEntries>,
    /// The source group dir.
    pub src: BorrowedFd<'a>,
}

impl SnapshotLocker<'_> {
    /// Locks `batch` (stopping at the first conflict) and reads it under the locks: the
    /// index list must be the one that gets renamed.
    pub fn lock(&self, batch: &[SnapshotTime]) -> Result<LockedBatch, MoveError> {
        if batch.len() < OVERLAP_FROM {
            let locks = take_snapshot_locks(self.ctx, self.ns, self.group, batch)?;
            let present = self.present(batch)?;
            return Ok(LockedBatch { locks, present });
        }
        // A second thread reads the snapshots locked so far while this one locks the rest:
        // each is still read under its lock, and the reads are a fifth of the locking's
        // syscalls.
        std::thread::scope(|scope| {
            let (tell, told) = channel::<usize>();
            let reader = scope.spawn(move || {
                let mut present = Vec::with_capacity(batch.len());
                let mut read = 0;
                for locked in told {
                    present.extend(self.present(&batch[read..locked])?);
                    read = locked;
                }
                Ok::<_, MoveError>(present)
            });
            let locks =
                take_snapshot_locks_telling(self.ctx, self.ns, self.group, batch, &mut |n| {
                    let _ = tell.send(n);
                });
            if locks.is_ok() {
                let _ = tell.send(batch.len());
            }
            drop(tell);
            let present = reader
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            Ok(LockedBatch {
                locks: locks?,
                present: present?,
            })
        })
    }

    /// The snapshots of `batch` still there (a prune may have removed one since the
    /// listing), each with the post-rename paths of its index files.
    fn present(&self, batch: &[SnapshotTime]) -> Result<Present, MoveError> {
        let ds = &self.ctx.ds;
        let mut present = Vec::with_capacity(batch.len());
        for time in batch {
            let src = ds.snapshot_path(self.ns, self.group, time);
            let dst = ds.snapshot_path(self.target_ns, self.group, time);
            let read = self.listings.and_then(|r| r.get(OsStr::new(time.as_str())));
            if let Some(indices) = index_paths(self.src, time, (&src, &dst), read)? {
                present.push((time.clone(), indices));
            }
        }
        Ok(present)
    }

    /// The renamed snapshots' stale source lock files (removed while still held, as PBS
    /// does), then every lock of the batch.
    pub fn release(&self, locks: SnapshotLocks, renamed: &[SnapshotTime]) {
        self.remove_stale(&locks.dir, renamed);
        drop(locks);
    }

    /// [`Self::release`] of a group moved whole (`locks` taken for exactly `times`, in
    /// order, every one renamed): a second thread closes the locks of each part whose lock
    /// files this one has removed, while this one removes the next part's. Closing 10,000
    /// locks is a third of the release; each is still closed after its lock files are gone.
    pub fn release_all(&self, locks: SnapshotLocks, times: &[SnapshotTime]) {
        if times.len() < OVERLAP_FROM {
            return self.release(locks, times);
        }
        let (dir, held) = locks.into_parts();
        let mut held = held.into_iter();
        std::thread::scope(|scope| {
            let (close, closing) = channel::<Vec<SnapshotLock>>();
            scope.spawn(move || closing.into_iter().for_each(drop));
            for part in times.chunks(TELL_EVERY) {
                self.remove_stale(&dir, part);
                // Dropped here instead should the thread be gone.
                let _ = close.send(held.by_ref().take(part.len()).collect());
            }
        });
    }

    /// The stale source lock files of the renamed snapshots `renamed`, removed while their
    /// locks are still held, as PBS does.
    fn remove_stale(&self, dir: &LockDir, renamed: &[SnapshotTime]) {
        let paths = &self.ctx.locks;
        for time in renamed {
            dir.remove(&paths.manifest(self.ns, self.group, time));
            dir.remove(&paths.snapshot(self.ns, self.group, time));
            if self.ctx.old_locks() {
                remove_manifest_lock(&paths.old_manifest(self.ns, self.group, time));
            }
        }
    }

    /// The second thread: locks the batches one after the other, each only once the
    /// previous one was taken (`ready` holds none), releasing the finished ones in between.
    /// Stops at the first batch that cannot be locked, or when the mover stops taking them.
    fn lock_ahead<'t>(
        &self,
        batches: impl Iterator<Item = &'t [SnapshotTime]>,
        ready: SyncSender<Result<LockedBatch, MoveError>>,
        done: Receiver<Release>,
    ) {
        for batch in batches {
            for finished in done.try_iter() {
                self.release(finished.locks, &finished.renamed);
            }
            let locked = self.lock(batch);
            let failed = locked.is_err();
            if ready.send(locked).is_err() || failed {
                break;
            }
        }
        for finished in done {
            self.release(finished.locks, &finished.renamed);
        }
    }
}

/// Batches from this size on are read while being locked and released while being closed
/// (two threads): below it, starting a thread costs more than it saves.
const OVERLAP_FROM: usize = 512;

/// The batch size when batches are locked ahead (PBS's 512 at most): small, so that what
/// nothing overlaps (locking the first batch, releasing the last) stays short; two thread
/// handoffs and one GC-journal append per batch keep it from being smaller.
const AHEAD_BATCH: usize = 128;

impl GroupMove<'_> {
    /// Every snapshot of `times` into the (locked, existing) target group, batch by batch.
    pub(super) fn move_batches(&mut self, times: &[SnapshotTime]) -> Result<(), MoveError> {
        let size = snapshot_batch(self.ctx);
        let ahead = size.min(AHEAD_BATCH);
        if times.len() <= ahead || snapshot_lock_budget(self.ctx) < 2 * ahead {
            for batch in times.chunks(size) {
                let src = self.group_dirs()?.src.as_fd();
                let locked = self.locker(src).lock(batch)?;
                let (release, result) = self.move_locked(locked, times.len());
                let src = self.group_dirs()?.src.as_fd();
                self.locker(src).release(release.locks, &release.renamed);
                result?;
            }
            return Ok(());
        }
        // The second thread borrows nothing of `self`, which the renames change.
        let listings = self.listings.take();
        let result = self.move_batches_ahead(times, ahead, listings.as_deref());
        self.listings = listings;
        result
    }

    fn move_batches_ahead(
        &mut self,
        times: &[SnapshotTime],
        size: usize,
        listings: Option<&SnapshotEntries>,
    ) -> Result<(), MoveError> {
        let src = self.group_dirs()?.src.try_clone().map_err(|e| {
            let dir = self.ctx.ds.group_path(self.ns, self.group);
            io_failed("cannot open group dir", &dir, e)
        })?;
        let locker = SnapshotLocker {
            ctx: self.ctx,
            ns: self.ns,
            group: self.group,
            target_ns: self.target_ns,
            listings,
            src: src.as_fd(),
        };
        std::thread::scope(|scope| {
            let (ready_tx, ready) = sync_channel(0);
            let (done, done_rx) = channel();
            let locker = &locker;
            scope.spawn(move || locker.lock_ahead(times.chunks(size), ready_tx, done_rx));
            for _ in times.chunks(size) {
                let Ok(locked) = ready.recv() else {
                    return Err(MoveError::failed("internal error: the lock thread stopped"));
                };
                let (release, result) = self.move_locked(locked?, times.len());
                // The thread is gone only if it panicked, which the scope re-raises.
                let _ = done.send(release);
                result?;
            }
            Ok(())
        })
    }
}
