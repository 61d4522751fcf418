//! Building the index from the datastore: every namespace (one directory level at a time),
//! the groups of each with owner and the first line of their notes.

use crate::tree::datastore::Datastore;
use crate::tree::model::{GroupInfo, Listing, NOTES_FILE};
use crate::tree::names::Namespace;
use crate::tree::scan::error::ScanError;
use crate::tree::scan::nofollow::read_first_line_nofollow;

use super::{IndexEntry, SearchIndex};

/// Walks the whole datastore. Unreadable parts are left out (the browser reports them when
/// the user gets there); only an unreadable root is an error.
pub fn build(ds: &Datastore) -> Result<SearchIndex, ScanError> {
    let namespaces = ds.list_namespaces_recursive(&Namespace::root(), None)?;
    let mut entries = Vec::new();
    for ns in namespaces.items {
        let groups = ds
            .list_groups(&ns, false)
            .unwrap_or_else(|_| Listing::default());
        entries.push(IndexEntry::namespace(ns));
        for info in &groups.items {
            entries.push(IndexEntry::group(info, notes_line(ds, info)));
        }
    }
    Ok(SearchIndex::from_entries(entries))
}

fn notes_line(ds: &Datastore, info: &GroupInfo) -> Option<String> {
    if !info.has_notes {
        return None;
    }
    let path = ds.group_path(&info.ns, &info.group).join(NOTES_FILE);
    read_first_line_nofollow(&path)
        .ok()
        .flatten()
        .filter(|l| !l.trim().is_empty())
}
