//! pbs-mover's own operation journal: what a move intends and how far it got, durable before
//! each step, so `resume` can finish (or roll back) a move cut short by a crash.
//!
//! One append-only JSON-lines file per operation under `<state dir>/<store>/<id>.jsonl`.
//! Every record is one `write` of a whole line followed by `fdatasync`; a torn last line
//! (crash mid-write) is ignored on reading. Snapshot records refer to the latest `group`
//! record, which keeps the per-snapshot cost to one short line and one sync.
//! A running operation holds an exclusive flock on its file; a crash releases it.

use std::collections::HashMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use rustix::fs::{FlockOperation, flock};

use crate::ops::context::MoveContext;
use crate::ops::error::MoveError;
use crate::ops::failpoint;
use crate::ops::journal::record::{GroupFacts, OpKind, Record, Status};
use crate::ops::safety::ownership::set_owned_mode;
use crate::tree::{GroupId, Namespace};

const DIR_MODE: u32 = 0o750;
pub(crate) const FILE_MODE: u32 = 0o640;
const EXT: &str = "jsonl";

/// An open journal: appends are durable when `record` returns.
#[derive(Debug)]
pub struct OpJournal {
    pub id: String,
    pub path: PathBuf,
    file: File,
}

pub(crate) fn jerr(what: &str, path: &Path, e: impl std::fmt::Display) -> MoveError {
    MoveError::failed(format!(
        "operation journal: {what} {}: {e} (set --state-dir or PBS_MOVER_STATE_DIR to a writable dir)",
        path.display()
    ))
}

/// `<state dir>/<store>`.
pub fn store_dir(state: &Path, store: &str) -> PathBuf {
    state.join(store)
}

/// `<state dir>/<store>`, created (with the state dir) owned by `backup` when missing.
pub(crate) fn create_store_dir(state: &Path, store: &str) -> Result<PathBuf, MoveError> {
    if let Some(parent) = state.parent() {
        fs::create_dir_all(parent).map_err(|e| jerr("cannot create", parent, e))?;
    }
    create_owned_dir(state)?;
    let dir = store_dir(state, store);
    create_owned_dir(&dir)?;
    Ok(dir)
}

fn create_owned_dir(dir: &Path) -> Result<(), MoveError> {
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => {
            let f = File::open(dir).map_err(|e| jerr("cannot open", dir, e))?;
            set_owned_mode(&f, DIR_MODE).map_err(|e| jerr("cannot chown", dir, e))?;
            sync_parent(dir)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(jerr("cannot create", dir, e)),
    }
}

fn sync_parent(path: &Path) -> Result<(), MoveError> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| jerr("cannot sync", parent, e))
}

/// Seconds since the epoch, as journal records store times.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A journal time for people: `2026-12-02T02:22:53Z` (UTC).
pub fn format_time(secs: u64) -> String {
    crate::tree::SnapshotTime::from_epoch(secs).to_string()
}

/// The process that started an operation, from its id (see `new_id`).
pub fn pid_of(id: &str) -> Option<u32> {
    id.split('-').nth(2)?.parse().ok()
}

