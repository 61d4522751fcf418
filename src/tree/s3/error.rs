//! S3 failures as one-line, secret-free messages a PBS admin can act on.

use thiserror::Error;

use crate::tree::backend::BackendError;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum S3Error {
    #[error("S3 configuration: {0}")]
    Config(String),
    #[error(
        "S3 endpoint {endpoint} rejected the credentials ({code}): check access-key/secret-key"
    )]
    Credentials { endpoint: String, code: String },
    #[error("S3 bucket '{bucket}' does not exist at {endpoint}")]
    NoSuchBucket { endpoint: String, bucket: String },
    #[error("S3 endpoint {endpoint} is unreachable: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("TLS to S3 endpoint {endpoint} failed: {detail}")]
    Tls { endpoint: String, detail: String },
    #[error("S3 {op} timed out at {endpoint}")]
    Timeout { endpoint: String, op: String },
    /// Any other error answer from the server, after retries.
    #[error("S3 {op} '{key}' failed: {code}: {message}")]
    Service {
        op: String,
        key: String,
        code: String,
        message: String,
    },
    /// A copy that the server reported as done but that does not match its source: the ETag
    /// the copy answered, or the target listing (missing, size, ETag) or HEAD after it.
    #[error("S3 copy of '{key}' does not match its source: {detail}")]
    VerifyFailed { key: String, detail: String },
    #[error(
        "no S3 objects under '{prefix}': the local cache and the bucket disagree (check drift)"
    )]
    Drift { prefix: String },
    #[error("S3 key '{key}' is outside the datastore prefix '{prefix}'")]
    ForeignKey { key: String, prefix: String },
    #[error("{0}")]
    Local(String),
}

impl From<S3Error> for BackendError {
    fn from(e: S3Error) -> Self {
        BackendError(e.to_string())
    }
}
