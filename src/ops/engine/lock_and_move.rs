//! PBS's `lock_and_move_group`: the one place where a group's snapshots change namespace.
//!
//! Order (as PBS ≥ 4.1.9): source group lock → re-check → target group created/locked with
//! the source owner → merge invariants → snapshots oldest first, locked in batches of 512 →
//! per snapshot: GC move journal, (S3 copy), rename, (S3 delete) → notes → source removed.
//! A failure part-way leaves a clean time-ordered split: both groups stay valid.
//! A group whose target does not exist yet moves whole, with one rename of its dir under
//! the same locks (`lock_and_move/whole_group.rs`).

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::MutexGuard;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, Stat};
use rustix::io::Errno;

use crate::ops::context::MoveContext;
use crate::ops::engine::checks::{GroupChecked, check_merge, check_move_group_read};
use crate::ops::error::{MoveError, io_failed, symlink_refusal};
use crate::ops::failpoint;
use crate::ops::journal::crash::OpJournal;
use crate::ops::journal::gc::{JournalError, JournalWriter};
use crate::ops::journal::record::{GroupFacts, Record};
use crate::ops::locks::flock::remove_lock_file;
use crate::ops::locks::move_set::{GroupLock, lock_group};
use crate::ops::progress::{Progress, ProgressEvent};
use crate::ops::recovery::leftover::is_empty_leftover;
use crate::ops::report::{FailReason, OrphanEntry};
use crate::ops::safety::security::TreeDepth;
use crate::ops::safety::snapshot_listing::{self, ReadUnder, SnapshotEntries, SnapshotListing};
use crate::tree::backend::{CopyProgress, PreparedMove, SnapshotRef};
use crate::tree::model::{NOTES_FILE, OWNER_FILE, is_index_name};
use crate::tree::{GroupId, Namespace, SnapshotTime};

mod batches;
mod new_group;
mod whole_group;

use batches::{LockedBatch, Present, Release, SnapshotLocker};

pub use whole_group::GROUP_RENAME_OFF_ENV;

/// Why one group did not (completely) move.
#[derive(Debug)]
pub struct GroupFailure {
    pub reason: FailReason,
    pub message: String,
    /// Snapshots that did move before the failure.
    pub moved: usize,
    /// The engine refused it (see [`FailedGroup::refused`]).
    pub refused: bool,
}

impl GroupFailure {
    fn from_error(e: MoveError, moved: usize) -> Self {
        let refused = matches!(e, MoveError::Refused(_));
        let reason = match &e {
            MoveError::Busy(_) => FailReason::LockConflict,
            MoveError::Cancelled => FailReason::Cancelled,
            _ => FailReason::Error,
        };
        let message = match e {
            MoveError::Cancelled => {
                format!("cancelled after {moved} snapshot(s); the rest stay at the source")
            }
            other => other.to_string(),
        };
        Self {
            reason,
            message,
            moved,
            refused,
        }
    }
}

/// What a finished group move produced besides the snapshots.
#[derive(Debug, Default)]
pub struct GroupOutcome {
    pub snapshots: usize,
    pub orphans: Vec<OrphanEntry>,
    pub warnings: Vec<String>,
}

struct GroupMove<'a> {
    ctx: &'a MoveContext,
    progress: &'a Progress,
    ns: &'a Namespace,
    group: &'a GroupId,
    target_ns: &'a Namespace,
    outcome: GroupOutcome,
    /// What we created for the target group, undone if not a single snapshot moved.
    created: Created,
    /// pbs-mover's crash journal (`resume`), when journaling is on.
    journal: Option<&'a OpJournal>,
    /// PBS's GC move journal, kept open for the whole operation.
    gc_journal: MutexGuard<'a, JournalWriter>,
    /// Source and target group dirs, opened once the target is locked.
    dirs: Option<GroupDirs>,
    /// `undo`: only these snapshots move back.
    restore: Option<Restore<'a>>,
    /// The group's `group` record is written.
    recorded: bool,
    /// Each snapshot dir's entries as a check read them: under the source group lock by the
    /// re-check ([`TreeDepth::Snapshots`]; no index file appears in a snapshot of a group
    /// locked by us), or by the caller's pre-flight just before ([`TreeChecked::Read`]).
    /// The index list is taken from them where they still hold, not read again.
    listings: Option<Cow<'a, SnapshotEntries>>,
}

/// What [`GroupMove::run`] goes on with of the source group once it is locked and checked.
struct SourceGroup {
    owner: String,
    /// Oldest first.
    times: Vec<SnapshotTime>,
    /// The group dir's entries, when the check listed them.
    names: Option<Vec<OsString>>,
    /// Each snapshot dir's entries, when the check read them.
    snapshot_entries: Option<SnapshotEntries>,
    /// `(uid, gid)` of the group dir and its owner file, when the check read them.
    owned_by: Option<[(u32, u32); 2]>,
    target_existed: bool,
    type_existed: bool,
}

