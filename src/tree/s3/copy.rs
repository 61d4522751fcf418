//! Copying a lock batch inside the bucket and verifying every copy: one conditional
//! CopyObject per object, many in flight, each copy checked against the answered ETag and a
//! fresh listing of the target (a HEAD where neither showed an ETag). A failed batch removes
//! all its copies again.

use std::collections::{BTreeSet, HashSet};

use futures::{StreamExt, TryStreamExt, stream};

use super::backend::{S3Backend, lock};
use super::client::ObjectInfo;
use super::error::S3Error;
use super::keys::rebase;
use super::listing::BatchSide;
use super::window::windowed;
use crate::tree::backend::{
    CopyObserver, CopyProgress, ObjectStats, PreparedMove, SnapshotRef, with_leftover_copies,
};

impl S3Backend {
    /// A whole lock batch of one group: the source and the target group listed (one
    /// paged listing each, or one listing per snapshot prefix for a large group), every
    /// object of the batch copied with up to `concurrency` CopyObject requests in flight,
    /// then the target listed once more to verify every copy. Per object that is one
    /// request, so many small snapshots cost about objects × latency / concurrency. On
    /// error all copies of the batch are removed again. `observe` hears of the listing
    /// (what the batch will copy) and of each snapshot whose objects are all copied.
    pub(super) async fn copy_batch(
        &self,
        pairs: &[(SnapshotRef, SnapshotRef)],
        observe: &CopyObserver<'_>,
    ) -> Result<Vec<PreparedMove>, (usize, S3Error)> {
        let src = self.batch_side(pairs.iter().map(|(s, _)| s));
        let dst = self.batch_side(pairs.iter().map(|(_, d)| d));
        let (sources, targets) = futures::try_join!(self.list_sources(&src), self.list_side(&dst))
            .map_err(|e| (0, e))?;
        let mut prepared = Vec::with_capacity(pairs.len());
        let mut work = Vec::new();
        let listed = sources.into_iter().zip(targets);
        for (i, ((s, d), (objects, existing))) in src
            .prefixes
            .iter()
            .zip(&dst.prefixes)
            .zip(listed)
            .enumerate()
        {
            let (p, w) = prepare_copy(s, d, objects, &existing).map_err(|e| (i, e))?;
            prepared.push(p);
            work.extend(w.into_iter().map(|(o, d)| (i, o, d)));
        }
        let mut listed = ObjectStats::default();
        for p in &prepared {
            listed += p.stats;
        }
        observe(CopyProgress::Listed {
            snapshots: prepared.len(),
            stats: listed,
        });
        let copied = match self.copy_all(work, &prepared, observe).await {
            Ok(copied) => self.verify_copies(&dst, &copied).await,
            Err(e) => Err(e),
        };
        if let Err((failed, e)) = copied {
            let keys: Vec<String> = prepared
                .iter()
                .flat_map(|p| p.copied_keys.iter().cloned())
                .collect();
            return Err((failed, self.undo_copy(e, &keys).await));
        }
        Ok(prepared)
    }

    /// Copies every (snapshot index, source object, target key), checking each copy's
    /// ETag as the server reports it; an error names the snapshot it belongs to. As many
    /// copies are in flight as the copy window allows (it carries over from the previous
    /// batch). After the first error no new copy starts, but the ones in flight are waited
    /// for: a copy still running on the server while its key is being removed could outlive
    /// the removal. A snapshot whose objects are all copied is told to `observe`, until the
    /// first error.
    async fn copy_all(
        &self,
        work: Vec<(usize, ObjectInfo, String)>,
        prepared: &[PreparedMove],
        observe: &CopyObserver<'_>,
    ) -> Result<Vec<Copied>, (usize, S3Error)> {
        let mut left: Vec<u64> = prepared.iter().map(|p| p.stats.objects).collect();
        let mut results = Vec::with_capacity(work.len());
        let mut failed = false;
        let mut window = lock(&self.copy_window).clone();
        windowed(
            &mut window,
            &self.throttles,
            work,
            |(i, o, d)| async move { self.copy_one(i, o, d).await.map_err(|e| (i, e)) },
            |r: Result<Copied, (usize, S3Error)>| {
                failed |= r.is_err();
                if let Ok(c) = &r
                    && !failed
                    && let Some(n) = left.get_mut(c.snapshot)
                {
                    *n = n.saturating_sub(1);
                    if *n == 0
                        && let Some(p) = prepared.get(c.snapshot)
                    {
                        observe(CopyProgress::SnapshotCopied(p.stats));
                    }
                }
                results.push(r);
                !failed
            },
        )
        .await;
        *lock(&self.copy_window) = window;
        results.into_iter().collect()
    }