/// `<seconds>-<microseconds>-<pid>-<sequence>`: sorts by start time, unique per process.
fn new_id() -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}-{:06}-{}-{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

fn lock_exclusive(file: &File, path: &Path) -> Result<(), MoveError> {
    flock(file, FlockOperation::NonBlockingLockExclusive).map_err(|e| {
        if e == rustix::io::Errno::WOULDBLOCK {
            MoveError::Busy(format!(
                "operation {} is still running in another process",
                path.display()
            ))
        } else {
            jerr("cannot lock", path, e)
        }
    })
}

impl OpJournal {
    /// Starts the journal of a new operation; `None` when journaling is off.
    pub fn begin(ctx: &MoveContext, op: OpKind) -> Result<Option<Self>, MoveError> {
        let Some(state) = ctx.journal_dir() else {
            return Ok(None);
        };
        let dir = create_store_dir(state, &ctx.ds.name)?;
        let id = new_id();
        let path = dir.join(format!("{id}.{EXT}"));
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(FILE_MODE)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .map_err(|e| jerr("cannot create", &path, e))?;
        set_owned_mode(&file, FILE_MODE).map_err(|e| jerr("cannot chown", &path, e))?;
        lock_exclusive(&file, &path)?;
        let j = Self { id, path, file };
        let started = now_secs();
        j.record(&Record::Begin {
            v: 1,
            id: j.id.clone(),
            op,
            store: ctx.ds.name.clone(),
            base: ctx.ds.base.clone(),
            backend: ctx.backend.kind().to_string(),
            started,
        })?;
        // The file's name must be durable too, or a crash could lose the whole journal.
        sync_parent(&j.path)?;
        failpoint::hit("after-journal");
        Ok(Some(j))
    }

    /// Reopens an unfinished journal for `resume`; `Busy` while its operation still runs.
    pub fn reopen(path: &Path) -> Result<Self, MoveError> {
        let file = OpenOptions::new()
            .append(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
            .map_err(|e| jerr("cannot open", path, e))?;
        lock_exclusive(&file, path)?;
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let j = Self {
            id,
            path: path.to_path_buf(),
            file,
        };
        // A torn last line must not swallow the next record.
        j.append_raw(b"\n", true)?;
        Ok(j)
    }

    /// Appends one record and makes it durable. A `done` is preceded by when it ended.
    pub fn record(&self, r: &Record) -> Result<(), MoveError> {
        if matches!(r, Record::Done { .. }) {
            self.append(&Record::Ended { at: now_secs() }, false)?;
        }
        self.append(r, true)
    }

    /// Appends several records with one sync: durable together when this returns.
    pub fn record_all(&self, records: &[Record]) -> Result<(), MoveError> {
        self.append_all(records, true)
    }

    /// Appends several records in one write without syncing; a later `record` (or `sync`)
    /// makes them durable.
    pub fn record_all_unsynced(&self, records: &[Record]) -> Result<(), MoveError> {
        self.append_all(records, false)
    }

    fn append_all(&self, records: &[Record], sync: bool) -> Result<(), MoveError> {
        let mut lines = Vec::new();
        for r in records {
            lines.extend(
                serde_json::to_vec(r).map_err(|e| jerr("cannot encode for", &self.path, e))?,
            );
            lines.push(b'\n');
        }
        self.append_raw(&lines, sync)
    }

    /// The plans of a batch of groups, durable together when this returns: one sync for
    /// the whole batch (group commit) instead of one per group.
    pub fn record_plans(&self, plans: &[GroupFacts]) -> Result<(), MoveError> {
        if plans.is_empty() {
            return Ok(());
        }
        let records: Vec<Record> = plans.iter().map(GroupFacts::planned).collect();
        self.record_all(&records)?;
        failpoint::hit("after-plan");
        Ok(())
    }

    /// A group's `group` record, written under its group lock before its target group is
    /// touched. Synced unless `plan` (already durable) holds the very same facts: then a
    /// crash that loses this line leaves `resume` the plan, which says all it needs.
    pub fn record_group(
        &self,
        facts: &GroupFacts,
        plan: Option<&GroupFacts>,
    ) -> Result<(), MoveError> {
        self.append(&facts.started(), plan != Some(facts))
    }

    /// Appends without syncing; a later `record` (or `sync`) makes it durable.
    pub fn record_unsynced(&self, r: &Record) -> Result<(), MoveError> {
        self.append(r, false)
    }

    pub fn sync(&self) -> Result<(), MoveError> {
        self.file
            .sync_data()
            .map_err(|e| jerr("cannot sync", &self.path, e))
    }

    fn append(&self, r: &Record, sync: bool) -> Result<(), MoveError> {
        let mut line =
            serde_json::to_vec(r).map_err(|e| jerr("cannot encode for", &self.path, e))?;
        line.push(b'\n');
        self.append_raw(&line, sync)
    }

    fn append_raw(&self, bytes: &[u8], sync: bool) -> Result<(), MoveError> {
        (&self.file)
            .write_all(bytes)
            .map_err(|e| jerr("cannot write", &self.path, e))?;
        if sync { self.sync() } else { Ok(()) }
    }
}

/// Records for one journal file, as read back.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub id: String,
    pub path: PathBuf,
    pub records: Vec<Record>,
}

/// Whether (and how far) `undo` moved an operation back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UndoState {
    /// Never, or only attempts that changed nothing.
    NotUndone,
    /// An attempt changed something but did not finish (crash, lock, error): `undo` again
    /// finishes it.
    Incomplete,
    Undone {
        at: u64,
    },
}