/// What `undo` moves back of one group (see [`lock_and_restore_snapshots`]).
#[derive(Debug, Clone, Copy)]
pub struct Restore<'a> {
    pub times: &'a [SnapshotTime],
    /// The group being emptied exists only because of the move undone: once these
    /// snapshots are back it goes, with its notes and owner, as a moved group does.
    /// Otherwise it stays, and so do both groups' notes.
    pub whole_group: bool,
}

/// The two group dirs as fds: each snapshot's read and rename then resolves one name
/// instead of walking the whole path again (a third of the per-snapshot cost).
#[derive(Debug)]
struct GroupDirs {
    src: OwnedFd,
    dst: OwnedFd,
}

impl GroupDirs {
    fn open(src: &Path, dst: &Path) -> Result<Self, MoveError> {
        Ok(Self {
            src: open_dir_path(src, "group dir")?,
            dst: open_dir_path(dst, "group dir")?,
        })
    }
}

/// How group and type dirs are opened to rename between them: as an `O_PATH` fd, never
/// through a symlink.
const DIR_PATH_FLAGS: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// An `O_PATH` fd of the dir `p` (a `what`: "group dir", "type dir"), not a symlink.
fn open_dir_path(p: &Path, what: &str) -> Result<OwnedFd, MoveError> {
    rustix::fs::open(p, DIR_PATH_FLAGS, Mode::empty())
        .map_err(|e| io_failed(&format!("cannot open {what}"), p, e.into()))
}

#[derive(Debug, Default)]
struct Created {
    type_dir: bool,
    group: bool,
}

/// How one group moves.
#[derive(Debug, Clone, Copy)]
pub struct GroupOpts<'a> {
    /// Merge into an existing target group (`--merge`).
    pub merge: bool,
    /// What the caller's pre-flight checked of the group's tree just before.
    pub tree: TreeChecked<'a>,
    /// The group's plan, durable in the journal already (see [`OpJournal::record_plans`]).
    pub plan: Option<&'a GroupFacts>,
}

/// How much of a group's tree the caller checked just before its lock.
#[derive(Debug, Clone, Copy)]
pub enum TreeChecked<'a> {
    /// Nothing: the re-check under the group lock reads every snapshot dir
    /// ([`TreeDepth::Snapshots`]).
    No,
    /// Every snapshot dir: the re-check under the group lock stays at the group dir, and
    /// each snapshot dir is read under its snapshot lock.
    Yes,
    /// Every snapshot dir, with what it read ([`TreeDepth::SnapshotsBeforeLock`]): as
    /// `Yes`, but a dir unchanged since its read is not read again.
    Read(&'a SnapshotEntries),
}

/// Moves `group` from `ns` to `target_ns`, recording each step in the operation journal
/// first. Namespace locks are the caller's business.
pub fn lock_and_move_group_journaled<'a>(
    ctx: &'a MoveContext,
    ns: &'a Namespace,
    group: &'a GroupId,
    target_ns: &'a Namespace,
    opts: GroupOpts<'a>,
    progress: &'a Progress,
    journal: Option<&'a OpJournal>,
) -> Result<GroupOutcome, GroupFailure> {
    let names = (ns, group, target_ns);
    move_journaled(ctx, names, opts, (None, None), progress, journal)
}

/// `undo` of one group: moves exactly `restore.times` of `group` from `ns` back to
/// `target_ns`, into the group there (created with the same owner if it is gone), under the
/// same locks and journal records as a move. PBS's rule that a merge brings only newer
/// snapshots does not apply: these came from there; the owners must still match.
pub fn lock_and_restore_snapshots(
    ctx: &MoveContext,
    (ns, group, target_ns): (&Namespace, &GroupId, &Namespace),
    restore: Restore<'_>,
    progress: &Progress,
    journal: Option<&OpJournal>,
) -> Result<GroupOutcome, GroupFailure> {
    let opts = GroupOpts {
        merge: true,
        tree: TreeChecked::No,
        plan: None,
    };
    let names = (ns, group, target_ns);
    move_journaled(ctx, names, opts, (Some(restore), None), progress, journal)
}

/// A source group locked and re-checked under its lock: the first step of its move, which
/// changes nothing on disk. A namespace move takes it for the next group on a second
/// thread while the one before moves.
#[derive(Debug)]
pub struct LockedGroup {
    guard: GroupLock,
    checked: GroupChecked,
}

/// Locks the source group of a move and runs the post-lock re-validation: the
/// authoritative gate (no namespace lock in PBS).
pub fn lock_and_check_group(
    ctx: &MoveContext,
    (ns, group, target_ns): (&Namespace, &GroupId, &Namespace),
    opts: &GroupOpts<'_>,
) -> Result<LockedGroup, MoveError> {
    let what = format!("group {group} in namespace '{}'", ns.human());
    let guard = lock_group(ctx, ns, group, &what)?;
    let depth = match opts.tree {
        TreeChecked::No => TreeDepth::Snapshots,
        TreeChecked::Yes | TreeChecked::Read(_) => TreeDepth::GroupOnly,
    };
    let checked = check_move_group_read(&ctx.ds, ns, target_ns, group, opts.merge, depth)?;
    Ok(LockedGroup { guard, checked })
}

