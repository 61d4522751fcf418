//! PBS's object-key layout of one datastore in its bucket:
//! `<store>/.cnt/<ns path>/<type>/<id>/<time>/<file>`, plus a `.namespace` marker per namespace.

use super::error::S3Error;
use super::walk::NAMESPACE_MARKER;
use crate::tree::backend::SnapshotRef;
use crate::tree::names::{GroupId, Namespace};

/// The keys of one datastore (`store`) in its bucket.
#[derive(Debug, Clone)]
pub struct StoreKeys {
    store: String,
}

impl StoreKeys {
    pub fn new(store: &str) -> Self {
        Self {
            store: store.to_string(),
        }
    }

    pub fn store(&self) -> &str {
        &self.store
    }

    /// `<store>/.cnt/`: every key the backend reads or writes starts with it.
    pub fn content_prefix(&self) -> String {
        format!("{}/.cnt/", self.store)
    }

    /// `<store>/.cnt/<snapshot rel path>/`.
    pub fn snapshot_prefix(&self, s: &SnapshotRef) -> String {
        format!("{}{}/", self.content_prefix(), s.rel_path())
    }

    /// `<store>/.cnt/<ns path>/<type>/<id>/`: the snapshots of a group, and its owner/notes.
    pub fn group_prefix(&self, s: &SnapshotRef) -> String {
        self.group_key(&s.ns, &s.group, "")
    }

    /// `<store>/.cnt/<ns path>/<type>/<id>/<file>`: a group-level object (owner, notes).
    pub fn group_key(&self, ns: &Namespace, group: &GroupId, file: &str) -> String {
        let mut rel = ns.rel_path();
        rel.push(group.rel_path());
        format!("{}{}/{file}", self.content_prefix(), rel.to_string_lossy())
    }

    /// `<store>/.cnt/<ns path>/.namespace`: the marker that makes a namespace exist.
    pub fn namespace_key(&self, ns: &Namespace) -> String {
        format!(
            "{}{}/{NAMESPACE_MARKER}",
            self.content_prefix(),
            ns.rel_path().to_string_lossy()
        )
    }
}

/// `key` with its prefix `src` replaced by `dst`: where the copy of a source object goes.
pub(super) fn rebase(key: &str, src: &str, dst: &str) -> Result<String, S3Error> {
    key.strip_prefix(src)
        .map(|rest| format!("{dst}{rest}"))
        .ok_or_else(|| S3Error::ForeignKey {
            key: key.to_string(),
            prefix: src.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebase_keeps_suffix() {
        assert_eq!(
            rebase(
                "s/.cnt/vm/1/T/a.blob",
                "s/.cnt/vm/1/T/",
                "s/.cnt/ns/x/vm/1/T/"
            )
            .unwrap(),
            "s/.cnt/ns/x/vm/1/T/a.blob"
        );
        assert!(rebase("other/a", "s/.cnt/", "d/").is_err());
    }
}
