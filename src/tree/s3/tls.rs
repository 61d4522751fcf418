//! HTTPS to an endpoint with a self-signed certificate, pinned by its SHA-256 fingerprint
//! (PBS's `fingerprint` key in `s3.cfg`).

use aws_sdk_s3::config::SharedHttpClient;

use super::error::S3Error;

/// An HTTP client that accepts exactly the certificate with this fingerprint.
pub fn pinned_client(fingerprint: &str, url: &str) -> Result<SharedHttpClient, S3Error> {
    let _ = fingerprint;
    Err(S3Error::Config(format!(
        "certificate fingerprint pinning for {url} is not supported yet: use a CA-signed certificate"
    )))
}