/// [`lock_and_move_group_journaled`] of a group [`lock_and_check_group`] already locked
/// and checked (or failed to).
pub fn move_locked_group_journaled<'a>(
    ctx: &'a MoveContext,
    names: (&'a Namespace, &'a GroupId, &'a Namespace),
    opts: GroupOpts<'a>,
    locked: Result<LockedGroup, MoveError>,
    progress: &'a Progress,
    journal: Option<&'a OpJournal>,
) -> Result<GroupOutcome, GroupFailure> {
    let how = (None, Some(locked));
    move_journaled(ctx, names, opts, how, progress, journal)
}

fn move_journaled<'a>(
    ctx: &'a MoveContext,
    (ns, group, target_ns): (&'a Namespace, &'a GroupId, &'a Namespace),
    opts: GroupOpts<'a>,
    (restore, locked): (Option<Restore<'a>>, Option<Result<LockedGroup, MoveError>>),
    progress: &'a Progress,
    journal: Option<&'a OpJournal>,
) -> Result<GroupOutcome, GroupFailure> {
    let mut mv = GroupMove {
        restore,
        recorded: false,
        journal,
        ctx,
        progress,
        ns,
        group,
        target_ns,
        outcome: GroupOutcome::default(),
        created: Created::default(),
        gc_journal: ctx.gc_journal(),
        dirs: None,
        listings: None,
    };
    let result = mv.run(opts, locked);
    if result.is_err() && mv.outcome.snapshots == 0 {
        mv.undo_target();
    }
    // Best effort and not synced (the next group's record or the final `done` syncs it):
    // without it `resume` re-checks the group on disk, which is safe. One fsync less per
    // group halves the journal's cost in a namespace move of many small groups.
    // Only after the group's own record: otherwise it would close the previous group.
    if mv.recorded {
        mv.jot_lossy(&Record::GroupDone {
            moved: mv.outcome.snapshots,
            ok: result.is_ok(),
        });
    }
    match result {
        Ok(()) => Ok(mv.outcome),
        Err(e) => Err(GroupFailure::from_error(e, mv.outcome.snapshots)),
    }
}

impl<'a> GroupMove<'a> {
    /// `locked`: the source group as [`lock_and_check_group`] locked and checked it ahead,
    /// on another thread; `None`: locked and checked here.
    fn run(
        &mut self,
        opts: GroupOpts<'a>,
        locked: Option<Result<LockedGroup, MoveError>>,
    ) -> Result<(), MoveError> {
        let merge = opts.merge;
        let ds = &self.ctx.ds;
        let ahead = locked.is_some();
        let LockedGroup {
            guard: source_guard,
            checked,
        } = match locked {
            Some(locked) => locked?,
            None => lock_and_check_group(self.ctx, (self.ns, self.group, self.target_ns), &opts)?,
        };
        let mut source = self.source_as_read(checked)?;
        if ahead && !source.type_existed {
            // Checked while the group before this one moved, which may have made it.
            source.type_existed = ds
                .ns_path(self.target_ns)
                .join(self.group.ty.as_str())
                .exists();
        }
        self.listings = match (source.snapshot_entries.take(), opts.tree) {
            (Some(read), _) => Some(Cow::Owned(read)),
            (None, TreeChecked::Read(read)) => Some(Cow::Borrowed(read)),
            (None, _) => None,
        };
        let mut times = std::mem::take(&mut source.times);
        let listed = times.len();
        if let Some(r) = self.restore {
            let wanted: std::collections::HashSet<&SnapshotTime> = r.times.iter().collect();
            times.retain(|t| wanted.contains(t));
        }
        let whole_ok = self
            .restore
            .is_none_or(|r| r.whole_group && times.len() == listed);
        let (owner, target_existed) = (std::mem::take(&mut source.owner), source.target_existed);
        // Before the target group exists: `resume` must know whether this move created it.
        // Durable already when the batch's plan says the same (see `record_group`).
        if let Some(j) = self.journal {
            let facts = GroupFacts {
                ns: self.ns.clone(),
                group: self.group.clone(),
                target_ns: self.target_ns.clone(),
                target_existed,
                snapshots: times.iter().map(|t| t.as_str().to_string()).collect(),
                owner: owner.clone(),
                type_existed: source.type_existed,
            };
            j.record_group(&facts, opts.plan)?;
        }
        self.recorded = true;
        failpoint::hit("after-group-record");
        if !target_existed
            && whole_ok
            && let Some(src_type_dir) = self.whole_group_source(&times, &source)?
        {
            return self.move_whole_group(source_guard, src_type_dir, &times);
        }
        let (created, _target_guard) = self.create_locked_target(&owner)?;
        failpoint::hit("after-owner");
        self.dirs = Some(GroupDirs::open(
            &ds.group_path(self.ns, self.group),
            &ds.group_path(self.target_ns, self.group),
        )?);
        if !created {
            if !merge {
                return Err(MoveError::refused(format!(
                    "group '{}' already exists in target namespace '{}' and merging is disabled",
                    self.group,
                    self.target_ns.human()
                )));
            }
            // Restoring: the owners must match, the time order is the one they had.
            let order = if self.restore.is_some() {
                &[][..]
            } else {
                &times
            };
            check_merge(ds, self.ns, self.target_ns, self.group, &owner, order)?;
        }
        self.group_started(times.len(), !created);
        self.move_batches(&times)?;
        if self.restore.is_some_and(|r| !r.whole_group) {
            return Ok(()); // both groups stay, each with its own notes
        }
        self.move_notes()?;
        failpoint::hit("after-notes");
        self.destroy_source(source_guard)?;
        failpoint::hit("after-destroy");
        Ok(())
    }

    /// The source group under its lock as the re-check just read it (owner, snapshot
    /// times, the group dir's names), read again only if its dir vanished meanwhile.
    fn source_as_read(&self, checked: GroupChecked) -> Result<SourceGroup, MoveError> {
        let ds = &self.ctx.ds;
        if let Some(mut read) = checked.read {
            return Ok(SourceGroup {
                times: read.snapshot_times(),
                names: Some(read.names().map(OsStr::to_os_string).collect()),
                snapshot_entries: read.take_snapshot_entries(),
                owned_by: Some(read.owned_by),
                owner: read.owner,
                target_existed: checked.target_exists,
                type_existed: read.target_type_exists,
            });
        }
        let owner = ds
            .read_owner(self.ns, self.group)?
            .ok_or_else(|| crate::ops::engine::checks::no_owner(self.ns, self.group))?;
        let times = ds.list_snapshot_times(self.ns, self.group)?;
        let target_existed = ds.group_exists(self.target_ns, self.group)?
            && !is_empty_leftover(&ds.group_path(self.target_ns, self.group));
        let type_existed = ds
            .ns_path(self.target_ns)
            .join(self.group.ty.as_str())
            .exists();
        Ok(SourceGroup {
            owner,
            times,
            names: None,
            snapshot_entries: None,
            owned_by: None,
            target_existed,
            type_existed,
        })
    }

    fn group_started(&self, snapshots: usize, merge: bool) {
        self.progress.emit(ProgressEvent::GroupStarted {
            ns: self.ns.clone(),
            group: self.group.clone(),
            target_ns: self.target_ns.clone(),
            snapshots,
            merge,
        });
    }

    fn jot(&self, r: &Record) -> Result<(), MoveError> {
        match self.journal {
            Some(j) => j.record(r),
            None => Ok(()),
        }
    }

    /// Not synced: `resume` reads renames and deletes from the disk and the bucket (both
    /// idempotent), so these records only feed `history`; one fsync per snapshot was the
    /// whole cost of journaling.
    fn jot_lossy(&self, r: &Record) {
        let Some(j) = self.journal else { return };
        if let Err(e) = j.record_unsynced(r) {
            self.progress.warn(e.to_string());
        }
    }

    /// S3: the copied keys, durable before any rename needs them for a later delete.
    fn jot_copies(
        &self,
        batch: &[SnapshotTime],
        prepared: &[PreparedMove],
    ) -> Result<(), MoveError> {
        let Some(j) = self.journal else {
            return Ok(());
        };
        let mut any = false;
        for (t, p) in batch.iter().zip(prepared) {
            if p.source_keys.is_empty() {
                continue; // filesystem backend: nothing was copied
            }
            any = true;
            j.record_unsynced(&Record::Copied {
                t: t.as_str().to_string(),
                src: p.source_keys.clone(),
                dst: p.copied_keys.clone(),
            })?;
        }
        if any { j.sync() } else { Ok(()) }
    }

    fn snap_ref(&self, ns: &Namespace, time: &SnapshotTime) -> SnapshotRef {
        SnapshotRef {
            ns: ns.clone(),
            group: self.group.clone(),
            time: time.clone(),
        }
    }

    /// What locks and reads this group's snapshots (`src`: its source group dir).
    fn locker<'b>(&'b self, src: BorrowedFd<'b>) -> SnapshotLocker<'b> {
        SnapshotLocker {
            ctx: self.ctx,
            ns: self.ns,
            group: self.group,
            target_ns: self.target_ns,
            listings: self.listings.as_deref(),
            src,
        }
    }

    /// `create_locked_backup_group_do` of one locked batch: (S3) copy and verify all of its
    /// snapshots, record all their post-rename index paths for GC in one append, rename them
    /// one by one, then (S3) delete the sources of the renamed ones. A failure part-way
    /// keeps the time-ordered split: renamed snapshots are complete at the target, the rest
    /// (copies discarded) at the source. Returns the batch's locks with what was renamed
    /// (for [`SnapshotLocker::release`]), and why it stopped early.
    fn move_locked(
        &mut self,
        LockedBatch { locks, present }: LockedBatch,
        total: usize,
    ) -> (Release, Result<(), MoveError>) {
        let times: Vec<SnapshotTime> = present.iter().map(|(t, _)| t.clone()).collect();
        let nothing_renamed = |locks| Release {
            locks,
            renamed: Vec::new(),
        };
        let mut prepared = match self.copy_batch(&times) {
            Ok(prepared) => prepared,
            Err(e) => return (nothing_renamed(locks), Err(e)),
        };
        if let Err(e) = self.jot_copies(&times, &prepared) {
            self.discard(prepared);
            return (nothing_renamed(locks), Err(e));
        }
        failpoint::hit("after-copy");
        let (renamed, result) = self.rename_batch(&present, total);
        let unrenamed = prepared.split_off(renamed.min(prepared.len()));
        self.discard(unrenamed);
        self.delete_sources(&times[..renamed], &prepared);
        let mut renamed_times = times;
        renamed_times.truncate(renamed);
        let release = Release {
            locks,
            renamed: renamed_times,
        };
        (release, result)
    }

    fn copy_batch(&mut self, batch: &[SnapshotTime]) -> Result<Vec<PreparedMove>, MoveError> {
        let pairs: Vec<(SnapshotRef, SnapshotRef)> = batch
            .iter()
            .map(|t| (self.snap_ref(self.ns, t), self.snap_ref(self.target_ns, t)))
            .collect();
        let (progress, ns, group) = (self.progress, self.ns, self.group);
        let observe = |p: CopyProgress| progress.emit(copy_event(ns, group, p));
        let copied = self.ctx.backend.copy_snapshots_observed(&pairs, &observe);
        copied.map_err(|e| {
            let what = pairs
                .get(e.index)
                .map_or_else(|| format!("group {}", self.group), |(s, _)| s.to_string());
            MoveError::failed(format!("copying snapshot {what} failed: {}", e.error))
        })
    }

    fn group_dirs(&self) -> Result<&GroupDirs, MoveError> {
        self.dirs
            .as_ref()
            .ok_or_else(|| MoveError::failed("internal error: group dirs not open"))
    }

    fn discard(&mut self, prepared: impl IntoIterator<Item = PreparedMove>) {
        for p in prepared {
            let orphans = self.ctx.backend.discard_copy(&p);
            self.outcome
                .orphans
                .extend(orphans.into_iter().map(Into::into));
        }
    }

    /// GC journal for the whole batch, then `rename(2)` per snapshot. Returns how many were
    /// renamed, and why it stopped early.
    fn rename_batch(&mut self, present: &Present, total: usize) -> (usize, Result<(), MoveError>) {
        if let Err(e) = self.record_for_gc(present) {
            return (0, Err(e));
        }
        for (k, (time, _)) in present.iter().enumerate() {
            if self.progress.cancel.is_cancelled() {
                return (k, Err(MoveError::Cancelled));
            }
            let recorded = match self.still_recorded() {
                Ok(true) => Ok(()),
                Ok(false) => self.record_for_gc(&present[k..]),
                Err(e) => Err(e),
            };
            if let Err(e) = recorded.and_then(|()| self.rename_snapshot(time)) {
                return (k, Err(e));
            }
            self.snapshot_moved(time, total);
        }
        (present.len(), Ok(()))
    }

    fn snapshot_moved(&mut self, time: &SnapshotTime, total: usize) {
        self.outcome.snapshots += 1;
        self.progress.emit(ProgressEvent::SnapshotMoved {
            ns: self.ns.clone(),
            group: self.group.clone(),
            time: time.clone(),
            done: self.outcome.snapshots,
            total,
        });
    }

    /// PBS's write-ahead rule, batched: every post-rename index path is in the move journal
    /// before its rename (GC drains the journal at the end of its phase 1).
    fn record_for_gc(&mut self, present: &[(SnapshotTime, Vec<PathBuf>)]) -> Result<(), MoveError> {
        let indices: Vec<PathBuf> = present
            .iter()
            .flat_map(|(_, i)| i.iter().cloned())
            .collect();
        self.gc_journal.append(&indices).map_err(gc_journal_error)
    }

    /// Whether the latest GC-journal append is still there for GC to read
    /// ([`JournalWriter::still_recorded`]). Checked even while this process holds the chunk
    /// store lock against GC: should that lock ever be lost (POSIX drops it when any fd of
    /// `.lock` in this process is closed), this is what still keeps a drained entry from
    /// going missing.
    fn still_recorded(&self) -> Result<bool, MoveError> {
        self.gc_journal.still_recorded().map_err(gc_journal_error)
    }

    /// `BackupDir::move_to` of one snapshot whose indices are already in the GC journal.
    fn rename_snapshot(&mut self, time: &SnapshotTime) -> Result<(), MoveError> {
        failpoint::hit("after-gc-journal");
        let dirs = self.group_dirs()?;
        rename_noreplace(&dirs.src, &dirs.dst, time.as_str()).map_err(|e| {
            let ds = &self.ctx.ds;
            let src = ds.snapshot_path(self.ns, self.group, time);
            let dst = ds.snapshot_path(self.target_ns, self.group, time);
            rename_failure("snapshot", &src, &dst, e)
        })?;
        // After the rename nothing may fail this snapshot (its copies would be discarded).
        // Unsynced, but written now rather than per batch: a crashed move's journal then
        // still tells `resume` and the TUI's prompt how many snapshots already moved.
        self.jot_lossy(&Record::Renamed {
            t: time.as_str().to_string(),
        });
        failpoint::hit("after-rename");
        Ok(())
    }

    /// After the renames: the renamed snapshots' source objects (S3, batched). Their stale
    /// source lock files go last, as in PBS's `move_to` ([`SnapshotLocker::release`]).
    fn delete_sources(&mut self, renamed: &[SnapshotTime], prepared: &[PreparedMove]) {
        let orphans = self.ctx.backend.delete_sources(prepared);
        self.outcome
            .orphans
            .extend(orphans.into_iter().map(Into::into));
        for (time, prep) in renamed.iter().zip(prepared) {
            if !prep.source_keys.is_empty() {
                self.jot_lossy(&Record::Deleted {
                    t: time.as_str().to_string(),
                });
                failpoint::hit("after-delete");
            }
        }
    }

    /// `move_notes_to`: the target keeps its own notes; otherwise the source's move over.
    fn move_notes(&mut self) -> Result<(), MoveError> {
        let ds = &self.ctx.ds;
        let src = ds.group_path(self.ns, self.group).join(NOTES_FILE);
        let dst = ds.group_path(self.target_ns, self.group).join(NOTES_FILE);
        let Some(src_notes) = read_regular(&src)? else {
            return Ok(());
        };
        match read_regular(&dst)? {
            None => {
                if !self.created.group {
                    // Before the rename, for `undo` to take them back.
                    self.jot(&Record::NotesMoved)?;
                }
                self.ctx
                    .backend
                    .put_notes(self.target_ns, self.group, &src_notes)?;
                fs::rename(&src, &dst).map_err(|e| io_failed("cannot move notes", &src, e))
            }
            Some(dst_notes) => {
                // Removed with the source group below: kept for `undo` (PBS notes are text).
                if let Ok(notes) = String::from_utf8(src_notes.clone()) {
                    self.jot(&Record::NotesKept { notes })?;
                }
                if dst_notes != src_notes {
                    let msg = format!(
                        "group notes differ during merge of '{}' from '{}' into '{}' - keeping target's notes",
                        self.group,
                        self.ns.human(),
                        self.target_ns.human()
                    );
                    self.progress.warn(msg.clone());
                    self.outcome.warnings.push(msg);
                }
                Ok(())
            }
        }
    }

    /// `BackupGroup::destroy` of the emptied source group, consuming its lock.
    fn destroy_source(&mut self, guard: GroupLock) -> Result<(), MoveError> {
        let dir = self.ctx.ds.group_path(self.ns, self.group);
        let leftovers: Vec<String> = fs::read_dir(&dir)
            .map_err(|e| io_failed("cannot read", &dir, e))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != OWNER_FILE && n != NOTES_FILE)
            .collect();
        if !leftovers.is_empty() {
            let msg = format!(
                "source group {} in '{}' kept: it still contains {}",
                self.group,
                self.ns.human(),
                leftovers.join(", ")
            );
            self.progress.warn(msg.clone());
            self.outcome.warnings.push(msg);
            return Ok(());
        }
        for name in [NOTES_FILE, OWNER_FILE] {
            match fs::remove_file(dir.join(name)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_failed("cannot remove", &dir.join(name), e));
                }
                _ => {}
            }
        }
        fs::remove_dir(&dir).map_err(|e| io_failed("cannot remove group dir", &dir, e))?;
        self.source_gone(guard);
        Ok(())
    }

    /// The source group dir is gone: its bucket objects (S3) and, consuming the lock, its
    /// lock file.
    fn source_gone(&mut self, guard: GroupLock) {
        let orphans = self.ctx.backend.remove_group(self.ns, self.group);
        self.outcome
            .orphans
            .extend(orphans.into_iter().map(Into::into));
        // PBS removes the lock file while still holding the lock; waiters re-check the inode.
        remove_lock_file(&self.ctx.locks.group(self.ns, self.group));
        drop(guard);
    }
}

