//! The dry run behind the preview: the engine's own plan (`ops::engine::plan`) for a picked move.

use crate::ops::context::MoveContext;
use crate::ops::engine::plan::{MovePlan, plan_move_group, plan_move_namespace};
use crate::ops::engine::request::MoveGroupRequest;

use super::moves::MoveSpec;

/// The plan of a move plus errors that stopped planning part of it (datastore refusals).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOutcome {
    pub plan: MovePlan,
    pub errors: Vec<String>,
}

impl PlanOutcome {
    /// Groups that would move now.
    pub fn movable(&self) -> usize {
        if !self.plan.conflicts.is_empty() {
            return 0;
        }
        self.plan
            .groups
            .iter()
            .filter(|g| g.refusal.is_none() && g.conflicts.is_empty())
            .count()
    }
}

/// Dry-runs `spec` with the engine (blocking: run it off the UI thread).
pub fn compute(ctx: &MoveContext, spec: &MoveSpec) -> PlanOutcome {
    let mut out = PlanOutcome::default();
    match spec {
        MoveSpec::Groups {
            groups,
            target,
            merge,
        } => {
            for (ns, group) in groups {
                let req = MoveGroupRequest {
                    ns: ns.clone(),
                    group: group.clone(),
                    target_ns: target.clone(),
                    merge: *merge,
                };
                match plan_move_group(ctx, &req) {
                    Ok(p) => merge_plans(&mut out.plan, p),
                    Err(e) => out.errors.push(format!("{group} ({}): {e}", ns.human())),
                }
            }
        }
        MoveSpec::Namespace(req) => match plan_move_namespace(ctx, req) {
            Ok(p) => out.plan = p,
            Err(e) => out.errors.push(e.to_string()),
        },
        // Resume is offered by its own prompt, never previewed.
        MoveSpec::Resume { .. } => {}
    }
    out
}

fn merge_plans(into: &mut MovePlan, p: MovePlan) {
    into.groups.extend(p.groups);
    for c in p.conflicts {
        if !into.conflicts.contains(&c) {
            into.conflicts.push(c);
        }
    }
}
