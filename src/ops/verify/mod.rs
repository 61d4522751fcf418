//! `verify` of a datastore: what pbs-mover is responsible for, checked without changing or
//! locking anything (any user who can read the datastore may run it).
//!
//! [`inventory`] walks the tree once; then one check per file: [`duplicates`] (a snapshot in
//! two namespaces), [`owners`] (every group's owner file present and parseable),
//! [`leftovers`] (empty group and type dirs), [`lock_residue`] (lock files and dirs an
//! interrupted move of ours left), [`gc_journal`] (PBS's move journal holding entries no
//! move needs), [`unfinished`] (moves `resume` would finish). [`running`] tells whether a
//! move runs now: then what a running move legitimately holds is not reported.

pub mod duplicates;
pub mod gc_journal;
pub mod inventory;
pub mod leftovers;
pub mod lock_residue;
pub mod owners;
pub mod running;
pub mod unfinished;

use std::path::PathBuf;

use serde::Serialize;

use crate::ops::context::MoveContext;
use crate::ops::error::MoveError;
use crate::ops::journal::crash::list_entries;

/// What a finding is about (in `--json` as the kebab-case word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// The same group and time in two namespaces.
    DuplicateSnapshot,
    OwnerMissing,
    OwnerInvalid,
    /// A group dir without snapshots.
    EmptyGroup,
    /// A type dir (`vm`, `ct`, `host`) without groups, in a namespace a move of ours touched.
    EmptyTypeDir,
    /// A lock file or lock dir an interrupted move of ours left.
    LockResidue,
    /// The hidden, half-built target group (`.pbs-mover-new.<id>`) of a cut move.
    HalfBuiltGroup,
    /// Entries of PBS's GC move journal that name no index file.
    GcJournalGhost,
    /// A move of ours that never ended: `resume` finishes it.
    UnfinishedMove,
    /// Something the walk could not read or did not expect.
    Unreadable,
    /// S3: cache and bucket differ.
    S3Drift,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DuplicateSnapshot => "duplicate-snapshot",
            Self::OwnerMissing => "owner-missing",
            Self::OwnerInvalid => "owner-invalid",
            Self::EmptyGroup => "empty-group",
            Self::EmptyTypeDir => "empty-type-dir",
            Self::LockResidue => "lock-residue",
            Self::HalfBuiltGroup => "half-built-group",
            Self::GcJournalGhost => "gc-journal-ghost",
            Self::UnfinishedMove => "unfinished-move",
            Self::Unreadable => "unreadable",
            Self::S3Drift => "s3-drift",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub path: PathBuf,
    pub message: String,
}

impl Finding {
    pub fn new(kind: FindingKind, path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            kind,
            path: path.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub findings: Vec<Finding>,
    /// What is normal but worth knowing (e.g. GC journal entries waiting for the next GC).
    pub notes: Vec<String>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Runs every check on the datastore of `ctx` (its local tree; for S3 the local cache).
pub fn verify(ctx: &MoveContext) -> Result<VerifyReport, MoveError> {
    let inv = inventory::walk(&ctx.ds)?;
    let journals = match ctx.journal_dir() {
        Some(dir) => list_entries(dir, &ctx.ds.name, &ctx.ds.base)?,
        None => Vec::new(),
    };
    let running = running::Running::of(ctx, &journals);
    let mut r = VerifyReport::default();
    r.findings.extend(inv.warnings.iter().cloned());
    r.findings.extend(duplicates::check(&inv));
    r.findings.extend(owners::check(&inv));
    r.findings
        .extend(leftovers::check(&inv, &journals, &running));
    r.findings
        .extend(lock_residue::check(ctx, &journals, &running));
    let unfinished = unfinished::check(&journals, &running, &mut r.notes);
    gc_journal::check(ctx, &running, !unfinished.is_empty(), &mut r);
    r.findings.extend(unfinished);
    r.findings
        .sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    Ok(r)
}