/// S3 copy progress as the engine tells it.
fn copy_event(ns: &Namespace, group: &GroupId, p: CopyProgress) -> ProgressEvent {
    let (ns, group) = (ns.clone(), group.clone());
    match p {
        CopyProgress::Listed { snapshots, stats } => ProgressEvent::ObjectsPlanned {
            ns,
            group,
            snapshots,
            objects: stats.objects,
            bytes: stats.bytes,
        },
        CopyProgress::SnapshotCopied(stats) => ProgressEvent::ObjectsCopied {
            ns,
            group,
            objects: stats.objects,
            bytes: stats.bytes,
        },
    }
}

fn gc_journal_error(e: JournalError) -> MoveError {
    MoveError::failed(format!("cannot record moved indices for GC: {e}"))
}

/// Post-rename absolute paths of the snapshot's index files, for GC's move journal;
/// `None` when the snapshot dir is gone. `read`: its entries as a check read them, taken
/// if they still hold for the dir as it is now (one lstat, which also refuses a dir
/// replaced by a symlink or a file); otherwise read here, under the snapshot lock, so this
/// is also where a symlink placed into the snapshot since the pre-flight is refused.
fn index_paths(
    group_dir: BorrowedFd<'_>,
    time: &SnapshotTime,
    (src, dst): (&Path, &Path),
    read: Option<&SnapshotListing>,
) -> Result<Option<Vec<PathBuf>>, MoveError> {
    let held = match read {
        Some(read) => match dir_stat(group_dir, time, src)? {
            None => return Ok(None),
            Some(st) => read.holds_for(&st).then_some(&read.names),
        },
        None => None,
    };
    let listed;
    let names = match held {
        Some(names) => names,
        None => {
            let list_err =
                |e: Errno| io_failed("failed to list source snapshot dir", src, e.into());
            let name = OsStr::new(time.as_str());
            match snapshot_listing::read(group_dir, name, src, ReadUnder::GroupLock, list_err)? {
                Some(read) => {
                    listed = read.names;
                    &listed
                }
                None => return Ok(None),
            }
        }
    };
    let mut out: Vec<PathBuf> = names
        .iter()
        .map(|n| n.to_string_lossy())
        .filter(|n| is_index_name(n))
        .map(|n| dst.join(&*n))
        .collect();
    out.sort();
    Ok(Some(out))
}

