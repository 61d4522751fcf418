//! Everything a move needs to know about its datastore, the refusals that apply before
//! anything is touched (a user who cannot create backup-owned files, an insecure datastore
//! or lock dir, old-style locking, maintenance mode, a running garbage collection), and
//! what an operation holds while it runs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::ops::error::MoveError;
use crate::ops::journal::gc::JournalWriter;
use crate::ops::locks::active_ops::{ActiveOperation, register_write};
use crate::ops::locks::gc::{GcExclusion, exclude_gc, probe_gc};
use crate::ops::locks::paths::LockPaths;
use crate::ops::pbs_version::PbsVersion;
use crate::ops::safety::ownership::check_can_own;
use crate::ops::safety::security::{DirRole, check_trusted_dir};
use crate::tree::Datastore;
use crate::tree::backend::{ContentBackend, FilesystemBackend};

/// PBS's own text for this refusal.
pub const OLD_LOCKING_MSG: &str = "move operations require new-style file-based locking";

#[derive(Clone)]
pub struct MoveContext {
    pub ds: Datastore,
    pub locks: LockPaths,
    pub backend: Arc<dyn ContentBackend>,
    /// The PBS on this host: decides whether its pre-3.3.5 directory locks are taken too.
    pbs: PbsVersion,
    /// `pbs.needs_old_locks()`, decided once: it is asked several times per group and
    /// compares version strings.
    old_locks: bool,
    /// The crash journal's state dir (`--state-dir`); `None`: moves are not journaled (a
    /// library caller that did not ask for it). Per context, so that in-process tests
    /// journal into their own temp dir.
    journal_dir: Option<PathBuf>,
    /// PBS's GC move journal, kept open from one group to the next: a namespace move of
    /// many small groups then opens, checks and closes it once instead of once per group.
    gc_journal: Arc<Mutex<JournalWriter>>,
}

impl std::fmt::Debug for MoveContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MoveContext")
            .field("store", &self.ds.name)
            .field("base", &self.ds.base)
            .field("backend", &self.backend.kind())
            .field("pbs", &self.pbs)
            .field("journal_dir", &self.journal_dir)
            .finish()
    }
}

/// What a running operation (move, resume, undo) holds from its first lock to its end:
/// the shared chunk-store lock that keeps GC from starting, and its count in PBS's
/// active operations. Dropping it releases both, also on error and cancel.
#[derive(Debug)]
pub struct OperationGuard {
    // Field order is drop order: counted off first, then GC may start again.
    _active: ActiveOperation,
    _gc: GcExclusion,
}

impl MoveContext {
    /// A filesystem datastore with PBS locks under `lock_dir`; the PBS version is unknown
    /// (both lock schemes) until [`Self::with_pbs`] says otherwise.
    pub fn filesystem(ds: Datastore, lock_dir: &Path) -> Self {
        Self::with_backend(ds, lock_dir, Arc::new(FilesystemBackend))
    }

    pub fn with_backend(ds: Datastore, lock_dir: &Path, backend: Arc<dyn ContentBackend>) -> Self {
        let locks = LockPaths::with_lock_dir(lock_dir, &ds.name);
        let gc_journal = Arc::new(Mutex::new(JournalWriter::new(&locks)));
        Self {
            ds,
            locks,
            backend,
            old_locks: PbsVersion::Unknown.needs_old_locks(),
            pbs: PbsVersion::Unknown,
            journal_dir: None,
            gc_journal,
        }
    }

    pub fn with_pbs(mut self, pbs: PbsVersion) -> Self {
        self.old_locks = pbs.needs_old_locks();
        self.pbs = pbs;
        self
    }

    /// The PBS on this host.
    pub fn pbs(&self) -> &PbsVersion {
        &self.pbs
    }

    /// Journals moves under `dir` (`<dir>/<store>/<id>.jsonl`), so `resume` can finish them.
    pub fn with_journal_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.journal_dir = Some(dir.into());
        self
    }

    /// The crash journal's state dir; `None` when moves are not journaled.
    pub fn journal_dir(&self) -> Option<&Path> {
        self.journal_dir.as_deref()
    }

    /// The GC move journal's writer, for one group move at a time: its record of the
    /// latest append (what [`JournalWriter::still_recorded`] checks) is that group's.
    pub fn gc_journal(&self) -> MutexGuard<'_, JournalWriter> {
        // A writer left by a panicking holder is still consistent: every append starts
        // from scratch.
        self.gc_journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether PBS's pre-3.3.5 directory and manifest locks are taken too.
    pub fn old_locks(&self) -> bool {
        self.old_locks
    }

    /// Refusals that hold for the whole datastore, checked before any plan (a dry run
    /// stops here too): nothing is locked or created.
    pub fn check_datastore(&self) -> Result<(), MoveError> {
        self.check_static()?;
        probe_gc(&self.ds.base, &self.ds.name)
    }

    /// Starts an operation that changes the datastore: the refusals of
    /// [`Self::check_datastore`], then GC excluded and the operation counted as a write
    /// in PBS's active operations — before the operation's first lock.
    pub fn begin_operation(&self) -> Result<OperationGuard, MoveError> {
        self.check_static()?;
        let gc = exclude_gc(&self.ds.base, &self.ds.name)?;
        let active = register_write(&self.locks)?;
        // Counted first, checked second: an unmount that sets its maintenance mode after
        // this check sees our count and waits for it.
        self.check_maintenance(&self.ds.current_maintenance())?;
        Ok(OperationGuard {
            _active: active,
            _gc: gc,
        })
    }

    /// Whether this process may create what an operation creates (files owned by
    /// backup:backup): the first of every operation's refusals, also for callers that read
    /// the journal before they know what to do (undo).
    pub fn check_writer(&self) -> Result<(), MoveError> {
        Ok(check_can_own()?)
    }

    fn check_static(&self) -> Result<(), MoveError> {
        // Before everything: whoever may not hand files to backup:backup would fail at the
        // first lock file, so not even a dry run or preview may say that all is fine.
        self.check_writer()?;
        // Then: every later check reads files another user could have planted.
        check_trusted_dir(&self.ds.base, DirRole::Datastore)?;
        check_trusted_dir(&self.locks.lock_dir, DirRole::LockDir)?;
        if self.locks.old_locking_marker().exists() {
            return Err(MoveError::refused(format!(
                "{OLD_LOCKING_MSG} ({} exists: PBS was upgraded from < 3.3.5 and not rebooted yet; reboot first)",
                self.locks.old_locking_marker().display()
            )));
        }
        self.check_maintenance(&self.ds.maintenance)
    }

    fn check_maintenance(&self, mode: &Option<String>) -> Result<(), MoveError> {
        match mode {
            Some(mode) => Err(MoveError::refused(format!(
                "datastore '{}' is unavailable: maintenance mode '{mode}' is set; clear it before moving",
                self.ds.name
            ))),
            None => Ok(()),
        }
    }
}