impl JournalEntry {
    /// The operation's own records: those before the first `undo-begin`.
    pub fn move_records(&self) -> &[Record] {
        let end = self
            .records
            .iter()
            .position(|r| matches!(r, Record::UndoBegin { .. }))
            .unwrap_or(self.records.len());
        &self.records[..end]
    }

    pub fn begin(&self) -> Option<(&OpKind, &Path, u64)> {
        self.records.iter().find_map(|r| match r {
            Record::Begin {
                op, base, started, ..
            } => Some((op, base.as_path(), *started)),
            _ => None,
        })
    }

    /// How the operation ended, `undone` once `undo` started to move it back (so `resume`
    /// leaves it alone); `None` while unfinished.
    pub fn status(&self) -> Option<Status> {
        match self.undo_state() {
            UndoState::NotUndone => self.move_status(),
            _ => Some(Status::Undone),
        }
    }

    /// How the operation itself ended, whatever `undo` did since.
    pub fn move_status(&self) -> Option<Status> {
        self.move_records().iter().rev().find_map(|r| match r {
            Record::Done { status } => Some(*status),
            _ => None,
        })
    }

    /// When the operation (or its last `resume`) ended; `None` for older journals.
    pub fn ended_at(&self) -> Option<u64> {
        self.move_records().iter().rev().find_map(|r| match r {
            Record::Ended { at } => Some(*at),
            _ => None,
        })
    }

    pub fn undo_state(&self) -> UndoState {
        let mut state = UndoState::NotUndone;
        let mut attempt_open = false;
        for r in &self.records {
            match r {
                Record::UndoBegin { .. } => attempt_open = true,
                Record::UndoEnded { ok, changed, at } => {
                    attempt_open = false;
                    state = match (ok, changed, state) {
                        (true, _, _) => UndoState::Undone { at: *at },
                        (false, true, _) => UndoState::Incomplete,
                        (false, false, s) => s,
                    };
                }
                _ => {}
            }
        }
        // A crash during an attempt: assume it changed something.
        if attempt_open && !matches!(state, UndoState::Undone { .. }) {
            state = UndoState::Incomplete;
        }
        state
    }

    pub fn is_finished(&self) -> bool {
        self.status().is_some()
    }

    /// The group records with the snapshot records that follow each (the operation's own,
    /// not an undo's). A planned group ([`Record::GroupPlanned`]) is in it until its own
    /// `group` record (or a newer plan of it) replaces it; records never attach to a plan.
    pub fn groups(&self) -> Vec<GroupProgress> {
        let mut out: Vec<Option<GroupProgress>> = Vec::new();
        // Plans not replaced yet, by their names.
        let mut planned: HashMap<(Namespace, GroupId, Namespace), usize> = HashMap::new();
        let mut current: Option<usize> = None;
        for r in self.move_records() {
            let Some(g) = GroupProgress::of_record(r) else {
                if let Some(g) = current.and_then(|i| out[i].as_mut()) {
                    g.apply(r);
                }
                continue;
            };
            if let Some(i) = planned.remove(&g.names()) {
                out[i] = None;
            }
            if g.started {
                current = Some(out.len());
            } else {
                planned.insert(g.names(), out.len());
            }
            out.push(Some(g));
        }
        out.into_iter().flatten().collect()
    }

