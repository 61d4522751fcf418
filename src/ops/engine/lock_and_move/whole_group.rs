//! A group whose target does not exist yet moves with one `renameat2` of its dir.
//!
//! Same locks in the same order as PBS's snapshot-by-snapshot move (source group, target
//! group, every snapshot), every index path in the GC move journal before the rename, and
//! the same end state on disk. But it is atomic (a crash leaves the group whole on one side),
//! and it frees no blocks: PBS's way writes a new owner file for the target and then deletes
//! the source's and the emptied source dir, each a synchronous discard on a filesystem
//! mounted with `discard`. Taken only where the result cannot differ from PBS's: filesystem
//! backend, no target group, every snapshot locked at once (fd limit permitting), and a
//! group dir that holds nothing but its snapshots, `owner` and `notes`, owned as PBS creates
//! them. Anything else moves snapshot by snapshot.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::OnceLock;

use rustix::fs::{AtFlags, Mode};
use rustix::io::Errno;

use super::batches::LockedBatch;
use super::{
    DIR_PATH_FLAGS, GroupMove, SourceGroup, open_dir_path, rename_failure, rename_noreplace,
};
use crate::ops::error::{MoveError, io_failed};
use crate::ops::failpoint;
use crate::ops::journal::record::Record;
use crate::ops::locks::move_set::{GroupLock, snapshot_lock_budget};
use crate::ops::safety::ownership::chown_ids;
use crate::ops::safety::snapshot_listing::entry_names;
use crate::tree::SnapshotTime;
use crate::tree::model::{NOTES_FILE, OWNER_FILE};

/// Set (to anything) to move every group snapshot by snapshot, as PBS does: the benches'
/// "before" row, and a way back should a filesystem ever refuse a dir rename.
pub const GROUP_RENAME_OFF_ENV: &str = "PBS_MOVER_NO_GROUP_RENAME";

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os(GROUP_RENAME_OFF_ENV).is_none())
}

