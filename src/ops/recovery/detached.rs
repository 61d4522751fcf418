//! A TUI whose terminal went away (a dropped SSH session) finishes its moves without one.
//! Meanwhile it keeps a marker in the state dir, so that the next start can say what those
//! moves did: the operation journals of that process that ended after the marker was written.
//!
//! `<state dir>/<store>/detached-<pid>.json`, exclusively flocked by its process until that
//! exits: a locked marker is a process still at work. Its mtime is the moment the terminal
//! was lost, compared with the journals' mtimes (same clock: the file system's).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustix::fs::{FlockOperation, flock};
use serde::{Deserialize, Serialize};

use crate::ops::context::MoveContext;
use crate::ops::error::MoveError;
use crate::ops::journal::crash::{
    FILE_MODE, JournalEntry, create_store_dir, jerr, list_entries, pid_of, store_dir,
};
use crate::ops::journal::record::Status;
use crate::ops::recovery::pending::progress_of;
use crate::ops::safety::ownership::set_owned_mode;

const PREFIX: &str = "detached-";
const EXT: &str = "json";

/// The marker's content.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    pid: u32,
    /// The datastore's path: one store name may name several in tests and `--path` use.
    base: PathBuf,
}

/// Held while the detached TUI finishes its moves; the flock goes with the process.
#[derive(Debug)]
pub struct DetachedMarker {
    _file: File,
}

/// Writes this process's marker; `None` when journaling is off (no state dir).
pub fn mark(ctx: &MoveContext) -> Result<Option<DetachedMarker>, MoveError> {
    match ctx.journal_dir() {
        Some(state) => mark_in(state, &ctx.ds.name, &ctx.ds.base).map(Some),
        None => Ok(None),
    }
}

fn mark_in(state: &Path, store: &str, base: &Path) -> Result<DetachedMarker, MoveError> {
    let dir = create_store_dir(state, store)?;
    let pid = std::process::id();
    let path = dir.join(format!("{PREFIX}{pid}.{EXT}"));
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path)
        .map_err(|e| jerr("cannot create", &path, e))?;
    set_owned_mode(&file, FILE_MODE).map_err(|e| jerr("cannot chown", &path, e))?;
    flock(&file, FlockOperation::NonBlockingLockExclusive)
        .map_err(|e| jerr("cannot lock", &path, e))?;
    let marker = Marker {
        pid,
        base: base.to_path_buf(),
    };
    // Written last: its mtime is the moment the terminal was lost.
    serde_json::to_writer(&file, &marker).map_err(|e| jerr("cannot write", &path, e))?;
    Ok(DetachedMarker { _file: file })
}

/// What one detached TUI did after it lost its terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachedReport {
    pub pid: u32,
    /// Still at work: its report comes at a later start.
    pub running: bool,
    /// The operations it finished after losing the terminal, oldest first.
    pub finished: Vec<FinishedOp>,
}

/// One operation's end, from its journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedOp {
    pub id: String,
    /// `move-group vm/100 '' -> 'b'`.
    pub op: String,
    /// The journal's final status word ([`Status`] as text: a report for people).
    pub status: String,
    pub groups_done: usize,
    pub groups_total: usize,
    pub snapshots_moved: usize,
}

impl FinishedOp {
    /// Ended with everything moved (the journal's `ok`).
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok.as_str()
    }
}

/// The reports of every detached TUI of this datastore. The marker of one that ended is
/// removed, so its report is given once.
pub fn take_reports(ctx: &MoveContext) -> Result<Vec<DetachedReport>, MoveError> {
    match ctx.journal_dir() {
        Some(state) => take_reports_in(state, &ctx.ds.name, &ctx.ds.base),
        None => Ok(Vec::new()),
    }
}

fn take_reports_in(
    state: &Path,
    store: &str,
    base: &Path,
) -> Result<Vec<DetachedReport>, MoveError> {
    let markers = markers(&store_dir(state, store))?;
    if markers.is_empty() {
        return Ok(Vec::new());
    }
    let entries = list_entries(state, store, base)?;
    let mut out = Vec::new();
    for path in markers {
        out.extend(take_report(&path, base, &entries)?);
    }
    Ok(out)
}

fn markers(dir: &Path) -> Result<Vec<PathBuf>, MoveError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(jerr("cannot read", dir, e)),
    };
    let mut paths: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(EXT))
        })
        .collect();
    paths.sort();
    Ok(paths)
}