    /// One CopyObject, conditional on the source ETag (from the listing; a HEAD only for
    /// servers whose listings carry none), whose answered ETag must be the source's.
    async fn copy_one(
        &self,
        snapshot: usize,
        mut src: ObjectInfo,
        dst: String,
    ) -> Result<Copied, S3Error> {
        if src.etag.is_none() {
            src.etag = self.bucket.head(&src.key).await?.etag;
        }
        let etag = self
            .bucket
            .copy(&src.key, &dst, src.etag.as_deref())
            .await?;
        if let (Some(s), Some(c)) = (src.etag.as_deref(), etag.as_deref())
            && !is_multipart(s)
            && !same_etag(s, c)
        {
            return Err(S3Error::VerifyFailed {
                key: dst,
                detail: format!("the copy was answered with ETag {c} instead of {s}"),
            });
        }
        Ok(Copied {
            snapshot,
            src,
            dst,
            etag,
        })
    }

    /// Every copy must show up in a fresh listing of the target with its source's size
    /// (and ETag, where the listing has them). Snapshots with a copy missing or different
    /// are listed once more under their own prefix before that counts as a failure; a copy
    /// whose ETag neither the copy answer nor the listing showed gets a HEAD.
    async fn verify_copies(
        &self,
        dst: &BatchSide,
        copied: &[Copied],
    ) -> Result<(), (usize, S3Error)> {
        let mut listed = self.list_side(dst).await.map_err(|e| (0, e))?;
        let suspect: BTreeSet<usize> = copied
            .iter()
            .filter(|c| check_listed(c, find(&listed[c.snapshot], &c.dst)).is_err())
            .map(|c| c.snapshot)
            .collect();
        let suspect: Vec<usize> = suspect.into_iter().collect();
        self.relist(dst, &suspect, &mut listed)
            .await
            .map_err(|e| (suspect.first().copied().unwrap_or(0), e))?;
        let mut unconfirmed = Vec::new();
        for c in copied {
            match check_listed(c, find(&listed[c.snapshot], &c.dst)) {
                Ok(true) => {}
                Ok(false) => unconfirmed.push(c),
                Err(e) => return Err((c.snapshot, e)),
            }
        }
        stream::iter(unconfirmed)
            .map(|c| async move {
                let head = self
                    .bucket
                    .head(&c.dst)
                    .await
                    .map_err(|e| (c.snapshot, e))?;
                verify_copy(c.src.size, c.src.etag.as_deref(), &head).map_err(|e| (c.snapshot, e))
            })
            .buffer_unordered(self.concurrency)
            .try_for_each(|()| async { Ok(()) })
            .await
    }

    /// Removes every possibly-copied target object after a failed copy; the error says
    /// whether that worked, since left-over copies would block a retry.
    async fn undo_copy(&self, err: S3Error, copied: &[String]) -> S3Error {
        let orphans = self.delete_keys(copied).await;
        if orphans.is_empty() {
            return err;
        }
        S3Error::Local(with_leftover_copies(&err, &orphans))
    }
}

/// A CopyObject the server answered as done.
struct Copied {
    /// Index of its snapshot in the batch.
    snapshot: usize,
    /// The source as copied (its ETag is the one the copy was conditional on).
    src: ObjectInfo,
    dst: String,
    /// The ETag of the CopyObjectResult.
    etag: Option<String>,
}

/// The copy plan of one snapshot: refuses a snapshot missing from the bucket (drift) and a
/// target prefix holding objects the source does not have (someone else's data: copying
/// over or later discarding it could destroy a backup). Target objects matching source keys
/// are left-overs of an interrupted attempt and are simply copied over.
fn prepare_copy(
    src: &str,
    dst: &str,
    objects: Vec<ObjectInfo>,
    existing: &[ObjectInfo],
) -> Result<(PreparedMove, Vec<(ObjectInfo, String)>), S3Error> {
    if objects.is_empty() {
        // The cache has the snapshot but the bucket does not: moving it would only move
        // the drift. Leave the group where it is and let the admin look.
        return Err(S3Error::Drift {
            prefix: src.to_string(),
        });
    }
    let mut prepared = PreparedMove::default();
    let mut work = Vec::with_capacity(objects.len());
    for o in objects {
        let dst_key = rebase(&o.key, src, dst)?;
        prepared.stats.objects += 1;
        prepared.stats.bytes += o.size;
        prepared.source_keys.push(o.key.clone());
        prepared.copied_keys.push(dst_key.clone());
        work.push((o, dst_key));
    }
    let expected: HashSet<&str> = prepared.copied_keys.iter().map(String::as_str).collect();
    if let Some(o) = existing.iter().find(|o| !expected.contains(o.key.as_str())) {
        return Err(S3Error::VerifyFailed {
            key: o.key.clone(),
            detail: "target prefix already holds an object the source does not have; refusing to copy over it".into(),
        });
    }
    Ok((prepared, work))
}