/// The snapshot dir `time` (`src`) in `group_dir` as it is now (one lstat), if it is still
/// there and still a real directory: a prune may have removed it since it was read.
fn dir_stat(
    group_dir: BorrowedFd<'_>,
    time: &SnapshotTime,
    src: &Path,
) -> Result<Option<Stat>, MoveError> {
    match rustix::fs::statat(group_dir, time.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => Ok(Some(st)),
            FileType::Symlink => Err(symlink_refusal(src)),
            _ => Err(MoveError::refused(format!(
                "{} is not a directory; move it out of the way first",
                src.display()
            ))),
        },
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(io_failed("cannot stat", src, e.into())),
    }
}

/// `renameat2(RENAME_NOREPLACE)`: plain rename(2) would silently replace an empty target
/// dir, which a merge must never do. Filesystems without the flag get an lstat first.
fn rename_noreplace(src_dir: &OwnedFd, dst_dir: &OwnedFd, name: &str) -> Result<(), Errno> {
    match rustix::fs::renameat_with(src_dir, name, dst_dir, name, RenameFlags::NOREPLACE) {
        Err(Errno::INVAL | Errno::NOSYS) => {}
        other => return other,
    }
    match rustix::fs::statat(dst_dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => Err(Errno::EXIST),
        Err(Errno::NOENT) => rustix::fs::renameat(src_dir, name, dst_dir, name),
        Err(e) => Err(e),
    }
}

