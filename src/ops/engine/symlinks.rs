//! Symlinks in the source of a namespace move: a symlinked group dir, type dir or child
//! namespace is never followed (it may point anywhere, also out of the datastore) and never
//! moved; it is left in place and reported, so the move ends partial instead of `ok`.

use std::fs;
use std::path::Path;

use crate::ops::context::MoveContext;
use crate::ops::engine::request::MoveNsRequest;
use crate::ops::report::{FailReason, LeftInPlace};
use crate::tree::names::BackupType;
use crate::tree::{GroupId, Namespace};

/// Every symlink a namespace move covering `mapping` (source → target, from
/// `plan::namespace_mapping`) leaves in place: the move itself and its dry run.
pub fn left_by_move(
    ctx: &MoveContext,
    req: &MoveNsRequest,
    mapping: &[(Namespace, Namespace)],
) -> Vec<LeftInPlace> {
    let mut out = Vec::new();
    for (source, _) in mapping {
        let below = source.depth() - req.ns.depth();
        let children = req.max_depth.is_none_or(|m| below < m);
        out.extend(symlinks_in(ctx, source, children));
    }
    out
}

/// The symlinks directly in `ns` (type dirs, group dirs, and with `children` — the move
/// covers its child namespaces — the child namespaces and their `ns` dir), each reported
/// with `ns` as the namespace it was found in.
pub fn symlinks_in(ctx: &MoveContext, ns: &Namespace, children: bool) -> Vec<LeftInPlace> {
    let dir = ctx.ds.ns_path(ns);
    let mut out = Vec::new();
    for ty in BackupType::ALL {
        let type_dir = dir.join(ty.as_str());
        if is_symlink(&type_dir) {
            out.push(left(ns, None, &type_dir, "type dir"));
            continue;
        }
        for name in entries(&type_dir) {
            let path = type_dir.join(&name);
            if is_symlink(&path) {
                let group = GroupId::new(ty, &name).ok();
                out.push(left(ns, group, &path, "group dir"));
            }
        }
    }
    if children {
        let ns_dir = dir.join("ns");
        if is_symlink(&ns_dir) {
            out.push(left(ns, None, &ns_dir, "child namespace dir"));
        }
        for name in entries(&ns_dir) {
            let path = ns_dir.join(&name);
            if is_symlink(&path) {
                out.push(left(ns, None, &path, "child namespace"));
            }
        }
    }
    out
}

fn left(ns: &Namespace, group: Option<GroupId>, path: &Path, what: &str) -> LeftInPlace {
    LeftInPlace {
        ns: ns.clone(),
        group,
        reason: FailReason::Error,
        message: format!(
            "{what} {} is a symlink: left in place, never followed; move what it points to by \
             hand if it belongs here",
            path.display()
        ),
        snapshots_moved: 0,
        path: path.to_path_buf(),
    }
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Entry names of a real directory (none for a missing dir or a symlink).
fn entries(dir: &Path) -> Vec<String> {
    if is_symlink(dir) {
        return Vec::new();
    }
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}
