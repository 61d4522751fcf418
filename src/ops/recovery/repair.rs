//! Repairing the group a crash caught in flight, under the move's own PBS locks, from what
//! the disk shows (a rename happened or not) and what the crash journal adds (whether the
//! move created the target group, which S3 keys were copied or deleted). Afterwards every
//! group is a consistent whole, and `resume` simply runs the operation again.

use std::fs;
use std::io;
use std::path::Path;

use crate::ops::context::MoveContext;
use crate::ops::error::{MoveError, io_failed};
use crate::ops::journal::crash::{GroupProgress, JournalEntry};
use crate::ops::locks::flock::{LockMode, remove_lock_file};
use crate::ops::locks::move_set::{lock_group, take};
use crate::ops::recovery::leftover::{hidden_new_group, remove_hidden_new_group};
use crate::ops::report::{MoveReport, MovedGroup};
use crate::tree::backend::PreparedMove;
use crate::tree::model::{NOTES_FILE, OWNER_FILE};
use crate::tree::{GroupId, Namespace, SnapshotTime};

/// Repairs every group whose move was in flight (no `group-done` record).
pub(super) fn repair_groups(
    ctx: &MoveContext,
    entry: &JournalEntry,
    actions: &mut Vec<String>,
) -> Result<MoveReport, MoveError> {
    let mut report = MoveReport::default();
    let in_flight = entry.groups().into_iter().filter(|g| g.done.is_none());
    for g in in_flight.filter(|g| !untouched_plan(ctx, g)) {
        let (ns, group, target_ns) = g.names();
        let at_target = GroupRepair {
            ctx,
            g: &g,
            ns: &ns,
            group: &group,
            target_ns: &target_ns,
            actions: &mut *actions,
        }
        .run()?;
        if at_target > 0 && !ctx.ds.group_exists(&ns, &group)? {
            // Completed by the repair alone: the rerun will not list it.
            report.moved.push(MovedGroup {
                ns: ns.clone(),
                group: group.clone(),
                target_ns: target_ns.clone(),
                snapshots: at_target,
            });
        }
    }
    Ok(report)
}

/// A group only planned (its `group` record was never written, or lost with the unsynced
/// tail of the journal) that the disk shows untouched: its source group whole with its owner,
/// none of its snapshots at the target, and no target group it would have created. Nothing
/// of it moved; the re-run moves it (and its locks need not be taken to repair nothing).
pub(super) fn untouched_plan(ctx: &MoveContext, g: &GroupProgress) -> bool {
    if g.started {
        return false;
    }
    let ds = &ctx.ds;
    let (ns, group, target_ns) = g.names();
    let source = ds.group_path(&ns, &group);
    let target = ds.group_path(&target_ns, &group);
    let exists = |p: &Path| fs::symlink_metadata(p).is_ok();
    if !exists(&source.join(OWNER_FILE)) {
        return false; // moved whole, or its destroy started
    }
    if !g.target_existed && (exists(&target) || exists(&hidden_new_group(&target))) {
        return false;
    }
    !g.snapshots.iter().any(|t| exists(&target.join(t)))
}

struct GroupRepair<'a> {
    ctx: &'a MoveContext,
    g: &'a GroupProgress,
    ns: &'a Namespace,
    group: &'a GroupId,
    target_ns: &'a Namespace,
    actions: &'a mut Vec<String>,
}