fn find<'a>(listed: &'a [ObjectInfo], key: &str) -> Option<&'a ObjectInfo> {
    listed.iter().find(|o| o.key == key)
}

/// A copy against the target listing: present with the source's size, and the source's
/// ETag where the listing shows one. `Ok(false)`: fine so far, but no ETag of the copy was
/// seen at all (neither in the copy answer nor in the listing), so a HEAD must confirm it.
fn check_listed(c: &Copied, listed: Option<&ObjectInfo>) -> Result<bool, S3Error> {
    let Some(l) = listed else {
        return Err(S3Error::VerifyFailed {
            key: c.dst.clone(),
            detail: "not in the target listing after the copy".into(),
        });
    };
    let fail = |detail: String| S3Error::VerifyFailed {
        key: c.dst.clone(),
        detail,
    };
    if l.size != c.src.size {
        return Err(fail(format!(
            "listed with size {} instead of {}",
            l.size, c.src.size
        )));
    }
    match c.src.etag.as_deref() {
        Some(s) if !is_multipart(s) => match l.etag.as_deref() {
            Some(e) if !same_etag(s, e) => {
                Err(fail(format!("listed with ETag {e} instead of {s}")))
            }
            Some(_) => Ok(true),
            None => Ok(c.etag.is_some()),
        },
        _ => Ok(true),
    }
}

/// Size must match; the ETag too, except for multipart sources (`…-N`), whose copies get a
/// new single-part ETag by design. `copy` comes from a HEAD.
fn verify_copy(size: u64, src_etag: Option<&str>, copy: &ObjectInfo) -> Result<(), S3Error> {
    let fail = |detail: String| {
        Err(S3Error::VerifyFailed {
            key: copy.key.clone(),
            detail,
        })
    };
    if copy.size != size {
        return fail(format!("size {} instead of {size}", copy.size));
    }
    match (src_etag, copy.etag.as_deref()) {
        (Some(s), _) if is_multipart(s) => Ok(()),
        (Some(s), Some(c)) if same_etag(s, c) => Ok(()),
        (Some(s), c) => fail(format!("ETag {} instead of {s}", c.unwrap_or("(none)"))),
        (None, _) => Ok(()),
    }
}

/// Multipart uploads have ETags `"<md5 of part md5s>-<parts>"`; their copies get a new one.
fn is_multipart(etag: &str) -> bool {
    etag.contains('-')
}

/// ETags compared without their quotes (servers differ in quoting them in XML answers).
fn same_etag(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_copy_rules() {
        assert!(
            verify_copy(
                3,
                Some("\"a\""),
                &ObjectInfo::fixture("k", 3, Some("\"a\""))
            )
            .is_ok()
        );
        assert!(
            verify_copy(
                3,
                Some("\"a-2\""),
                &ObjectInfo::fixture("k", 3, Some("\"b\""))
            )
            .is_ok()
        );
        let e = verify_copy(
            3,
            Some("\"a\""),
            &ObjectInfo::fixture("k", 4, Some("\"a\"")),
        )
        .unwrap_err();
        assert!(e.to_string().contains("size 4 instead of 3"), "{e}");
        let e = verify_copy(
            3,
            Some("\"a\""),
            &ObjectInfo::fixture("k", 3, Some("\"b\"")),
        )
        .unwrap_err();
        assert!(e.to_string().contains("ETag"), "{e}");
    }

    #[test]
    fn check_listed_rules() {
        let copied = |src_etag: Option<&str>, etag: Option<&str>| Copied {
            snapshot: 0,
            src: ObjectInfo::fixture("src", 3, src_etag),
            dst: "dst".into(),
            etag: etag.map(Into::into),
        };
        let c = copied(Some("\"a\""), Some("a"));
        assert!(check_listed(&c, None).is_err());
        assert!(check_listed(&c, Some(&ObjectInfo::fixture("dst", 4, None))).is_err());
        assert!(check_listed(&c, Some(&ObjectInfo::fixture("dst", 3, Some("\"b\"")))).is_err());
        assert!(check_listed(&c, Some(&ObjectInfo::fixture("dst", 3, Some("\"a\"")))).unwrap());
        assert!(check_listed(&c, Some(&ObjectInfo::fixture("dst", 3, None))).unwrap());
        // No ETag of the copy seen anywhere: a HEAD must confirm it.
        let c = copied(Some("\"a\""), None);
        assert!(!check_listed(&c, Some(&ObjectInfo::fixture("dst", 3, None))).unwrap());
        let c = copied(Some("\"a-2\""), None);
        assert!(check_listed(&c, Some(&ObjectInfo::fixture("dst", 3, Some("\"x\"")))).unwrap());
    }
}