    /// Each group the operation touched once, in first-seen order: its first record (whether
    /// the target existed *before* the move: a `resume` re-records the group's own target as
    /// existing), every snapshot renamed by any attempt, and how the last attempt ended.
    pub fn moved_groups(&self) -> Vec<GroupProgress> {
        let mut out: Vec<GroupProgress> = Vec::new();
        for g in self.groups() {
            let same = |o: &&mut GroupProgress| {
                o.ns == g.ns && o.group == g.group && o.target_ns == g.target_ns
            };
            match out.iter_mut().find(|o| same(o)) {
                Some(first) => {
                    first.renamed.extend(g.renamed);
                    first.done = g.done.or(first.done);
                    if g.notes != NotesStep::None {
                        first.notes = g.notes;
                    }
                }
                None => out.push(g),
            }
        }
        for g in &mut out {
            g.renamed.sort();
            g.renamed.dedup();
        }
        out
    }

    /// Namespaces whose removal started but was not recorded as finished.
    pub fn namespaces_removing(&self) -> Vec<Namespace> {
        let mut out: Vec<Namespace> = Vec::new();
        for r in self.move_records() {
            match r {
                Record::NsRemoving { ns } => out.push(ns.clone()),
                Record::NsRemoved { ns } => out.retain(|n| n != ns),
                _ => {}
            }
        }
        out
    }

    /// Namespaces whose `ns/` container (the dir child namespaces live in) the operation
    /// created along with a child namespace.
    pub fn containers_created(&self) -> Vec<Namespace> {
        self.move_records()
            .iter()
            .filter_map(|r| match r {
                Record::NsCreated {
                    ns,
                    container_existed: Some(false),
                } => ns.parent(),
                _ => None,
            })
            .collect()
    }

    /// Namespaces whose removal started (finished or not), in order.
    pub fn namespaces_removed(&self) -> Vec<Namespace> {
        let mut out: Vec<Namespace> = Vec::new();
        for r in self.move_records() {
            if let Record::NsRemoving { ns } = r
                && !out.contains(ns)
            {
                out.push(ns.clone());
            }
        }
        out
    }

    /// Namespaces the operation created (or was about to: see [`Record::NsCreated`]), once
    /// each, in order.
    pub fn namespaces_created(&self) -> Vec<Namespace> {
        let mut out: Vec<Namespace> = Vec::new();
        for r in self.move_records() {
            if let Record::NsCreated { ns, .. } = r
                && !out.contains(ns)
            {
                out.push(ns.clone());
            }
        }
        out
    }
}

/// What a merge did with the group's notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotesStep {
    /// Nothing recorded: no notes, or the target group was created by the move (the notes
    /// went with the group), or an older journal.
    None,
    /// Renamed onto the target, which had none.
    Moved,
    /// The target kept its own; the source's were these.
    Kept(String),
}

/// One group's journaled progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupProgress {
    pub ns: Namespace,
    pub group: GroupId,
    pub target_ns: Namespace,
    pub target_existed: bool,
    pub snapshots: Vec<String>,
    /// `None` in journals of older versions (as is `type_existed`).
    pub owner: Option<String>,
    pub type_existed: Option<bool>,
    /// (time, source keys, target keys) of S3 copies.
    pub copied: Vec<(String, Vec<String>, Vec<String>)>,
    pub renamed: Vec<String>,
    pub deleted: Vec<String>,
    pub notes: NotesStep,
    /// `Some(ok)` once the group's move ended.
    pub done: Option<bool>,
    /// Its `group` record was written (under its group lock); `false`: only planned, so
    /// nothing of it moved unless the disk says otherwise (the `group` line lost in a crash).
    pub started: bool,
}

