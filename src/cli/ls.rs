//! `ls`: namespaces and groups (and snapshots), as text or one JSON object.

use serde::Serialize;

use super::exit::Failure;
use crate::ops::pbs_version::PbsVersion;
use crate::tree::manifest::{
    CryptMode, GroupFacts, ManifestError, SnapshotFacts, VerifyState, read_group_facts,
};
use crate::tree::model::MANIFEST_FILE;
use crate::tree::scan::parallel::map_ordered;
use crate::tree::{Datastore, GroupInfo, Namespace, ScanWarning, SnapshotInfo, SnapshotTime};

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
    /// Sum of the snapshots' backup sizes (from their manifests, as PBS's GUI shows them).
    pub size: u64,
    /// The newest snapshot's comment (first line of its notes) and verify state.
    pub comment: Option<String>,
    pub verify_state: Option<VerifyState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_list: Option<Vec<SnapshotEntry>>,
}

#[derive(Debug, Serialize)]
pub struct SnapshotEntry {
    pub time: String,
    pub files: usize,
    /// The backup size from the manifest; `null` when it cannot be read.
    pub size: Option<u64>,
    /// Bytes of the snapshot's files on disk (indexes, blobs: metadata only).
    pub file_bytes: u64,
    pub protected: bool,
    pub finished: bool,
    pub comment: Option<String>,
    pub verify_state: Option<VerifyState>,
    /// When the last verification started (RFC 3339), from its task id.
    pub verified_at: Option<String>,
    pub crypt_mode: Option<CryptMode>,
    /// Why the manifest could not be read (`null`: read, or none yet).
    pub manifest_error: Option<String>,
}

impl SnapshotEntry {
    fn new(s: &SnapshotInfo, facts: Option<&Result<SnapshotFacts, ManifestError>>) -> Self {
        let ok = facts.and_then(|r| r.as_ref().ok());
        let damage = facts
            .and_then(|r| r.as_ref().err())
            .filter(|e| e.is_damage());
        let verified = ok.and_then(|f| f.verification.as_ref());
        Self {
            time: s.time.to_string(),
            files: s.files.len(),
            size: ok.map(|f| f.size),
            file_bytes: s.size,
            protected: s.protected,
            finished: s.finished,
            comment: ok.and_then(|f| f.comment()).map(str::to_string),
            verify_state: verified.map(|v| v.state),
            verified_at: verified
                .and_then(|v| v.time)
                .map(|t| SnapshotTime::from_epoch(t).to_string()),
            crypt_mode: ok.map(|f| f.crypt_mode),
            manifest_error: damage.map(ToString::to_string),
        }
    }
}

pub struct LsRequest {
    pub ns: Namespace,
    pub recursive: bool,
    pub snapshots: bool,
}

/// Groups whose manifests are read together (in parallel); bounds what is held at once.
const WINDOW: usize = 512;

