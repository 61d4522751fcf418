//! `history [--json]`: every journaled move of the datastore, oldest first, with its start,
//! duration, status, what it moved (counted as its report counts) and whether it is undone.

use serde::Serialize;

use super::args::GlobalArgs;
use super::exit::{Exit, Failure};
use super::print_json;
use crate::ops::journal::crash::{JournalEntry, UndoState, format_time, list_entries};

#[derive(Debug, Serialize)]
struct HistoryItem {
    id: String,
    op: String,
    /// Seconds since the epoch, and the same as RFC 3339 (UTC).
    started: u64,
    started_at: String,
    /// When it ended; `null` while unfinished or for journals of older versions.
    ended: Option<u64>,
    duration_secs: Option<u64>,
    /// "ok", "partial", "failed", "busy", "cancelled", "refused", "gave-up" or "unfinished":
    /// how the move itself ended (an undo does not change it; see `undone`).
    status: String,
    /// Groups moved completely (the report's `moved`).
    groups: usize,
    /// Groups of which only some snapshots moved (in the report's `failed`).
    groups_partial: usize,
    /// Every snapshot renamed, partly moved groups included.
    snapshots_renamed: usize,
    /// `undo` moved it back.
    undone: bool,
    undone_at: Option<u64>,
    /// An undo changed something but did not finish: `undo` again completes it.
    undo_incomplete: bool,
}

fn item(e: &JournalEntry) -> Option<HistoryItem> {
    let (op, _, started) = e.begin()?;
    let groups = e.moved_groups();
    let ended = e.move_status().and(e.ended_at());
    let undo = e.undo_state();
    Some(HistoryItem {
        id: e.id.clone(),
        op: op.describe(),
        started,
        started_at: format_time(started),
        ended,
        duration_secs: ended.map(|end| end.saturating_sub(started)),
        status: e
            .move_status()
            .map_or_else(|| "unfinished".to_string(), |s| s.to_string()),
        groups: groups.iter().filter(|g| g.done == Some(true)).count(),
        groups_partial: groups
            .iter()
            .filter(|g| g.done != Some(true) && !g.renamed.is_empty())
            .count(),
        snapshots_renamed: groups.iter().map(|g| g.renamed.len()).sum(),
        undone: matches!(undo, UndoState::Undone { .. }),
        undone_at: match undo {
            UndoState::Undone { at } => Some(at),
            _ => None,
        },
        undo_incomplete: undo == UndoState::Incomplete,
    })
}

/// `75` → `1m 15s`.
fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
    }
}

fn line(i: &HistoryItem) -> String {
    let took = i.duration_secs.map_or_else(|| "-".to_string(), duration);
    let mut s = format!(
        "{}  {}  {:>7}  {:<10}  {}  ({} group(s), {} snapshot(s)",
        i.id, i.started_at, took, i.status, i.op, i.groups, i.snapshots_renamed
    );
    if i.groups_partial > 0 {
        s.push_str(&format!("; {} group(s) partly moved", i.groups_partial));
    }
    s.push(')');
    if let Some(at) = i.undone_at {
        s.push_str(&format!("  UNDONE at {}", format_time(at)));
    } else if i.undo_incomplete {
        s.push_str("  UNDO INCOMPLETE: run 'pbs-mover undo ");
        s.push_str(&i.id);
        s.push_str("' again");
    }
    s
}

pub fn run_history(global: &GlobalArgs, json: bool) -> Result<Exit, Failure> {
    let listed = super::open_datastore(global).and_then(|ds| {
        let state = global.state_dir.as_path();
        let entries = list_entries(state, &ds.name, &ds.base).map_err(Failure::refused)?;
        Ok((ds, entries))
    });
    let (ds, entries) = match listed {
        Ok(l) => l,
        Err(f) => {
            if json {
                print_json(&serde_json::json!({
                    "ok": false, "op": "history", "moves": [], "error": f.message
                }));
            }
            return Err(f);
        }
    };
    let items: Vec<HistoryItem> = entries.iter().filter_map(item).collect();
    if json {
        print_json(
            &serde_json::json!({"ok": true, "op": "history", "moves": items, "error": null}),
        );
    } else if items.is_empty() {
        println!(
            "no moves in the journal of datastore '{}' (state dir {})",
            ds.name,
            global.state_dir.display()
        );
    } else {
        for i in &items {
            println!("{}", line(i));
        }
    }
    Ok(Exit::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(75), "1m 15s");
        assert_eq!(duration(7260), "2h 01m");
    }
}