impl GroupMove<'_> {
    /// The source's type dir (`vm/`) as an fd when this group (target absent, listed
    /// `times`) can move whole; `None` when it moves snapshot by snapshot. `source`: the
    /// group as the re-check under the same group lock read it (its dir's entries and
    /// owners; listed and looked up here when it did not).
    pub(super) fn whole_group_source(
        &self,
        times: &[SnapshotTime],
        source: &SourceGroup,
    ) -> Result<Option<OwnedFd>, MoveError> {
        // Every snapshot is locked at once.
        let budget = snapshot_lock_budget(self.ctx);
        if !enabled() || !self.ctx.backend.is_local_only() || times.len() > budget {
            return Ok(None);
        }
        let group_dir = self.ctx.ds.group_path(self.ns, self.group);
        let type_dir = self.ctx.ds.ns_path(self.ns).join(self.group.ty.as_str());
        let name = OsStr::new(&self.group.id);
        let type_fd = open_dir_path(&type_dir, "type dir")?;
        let listed;
        let entries = match source.names.as_deref() {
            Some(names) => names,
            None => {
                let list_err =
                    |e: Errno| io_failed("failed to list group dir", &group_dir, e.into());
                let Some(entries) = entry_names(&type_fd, name, &group_dir, list_err)? else {
                    return Ok(None);
                };
                listed = entries;
                &listed[..]
            }
        };
        let snapshots: HashSet<&str> = times.iter().map(SnapshotTime::as_str).collect();
        let only_the_group = entries.iter().all(|e| {
            let e = e.to_string_lossy();
            matches!(&*e, OWNER_FILE | NOTES_FILE) || snapshots.contains(&*e)
        });
        let owned = match source.owned_by {
            Some(ids) => owned_as_pbs_creates(ids),
            None => owned_as_pbs_creates(
                ids_at(&type_fd, name)
                    .map_err(|e| io_failed("cannot stat", &group_dir, e.into()))?,
            ),
        };
        Ok((only_the_group && owned).then_some(type_fd))
    }

    /// The group under its lock (`source_guard`), its dir in `src_type`, to the target.
    pub(super) fn move_whole_group(
        &mut self,
        source_guard: GroupLock,
        src_type: OwnedFd,
        times: &[SnapshotTime],
    ) -> Result<(), MoveError> {
        let dst_type = self.create_target_type_dir()?;
        let ds = &self.ctx.ds;
        let _target_guard = self.lock_target()?;
        self.clear_leftovers(&ds.group_path(self.target_ns, self.group))?;
        let dst_type_fd = open_dir_path(&dst_type, "type dir")?;
        let name = OsStr::new(&self.group.id);
        let src_group = rustix::fs::openat(&src_type, name, DIR_PATH_FLAGS, Mode::empty())
            .map_err(|e| {
                let dir = ds.group_path(self.ns, self.group);
                io_failed("cannot open group dir", &dir, e.into())
            })?;
        self.group_started(times.len(), false);
        let LockedBatch { locks, present } = self.locker(src_group.as_fd()).lock(times)?;
        self.record_for_gc(&present)?;
        if !self.still_recorded()? {
            self.record_for_gc(&present)?;
        }
        failpoint::hit("after-gc-journal");
        if self.progress.cancel.is_cancelled() {
            return Err(MoveError::Cancelled);
        }
        rename_noreplace(&src_type, &dst_type_fd, &self.group.id).map_err(|e| {
            let src = ds.group_path(self.ns, self.group);
            rename_failure("group", &src, &ds.group_path(self.target_ns, self.group), e)
        })?;
        // From here on nothing may fail the group: it is complete at the target.
        self.jot_renamed_all(&present);
        for (time, _) in &present {
            self.snapshot_moved(time, times.len());
        }
        failpoint::hit("after-rename");
        self.locker(src_group.as_fd()).release_all(locks, times);
        failpoint::hit("after-notes");
        self.source_gone(source_guard);
        failpoint::hit("after-destroy");
        Ok(())
    }
}

impl GroupMove<'_> {
    /// Every snapshot the one rename moved, for `undo` and `history`: one write instead of
    /// one per snapshot (the rename moved them all at once, so there is no partial count to
    /// keep). Not synced, as the per-snapshot records: `resume` reads renames from the disk,
    /// `undo` only takes a finished move, whose synced `done` makes these durable, and a
    /// sync here would again cost a namespace move one fdatasync per group. A failure only
    /// warns.
    fn jot_renamed_all(&self, present: &[(SnapshotTime, Vec<std::path::PathBuf>)]) {
        let Some(j) = self.journal else { return };
        let records: Vec<Record> = present
            .iter()
            .map(|(t, _)| Record::Renamed {
                t: t.as_str().to_string(),
            })
            .collect();
        if let Err(e) = j.record_all_unsynced(&records) {
            self.progress.warn(e.to_string());
        }
    }
}

/// Whether the group dir and its owner file (`ids`: their `(uid, gid)`) belong to user
/// `backup`, as the ones PBS creates for the target would: only then may they move as they
/// are (with nothing to hand files to — no backup user, or a non-root demo — they always
/// may).
fn owned_as_pbs_creates(ids: [(u32, u32); 2]) -> bool {
    chown_ids().is_none_or(|backup| ids == [backup, backup])
}

/// `(uid, gid)` of the group dir `name` in `type_fd` and of its owner file; a missing one
/// as nobody's.
fn ids_at(type_fd: &OwnedFd, name: &OsStr) -> Result<[(u32, u32); 2], Errno> {
    let ids = |rel: &Path| match rustix::fs::statat(type_fd, rel, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok((st.st_uid, st.st_gid)),
        Err(Errno::NOENT) => Ok((u32::MAX, u32::MAX)),
        Err(e) => Err(e),
    };
    Ok([
        ids(Path::new(name))?,
        ids(&Path::new(name).join(OWNER_FILE))?,
    ])
}
