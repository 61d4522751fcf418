//! One walk of the datastore tree for `verify`: every namespace, type dir and group dir,
//! with what each group dir holds. Symlinks are never followed (the scan's rule).

use std::fs;
use std::path::PathBuf;

use super::{Finding, FindingKind};
use crate::ops::error::MoveError;
use crate::ops::recovery::leftover::HIDDEN_NEW_PREFIX;
use crate::tree::model::{Listing, OWNER_FILE};
use crate::tree::names::BackupType;
use crate::tree::{Datastore, GroupId, Namespace, SnapshotTime};

#[derive(Debug, Clone)]
pub struct GroupDir {
    pub ns: Namespace,
    pub group: GroupId,
    pub path: PathBuf,
    pub snapshots: Vec<SnapshotTime>,
    /// The owner file's first line; `None` when there is none.
    pub owner: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TypeDir {
    pub ns: Namespace,
    pub path: PathBuf,
    pub empty: bool,
}

#[derive(Debug, Default)]
pub struct Inventory {
    pub groups: Vec<GroupDir>,
    pub type_dirs: Vec<TypeDir>,
    /// What the walk could not read, as findings.
    pub warnings: Vec<Finding>,
}

pub fn walk(ds: &Datastore) -> Result<Inventory, MoveError> {
    let mut inv = Inventory::default();
    let namespaces = ds.list_namespaces_recursive(&Namespace::root(), None)?;
    take_warnings(&mut inv, &namespaces);
    for ns in &namespaces.items {
        let groups = ds.list_group_ids(ns)?;
        take_warnings(&mut inv, &groups);
        for ty in BackupType::ALL {
            let path = ds.ns_path(ns).join(ty.as_str());
            if path.is_dir() && !path.is_symlink() {
                let empty = !groups.items.iter().any(|g| g.ty == ty);
                inv.type_dirs.push(TypeDir {
                    ns: ns.clone(),
                    path,
                    empty,
                });
            }
        }
        for group in groups.items {
            inv.groups
                .push(group_dir(ds, ns, group, &mut inv.warnings)?);
        }
    }
    Ok(inv)
}

fn group_dir(
    ds: &Datastore,
    ns: &Namespace,
    group: GroupId,
    warnings: &mut Vec<Finding>,
) -> Result<GroupDir, MoveError> {
    let path = ds.group_path(ns, &group);
    let snapshots = ds.list_snapshot_times(ns, &group)?;
    let owner_path = path.join(OWNER_FILE);
    let owner = match crate::tree::scan::nofollow::read_first_line_nofollow(&owner_path) {
        Ok(o) => o,
        Err(e) => {
            warnings.push(Finding::new(
                FindingKind::Unreadable,
                &owner_path,
                format!("cannot read the owner file: {e}"),
            ));
            // Present but unreadable: not "missing".
            fs::symlink_metadata(&owner_path)
                .ok()
                .map(|_| String::new())
        }
    };
    Ok(GroupDir {
        ns: ns.clone(),
        group,
        path,
        snapshots,
        owner,
    })
}

fn take_warnings<T>(inv: &mut Inventory, listing: &Listing<T>) {
    for w in &listing.warnings {
        let hidden_new = w
            .path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(HIDDEN_NEW_PREFIX));
        inv.warnings.push(if hidden_new {
            Finding::new(
                FindingKind::HalfBuiltGroup,
                &w.path,
                "half-built target group of a move that was cut short (not visible to PBS); \
                 `pbs-mover resume` removes it",
            )
        } else {
            Finding::new(FindingKind::Unreadable, &w.path, w.message.clone())
        });
    }
}
