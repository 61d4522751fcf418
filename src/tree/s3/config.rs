//! Resolving an S3 endpoint: from PBS's `s3.cfg` or from ad-hoc flags plus the environment.
//!
//! The secret key is wrapped in [`Secret`], whose `Debug`/`Display` never show it, so no error,
//! log line or `{:?}` of a config can leak it.

use std::fmt;
use std::path::Path;

use super::error::S3Error;
use crate::tree::config::{self, Section};

const SECTION_TYPE: &str = "s3-endpoint";
const DEFAULT_REGION: &str = "us-east-1";

/// A secret string: shown as `<redacted>` everywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The only way to read the secret: name every call site in review.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything needed to talk to one bucket. `Debug` is safe: the secret is a [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Target {
    /// Where requests go, e.g. `https://s3.eu-central-1.amazonaws.com` or `http://127.0.0.1:9000`.
    pub url: String,
    pub bucket: String,
    pub region: String,
    pub path_style: bool,
    pub access_key: String,
    pub secret_key: Secret,
    /// SHA-256 fingerprint of the server certificate (hex, ':' separators allowed).
    pub fingerprint: Option<String>,
}

/// `--s3-endpoint URL --s3-bucket B [--s3-region R] [--s3-path-style]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdHocS3 {
    pub endpoint: String,
    pub bucket: String,
    pub region: Option<String>,
    pub path_style: bool,
}

impl AdHocS3 {
    /// Credentials come from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` via `env`
    /// (a parameter so tests need not touch the process environment).
    pub fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<S3Target, S3Error> {
        let missing =
            |var: &str| S3Error::Config(format!("{var} is not set (needed with --s3-endpoint)"));
        let access_key = env("AWS_ACCESS_KEY_ID").ok_or_else(|| missing("AWS_ACCESS_KEY_ID"))?;
        let secret =
            env("AWS_SECRET_ACCESS_KEY").ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY"))?;
        let url = self.endpoint.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(S3Error::Config(format!(
                "--s3-endpoint '{url}' must start with http:// or https://"
            )));
        }
        if self.bucket.is_empty() {
            return Err(S3Error::Config("--s3-bucket is empty".into()));
        }
        Ok(S3Target {
            url,
            bucket: self.bucket.clone(),
            region: self.region.clone().unwrap_or_else(|| DEFAULT_REGION.into()),
            path_style: self.path_style,
            access_key,
            secret_key: Secret::new(secret),
            fingerprint: None,
        })
    }
}

/// Looks up `s3-endpoint: <client>` in `s3.cfg` and resolves it for `bucket`.
pub fn from_s3_cfg(path: &Path, client: &str, bucket: &str) -> Result<S3Target, S3Error> {
    let sections = config::read_sections(path).map_err(|e| S3Error::Config(e.to_string()))?;
    let section = sections
        .iter()
        .find(|s| s.kind == SECTION_TYPE && s.id == client)
        .ok_or_else(|| {
            S3Error::Config(format!(
                "S3 endpoint '{client}' not found in {}",
                path.display()
            ))
        })?;
    from_section(section, bucket, &path.display().to_string())
}

