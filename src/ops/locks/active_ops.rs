//! Registering a move as a write operation of its datastore, the way PBS counts its own
//! (`pbs-datastore/src/task_tracking.rs`), so that unmounting a removable datastore and
//! `s3-refresh` wait until the move is over instead of starting under it.
//!
//! File `<run>/active-operations/<store>`: a JSON list of
//! `{"pid":…,"starttime":…,"active_operations":{"read":…,"write":…}}`, replaced atomically
//! under an exclusive flock on `<store>.lock` (0660 backup:backup). Entries of dead
//! processes (or of a reused PID: other start time) are dropped on every update, as PBS does.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ops::error::MoveError;
use crate::ops::locks::flock::{LockMode, lock_file};
use crate::ops::locks::paths::LockPaths;
use crate::ops::safety::ownership::{
    LOCK_FILE_MODE, create_dir_all_owned, create_dir_owned, set_owned_mode,
};

/// `pbs_datastore::ACTIVE_OPERATIONS_DIR`, relative to `/run/proxmox-backup`.
pub const ACTIVE_OPERATIONS_DIR_NAME: &str = "active-operations";
/// PBS's `create_active_operations_dir` mode.
const DIR_MODE: u32 = 0o750;
/// `update_active_operations` waits this long for the lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationCounts {
    pub read: i64,
    pub write: i64,
}

/// One process's entry, field for field PBS's `TaskOperations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOperations {
    pub pid: u32,
    pub starttime: u64,
    pub active_operations: OperationCounts,
}

/// Where the active-operations files of `paths.store` live: beside the lock dir, as
/// `/run/proxmox-backup/active-operations` is beside `/run/proxmox-backup/locks`.
#[derive(Debug, Clone)]
pub struct ActiveOpsPaths {
    dir: PathBuf,
    store: String,
}

impl ActiveOpsPaths {
    pub fn of(paths: &LockPaths) -> Self {
        let run = paths
            .lock_dir
            .parent()
            .map_or_else(|| paths.lock_dir.join(".."), Path::to_path_buf);
        Self {
            dir: run.join(ACTIVE_OPERATIONS_DIR_NAME),
            store: paths.store.clone(),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.join(&self.store)
    }

    pub fn lock(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.store))
    }
}

/// This process counted as one write operation of the datastore; dropping it counts the
/// operation off again (also on error and cancel).
#[derive(Debug)]
pub struct ActiveOperation {
    paths: ActiveOpsPaths,
}

impl Drop for ActiveOperation {
    fn drop(&mut self) {
        // Best effort: a leftover count would only make an unmount wait until this process
        // is gone, since entries of dead processes do not count.
        let _ = update(&self.paths, -1);
    }
}

/// Registers one write operation of this process for the datastore of `paths`.
pub fn register_write(paths: &LockPaths) -> Result<ActiveOperation, MoveError> {
    let paths = ActiveOpsPaths::of(paths);
    update(&paths, 1).map_err(|e| {
        MoveError::failed(format!(
            "cannot register the move as an active operation in {}: {e}",
            paths.data().display()
        ))
    })?;
    Ok(ActiveOperation { paths })
}

/// Reads the entries of the datastore that count now (running processes only).
pub fn read_active(paths: &ActiveOpsPaths) -> io::Result<Vec<TaskOperations>> {
    Ok(live(load(&paths.data())?, None))
}

/// `update_active_operations(store, Write, delta)`; our entry goes when it counts nothing.
fn update(paths: &ActiveOpsPaths, delta: i64) -> io::Result<()> {
    if let Some(run) = paths.dir.parent() {
        // `/run/proxmox-backup` itself, as the lock dir beside it is created when missing.
        create_dir_all_owned(run, Path::new("/"))?;
    }
    create_dir_owned(&paths.dir, DIR_MODE)?;
    let _guard = lock_file(&paths.lock(), LockMode::Exclusive, LOCK_TIMEOUT)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let pid = std::process::id();
    let starttime = proc_starttime(pid)
        .ok_or_else(|| io::Error::other("cannot read this process's start time"))?;
    let mut tasks = live(load(&paths.data())?, Some(pid));
    match tasks.iter_mut().find(|t| t.pid == pid) {
        Some(t) => t.active_operations.write += delta,
        None if delta > 0 => tasks.push(TaskOperations {
            pid,
            starttime,
            active_operations: OperationCounts {
                read: 0,
                write: delta,
            },
        }),
        None => {}
    }
    tasks.retain(|t| t.pid != pid || t.active_operations != OperationCounts::default());
    replace(&paths.data(), &serde_json::to_vec(&tasks)?)
}

