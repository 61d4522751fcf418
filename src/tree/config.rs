//! PBS section-config files (`datastore.cfg`, `s3.cfg`) and property strings.
//!
//! Format: `TYPE: ID` starts a section, indented `key value` lines follow; `#` comments and
//! blank lines are ignored. We only ever read these files; PBS owns them.

use std::collections::BTreeMap;
use std::path::Path;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {msg}")]
    Syntax {
        path: String,
        line: usize,
        msg: String,
    },
}

/// One `TYPE: ID` section with its properties in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub kind: String,
    pub id: String,
    pub props: BTreeMap<String, String>,
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }
}

pub fn read_sections(path: &Path) -> Result<Vec<Section>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_sections(&text, &path.display().to_string())
}

pub fn parse_sections(text: &str, origin: &str) -> Result<Vec<Section>, ConfigError> {
    let mut sections: Vec<Section> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let syntax = |msg: &str| ConfigError::Syntax {
            path: origin.to_string(),
            line: idx + 1,
            msg: msg.to_string(),
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if !indented {
            let (kind, id) = trimmed
                .split_once(':')
                .ok_or_else(|| syntax("expected a section header 'TYPE: ID'"))?;
            let (kind, id) = (kind.trim(), id.trim());
            if kind.is_empty() || id.is_empty() || id.contains(char::is_whitespace) {
                return Err(syntax("expected a section header 'TYPE: ID'"));
            }
            sections.push(Section {
                kind: kind.to_string(),
                id: id.to_string(),
                props: BTreeMap::new(),
            });
            continue;
        }
        let section = sections
            .last_mut()
            .ok_or_else(|| syntax("property line before the first section header"))?;
        let (key, value) = match trimmed.split_once(char::is_whitespace) {
            Some((k, v)) => (k, v.trim()),
            None => (trimmed, ""),
        };
        if section
            .props
            .insert(key.to_string(), value.to_string())
            .is_some()
        {
            return Err(syntax(&format!("duplicate property '{key}'")));
        }
    }
    Ok(sections)
}

/// Parses a PBS property string `k=v,k2=v2`; a bare first value is stored under `default_key`.
pub fn parse_property_string(
    s: &str,
    default_key: &str,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, part) in s.split(',').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = match part.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None if i == 0 => (default_key, part),
            None => return Err(format!("'{part}' is not a key=value pair in '{s}'")),
        };
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("duplicate key '{k}' in '{s}'"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_datastore_cfg() {
        let text = "# comment\ndatastore: store1\n\tpath /mnt/datastore/store1\n\tgc-schedule daily\n\n\
                    datastore: s3store\n        backend bucket=b,client=aws,type=s3\n        path /mnt/cache\n        maintenance-mode type=offline,message=hi%20there\n";
        let s = parse_sections(text, "datastore.cfg").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].kind, "datastore");
        assert_eq!(s[0].id, "store1");
        assert_eq!(s[0].get("path"), Some("/mnt/datastore/store1"));
        assert_eq!(s[1].get("backend"), Some("bucket=b,client=aws,type=s3"));
    }

    #[test]
    fn rejects_malformed_lines() {
        let bad = [
            ("\tpath /x\n", "before the first section"),
            ("datastore store1\n", "section header"),
            ("datastore:\n", "section header"),
            ("datastore: a b\n", "section header"),
            (
                "datastore: a\n\tpath /x\n\tpath /y\n",
                "duplicate property 'path'",
            ),
        ];
        for (text, needle) in bad {
            let err = parse_sections(text, "f").unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(err.starts_with("f:"), "{err}");
        }
    }

    #[test]
    fn property_strings() {
        let p = parse_property_string("offline", "type").unwrap();
        assert_eq!(p.get("type").map(String::as_str), Some("offline"));
        let p = parse_property_string("type=s3,client=c,bucket=b", "type").unwrap();
        assert_eq!(p.len(), 3);
        assert!(parse_property_string("type=s3,oops", "type").is_err());
        assert!(parse_property_string("a=1,a=2", "type").is_err());
    }
}