/// Why moving a snapshot or group dir (`what`) from `src` to `dst` failed.
fn rename_failure(what: &str, src: &Path, dst: &Path, e: Errno) -> MoveError {
    if e == Errno::EXIST {
        return MoveError::failed(format!("target {what} {} already exists", dst.display()));
    }
    MoveError::failed(format!(
        "failed to move {what} {} to {}: {}",
        src.display(),
        dst.display(),
        io::Error::from(e)
    ))
}

/// Contents of a regular file (never through a symlink); `None` when absent.
fn read_regular(path: &Path) -> Result<Option<Vec<u8>>, MoveError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => fs::read(path)
            .map(Some)
            .map_err(|e| io_failed("cannot read", path, e)),
        Ok(_) => Err(MoveError::refused(format!(
            "{} is not a regular file; fix it before moving",
            path.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_failed("cannot read", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::safety::snapshot_listing::{DirStamp, Taken};
    use std::os::fd::AsFd;

    fn group_dirs(root: &Path) -> (PathBuf, PathBuf, GroupDirs) {
        let (src, dst) = (root.join("a/vm/100"), root.join("b/vm/100"));
        fs::create_dir_all(&src).unwrap();
        fs::create_dir_all(&dst).unwrap();
        let dirs = GroupDirs::open(&src, &dst).unwrap();
        (src, dst, dirs)
    }

    const T: &str = "2024-01-01T00:00:00Z";

    #[test]
    fn rename_never_replaces_an_empty_target_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst, dirs) = group_dirs(tmp.path());
        fs::create_dir(src.join(T)).unwrap();
        fs::write(src.join(T).join("index.json.blob"), b"m").unwrap();
        fs::create_dir(dst.join(T)).unwrap();
        assert_eq!(rename_noreplace(&dirs.src, &dirs.dst, T), Err(Errno::EXIST));
        assert!(src.join(T).join("index.json.blob").exists());
        fs::remove_dir(dst.join(T)).unwrap();
        rename_noreplace(&dirs.src, &dirs.dst, T).unwrap();
        assert!(dst.join(T).join("index.json.blob").exists());
        assert!(!src.join(T).exists());
    }

    #[test]
    fn index_paths_lists_indices_at_the_target_and_refuses_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst, dirs) = group_dirs(tmp.path());
        let time = SnapshotTime::parse(T).unwrap();
        assert!(
            index_paths(dirs.src.as_fd(), &time, (&src.join(T), &dst.join(T)), None)
                .unwrap()
                .is_none()
        );
        fs::create_dir(src.join(T)).unwrap();
        for f in [
            "index.json.blob",
            "drive-scsi0.img.fidx",
            "catalog.pcat1.didx",
        ] {
            fs::write(src.join(T).join(f), b"x").unwrap();
        }
        let got = index_paths(dirs.src.as_fd(), &time, (&src.join(T), &dst.join(T)), None)
            .unwrap()
            .unwrap();
        assert_eq!(
            got,
            [
                dst.join(T).join("catalog.pcat1.didx"),
                dst.join(T).join("drive-scsi0.img.fidx")
            ]
        );
        std::os::unix::fs::symlink("/etc/passwd", src.join(T).join("x.fidx")).unwrap();
        let e =
            index_paths(dirs.src.as_fd(), &time, (&src.join(T), &dst.join(T)), None).unwrap_err();
        assert!(e.to_string().contains("x.fidx is a symlink"), "{e}");
        // A snapshot dir replaced by a symlink is refused, never followed.
        fs::rename(src.join(T), tmp.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), src.join(T)).unwrap();
        let e =
            index_paths(dirs.src.as_fd(), &time, (&src.join(T), &dst.join(T)), None).unwrap_err();
        assert!(e.to_string().contains("is a symlink"), "{e}");
    }

    #[test]
    fn index_paths_read_under_the_group_lock_are_used_while_the_dir_is_still_there() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst, dirs) = group_dirs(tmp.path());
        let time = SnapshotTime::parse(T).unwrap();
        let (s, d) = (src.join(T), dst.join(T));
        let paths = (s.as_path(), d.as_path());
        let read = SnapshotListing {
            names: ["index.json.blob", "root.pxar.didx"]
                .iter()
                .map(OsString::from)
                .collect(),
            taken: Taken::UnderGroupLock,
        };
        // Pruned since the read: gone, not moved.
        assert!(
            index_paths(dirs.src.as_fd(), &time, paths, Some(&read))
                .unwrap()
                .is_none()
        );
        fs::create_dir(src.join(T)).unwrap();
        assert_eq!(
            index_paths(dirs.src.as_fd(), &time, paths, Some(&read))
                .unwrap()
                .unwrap(),
            [dst.join(T).join("root.pxar.didx")]
        );
        // Replaced by a symlink or a file since the read: refused, never followed.
        fs::remove_dir(src.join(T)).unwrap();
        std::os::unix::fs::symlink(tmp.path(), src.join(T)).unwrap();
        let e = index_paths(dirs.src.as_fd(), &time, paths, Some(&read)).unwrap_err();
        assert!(e.to_string().contains("is a symlink"), "{e}");
        fs::remove_file(src.join(T)).unwrap();
        fs::write(src.join(T), b"").unwrap();
        let e = index_paths(dirs.src.as_fd(), &time, paths, Some(&read)).unwrap_err();
        assert!(e.to_string().contains("is not a directory"), "{e}");
    }

    /// A listing read before the lock is taken as it is while the dir's stamp holds (its
    /// names, not the dir's, give the index list) and read again once the dir changed.
    #[test]
    fn index_paths_take_a_stamped_listing_only_while_the_dir_is_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst, dirs) = group_dirs(tmp.path());
        let time = SnapshotTime::parse(T).unwrap();
        let (s, d) = (src.join(T), dst.join(T));
        let paths = (s.as_path(), d.as_path());
        fs::create_dir(&s).unwrap();
        fs::write(s.join("root.pxar.didx"), b"x").unwrap();
        let stamp = DirStamp::of(&rustix::fs::lstat(&s).unwrap());
        let read = SnapshotListing {
            names: vec![OsString::from("as-read.fidx")],
            taken: Taken::Before(stamp),
        };
        let got = || index_paths(dirs.src.as_fd(), &time, paths, Some(&read));
        assert_eq!(got().unwrap().unwrap(), [d.join("as-read.fidx")]);
        fs::write(s.join("late.fidx"), b"x").unwrap();
        assert_eq!(
            got().unwrap().unwrap(),
            [d.join("late.fidx"), d.join("root.pxar.didx")]
        );
        std::os::unix::fs::symlink("/etc/passwd", s.join("evil.fidx")).unwrap();
        let e = got().unwrap_err();
        assert!(e.to_string().contains("evil.fidx is a symlink"), "{e}");
    }
}