fn load(path: &Path) -> io::Result<Vec<TaskOperations>> {
    match std::fs::read(path) {
        Ok(data) => serde_json::from_slice(&data).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// PBS's filters. Updating (`us` = our PID): drop dead processes and an
/// entry of our PID left by an earlier process. Reading: count only entries whose process
/// still runs with the recorded start time.
fn live(tasks: Vec<TaskOperations>, us: Option<u32>) -> Vec<TaskOperations> {
    tasks
        .into_iter()
        .filter(|t| {
            let Some(start) = proc_starttime(t.pid) else {
                return false;
            };
            match us {
                Some(pid) => t.pid != pid || t.starttime == start,
                None => t.starttime == start,
            }
        })
        .collect()
}

/// `replace_file`: a temp file in the same dir, mode and owner set, renamed over `path`.
fn replace(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    set_owned_mode(tmp.as_file(), LOCK_FILE_MODE)?;
    tmp.write_all(data)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Field 22 of `/proc/PID/stat` (clock ticks since boot), `None` for a dead or zombie
/// process, like proxmox-sys's `check_process_running`.
pub fn proc_starttime(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?;
    if state == "Z" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(tmp: &Path) -> LockPaths {
        LockPaths::with_lock_dir(tmp.join("run/locks"), "store1")
    }

    #[test]
    fn counts_up_and_down_and_leaves_no_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let lp = paths(tmp.path());
        let ap = ActiveOpsPaths::of(&lp);
        assert_eq!(ap.data(), tmp.path().join("run/active-operations/store1"));
        let a = register_write(&lp).unwrap();
        let b = register_write(&lp).unwrap();
        let now = read_active(&ap).unwrap();
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].pid, std::process::id());
        assert_eq!(
            now[0].active_operations,
            OperationCounts { read: 0, write: 2 }
        );
        drop(a);
        assert_eq!(read_active(&ap).unwrap()[0].active_operations.write, 1);
        drop(b);
        assert_eq!(std::fs::read_to_string(ap.data()).unwrap(), "[]");
    }

    #[test]
    fn stale_entries_are_dropped_and_others_kept() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("run/active-operations")).unwrap();
        let lp = paths(tmp.path());
        let ap = ActiveOpsPaths::of(&lp);
        let init = proc_starttime(1).unwrap();
        let ours = proc_starttime(std::process::id()).unwrap();
        let old = format!(
            r#"[{{"pid":1,"starttime":{init},"active_operations":{{"read":1,"write":0}}}},
               {{"pid":{},"starttime":{},"active_operations":{{"read":0,"write":5}}}},
               {{"pid":4000000000,"starttime":1,"active_operations":{{"read":0,"write":1}}}}]"#,
            std::process::id(),
            ours + 1
        );
        std::fs::write(ap.data(), old).unwrap();
        let g = register_write(&lp).unwrap();
        let text = std::fs::read_to_string(ap.data()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"[{{"pid":1,"starttime":{init},"active_operations":{{"read":1,"write":0}}}},{{"pid":{},"starttime":{ours},"active_operations":{{"read":0,"write":1}}}}]"#,
                std::process::id()
            )
        );
        drop(g);
        assert_eq!(read_active(&ap).unwrap().len(), 1);
    }

    #[test]
    fn starttime_of_self_and_of_a_dead_pid() {
        assert!(proc_starttime(std::process::id()).is_some());
        assert!(proc_starttime(u32::MAX).is_none());
    }
}