impl GroupProgress {
    /// A `group` or `group-planned` record's group, with nothing done yet.
    fn of_record(r: &Record) -> Option<Self> {
        let (ns, group, target_ns, target_existed, snapshots, owner, type_existed, started) =
            match r {
                Record::Group {
                    ns,
                    group,
                    target_ns,
                    target_existed,
                    snapshots,
                    owner,
                    type_existed,
                } => (
                    ns,
                    group,
                    target_ns,
                    *target_existed,
                    snapshots,
                    owner.clone(),
                    *type_existed,
                    true,
                ),
                Record::GroupPlanned {
                    ns,
                    group,
                    target_ns,
                    target_existed,
                    snapshots,
                    owner,
                    type_existed,
                } => (
                    ns,
                    group,
                    target_ns,
                    *target_existed,
                    snapshots,
                    Some(owner.clone()),
                    Some(*type_existed),
                    false,
                ),
                _ => return None,
            };
        Some(Self {
            ns: ns.clone(),
            group: group.clone(),
            target_ns: target_ns.clone(),
            target_existed,
            snapshots: snapshots.clone(),
            owner,
            type_existed,
            copied: Vec::new(),
            renamed: Vec::new(),
            deleted: Vec::new(),
            notes: NotesStep::None,
            done: None,
            started,
        })
    }

    fn apply(&mut self, r: &Record) {
        match r {
            Record::Copied { t, src, dst } => {
                self.copied.push((t.clone(), src.clone(), dst.clone()))
            }
            Record::Renamed { t } => self.renamed.push(t.clone()),
            Record::Deleted { t } => self.deleted.push(t.clone()),
            Record::NotesMoved => self.notes = NotesStep::Moved,
            Record::NotesKept { notes } => self.notes = NotesStep::Kept(notes.clone()),
            // Older versions also closed a group that failed before its own `group` record
            // (a lock conflict): that stray line belongs to no group and is skipped.
            Record::GroupDone { ok, .. } if self.done.is_none() => self.done = Some(*ok),
            _ => {}
        }
    }

    /// (source namespace, group, target namespace).
    pub fn names(&self) -> (Namespace, GroupId, Namespace) {
        (self.ns.clone(), self.group.clone(), self.target_ns.clone())
    }
}

/// Parses a journal; unreadable lines (a torn tail) are skipped.
pub fn read_entry(path: &Path) -> io::Result<JournalEntry> {
    let text = fs::read_to_string(path)?;
    let records = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(JournalEntry {
        id,
        path: path.to_path_buf(),
        records,
    })
}