/// One namespace of the listing being built: its groups, their entries so far, and the
/// warnings in the order a one-by-one read would give them.
struct Level {
    ns: Namespace,
    /// `false`: the namespace could not be listed; only its warning is kept.
    listed: bool,
    groups: Vec<GroupInfo>,
    entries: Vec<GroupEntry>,
    warnings: Vec<ScanWarning>,
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
    let mut levels = list_levels(ds, items);
    read_entries(ds, &mut levels, req.snapshots);
    let mut out = Vec::with_capacity(levels.len());
    for level in levels {
        warnings.extend(level.warnings);
        if !level.listed {
            continue;
        }
        out.push(NsEntry {
            ns: level.ns.to_string(),
            groups: level.entries,
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

/// The groups of each namespace; one that cannot be listed is only a warning.
fn list_levels(ds: &Datastore, namespaces: Vec<Namespace>) -> Vec<Level> {
    let mut levels = Vec::with_capacity(namespaces.len());
    for ns in namespaces {
        let level = match ds.list_groups(&ns, false) {
            Ok(groups) => Level {
                ns,
                listed: true,
                groups: groups.items,
                entries: Vec::new(),
                warnings: groups.warnings,
            },
            Err(e) => Level {
                warnings: vec![ScanWarning {
                    path: ds.ns_path(&ns),
                    message: e.to_string(),
                }],
                ns,
                listed: false,
                groups: Vec::new(),
                entries: Vec::new(),
            },
        };
        levels.push(level);
    }
    levels
}

/// Every group's entry (its manifests, its snapshots when asked), `WINDOW` groups at a time
/// on the scanner's threads; entries and warnings keep the groups' order.
fn read_entries(ds: &Datastore, levels: &mut [Level], snapshots: bool) {
    let all: Vec<(usize, usize)> = levels
        .iter()
        .enumerate()
        .flat_map(|(l, level)| (0..level.groups.len()).map(move |g| (l, g)))
        .collect();
    for window in all.chunks(WINDOW) {
        let read = map_ordered(window, |&(l, g)| {
            let mut w = Vec::new();
            let entry = group_entry(ds, &levels[l].groups[g], snapshots, &mut w);
            (entry, w)
        });
        for (&(l, _), (entry, w)) in window.iter().zip(read) {
            levels[l].entries.push(entry);
            levels[l].warnings.extend(w);
        }
    }
}

fn group_entry(
    ds: &Datastore,
    g: &GroupInfo,
    snapshots: bool,
    warnings: &mut Vec<ScanWarning>,
) -> GroupEntry {
    let facts = group_facts(ds, g, warnings);
    let snapshot_list = snapshots.then(|| match ds.list_snapshots(&g.ns, &g.group) {
        Ok(list) => {
            warnings.extend(list.warnings);
            let entry = |s: &SnapshotInfo| SnapshotEntry::new(s, facts.snapshots.get(&s.time));
            list.items.iter().map(entry).collect()
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
        size: facts.size(),
        comment: facts.comment().map(str::to_string),
        verify_state: facts.verify_state(),
        snapshot_list,
    }
}

/// The group's manifests; each damaged one becomes a warning.
fn group_facts(ds: &Datastore, g: &GroupInfo, warnings: &mut Vec<ScanWarning>) -> GroupFacts {
    let facts = match read_group_facts(ds, &g.ns, &g.group) {
        Ok(f) => f,
        Err(e) => {
            warnings.push(ScanWarning {
                path: ds.group_path(&g.ns, &g.group),
                message: e.to_string(),
            });
            return GroupFacts::default();
        }
    };
    for (time, r) in &facts.snapshots {
        match r {
            Err(e) if e.is_damage() => warnings.push(ScanWarning {
                path: ds.snapshot_path(&g.ns, &g.group, time).join(MANIFEST_FILE),
                message: format!("manifest: {e}"),
            }),
            _ => {}
        }
    }
    facts
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
                "  {:<28} {:<22} {:>5} snapshots  last {}  {}",
                g.group,
                g.owner.as_deref().unwrap_or("-"),
                g.snapshots,
                g.last.as_deref().unwrap_or("-"),
                human_size(g.size),
            );
            for snap in g.snapshot_list.iter().flatten() {
                let _ = writeln!(s, "    {}", snapshot_text(snap));
            }
        }
    }
    s
}

/// One snapshot line: time, files, backup size, then what is worth knowing.
fn snapshot_text(snap: &SnapshotEntry) -> String {
    let size = snap.size.map_or_else(|| "?".to_string(), human_size);
    let mut line = format!("{}  {:>2} files {:>10}", snap.time, snap.files, size);
    let mut flag = |f: &str| {
        line.push_str("  ");
        line.push_str(f);
    };
    match snap.crypt_mode {
        Some(CryptMode::None) | None => {}
        Some(m) => flag(m.label()),
    }
    if let Some(v) = snap.verify_state {
        flag(&format!("verify {}", v.as_str()));
    }
    if snap.protected {
        flag("protected");
    }
    if !snap.finished {
        flag("unfinished");
    }
    if let Some(e) = &snap.manifest_error {
        flag(&format!("manifest: {e}"));
    }
    if let Some(c) = &snap.comment {
        flag(&format!("\"{c}\""));
    }
    line
}

/// Binary units like PBS's GUI (`1.5 GiB`).
fn human_size(bytes: u64) -> String {
    crate::ui::format::size(bytes)
}