/// One marker's report; `None` for another datastore's or an unreadable marker.
fn take_report(
    path: &Path,
    base: &Path,
    entries: &[JournalEntry],
) -> Result<Option<DetachedReport>, MoveError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|e| jerr("cannot open", path, e))?;
    // A torn marker (the process died writing it) tells nothing; it is left alone.
    let Ok(marker) = serde_json::from_reader::<_, Marker>(&file) else {
        return Ok(None);
    };
    if marker.base != base {
        return Ok(None);
    }
    let lost = modified(path)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            return Ok(Some(DetachedReport {
                pid: marker.pid,
                running: true,
                finished: Vec::new(),
            }));
        }
        Err(e) => return Err(jerr("cannot lock", path, e)),
    }
    let mut finished = Vec::new();
    for e in entries {
        if pid_of(&e.id) == Some(marker.pid) && e.is_finished() && modified(&e.path)? >= lost {
            finished.extend(finished_op(e));
        }
    }
    fs::remove_file(path).map_err(|e| jerr("cannot remove", path, e))?;
    Ok(Some(DetachedReport {
        pid: marker.pid,
        running: false,
        finished,
    }))
}

fn modified(path: &Path) -> Result<SystemTime, MoveError> {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| jerr("cannot stat", path, e))
}

fn finished_op(e: &JournalEntry) -> Option<FinishedOp> {
    let (op, _, _) = e.begin()?;
    let (groups_done, groups_total, snapshots_moved) = progress_of(e);
    Some(FinishedOp {
        id: e.id.clone(),
        op: op.describe(),
        status: e.status()?.to_string(),
        groups_done,
        groups_total,
        snapshots_moved,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ops::journal::record::{OpKind, Record};

    const STORE: &str = "store1";

    /// A journal of `pid`'s operation `seq`, finished (`done`) or not, last written at `at`.
    fn journal(state: &Path, base: &Path, pid: u32, seq: u32, done: bool, at: SystemTime) {
        let id = format!("1700000000-000000-{pid}-{seq}");
        let mut records = vec![Record::Begin {
            v: 1,
            id: id.clone(),
            op: OpKind::MoveGroup {
                ns: crate::tree::Namespace::root(),
                group: crate::tree::GroupId::parse("vm/100").unwrap(),
                target_ns: crate::tree::Namespace::parse("b").unwrap(),
                merge: true,
            },
            store: STORE.into(),
            base: base.to_path_buf(),
            backend: "filesystem".into(),
            started: 1_700_000_000,
        }];
        if done {
            records.push(Record::Done { status: Status::Ok });
        }
        let text: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        let path = store_dir(state, STORE).join(format!("{id}.jsonl"));
        fs::write(&path, text).unwrap();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(at)
            .unwrap();
    }

    #[test]
    fn reports_what_ended_after_the_terminal_was_lost_once_its_process_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let (state, base) = (dir.path().join("state"), dir.path().join("ds"));
        let pid = std::process::id();
        let hour = Duration::from_secs(3600);
        let marker = mark_in(&state, STORE, &base).unwrap();
        let now = SystemTime::now();
        journal(&state, &base, pid, 0, true, now - hour); // seen on screen before the loss
        journal(&state, &base, pid, 1, true, now + hour); // the one to report
        journal(&state, &base, pid, 2, false, now + hour); // unfinished: the resume prompt's
        journal(&state, &base, pid + 1, 0, true, now + hour); // another process's

        // Still held: that process is at work, its report comes later.
        let running = take_reports_in(&state, STORE, &base).unwrap();
        assert_eq!(running.len(), 1);
        assert!(running[0].running && running[0].finished.is_empty());
        // Another datastore of the same name does not see it.
        assert!(
            take_reports_in(&state, STORE, Path::new("/other"))
                .unwrap()
                .is_empty()
        );

        drop(marker);
        let reports = take_reports_in(&state, STORE, &base).unwrap();
        assert_eq!(reports.len(), 1, "{reports:?}");
        let r = &reports[0];
        assert_eq!((r.pid, r.running), (pid, false));
        let ids: Vec<&str> = r.finished.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, [format!("1700000000-000000-{pid}-1")]);
        assert_eq!(r.finished[0].op, "move-group vm/100 '' -> 'b'");
        assert_eq!(r.finished[0].status, "ok");
        // Told once.
        assert!(take_reports_in(&state, STORE, &base).unwrap().is_empty());
    }

    #[test]
    fn the_pid_is_read_from_the_operation_id() {
        assert_eq!(pid_of("1700000000-000123-4242-7"), Some(4242));
        assert_eq!(pid_of("garbage"), None);
    }
}