/// Every journal of `store` whose operation ran on the datastore at `base`, oldest first.
pub fn list_entries(
    state: &Path,
    store: &str,
    base: &Path,
) -> Result<Vec<JournalEntry>, MoveError> {
    let dir = store_dir(state, store);
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(jerr("cannot read", &dir, e)),
    };
    let mut paths: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == EXT))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let entry = read_entry(&p).map_err(|e| jerr("cannot read", &p, e))?;
        if entry.begin().is_some_and(|(_, b, _)| b == base) {
            out.push(entry);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tail_is_ignored_and_groups_collect_their_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        let lines = [
            r#"{"e":"group","ns":"","group":"vm/1","target_ns":"a","target_existed":false,"snapshots":["t1","t2"]}"#,
            r#"{"e":"renamed","t":"t1"}"#,
            r#"{"e":"renam"#,
        ];
        fs::write(&p, lines.join("\n")).unwrap();
        let e = read_entry(&p).unwrap();
        let g = e.groups();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].renamed, vec!["t1".to_string()]);
        assert!(!e.is_finished());
    }

    fn entry(lines: &[&str]) -> JournalEntry {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        fs::write(&p, lines.join("\n")).unwrap();
        read_entry(&p).unwrap()
    }

    const BEGIN: &str = r#"{"e":"begin","v":1,"id":"1-0-1-0","op":{"kind":"move-ns","ns":"a","target_ns":"b","max_depth":null,"delete_source":true,"merge":true},"store":"s","base":"/ds","backend":"filesystem","started":100}"#;
    const G1: &str = r#"{"e":"group","ns":"a","group":"vm/1","target_ns":"b","target_existed":true,"snapshots":["t1","t2"]}"#;
    const G2: &str = r#"{"e":"group","ns":"a","group":"vm/2","target_ns":"b","target_existed":false,"snapshots":["t1"],"owner":"x@pbs","type_existed":false}"#;

    #[test]
    fn a_journal_of_the_previous_version_reads_with_a_stray_group_done_skipped() {
        let e = entry(&[
            BEGIN,
            G1,
            r#"{"e":"renamed","t":"t1"}"#,
            r#"{"e":"renamed","t":"t2"}"#,
            r#"{"e":"group-done","moved":2,"ok":true}"#,
            // A later group refused before its own record, as older versions wrote it.
            r#"{"e":"group-done","moved":0,"ok":false}"#,
            r#"{"e":"done","status":"partial"}"#,
        ]);
        let g = e.moved_groups();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].done, Some(true));
        assert_eq!(g[0].owner, None, "older journals lack the exact record");
        assert_eq!(e.status(), Some(Status::Partial));
        assert_eq!(e.ended_at(), None);
        assert_eq!(e.undo_state(), UndoState::NotUndone);
    }

    #[test]
    fn namespace_records_of_the_previous_version_read_without_container_info() {
        let e = entry(&[
            BEGIN,
            r#"{"e":"ns-created","ns":"b"}"#,
            r#"{"e":"ns-created","ns":"b/c","container_existed":false}"#,
            r#"{"e":"ns-removing","ns":"a"}"#,
            r#"{"e":"ns-removed","ns":"a"}"#,
        ]);
        let ns = |s: &str| Namespace::parse(s).unwrap();
        assert_eq!(e.namespaces_created(), [ns("b"), ns("b/c")]);
        assert_eq!(
            e.containers_created(),
            [ns("b")],
            "only where the record says so"
        );
        assert_eq!(e.namespaces_removed(), [ns("a")]);
        assert!(e.namespaces_removing().is_empty());
        assert!(!e.is_finished(), "resume still finds it");
    }

    #[test]
    fn attempts_of_one_group_merge_and_undo_records_stay_out_of_the_move() {
        let e = entry(&[
            BEGIN,
            G2,
            r#"{"e":"group-done","moved":0,"ok":false}"#,
            r#"{"e":"resumed","actions":[]}"#,
            r#"{"e":"group","ns":"a","group":"vm/2","target_ns":"b","target_existed":true,"snapshots":["t1"],"owner":"x@pbs","type_existed":true}"#,
            r#"{"e":"renamed","t":"t1"}"#,
            r#"{"e":"group-done","moved":1,"ok":true}"#,
            r#"{"e":"ended","at":160}"#,
            r#"{"e":"done","status":"ok"}"#,
            r#"{"e":"undo-begin","started":200}"#,
            r#"{"e":"group","ns":"b","group":"vm/2","target_ns":"a","target_existed":false,"snapshots":["t1"]}"#,
            r#"{"e":"renamed","t":"t1"}"#,
        ]);
        let g = e.moved_groups();
        assert_eq!(g.len(), 1, "{g:?}");
        assert!(
            !g[0].target_existed,
            "the first record says what existed before"
        );
        assert_eq!(g[0].type_existed, Some(false));
        assert_eq!(g[0].renamed, ["t1"]);
        assert_eq!(g[0].done, Some(true));
        assert_eq!(e.move_status(), Some(Status::Ok));
        assert_eq!(e.ended_at(), Some(160));
        // Cut short: counts as changed, and `resume` must leave it alone.
        assert_eq!(e.undo_state(), UndoState::Incomplete);
        assert_eq!(e.status(), Some(Status::Undone));
    }

    #[test]
    fn an_undo_that_changed_nothing_does_not_count_and_a_finished_one_does() {
        let failed = [
            BEGIN,
            r#"{"e":"done","status":"ok"}"#,
            r#"{"e":"undo-begin","started":200}"#,
            r#"{"e":"undo-ended","ok":false,"changed":false,"at":201}"#,
        ];
        let e = entry(&failed);
        assert_eq!(e.undo_state(), UndoState::NotUndone);
        assert_eq!(e.status(), Some(Status::Ok));
        let mut done = failed.to_vec();
        done.push(r#"{"e":"undo-begin","started":300}"#);
        done.push(r#"{"e":"undo-ended","ok":true,"changed":true,"at":301}"#);
        assert_eq!(entry(&done).undo_state(), UndoState::Undone { at: 301 });
    }

    const P1: &str = r#"{"e":"group-planned","ns":"a","group":"vm/1","target_ns":"b","target_existed":false,"snapshots":["t1","t2"],"owner":"x@pbs","type_existed":false}"#;
    const P2: &str = r#"{"e":"group-planned","ns":"a","group":"vm/2","target_ns":"b","target_existed":false,"snapshots":["t3"],"owner":"x@pbs","type_existed":true}"#;
    const P3: &str = r#"{"e":"group-planned","ns":"a","group":"vm/3","target_ns":"b","target_existed":true,"snapshots":["t4"],"owner":"x@pbs","type_existed":true}"#;

    #[test]
    fn planned_groups_stay_until_started_and_records_attach_to_the_started_one_only() {
        let started_2 = r#"{"e":"group","ns":"a","group":"vm/2","target_ns":"b","target_existed":true,"snapshots":["t3"],"owner":"x@pbs","type_existed":true}"#;
        let e = entry(&[
            BEGIN,
            P1,
            P2,
            P3,
            // vm/2 first: its record under the lock found the target there after all.
            started_2,
            r#"{"e":"renamed","t":"t3"}"#,
            r#"{"e":"group-done","moved":1,"ok":true}"#,
        ]);
        let g = e.groups();
        let names: Vec<(String, bool)> =
            g.iter().map(|g| (g.group.to_string(), g.started)).collect();
        assert_eq!(
            names,
            [
                ("vm/1".to_string(), false),
                ("vm/3".to_string(), false),
                ("vm/2".to_string(), true)
            ]
        );
        assert!(g[2].target_existed, "the record under the lock wins");
        assert_eq!(g[2].renamed, ["t3"]);
        assert_eq!(g[2].done, Some(true));
        for planned in &g[..2] {
            assert!(planned.renamed.is_empty() && planned.done.is_none());
        }
        assert_eq!(g[0].owner.as_deref(), Some("x@pbs"));
        assert_eq!(g[0].type_existed, Some(false));
        // Nothing of a plan counts as moved.
        let moved = e.moved_groups();
        assert_eq!(moved.iter().filter(|g| !g.renamed.is_empty()).count(), 1);
    }

    #[test]
    fn a_newer_plan_replaces_an_unstarted_one_and_never_a_started_group() {
        let started_1 = r#"{"e":"group","ns":"a","group":"vm/1","target_ns":"b","target_existed":false,"snapshots":["t1","t2"],"owner":"x@pbs","type_existed":false}"#;
        let e = entry(&[
            BEGIN,
            P1,
            P2,
            started_1,
            r#"{"e":"renamed","t":"t1"}"#,
            // A resume plans what is left again: vm/1 (split) and vm/2 (never started).
            r#"{"e":"resumed","actions":[]}"#,
            P1,
            P2,
            r#"{"e":"renamed","t":"t9"}"#,
        ]);
        let g = e.groups();
        let names: Vec<(String, bool)> =
            g.iter().map(|g| (g.group.to_string(), g.started)).collect();
        assert_eq!(
            names,
            [
                ("vm/1".to_string(), true),
                ("vm/1".to_string(), false),
                ("vm/2".to_string(), false)
            ]
        );
        // A stray record after a plan still belongs to the last started group.
        assert_eq!(g[0].renamed, ["t1", "t9"]);
        assert_eq!(e.moved_groups().len(), 2);
        assert!(!e.moved_groups()[0].target_existed);
    }

    #[test]
    fn record_all_writes_a_batch_durably_and_done_is_preceded_by_its_end_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        fs::write(&path, "").unwrap();
        let j = OpJournal::reopen(&path).unwrap();
        j.record_all(&[
            Record::Renamed { t: "t1".into() },
            Record::Renamed { t: "t2".into() },
        ])
        .unwrap();
        j.record(&Record::Done { status: Status::Ok }).unwrap();
        let records = read_entry(&path).unwrap().records;
        assert_eq!(records.len(), 4, "{records:?}");
        assert!(matches!(records[2], Record::Ended { .. }));
        assert_eq!(records[3], Record::Done { status: Status::Ok });
    }
}
