//! `verify`: what pbs-mover is responsible for on any datastore (its local tree; for S3 the
//! local cache), and for S3 also cache vs bucket drift. Results on stdout, exit 1 on
//! findings; nothing is changed or locked.

use serde::Serialize;

use super::args::{GlobalArgs, VerifyArgs};
use super::context::s3_backend;
use super::exit::{Exit, Failure};
use super::{open_datastore, print_json};
use crate::ops::context::MoveContext;
use crate::ops::verify::{Finding, FindingKind, VerifyReport, verify};
use crate::tree::s3::DriftReport;

#[derive(Debug, Serialize)]
struct VerifyOutput {
    ok: bool,
    op: &'static str,
    findings: Vec<Finding>,
    notes: Vec<String>,
    error: Option<String>,
    /// S3 datastores: the cache-vs-bucket comparison (its keys as before, at the top level).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    drift: Option<DriftReport>,
}

pub fn run_verify(global: &GlobalArgs, args: &VerifyArgs) -> Result<Exit, Failure> {
    match check(global) {
        Ok((report, drift)) => {
            let clean = report.is_clean();
            if args.json {
                print_json(&VerifyOutput {
                    ok: clean,
                    op: "verify",
                    findings: report.findings,
                    notes: report.notes,
                    error: None,
                    drift,
                });
            } else {
                super::print_out(&render(&report, drift.as_ref()));
            }
            Ok(if clean { Exit::Done } else { Exit::Refused })
        }
        Err(f) => {
            if args.json {
                print_json(&VerifyOutput {
                    ok: false,
                    op: "verify",
                    findings: Vec::new(),
                    notes: Vec::new(),
                    error: Some(f.message.clone()),
                    drift: None,
                });
            }
            Err(f)
        }
    }
}

fn check(global: &GlobalArgs) -> Result<(VerifyReport, Option<DriftReport>), Failure> {
    let ds = open_datastore(global)?;
    let backend = s3_backend(global, &ds)?;
    let ctx =
        MoveContext::filesystem(ds.clone(), &global.lock_dir).with_journal_dir(&global.state_dir);
    let mut report = verify(&ctx).map_err(Failure::refused)?;
    let drift = match backend {
        Some(b) => Some(b.check_drift(&ds.base).map_err(Failure::refused)?),
        None => None,
    };
    if let Some(d) = &drift {
        report.findings.extend(drift_findings(d));
    }
    Ok((report, drift))
}

fn drift_findings(d: &DriftReport) -> Vec<Finding> {
    let f = |path: &str, message: String| Finding::new(FindingKind::S3Drift, path, message);
    let mut out = Vec::new();
    out.extend(
        d.missing_in_bucket
            .iter()
            .map(|p| f(p, "in the local cache, not in the bucket".into())),
    );
    out.extend(
        d.missing_locally
            .iter()
            .map(|p| f(p, "in the bucket, not in the local cache".into())),
    );
    out.extend(d.size_mismatch.iter().map(|m| {
        f(
            &m.path,
            format!(
                "size differs: local {} bytes, bucket {} bytes",
                m.local, m.bucket
            ),
        )
    }));
    out
}

fn render(report: &VerifyReport, drift: Option<&DriftReport>) -> String {
    let mut s = String::new();
    if let Some(d) = drift {
        s.push_str(&format!(
            "local cache: {} objects, bucket: {} objects\n",
            d.local_objects, d.bucket_objects
        ));
    }
    for f in &report.findings {
        s.push_str(&format!(
            "{}: {}: {}\n",
            f.kind.as_str(),
            f.path.display(),
            f.message
        ));
    }
    for n in &report.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    if report.is_clean() {
        s.push_str("verify: no findings\n");
    } else {
        s.push_str(&format!("verify: {} finding(s)\n", report.findings.len()));
    }
    s
}