impl GroupRepair<'_> {
    /// Returns how many journaled snapshots are at the target.
    fn run(mut self) -> Result<usize, MoveError> {
        let ctx = self.ctx;
        let locks = &ctx.locks;
        let what = format!("group {} in namespace '{}'", self.group, self.ns.human());
        let source_guard = lock_group(ctx, self.ns, self.group, &what)?;
        let target_guard = lock_group(ctx, self.target_ns, self.group, &format!("target {what}"))?;
        let target_dir = ctx.ds.group_path(self.target_ns, self.group);
        if remove_hidden_new_group(&target_dir)? {
            self.actions.push(format!(
                "removed the half-built target group {} in '{}' (not visible yet, owner only)",
                self.group,
                self.target_ns.human()
            ));
        }
        let mut at_target = 0;
        for t in &self.g.snapshots {
            if self.repair_snapshot(t)? {
                at_target += 1;
            }
        }
        if at_target == 0 {
            self.remove_created_target()?;
        }
        self.finish_source_destroy()?;
        // Lock files of groups that do not exist (any more) are not left behind.
        for ns in [self.ns, self.target_ns] {
            if !ctx.ds.group_path(ns, self.group).exists() {
                remove_lock_file(&locks.group(ns, self.group));
            }
        }
        drop(source_guard);
        drop(target_guard);
        Ok(at_target)
    }

    fn copied(&self, t: &str) -> Option<PreparedMove> {
        self.g
            .copied
            .iter()
            .rev()
            .find(|(ct, _, _)| ct == t)
            .map(|(_, src, dst)| PreparedMove {
                copied_keys: dst.clone(),
                source_keys: src.clone(),
                stats: Default::default(),
            })
    }

    /// One journaled snapshot; returns whether it is at the target.
    fn repair_snapshot(&mut self, t: &str) -> Result<bool, MoveError> {
        let ctx = self.ctx;
        let ds = &ctx.ds;
        let time = SnapshotTime::parse(t)
            .map_err(|e| MoveError::failed(format!("operation journal: {e}")))?;
        let src = ds.snapshot_path(self.ns, self.group, &time).exists();
        let dst = ds.snapshot_path(self.target_ns, self.group, &time).exists();
        match (src, dst) {
            (false, true) => {
                self.finish_renamed(t, &time)?;
                Ok(true)
            }
            (true, false) => {
                // Copies made before the crash are discarded; the rerun copies again.
                if let Some(prep) = self.copied(t) {
                    let orphans = self.ctx.backend.discard_copy(&prep);
                    self.actions.push(format!(
                        "discarded the target copies of snapshot {}/{t} (not renamed yet){}",
                        self.group,
                        orphan_note(orphans.len())
                    ));
                }
                Ok(false)
            }
            (true, true) => Err(MoveError::failed(format!(
                "snapshot {}/{t} exists in both '{}' and '{}'; left alone, check it by hand",
                self.group,
                self.ns.human(),
                self.target_ns.human()
            ))),
            (false, false) => {
                self.actions.push(format!(
                    "snapshot {}/{t} is in neither namespace any more (pruned after the crash?)",
                    self.group
                ));
                Ok(false)
            }
        }
    }

    /// After the rename: source objects (S3) and stale source lock files.
    fn finish_renamed(&mut self, t: &str, time: &SnapshotTime) -> Result<(), MoveError> {
        let deleted = self.g.deleted.iter().any(|d| d == t);
        if !deleted && let Some(prep) = self.copied(t) {
            let orphans = self.ctx.backend.delete_source(&prep);
            self.actions.push(format!(
                "deleted the source objects of moved snapshot {}/{t}{}",
                self.group,
                orphan_note(orphans.len())
            ));
        }
        let ctx = self.ctx;
        let locks = &ctx.locks;
        for path in [
            locks.manifest(self.ns, self.group, time),
            locks.snapshot(self.ns, self.group, time),
            locks.old_manifest(self.ns, self.group, time),
        ] {
            if path.exists() {
                // PBS removes a lock file while holding it; waiters re-check the inode.
                let guard = take(
                    &path,
                    LockMode::Exclusive,
                    &format!("snapshot {}/{t}", self.group),
                )?;
                remove_lock_file(&path);
                drop(guard);
                self.actions
                    .push(format!("removed stale lock file {}", path.display()));
            }
        }
        Ok(())
    }

    /// "Target group created but nothing moved": remove it again (only what we created).
    fn remove_created_target(&mut self) -> Result<(), MoveError> {
        if self.g.target_existed {
            return Ok(());
        }
        let dir = self.ctx.ds.group_path(self.target_ns, self.group);
        let Ok(rd) = fs::read_dir(&dir) else {
            return Ok(());
        };
        let names: Vec<String> = rd
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if names.iter().any(|n| n != OWNER_FILE) {
            return Ok(()); // notes or snapshots: not an empty group of ours any more
        }
        remove_if_present(&dir.join(OWNER_FILE))?;
        fs::remove_dir(&dir).map_err(|e| io_failed("cannot remove", &dir, e))?;
        let orphans = self.ctx.backend.remove_group(self.target_ns, self.group);
        remove_lock_file(&self.ctx.locks.group(self.target_ns, self.group));
        self.actions.push(format!(
            "removed the empty target group {} in '{}' the interrupted move had created{}",
            self.group,
            self.target_ns.human(),
            orphan_note(orphans.len())
        ));
        Ok(())
    }

    /// The source group was emptied; its destroy (owner, notes, dir, bucket objects) may be
    /// half done. Notes still at the source move first when the target has none.
    fn finish_source_destroy(&mut self) -> Result<(), MoveError> {
        let ctx = self.ctx;
        let ds = &ctx.ds;
        let dir = ds.group_path(self.ns, self.group);
        let exists = dir.exists();
        if exists {
            let has_owner = dir.join(OWNER_FILE).exists();
            let has_snapshots = !ds.list_snapshot_times(self.ns, self.group)?.is_empty();
            if has_owner || has_snapshots {
                return Ok(()); // a normal group: the rerun moves it with every check
            }
            self.move_notes_if_needed()?;
            remove_if_present(&dir.join(NOTES_FILE))?;
            fs::remove_dir(&dir).map_err(|e| io_failed("cannot remove group dir", &dir, e))?;
        }
        let orphans = self.ctx.backend.remove_group(self.ns, self.group);
        if exists || !self.ctx.backend.is_local_only() {
            self.actions.push(format!(
                "finished removing the emptied source group {} in '{}'{}",
                self.group,
                self.ns.human(),
                orphan_note(orphans.len())
            ));
        }
        Ok(())
    }

    fn move_notes_if_needed(&mut self) -> Result<(), MoveError> {
        let ds = &self.ctx.ds;
        let src = ds.group_path(self.ns, self.group).join(NOTES_FILE);
        let dst = ds.group_path(self.target_ns, self.group).join(NOTES_FILE);
        if !src.is_file() || dst.exists() {
            return Ok(());
        }
        let notes = fs::read(&src).map_err(|e| io_failed("cannot read", &src, e))?;
        self.ctx
            .backend
            .put_notes(self.target_ns, self.group, &notes)?;
        fs::rename(&src, &dst).map_err(|e| io_failed("cannot move notes", &src, e))?;
        self.actions
            .push(format!("moved the notes of group {}", self.group));
        Ok(())
    }
}

fn remove_if_present(path: &Path) -> Result<(), MoveError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_failed("cannot remove", path, e)),
        _ => Ok(()),
    }
}

fn orphan_note(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} object(s) could not be deleted and are left as orphans)")
    }
}
