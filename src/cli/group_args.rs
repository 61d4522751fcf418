//! `move-group --group` values: exact `TYPE/ID`s and shell-style patterns (`vm/1*`), the
//! patterns expanded against the groups of the source namespace.

use super::exit::Failure;
use crate::tree::glob::{Glob, is_glob};
use crate::tree::natural::group_cmp;
use crate::tree::{Datastore, GroupId, Namespace};

#[derive(Debug, Clone)]
pub enum GroupArg {
    Exact(GroupId),
    Pattern { text: String, glob: Glob },
}

/// Parses every value; the first bad one is the error (nothing is opened yet).
pub fn parse_group_args(values: &[String]) -> Result<Vec<GroupArg>, Failure> {
    values
        .iter()
        .map(|v| {
            if is_glob(v) {
                let glob = Glob::parse(v).map_err(Failure::refused)?;
                Ok(GroupArg::Pattern {
                    text: v.clone(),
                    glob,
                })
            } else {
                GroupId::parse(v)
                    .map(GroupArg::Exact)
                    .map_err(Failure::refused)
            }
        })
        .collect()
}

/// One exact group: the plain `move-group` of one group, as it always was.
pub fn single(args: &[GroupArg]) -> bool {
    matches!(args, [GroupArg::Exact(_)])
}

/// The groups the values name, in the order given (a pattern's matches in natural order),
/// each once. A pattern matching nothing is an error naming it.
pub fn resolve(ds: &Datastore, ns: &Namespace, args: &[GroupArg]) -> Result<Vec<GroupId>, Failure> {
    let mut out: Vec<GroupId> = Vec::new();
    let mut listed: Option<Vec<GroupId>> = None;
    for arg in args {
        match arg {
            GroupArg::Exact(g) => push_new(&mut out, g.clone()),
            GroupArg::Pattern { text, glob } => {
                if listed.is_none() {
                    let ids = ds.list_group_ids(ns).map_err(|e| {
                        Failure::refused(format!("cannot list namespace '{}': {e}", ns.human()))
                    })?;
                    let mut ids = ids.items;
                    ids.sort_by(group_cmp);
                    listed = Some(ids);
                }
                let matching: Vec<&GroupId> = listed
                    .iter()
                    .flatten()
                    .filter(|g| glob.matches(&g.to_string()))
                    .collect();
                if matching.is_empty() {
                    return Err(Failure::refused(format!(
                        "no group in namespace '{}' matches '{text}' (patterns: * ? [...], \
                         never across the '/'; see 'pbs-mover ls --ns {}')",
                        ns.human(),
                        shell_ns(ns)
                    )));
                }
                for g in matching {
                    push_new(&mut out, g.clone());
                }
            }
        }
    }
    Ok(out)
}

fn push_new(out: &mut Vec<GroupId>, g: GroupId) {
    if !out.contains(&g) {
        out.push(g);
    }
}

fn shell_ns(ns: &Namespace) -> String {
    if ns.is_root() {
        "''".into()
    } else {
        ns.to_string()
    }
}
