//! Group commit of the crash journal for a namespace move or a batch of groups: under the
//! namespace locks, every group's facts ([`GroupFacts`]) are read once up front and made
//! durable with ONE sync ([`OpJournal::record_plans`]). Each group then takes them again
//! under its own lock and syncs its `group` record only when they differ, so a move of
//! many small groups pays O(1) journal syncs instead of one per group.

use std::collections::HashMap;

use crate::ops::context::MoveContext;
use crate::ops::error::MoveError;
use crate::ops::journal::crash::OpJournal;
use crate::ops::journal::record::GroupFacts;
use crate::ops::recovery::leftover::is_empty_leftover;
use crate::tree::scan::parallel::map_ordered;
use crate::tree::{BackupType, GroupId, Namespace};

/// The plans of one operation's groups, by (source namespace, group).
#[derive(Debug, Default)]
pub struct GroupPlans {
    by_group: HashMap<(Namespace, GroupId), GroupFacts>,
    /// In the order the groups move (the journal's order).
    order: Vec<(Namespace, GroupId)>,
}

impl GroupPlans {
    /// Reads the facts of every group of `groups` (source, group, target), in that order.
    /// A group whose facts cannot be read now gets no plan: under its lock it is checked
    /// (and refused) as before, with its `group` record synced.
    pub fn read<'a>(
        ctx: &MoveContext,
        groups: impl IntoIterator<Item = (&'a Namespace, &'a GroupId, &'a Namespace)>,
    ) -> Self {
        let mut plans = Self::default();
        let groups: Vec<_> = groups.into_iter().collect();
        // Each group's own facts are independent of the others': read on several threads.
        let read = map_ordered(&groups, |&(ns, group, target_ns)| {
            read_facts(ctx, ns, group, target_ns)
        });
        // Whether each target type dir exists by the time a group gets there: looked up
        // once; one an earlier group of this move creates, the later ones find.
        let mut types: HashMap<(Namespace, BackupType), bool> = HashMap::new();
        for ((ns, group, target_ns), facts) in groups.into_iter().zip(read) {
            let Some(mut facts) = facts else {
                continue;
            };
            let key = (target_ns.clone(), group.ty);
            facts.type_existed = *types
                .entry(key.clone())
                .or_insert_with(|| type_dir_exists(ctx, target_ns, group.ty));
            types.insert(key, true);
            let key = (ns.clone(), group.clone());
            plans.order.push(key.clone());
            plans.by_group.insert(key, facts);
        }
        plans
    }

    /// Makes every plan durable with one sync (nothing without a journal).
    pub fn record(&self, journal: Option<&OpJournal>) -> Result<(), MoveError> {
        let Some(j) = journal else { return Ok(()) };
        let facts: Vec<GroupFacts> = self
            .order
            .iter()
            .filter_map(|k| self.by_group.get(k).cloned())
            .collect();
        j.record_plans(&facts)
    }

    pub fn get(&self, ns: &Namespace, group: &GroupId) -> Option<&GroupFacts> {
        self.by_group.get(&(ns.clone(), group.clone()))
    }
}

fn type_dir_exists(ctx: &MoveContext, target_ns: &Namespace, ty: BackupType) -> bool {
    ctx.ds.ns_path(target_ns).join(ty.as_str()).exists()
}

/// What [`GroupFacts`] the group lock will find, but for `type_existed` (which depends on
/// the groups moved before it; left `false` here).
fn read_facts(
    ctx: &MoveContext,
    ns: &Namespace,
    group: &GroupId,
    target_ns: &Namespace,
) -> Option<GroupFacts> {
    let ds = &ctx.ds;
    let (owner, times) = ds.read_owner_and_times(ns, group).ok()?;
    let owner = owner?;
    let target_existed = ds.group_exists(target_ns, group).ok()?
        && !is_empty_leftover(&ds.group_path(target_ns, group));
    Some(GroupFacts {
        ns: ns.clone(),
        group: group.clone(),
        target_ns: target_ns.clone(),
        target_existed,
        snapshots: times.iter().map(|t| t.as_str().to_string()).collect(),
        owner,
        type_existed: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::journal::crash::read_entry;
    use crate::ops::journal::record::Record;

    fn facts(g: &str, type_existed: bool) -> GroupFacts {
        GroupFacts {
            ns: Namespace::parse("a").unwrap(),
            group: GroupId::parse(g).unwrap(),
            target_ns: Namespace::parse("b").unwrap(),
            target_existed: false,
            snapshots: vec!["2024-01-01T00:00:00Z".into()],
            owner: "x@pbs".into(),
            type_existed,
        }
    }

    #[test]
    fn plans_are_recorded_in_their_order_and_a_group_record_follows_its_plan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "").unwrap();
        let j = OpJournal::reopen(&path).unwrap();
        let mut plans = GroupPlans::default();
        for f in [facts("vm/2", false), facts("vm/1", true)] {
            let key = (f.ns.clone(), f.group.clone());
            plans.order.push(key.clone());
            plans.by_group.insert(key, f);
        }
        plans.record(Some(&j)).unwrap();
        let first = facts("vm/2", false);
        assert_eq!(plans.get(&first.ns, &first.group), Some(&first));
        j.record_group(&first, plans.get(&first.ns, &first.group))
            .unwrap();
        let records = read_entry(&path).unwrap().records;
        assert_eq!(
            records,
            [
                first.planned(),
                facts("vm/1", true).planned(),
                first.started()
            ]
        );
        assert!(matches!(records[2], Record::Group { .. }));
    }
}
