//! PBS's GC move journal (`<lock-dir>/<store>/move-journal`) not left growing: with no move
//! running and a move of ours unfinished, an entry naming an index file that does not exist
//! was written by that move cut short before its rename (a "ghost"; GC skips it, but only
//! a GC removes it). Without an unfinished move, such an entry names a snapshot moved on
//! again since (a move, then its undo) and, like every entry naming an existing file, is
//! normal until the next GC drains it: a note, not a finding.

use std::path::PathBuf;

use super::running::Running;
use super::{Finding, FindingKind, VerifyReport};
use crate::ops::context::MoveContext;
use crate::ops::journal::gc::read_journal;

pub fn check(ctx: &MoveContext, running: &Running, interrupted: bool, report: &mut VerifyReport) {
    let path = ctx.locks.move_journal();
    let entries = match read_journal(&ctx.locks) {
        Ok(e) => e,
        Err(e) => {
            report
                .findings
                .push(Finding::new(FindingKind::Unreadable, &path, e.to_string()));
            return;
        }
    };
    if entries.is_empty() {
        return;
    }
    if running.anything() {
        report.notes.push(format!(
            "GC move journal {}: {} entr(y/ies), not checked while a move or another write \
             operation runs",
            path.display(),
            entries.len()
        ));
        return;
    }
    let (ghosts, live): (Vec<PathBuf>, Vec<PathBuf>) =
        entries.into_iter().partition(|p| !p.exists());
    if !live.is_empty() {
        report.notes.push(format!(
            "GC move journal {}: {} entr(y/ies) of finished moves wait for the next garbage \
             collection, which drains them (normal)",
            path.display(),
            live.len()
        ));
    }
    if !interrupted && !ghosts.is_empty() {
        report.notes.push(format!(
            "GC move journal {}: {} entr(y/ies) name snapshots moved on since; the next \
             garbage collection drains them (normal)",
            path.display(),
            ghosts.len()
        ));
        return;
    }
    if let Some(first) = ghosts.first() {
        report.findings.push(Finding::new(
            FindingKind::GcJournalGhost,
            &path,
            format!(
                "{} entr(y/ies) name index files that do not exist (first: {}), written by a \
                 move interrupted before its rename; harmless for GC, which skips and drains \
                 them — run a garbage collection (or `pbs-mover resume` first if a move is \
                 unfinished)",
                ghosts.len(),
                first.display()
            ),
        ));
    }
}
