//! `ls`: namespaces and groups (and snapshots), as text or one JSON object.

use serde::Serialize;

use super::exit::Failure;
use crate::ops::pbs_version::PbsVersion;
use crate::tree::{Datastore, GroupInfo, Namespace, ScanWarning, SnapshotInfo};

#[derive(Debug, Serialize)]
pub struct LsOutput {
    pub ok: bool,
    pub op: &'static str,
    /// The installed PBS (`null`: none or unknown), and the lock schemes a move takes.
    pub pbs_version: Option<String>,
    pub lock_scheme: &'static str,
    pub namespaces: Vec<NsEntry>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct NsEntry {
    pub ns: String,
    pub groups: Vec<GroupEntry>,
}

#[derive(Debug, Serialize)]
pub struct GroupEntry {
    pub group: String,
    pub owner: Option<String>,
    pub snapshots: usize,
    pub last: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_list: Option<Vec<SnapshotEntry>>,
}

#[derive(Debug, Serialize)]
pub struct SnapshotEntry {
    pub time: String,
    pub files: usize,
    pub size: u64,
    pub protected: bool,
    pub finished: bool,
}

impl From<&SnapshotInfo> for SnapshotEntry {
    fn from(s: &SnapshotInfo) -> Self {
        Self {
            time: s.time.to_string(),
            files: s.files.len(),
            size: s.size,
            protected: s.protected,
            finished: s.finished,
        }
    }
}

pub struct LsRequest {
    pub ns: Namespace,
    pub recursive: bool,
    pub snapshots: bool,
}

/// Lists `req.ns` with its groups, plus either its direct children or (recursive) all below.
pub fn list(ds: &Datastore, pbs: &PbsVersion, req: &LsRequest) -> Result<LsOutput, Failure> {
    let max_depth = if req.recursive { None } else { Some(1) };
    let namespaces = ds
        .list_namespaces_recursive(&req.ns, max_depth)
        .map_err(Failure::refused)?;
    let mut warnings: Vec<ScanWarning> = namespaces.warnings;
    let mut items = namespaces.items;
    // Component order puts every namespace right after its parent (a tree, read top-down).
    items.sort();
    let mut out = Vec::with_capacity(items.len());
    for ns in items {
        let groups = match ds.list_groups(&ns, false) {
            Ok(g) => g,
            Err(e) => {
                warnings.push(ScanWarning {
                    path: ds.ns_path(&ns),
                    message: e.to_string(),
                });
                continue;
            }
        };
        warnings.extend(groups.warnings);
        let mut entries = Vec::with_capacity(groups.items.len());
        for g in &groups.items {
            entries.push(group_entry(ds, g, req.snapshots, &mut warnings));
        }
        out.push(NsEntry {
            ns: ns.to_string(),
            groups: entries,
        });
    }
    Ok(LsOutput {
        ok: true,
        op: "ls",
        pbs_version: pbs.version().map(str::to_string),
        lock_scheme: pbs.lock_scheme(),
        namespaces: out,
        warnings: warnings.iter().map(ToString::to_string).collect(),
    })
}

fn group_entry(
    ds: &Datastore,
    g: &GroupInfo,
    snapshots: bool,
    warnings: &mut Vec<ScanWarning>,
) -> GroupEntry {
    let snapshot_list = snapshots.then(|| match ds.list_snapshots(&g.ns, &g.group) {
        Ok(list) => {
            warnings.extend(list.warnings);
            list.items.iter().map(SnapshotEntry::from).collect()
        }
        Err(e) => {
            warnings.push(ScanWarning {
                path: ds.group_path(&g.ns, &g.group),
                message: e.to_string(),
            });
            Vec::new()
        }
    });
    GroupEntry {
        group: g.group.to_string(),
        owner: g.owner.clone(),
        snapshots: g.snapshots,
        last: g.newest.as_ref().map(ToString::to_string),
        snapshot_list,
    }
}

/// Plain text for people: one header line per namespace, one line per group.
pub fn render_text(out: &LsOutput) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for ns in &out.namespaces {
        let name = crate::tree::names::human_ns(&ns.ns);
        let _ = writeln!(s, "{name} ({} groups)", ns.groups.len());
        for g in &ns.groups {
            let _ = writeln!(
                s,
                "  {:<28} {:<22} {:>5} snapshots  last {}",
                g.group,
                g.owner.as_deref().unwrap_or("-"),
                g.snapshots,
                g.last.as_deref().unwrap_or("-")
            );
            for snap in g.snapshot_list.iter().flatten() {
                let mut flags = String::new();
                if snap.protected {
                    flags.push_str(" protected");
                }
                if !snap.finished {
                    flags.push_str(" unfinished");
                }
                let _ = writeln!(
                    s,
                    "    {}  {:>2} files {:>10} bytes{flags}",
                    snap.time, snap.files, snap.size
                );
            }
        }
    }
    s
}