/// Resolves one `s3-endpoint` section. Unknown keys (rate limits, provider quirks) are ignored.
pub fn from_section(section: &Section, bucket: &str, origin: &str) -> Result<S3Target, S3Error> {
    let bad =
        |msg: String| S3Error::Config(format!("{origin}: s3-endpoint '{}': {msg}", section.id));
    let need = |key: &str| {
        section
            .get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| bad(format!("missing '{key}'")))
    };
    let endpoint = need("endpoint")?;
    let access_key = need("access-key")?.to_string();
    let secret_key = Secret::new(need("secret-key")?);
    let region = section.get("region").unwrap_or(DEFAULT_REGION).to_string();
    let path_style = match section.get("path-style") {
        None => false,
        Some(v) => {
            parse_bool(v).ok_or_else(|| bad(format!("path-style '{v}' is not a boolean")))?
        }
    };
    let port = match section.get("port") {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| bad(format!("port '{p}' is not a port number")))?,
        ),
    };
    let url = endpoint_url(endpoint, &region, port, path_style).map_err(bad)?;
    Ok(S3Target {
        url,
        bucket: bucket.to_string(),
        region,
        path_style,
        access_key,
        secret_key,
        fingerprint: section.get("fingerprint").map(str::to_string),
    })
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// PBS endpoints are host names with `{{bucket}}`/`{{region}}` templates and HTTPS only. The SDK
/// adds the bucket to the host itself for virtual-hosted style, so a leading `{{bucket}}.` is
/// dropped there; anywhere else the bucket template cannot be expressed and is refused.
fn endpoint_url(
    endpoint: &str,
    region: &str,
    port: Option<u16>,
    path_style: bool,
) -> Result<String, String> {
    let (scheme, rest) = match endpoint.split_once("://") {
        // An explicit scheme is not PBS syntax, but lets tests and `demo --s3` use plain HTTP.
        Some((s @ ("http" | "https"), rest)) => (s, rest),
        Some((s, _)) => return Err(format!("unsupported scheme '{s}' in endpoint")),
        None => ("https", endpoint),
    };
    let host = rest.replace("{{region}}", region);
    let host = match host.strip_prefix("{{bucket}}.") {
        Some(h) if !path_style => h.to_string(),
        Some(_) => return Err("path-style with a '{{bucket}}.' endpoint: drop one".into()),
        None => host,
    };
    if host.contains("{{") {
        return Err(format!("unsupported template in endpoint '{endpoint}'"));
    }
    let host = host.trim_end_matches('/');
    Ok(match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "s3-endpoint: aws\n\tendpoint {{bucket}}.s3.{{region}}.amazonaws.com\n\
        \tregion eu-central-1\n\taccess-key AKIDEXAMPLE\n\tsecret-key TOPSECRETVALUE\n\
        \tprovider-quirks skip-if-none-match-header\n\n\
        s3-endpoint: local\n\tendpoint minio.lan\n\tport 9000\n\tpath-style true\n\
        \taccess-key ak\n\tsecret-key TOPSECRETVALUE\n\tfingerprint aa:bb\n";

    fn section(id: &str) -> Section {
        let all = config::parse_sections(CFG, "s3.cfg").unwrap();
        all.into_iter().find(|s| s.id == id).unwrap()
    }

    #[test]
    fn resolves_templates_and_ports() {
        let t = from_section(&section("aws"), "bk", "s3.cfg").unwrap();
        assert_eq!(t.url, "https://s3.eu-central-1.amazonaws.com");
        assert!(!t.path_style);
        assert_eq!(t.region, "eu-central-1");
        let t = from_section(&section("local"), "bk", "s3.cfg").unwrap();
        assert_eq!(t.url, "https://minio.lan:9000");
        assert!(t.path_style);
        assert_eq!(t.region, "us-east-1");
        assert_eq!(t.fingerprint.as_deref(), Some("aa:bb"));
    }

    #[test]
    fn secret_never_in_debug_or_errors() {
        let t = from_section(&section("aws"), "bk", "s3.cfg").unwrap();
        assert_eq!(t.secret_key.expose(), "TOPSECRETVALUE");
        let dbg = format!("{t:?} {t:#?} {}", t.secret_key);
        assert!(!dbg.contains("TOPSECRETVALUE"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
        let mut s = section("aws");
        s.props.insert("port".into(), "nope".into());
        let err = from_section(&s, "bk", "s3.cfg").unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("TOPSECRETVALUE"), "{text}");
    }

    #[test]
    fn missing_keys_and_bad_values_are_clear() {
        let cases = [
            ("secret-key", None, "missing 'secret-key'"),
            ("endpoint", None, "missing 'endpoint'"),
            ("path-style", Some("maybe"), "not a boolean"),
            ("endpoint", Some("ftp://x"), "unsupported scheme"),
            ("endpoint", Some("s3.{{bucket}}.x"), "unsupported template"),
        ];
        for (key, value, needle) in cases {
            let mut s = section("aws");
            match value {
                Some(v) => s.props.insert(key.into(), v.into()),
                None => s.props.remove(key),
            };
            let err = from_section(&s, "bk", "s3.cfg").unwrap_err().to_string();
            assert!(err.contains(needle), "{key}: {err}");
        }
    }

    #[test]
    fn adhoc_reads_env() {
        let adhoc = AdHocS3 {
            endpoint: "http://127.0.0.1:9000/".into(),
            bucket: "bk".into(),
            region: None,
            path_style: true,
        };
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("ak".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("TOPSECRETVALUE".to_string()),
            _ => None,
        };
        let t = adhoc.resolve(env).unwrap();
        assert_eq!(t.url, "http://127.0.0.1:9000");
        assert!(!format!("{t:?}").contains("TOPSECRETVALUE"));
        let err = adhoc.resolve(|_| None).unwrap_err().to_string();
        assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    }
}
