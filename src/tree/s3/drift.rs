//! Drift between a datastore's local cache and its bucket: which objects are on one side
//! only, and which differ in size.

use std::collections::BTreeMap;
use std::path::Path;

use super::backend::S3Backend;
use super::error::S3Error;
use super::walk::local_objects;

/// Cache vs bucket differences, as relative paths (`ns/a/vm/100/<time>/index.json.blob`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DriftReport {
    pub local_objects: usize,
    pub bucket_objects: usize,
    /// In the local cache (or a namespace dir without its marker), not in the bucket.
    pub missing_in_bucket: Vec<String>,
    /// In the bucket, not in the local cache.
    pub missing_locally: Vec<String>,
    pub size_mismatch: Vec<SizeMismatch>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SizeMismatch {
    pub path: String,
    pub local: u64,
    pub bucket: u64,
}

impl DriftReport {
    pub fn is_clean(&self) -> bool {
        self.missing_in_bucket.is_empty()
            && self.missing_locally.is_empty()
            && self.size_mismatch.is_empty()
    }
}

impl S3Backend {
    /// Compares the local cache under `base` with the bucket's `<store>/.cnt/` objects.
    pub fn check_drift(&self, base: &Path) -> Result<DriftReport, S3Error> {
        let local = local_objects(base).map_err(|e| {
            S3Error::Local(format!(
                "cannot read the local cache {}: {e}",
                base.display()
            ))
        })?;
        let prefix = self.keys.content_prefix();
        let listed = self.block_on(self.bucket.list(&prefix))?;
        let remote: BTreeMap<String, u64> = listed
            .into_iter()
            .filter_map(|o| Some((o.key.strip_prefix(&prefix)?.to_string(), o.size)))
            .collect();
        Ok(compare(&local, &remote))
    }
}

fn compare(local: &BTreeMap<String, u64>, remote: &BTreeMap<String, u64>) -> DriftReport {
    let mut r = DriftReport {
        local_objects: local.len(),
        bucket_objects: remote.len(),
        ..Default::default()
    };
    for (path, &size) in local {
        match remote.get(path) {
            None => r.missing_in_bucket.push(path.clone()),
            Some(&b) if b != size => r.size_mismatch.push(SizeMismatch {
                path: path.clone(),
                local: size,
                bucket: b,
            }),
            Some(_) => {}
        }
    }
    r.missing_locally = remote
        .keys()
        .filter(|k| !local.contains_key(*k))
        .cloned()
        .collect();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_finds_all_kinds() {
        let local: BTreeMap<_, _> = [("a".to_string(), 1), ("b".to_string(), 2)].into();
        let remote: BTreeMap<_, _> = [("b".to_string(), 3), ("c".to_string(), 0)].into();
        let r = compare(&local, &remote);
        assert_eq!(r.missing_in_bucket, ["a"]);
        assert_eq!(r.missing_locally, ["c"]);
        assert_eq!(r.size_mismatch[0].path, "b");
        assert!(!r.is_clean());
    }
}
