//! Where things are in a datastore and what a namespace holds: paths, existence checks, child
//! namespaces (one level or recursively) and the group ids of a namespace.

use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use super::error::ScanError;
use super::nofollow::{Kind, entries, kind_warning, warn};
use crate::tree::datastore::Datastore;
use crate::tree::model::Listing;
use crate::tree::names::{BackupType, GroupId, Namespace, SnapshotTime, is_safe_id};

impl Datastore {
    pub fn ns_path(&self, ns: &Namespace) -> PathBuf {
        self.base.join(ns.rel_path())
    }

    pub fn group_path(&self, ns: &Namespace, group: &GroupId) -> PathBuf {
        self.ns_path(ns).join(group.rel_path())
    }

    pub fn snapshot_path(&self, ns: &Namespace, group: &GroupId, time: &SnapshotTime) -> PathBuf {
        self.group_path(ns, group).join(time.as_str())
    }
    pub fn namespace_exists(&self, ns: &Namespace) -> Result<bool, ScanError> {
        self.real_dir(&ns.rel_path())
    }

    pub fn group_exists(&self, ns: &Namespace, group: &GroupId) -> Result<bool, ScanError> {
        self.real_dir(&Self::group_rel(ns, group))
    }

    /// The group dir opened for reading when one openat2 shows it exists as a real
    /// directory ([`Self::open_real_dir`]); `None`: ask [`Self::group_exists`].
    pub fn open_group_dir(&self, ns: &Namespace, group: &GroupId) -> Option<OwnedFd> {
        self.open_real_dir(&Self::group_rel(ns, group))
    }

    fn group_rel(ns: &Namespace, group: &GroupId) -> PathBuf {
        ns.rel_path().join(group.rel_path())
    }

    pub(super) fn require_namespace(&self, ns: &Namespace) -> Result<PathBuf, ScanError> {
        if !self.namespace_exists(ns)? {
            return Err(ScanError::NoNamespace(ns.to_string()));
        }
        Ok(self.ns_path(ns))
    }

    pub(super) fn require_group(
        &self,
        ns: &Namespace,
        group: &GroupId,
    ) -> Result<PathBuf, ScanError> {
        if !self.group_exists(ns, group)? {
            return Err(ScanError::NoGroup {
                ns: ns.to_string(),
                group: group.to_string(),
            });
        }
        Ok(self.group_path(ns, group))
    }

    /// Direct child namespaces of `ns`, sorted by name.
    pub fn list_child_namespaces(&self, ns: &Namespace) -> Result<Listing<Namespace>, ScanError> {
        let dir = self.require_namespace(ns)?.join("ns");
        let mut out = Listing::default();
        let list = match entries(&dir) {
            Err(ScanError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(out);
            }
            other => other?,
        };
        for (name, kind, _) in list {
            let path = dir.join(&name);
            if kind != Kind::Dir {
                warn(&mut out.warnings, path, kind_warning(kind));
                continue;
            }
            match ns.child(&name) {
                Ok(child) => out.items.push(child),
                Err(e) => warn(&mut out.warnings, path, format!("skipped: {e}")),
            }
        }
        out.items.sort();
        Ok(out)
    }

    /// `ns` and its descendants down to `max_depth` levels below it, parents before children.
    pub fn list_namespaces_recursive(
        &self,
        ns: &Namespace,
        max_depth: Option<usize>,
    ) -> Result<Listing<Namespace>, ScanError> {
        self.require_namespace(ns)?;
        let mut out = Listing {
            items: vec![ns.clone()],
            warnings: Vec::new(),
        };
        let mut level = vec![ns.clone()];
        let mut depth = 0;
        while !level.is_empty() && max_depth.is_none_or(|m| depth < m) {
            let mut next = Vec::new();
            for parent in &level {
                match self.list_child_namespaces(parent) {
                    Ok(children) => {
                        out.warnings.extend(children.warnings);
                        next.extend(children.items);
                    }
                    Err(e) => warn(&mut out.warnings, self.ns_path(parent), e.to_string()),
                }
            }
            out.items.extend(next.iter().cloned());
            level = next;
            depth += 1;
        }
        Ok(out)
    }

    /// Group ids directly in `ns`, sorted (type, id).
    pub fn list_group_ids(&self, ns: &Namespace) -> Result<Listing<GroupId>, ScanError> {
        let ns_dir = self.require_namespace(ns)?;
        let mut out = Listing::default();
        for ty in BackupType::ALL {
            let dir = ns_dir.join(ty.as_str());
            let list = match entries(&dir) {
                Err(ScanError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    continue;
                }
                Err(e) => {
                    warn(&mut out.warnings, dir, e.to_string());
                    continue;
                }
                Ok(list) => list,
            };
            for (name, kind, _) in list {
                let path = dir.join(&name);
                if kind != Kind::Dir {
                    warn(&mut out.warnings, path, kind_warning(kind));
                } else if !is_safe_id(&name) {
                    warn(&mut out.warnings, path, "invalid backup id skipped");
                } else {
                    out.items.push(GroupId { ty, id: name });
                }
            }
        }
        out.items.sort();
        Ok(out)
    }
}
