//! A dry-run plan as text for people.

use std::fmt::Write;

use crate::ops::engine::plan::{MovePlan, NotesPlan, merge_into_existing_text};

pub fn render(plan: &MovePlan) -> String {
    let mut s = String::from("dry run: nothing will be changed\n");
    for c in &plan.conflicts {
        let _ = writeln!(s, "BUSY: {c}");
    }
    if let Some(ns) = &plan.merge_into_existing {
        let _ = writeln!(s, "{}", merge_into_existing_text(ns));
    }
    for ns in &plan.namespaces_to_create {
        let _ = writeln!(s, "create namespace '{ns}'");
    }
    for g in &plan.groups {
        let verb = if g.merge { "merge" } else { "move" };
        let _ = write!(
            s,
            "{verb} group '{}' from '{}' to '{}': {} snapshot(s), {} file(s), {} bytes",
            g.group,
            g.ns.human(),
            g.target_ns.human(),
            g.snapshots,
            g.files,
            g.bytes
        );
        if g.s3_objects > 0 {
            let _ = write!(s, ", S3: {} object(s), {} bytes", g.s3_objects, g.s3_bytes);
        }
        match g.notes {
            NotesPlan::Move => s.push_str(", notes move along"),
            NotesPlan::KeepTarget => s.push_str(", target keeps its notes"),
            NotesPlan::None => {}
        }
        s.push('\n');
        if let Some(r) = &g.refusal {
            let _ = writeln!(s, "  REFUSED: {r}");
        }
        for c in &g.conflicts {
            let _ = writeln!(s, "  LOCKED: {c}");
        }
    }
    for ns in &plan.namespaces_to_remove {
        let _ = writeln!(s, "remove emptied source namespace '{ns}'");
    }
    for k in &plan.namespaces_kept {
        let _ = writeln!(s, "keep source namespace '{}': {}", k.ns, k.reason);
    }
    let _ = writeln!(
        s,
        "total: {} group(s), {} snapshot(s)",
        plan.groups.len(),
        plan.snapshots()
    );
    s
}
