//! The S3 client: building it from an [`S3Target`] and the few bucket operations a move needs,
//! each mapped to a one-line [`S3Error`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_s3::config::retry::{RetryConfig, RetryPartition};
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RequestChecksumCalculation,
    ResponseChecksumValidation, RuntimeComponents,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::config::S3Target;
use super::error::S3Error;
use super::tls;
use super::window::Throttles;

/// Retry and timeout knobs. The defaults suit a real endpoint; tests shorten the backoff.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Attempts per request, first one included (500/503/SlowDown/timeouts/resets are retried).
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
    /// One attempt of one request; a stuck connection is retried after this.
    pub attempt_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(120),
        }
    }
}

/// Builds the SDK client. No aws-config: nothing is read from `~/.aws` or the environment.
pub fn build_client(t: &S3Target, o: &ClientOptions) -> Result<Client, S3Error> {
    build_client_counting(t, o, &Throttles::default())
}

/// [`build_client`] whose every throttling answer (503, 429: also those the SDK retries)
/// is counted in `throttles`, so the copy and delete windows can back off.
pub fn build_client_counting(
    t: &S3Target,
    o: &ClientOptions,
    throttles: &Throttles,
) -> Result<Client, S3Error> {
    let creds = Credentials::new(
        &t.access_key,
        t.secret_key.expose(),
        None,
        None,
        "pbs-mover",
    );
    let retry = RetryConfig::standard()
        .with_max_attempts(o.max_attempts.max(1))
        .with_initial_backoff(o.initial_backoff)
        .with_max_backoff(o.max_backoff);
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(o.connect_timeout)
        .operation_attempt_timeout(o.attempt_timeout)
        .build();
    let mut b = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(t.region.clone()))
        .endpoint_url(&t.url)
        .force_path_style(t.path_style)
        .credentials_provider(creds)
        .retry_config(retry)
        // The SDK keeps one retry quota per partition name process-wide; a private partition
        // keeps one failing endpoint from starving retries of another client.
        .retry_partition(RetryPartition::new(partition_name()))
        .timeout_config(timeouts)
        .interceptor(CountThrottles(throttles.clone()))
        // Many S3-compatible servers reject the newer default checksum headers.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    if let Some(fp) = &t.fingerprint {
        b = b.http_client(tls::pinned_client(fp, &t.url, o.connect_timeout)?);
    } else if t.url.starts_with("http://") {
        b = b.http_client(aws_smithy_http_client::Builder::new().build_http());
    }
    Ok(Client::from_conf(b.build()))
}

/// Counts the answers of every attempt that ask the client to slow down.
#[derive(Debug)]
struct CountThrottles(Throttles);

impl Intercept for CountThrottles {
    fn name(&self) -> &'static str {
        "CountThrottles"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if matches!(context.response().status().as_u16(), 429 | 503) {
            self.0.add();
        }
        Ok(())
    }
}

fn partition_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("pbs-mover-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// One object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// Absent on some servers (s3s-fs) in listings; HEAD always has it.
    pub etag: Option<String>,
}

#[cfg(test)]
impl ObjectInfo {
    /// A listed object for unit tests of the code that reads listings.
    pub(crate) fn fixture(key: &str, size: u64, etag: Option<&str>) -> Self {
        Self {
            key: key.into(),
            size,
            etag: etag.map(Into::into),
        }
    }
}

/// A per-key result of a batched delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteFailure {
    pub key: String,
    pub error: String,
}

/// The bucket operations a move needs, with errors classified.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub client: Client,
    pub name: String,
    /// For messages only.
    pub endpoint: String,
}

/// What S3 allows in one DeleteObjects request.
pub const DELETE_BATCH: usize = 1000;

