//! The target group: created with its owner file *before* it becomes visible, locked in
//! PBS's order (source group, then target group), and removed again when the move fails
//! before its first snapshot.
//!
//! PBS creates the group dir, locks it, then writes the owner; a fault between the two
//! (EROFS after a remount, ENOSPC) leaves a group without owner, which PBS's own code and
//! every later move refuse. Here the dir is built under a hidden name in the type dir
//! (`.pbs-mover-new.<id>`, which neither PBS's listing nor ours takes for a group), the owner
//! written into it, and then renamed into place without replacing anything. A fault leaves
//! nothing, or that hidden dir, which `resume` and the next move of the group remove.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, RenameFlags};
use rustix::io::Errno;

use super::{GroupMove, open_dir_path};
use crate::ops::error::{MoveError, io_failed};
use crate::ops::failpoint;
use crate::ops::locks::move_set::{GroupLock, lock_group};
use crate::ops::recovery::leftover::{
    hidden_new_group, remove_empty_leftover, remove_hidden_new_group,
};
use crate::ops::safety::ownership::{chown_backup, create_dir_all_owned};
use crate::tree::model::OWNER_FILE;

impl GroupMove<'_> {
    /// Locks the target group and creates it (with owner) unless it exists; returns whether
    /// this move created it.
    pub(super) fn create_locked_target(
        &mut self,
        owner: &str,
    ) -> Result<(bool, GroupLock), MoveError> {
        self.create_target_type_dir()?;
        let mut guard = self.lock_target()?;
        let dir = self.ctx.ds.group_path(self.target_ns, self.group);
        self.clear_leftovers(&dir)?;
        if fs::symlink_metadata(&dir).is_ok() {
            return Ok((false, guard));
        }
        let created = self.create_group_with_owner(&dir, owner, &mut guard)?;
        self.created.group = created;
        Ok((created, guard))
    }

    /// Under the target group lock: what an interrupted move may have left in the way — an
    /// empty target group dir without owner (older versions), a hidden half-built one.
    pub(super) fn clear_leftovers(&mut self, dir: &Path) -> Result<(), MoveError> {
        remove_hidden_new_group(dir)?;
        if remove_empty_leftover(dir)? {
            self.outcome.warnings.push(format!(
                "removed the empty target group dir {} (no owner file, no snapshots: left by \
                 an interrupted move) and created the group anew",
                dir.display()
            ));
        }
        Ok(())
    }

    /// The hidden dir with the owner inside, then one rename into place. `Ok(false)`: the
    /// group appeared meanwhile (not ours; merged into like any existing group).
    fn create_group_with_owner(
        &mut self,
        dir: &Path,
        owner: &str,
        guard: &mut GroupLock,
    ) -> Result<bool, MoveError> {
        let tmp = hidden_new_group(dir);
        let fail = |what: &str, path: &Path, e: io::Error| io_failed(what, path, e);
        failpoint::io("group-dir")
            .and_then(|()| fs::create_dir(&tmp))
            .map_err(|e| fail("unable to create backup group", dir, e))?;
        let what = format!(
            "target group {} in namespace '{}'",
            self.group,
            self.target_ns.human()
        );
        let built = chown_backup(&tmp)
            .map_err(|e| fail("cannot chown", &tmp, e))
            // PBS ≤ 3.3.4 locks the group dir itself: held before the dir is visible.
            .and_then(|()| guard.lock_dir_too(self.ctx, &tmp, &what))
            .and_then(|()| self.write_owner(&tmp, owner));
        if let Err(e) = built {
            discard(&tmp);
            return Err(e);
        }
        failpoint::hit("after-owner-hidden");
        match rename_into_place(&tmp, dir) {
            Ok(()) => Ok(true),
            Err(Errno::EXIST | Errno::NOTEMPTY) => {
                discard(&tmp);
                Ok(false)
            }
            Err(e) => {
                discard(&tmp);
                Err(fail("unable to create backup group", dir, e.into()))
            }
        }
    }

    /// The target's type dir (`vm/`), created owned if missing (and undone with the group).
    pub(super) fn create_target_type_dir(&mut self) -> Result<PathBuf, MoveError> {
        let ds = &self.ctx.ds;
        let type_dir = ds.ns_path(self.target_ns).join(self.group.ty.as_str());
        // One lstat: a real dir is all there is to know; anything else goes the way that
        // creates it (or names what is in the way).
        let found = fs::symlink_metadata(&type_dir);
        self.created.type_dir = found.is_err();
        if !found.is_ok_and(|m| m.is_dir()) {
            create_dir_all_owned(&type_dir, &ds.ns_path(self.target_ns))
                .map_err(|e| io_failed("unable to create", &type_dir, e))?;
        }
        Ok(type_dir)
    }

    pub(super) fn lock_target(&self) -> Result<GroupLock, MoveError> {
        lock_group(
            self.ctx,
            self.target_ns,
            self.group,
            &format!(
                "target group {} in namespace '{}'",
                self.group,
                self.target_ns.human()
            ),
        )
    }

    /// Removes a target group (and type dir) this move created, so a failure before the
    /// first snapshot moved leaves the datastore exactly as it was.
    pub(super) fn undo_target(&mut self) {
        let dir = self.ctx.ds.group_path(self.target_ns, self.group);
        if self.created.group {
            let _ = fs::remove_file(dir.join(OWNER_FILE));
            if fs::remove_dir(&dir).is_ok() {
                let orphans = self.ctx.backend.remove_group(self.target_ns, self.group);
                self.outcome
                    .orphans
                    .extend(orphans.into_iter().map(Into::into));
            }
        }
        if self.created.type_dir
            && let Some(type_dir) = dir.parent()
        {
            let _ = fs::remove_dir(type_dir);
        }
    }

    /// The owner file in `dir` (the hidden new group); the bucket's owner object first, as
    /// PBS's set_owner does: the bucket is authoritative.
    fn write_owner(&self, dir: &Path, owner: &str) -> Result<(), MoveError> {
        self.ctx
            .backend
            .put_owner(self.target_ns, self.group, owner)?;
        let path = dir.join(OWNER_FILE);
        let mut f = failpoint::io("owner-write")
            .and_then(|()| {
                fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                    .open(&path)
            })
            .map_err(|e| io_failed("cannot create owner file", &path, e))?;
        f.write_all(format!("{owner}\n").as_bytes())
            .map_err(|e| io_failed("cannot write owner file", &path, e))?;
        chown_backup(&path).map_err(|e| io_failed("cannot chown", &path, e))
    }
}

/// `tmp` renamed to `dir` (same parent) without replacing anything: renameat2's NOREPLACE,
/// or, where the filesystem lacks it, a check and a plain rename under the target group
/// lock (PBS creates a group only under that lock too).
fn rename_into_place(tmp: &Path, dir: &Path) -> Result<(), Errno> {
    let (Some(parent), Some(from), Some(to)) = (dir.parent(), tmp.file_name(), dir.file_name())
    else {
        return Err(Errno::INVAL);
    };
    let fd = open_dir_path(parent, "type dir").map_err(|_| Errno::NOENT)?;
    match rustix::fs::renameat_with(&fd, from, &fd, to, RenameFlags::NOREPLACE) {
        Err(Errno::INVAL | Errno::NOSYS) => {}
        other => return other,
    }
    match rustix::fs::statat(&fd, to, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => Err(Errno::EXIST),
        Err(Errno::NOENT) => rustix::fs::renameat(&fd, from, &fd, to),
        Err(e) => Err(e),
    }
}

/// Best effort: a hidden dir left by a fault here is removed by `resume` or the next move.
fn discard(tmp: &Path) {
    let _ = fs::remove_file(tmp.join(OWNER_FILE));
    let _ = fs::remove_dir(tmp);
}
