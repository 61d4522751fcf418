//! The local cache tree as the bucket should mirror it: every file under the `ns`, `vm`, `ct`
//! and `host` dirs (what PBS's S3 refresh replaces), plus a `.namespace` marker per namespace.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Top-level dirs whose contents live in the bucket; `.chunks`, `.lock`, `.gc-status` and
/// PBS's refresh tmp dirs are deliberately not among them.
pub const CONTENT_DIRS: &[&str] = &["ns", "vm", "ct", "host"];

pub const NAMESPACE_MARKER: &str = ".namespace";

/// Relative object path (`ns/a/vm/100/<time>/index.json.blob`) → size. Namespace markers
/// appear as `<ns path>/.namespace` with size 0. Symlinks are never followed.
pub fn local_objects(base: &Path) -> io::Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for top in CONTENT_DIRS {
        let dir = base.join(top);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => walk(&dir, top, &mut out)?,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, u64>) -> io::Result<()> {
    if is_namespace_dir(rel) {
        out.insert(format!("{rel}/{NAMESPACE_MARKER}"), 0);
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue; // PBS names are ASCII; anything else is not PBS content.
        };
        let child = format!("{rel}/{name}");
        let ty = entry.file_type()?;
        if ty.is_dir() {
            walk(&entry.path(), &child, out)?;
        } else if ty.is_file() {
            out.insert(child, entry.metadata()?.len());
        }
    }
    Ok(())
}

/// `ns/a`, `ns/a/ns/b`, …: an even number of components alternating `ns` and a name.
pub fn is_namespace_dir(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    parts.len() >= 2 && parts.len().is_multiple_of(2) && parts.iter().step_by(2).all(|p| *p == "ns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_dirs() {
        assert!(is_namespace_dir("ns/a"));
        assert!(is_namespace_dir("ns/a/ns/b"));
        assert!(!is_namespace_dir("ns"));
        assert!(!is_namespace_dir("ns/a/vm"));
        assert!(!is_namespace_dir("vm/100"));
        assert!(!is_namespace_dir("ns/a/vm/100"));
    }

    #[test]
    fn walks_content_only() {
        let d = tempfile::tempdir().unwrap();
        let b = d.path();
        std::fs::create_dir_all(b.join("ns/a/vm/100/2025-01-01T00:00:00Z")).unwrap();
        std::fs::write(b.join("ns/a/vm/100/owner"), "root@pam\n").unwrap();
        std::fs::write(b.join("ns/a/vm/100/2025-01-01T00:00:00Z/x.blob"), "abc").unwrap();
        std::fs::create_dir_all(b.join(".chunks/0000")).unwrap();
        std::fs::write(b.join(".lock"), "").unwrap();
        std::fs::write(b.join(".gc-status"), "{}").unwrap();
        std::os::unix::fs::symlink("/etc", b.join("ns/a/vm/evil")).unwrap();
        let objs = local_objects(b).unwrap();
        let keys: Vec<_> = objs.keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "ns/a/.namespace",
                "ns/a/vm/100/2025-01-01T00:00:00Z/x.blob",
                "ns/a/vm/100/owner"
            ]
        );
        assert_eq!(objs["ns/a/vm/100/2025-01-01T00:00:00Z/x.blob"], 3);
    }
}