/// Characters kept verbatim in `x-amz-copy-source` (the SDK does not encode it).
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl Bucket {
    pub fn new(client: Client, target: &S3Target) -> Self {
        Self {
            client,
            name: target.bucket.clone(),
            endpoint: target.url.clone(),
        }
    }

    fn fail<E>(&self, op: &str, key: &str, err: &SdkError<E, HttpResponse>) -> S3Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        classify(err, &self.endpoint, &self.name, op, key)
    }

    /// Checks endpoint, TLS, credentials and bucket in one request, before anything changes.
    pub async fn check(&self) -> Result<(), S3Error> {
        // ListObjectsV2 rather than HeadBucket: HEAD answers carry no error code, so a 403
        // could not be told apart from a permissions problem and 404 from a wrong endpoint.
        self.client
            .list_objects_v2()
            .bucket(&self.name)
            .max_keys(1)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.fail("ListObjectsV2", "", &e))
    }

    /// Every object under `prefix`, following continuation tokens.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, S3Error> {
        let all = self.list_pages(prefix, None, usize::MAX).await?;
        // Invariant: with no page limit the listing always runs to its end.
        Ok(all.unwrap_or_default())
    }

    /// Every object under `prefix` in pages of up to `page_keys` keys, following
    /// continuation tokens (never StartAfter: SeaweedFS skips a whole "directory" named by
    /// StartAfter), or `None` when the listing needs more than `max_pages` pages: the
    /// caller then lists some narrower way instead of paying for a huge listing.
    pub async fn list_capped(
        &self,
        prefix: &str,
        page_keys: i32,
        max_pages: usize,
    ) -> Result<Option<Vec<ObjectInfo>>, S3Error> {
        self.list_pages(prefix, Some(page_keys), max_pages.max(1))
            .await
    }

    async fn list_pages(
        &self,
        prefix: &str,
        page_keys: Option<i32>,
        max_pages: usize,
    ) -> Result<Option<Vec<ObjectInfo>>, S3Error> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..max_pages {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.name)
                .prefix(prefix)
                .set_max_keys(page_keys)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.fail("ListObjectsV2", prefix, &e))?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                out.push(ObjectInfo {
                    key: key.to_string(),
                    size: o.size().unwrap_or(0).max(0).unsigned_abs(),
                    etag: o.e_tag().map(str::to_string),
                });
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => return Ok(Some(out)),
            }
        }
        Ok(None)
    }

    /// Size and ETag of one object.
    pub async fn head(&self, key: &str) -> Result<ObjectInfo, S3Error> {
        let h = self
            .client
            .head_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map_err(|e| self.fail("HeadObject", key, &e))?;
        Ok(ObjectInfo {
            key: key.to_string(),
            size: h.content_length().unwrap_or(0).max(0).unsigned_abs(),
            etag: h.e_tag().map(str::to_string),
        })
    }

    /// Server-side copy; `if_match` makes it fail if the source changed since it was read.
    /// Returns the ETag of the CopyObjectResult, when the server sent one. A 200 answer
    /// whose body is an S3 error (S3 may fail a copy after sending the status) comes back
    /// as an error: the SDK checks CopyObject bodies for it.
    pub async fn copy(
        &self,
        src: &str,
        dst: &str,
        if_match: Option<&str>,
    ) -> Result<Option<String>, S3Error> {
        let source = format!("{}/{}", self.name, utf8_percent_encode(src, COPY_SOURCE));
        let out = self
            .client
            .copy_object()
            .bucket(&self.name)
            .copy_source(source)
            .set_copy_source_if_match(if_match.map(str::to_string))
            .key(dst)
            .send()
            .await
            .map_err(|e| self.fail("CopyObject", dst, &e))?;
        Ok(out
            .copy_object_result()
            .and_then(|r| r.e_tag())
            .map(str::to_string))
    }

    /// Uploads `data`; with `no_replace` an existing object is kept and that is not an error.
    pub async fn put(&self, key: &str, data: Vec<u8>, no_replace: bool) -> Result<(), S3Error> {
        let req = self
            .client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .body(ByteStream::from(data));
        let req = if no_replace {
            req.if_none_match("*")
        } else {
            req
        };
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if no_replace && http_status(&e) == Some(412) => Ok(()),
            Err(e) => Err(self.fail("PutObject", key, &e)),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let out = self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map_err(|e| self.fail("GetObject", key, &e))?;
        let data = out.body.collect().await.map_err(|e| S3Error::Service {
            op: "GetObject".into(),
            key: key.to_string(),
            code: "ReadBody".into(),
            message: root_cause(&e),
        })?;
        Ok(data.into_bytes().to_vec())
    }

    /// Deletes one object (a missing object is success in S3).
    pub async fn delete(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .delete_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.fail("DeleteObject", key, &e))
    }

    /// One DeleteObjects request (≤ [`DELETE_BATCH`] keys); returns the keys that failed.
    pub async fn delete_batch(&self, keys: &[String]) -> Vec<DeleteFailure> {
        match self.try_delete_batch(keys).await {
            Ok(failures) => failures,
            Err(e) => keys
                .iter()
                .map(|k| DeleteFailure {
                    key: k.clone(),
                    error: e.to_string(),
                })
                .collect(),
        }
    }

    async fn try_delete_batch(&self, keys: &[String]) -> Result<Vec<DeleteFailure>, S3Error> {
        let ids = keys
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| S3Error::Local(format!("DeleteObjects request: {e}")))?;
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|e| S3Error::Local(format!("DeleteObjects request: {e}")))?;
        let first = keys.first().map(String::as_str).unwrap_or_default();
        let out = self
            .client
            .delete_objects()
            .bucket(&self.name)
            .delete(delete)
            .send()
            .await
            .map_err(|e| self.fail("DeleteObjects", first, &e))?;
        Ok(out
            .errors()
            .iter()
            .map(|e| DeleteFailure {
                key: e.key().unwrap_or_default().to_string(),
                error: format!(
                    "S3 DeleteObjects: {}: {}",
                    e.code().unwrap_or("error"),
                    e.message().unwrap_or_default()
                ),
            })
            .collect())
    }
}

