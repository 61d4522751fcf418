//! Removing emptied source namespaces after a namespace move, deepest first, the way PBS's
//! flat `remove_namespace` does — and deciding which ones must stay, and why.

use std::fs;
use std::io;

use crate::ops::context::MoveContext;
use crate::ops::engine::request::MoveNsRequest;
use crate::ops::error::MoveError;
use crate::ops::report::KeptNamespace;
use crate::tree::names::MAX_NAMESPACE_DEPTH;
use crate::tree::{BackupType, Namespace};

#[derive(Debug, Default)]
pub struct Cleanup {
    /// Deepest first.
    pub remove: Vec<Namespace>,
    pub kept: Vec<KeptNamespace>,
}

/// Which of `attempted` (parent-first) can go, given the namespaces holding failed groups.
pub fn cleanup_plan(
    ctx: &MoveContext,
    req: &MoveNsRequest,
    attempted: &[Namespace],
    failed: &[Namespace],
) -> Result<Cleanup, MoveError> {
    let depth = req.max_depth.unwrap_or(MAX_NAMESPACE_DEPTH);
    let mut out = Cleanup::default();
    // (namespace, kept silently): parents of a silently kept namespace stay silently too.
    let mut kept: Vec<(Namespace, bool)> = Vec::new();
    for ns in attempted.iter().rev() {
        match keep_reason(ctx, req, ns, depth, attempted, failed, &kept)? {
            Some(reason) => {
                kept.push((ns.clone(), reason.is_none()));
                if let Some(reason) = reason {
                    out.kept.push(KeptNamespace {
                        ns: ns.clone(),
                        reason,
                    });
                }
            }
            None => out.remove.push(ns.clone()),
        }
    }
    Ok(out)
}

/// `Some(Some(why))`: keep with a warning; `Some(None)`: keep silently (max-depth);
/// `None`: remove.
fn keep_reason(
    ctx: &MoveContext,
    req: &MoveNsRequest,
    ns: &Namespace,
    depth: usize,
    attempted: &[Namespace],
    failed: &[Namespace],
    kept: &[(Namespace, bool)],
) -> Result<Option<Option<String>>, MoveError> {
    if failed.iter().any(|f| ns.contains(f).is_some()) {
        return Ok(Some(Some("contains group(s) that failed to move".into())));
    }
    for child in ctx.ds.list_child_namespaces(ns)?.items {
        if let Some((_, silent)) = kept.iter().find(|(k, _)| *k == child) {
            return Ok(Some(
                (!silent).then(|| format!("child namespace '{child}' is kept")),
            ));
        }
        if attempted.contains(&child) {
            continue;
        }
        if child.depth() <= req.ns.depth() + depth {
            return Ok(Some(Some(format!(
                "child namespace '{child}' was created after the move started"
            ))));
        }
        return Ok(Some(None));
    }
    Ok(None)
}

/// PBS's flat `remove_namespace(ns, false)`: empty type dirs, the `ns/` dir, then the
/// namespace dir itself; the bucket marker only once the directory is really gone.
/// Returns false when the namespace was not empty.
pub fn remove_namespace_flat(ctx: &MoveContext, ns: &Namespace) -> Result<bool, MoveError> {
    let dir = ctx.ds.ns_path(ns);
    for ty in BackupType::ALL {
        let _ = fs::remove_dir(dir.join(ty.as_str()));
    }
    let _ = fs::remove_dir(dir.join("ns"));
    if ns.is_root() {
        return Ok(true);
    }
    match fs::remove_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => return Ok(false),
        Err(e) => {
            return Err(MoveError::failed(format!(
                "failed to remove source namespace '{ns}': {e}"
            )));
        }
    }
    ctx.backend.remove_namespace(ns)?;
    Ok(true)
}