fn http_status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// Maps an SDK error to the message an admin can act on.
pub(crate) fn classify<E>(
    err: &SdkError<E, HttpResponse>,
    endpoint: &str,
    bucket: &str,
    op: &str,
    key: &str,
) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let endpoint = endpoint.to_string();
    match err {
        SdkError::TimeoutError(_) => S3Error::Timeout {
            endpoint,
            op: op.into(),
        },
        SdkError::DispatchFailure(d) => {
            let detail = root_cause(err);
            if d.is_timeout() {
                S3Error::Timeout {
                    endpoint,
                    op: op.into(),
                }
            } else if looks_like_tls(&detail) {
                S3Error::Tls { endpoint, detail }
            } else {
                S3Error::Unreachable { endpoint, detail }
            }
        }
        SdkError::ServiceError(se) => service_error(
            se.err(),
            se.raw().status().as_u16(),
            endpoint,
            bucket,
            op,
            key,
        ),
        _ => S3Error::Service {
            op: op.into(),
            key: key.into(),
            code: "error".into(),
            message: root_cause(err),
        },
    }
}

fn service_error(
    err: &impl ProvideErrorMetadata,
    status: u16,
    endpoint: String,
    bucket: &str,
    op: &str,
    key: &str,
) -> S3Error {
    const CREDENTIAL_CODES: &[&str] = &[
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "NotSignedUp",
        "AccessDenied",
        "InvalidToken",
        "ExpiredToken",
    ];
    match err.code() {
        Some(c) if CREDENTIAL_CODES.contains(&c) => S3Error::Credentials {
            endpoint,
            code: c.into(),
        },
        None if status == 403 => S3Error::Credentials {
            endpoint,
            code: "HTTP 403".into(),
        },
        Some("NoSuchBucket") => S3Error::NoSuchBucket {
            endpoint,
            bucket: bucket.into(),
        },
        code => S3Error::Service {
            op: op.into(),
            key: key.into(),
            code: code.map_or_else(|| format!("HTTP {status}"), str::to_string),
            message: err.message().unwrap_or_default().to_string(),
        },
    }
}

fn looks_like_tls(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    [
        "tls",
        "certificate",
        "handshake",
        "fingerprint",
        "invalidcertificate",
    ]
    .iter()
    .any(|w| d.contains(w))
}

/// The SDK's error chain is long ("dispatch failure: io error: client error (Connect): …")
/// and ends in a Debug dump; the innermost cause is the one-line message worth showing.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string().replace('\n', " ")
}
