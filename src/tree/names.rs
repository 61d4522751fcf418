//! Validated PBS names: namespaces, backup types and ids, snapshot times, groups.
//!
//! The rules mirror pbs-api-types: SAFE_ID components, at most `MAX_NAMESPACE_DEPTH`
//! components, a total namespace length of at most `MAX_NAMESPACE_LENGTH`, the BACKUP_ID
//! regex and RFC3339 UTC second-precision snapshot directory names.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// Root is depth 0, so a namespace has at most 7 components (8 levels).
pub const MAX_NAMESPACE_DEPTH: usize = 7;
/// Counts components and separating '/', not the on-disk `ns/` prefixes.
pub const MAX_NAMESPACE_LENGTH: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error(
        "invalid namespace '{}': component '{}' is not a valid name (letters, digits, '_', '-', '.'; not starting with '-' or '.')",
        shown(ns),
        shown(component)
    )]
    NamespaceComponent { ns: String, component: String },
    #[error(
        "invalid namespace '{}': empty component (no '//', no leading or trailing '/' except for the root '/')",
        shown(ns)
    )]
    NamespaceEmptyComponent { ns: String },
    #[error(
        "invalid namespace '{}': {depth} levels exceed the maximum depth of {MAX_NAMESPACE_DEPTH}",
        shown(ns)
    )]
    NamespaceTooDeep { ns: String, depth: usize },
    #[error(
        "invalid namespace '{}': length {len} exceeds the maximum of {MAX_NAMESPACE_LENGTH}",
        shown(ns)
    )]
    NamespaceTooLong { ns: String, len: usize },
    #[error("invalid backup type '{}': expected vm, ct or host", shown(.0))]
    BackupType(String),
    #[error(
        "invalid backup id '{}': use letters, digits, '_', '-', '.' and do not start with '-' or '.'",
        shown(.0)
    )]
    BackupId(String),
    #[error("invalid group '{}': expected TYPE/ID, e.g. vm/100", shown(.0))]
    Group(String),
    #[error(
        "invalid snapshot time '{}': expected RFC3339 UTC like 2025-07-14T14:20:02Z",
        shown(.0)
    )]
    SnapshotTime(String),
}

/// User input as shown in an error: control characters (a newline in `--ns`) escaped so an
/// error stays one line and cannot forge output, long input cut so it stays readable.
fn shown(s: &str) -> String {
    const MAX: usize = 300;
    let mut out: String = s.chars().take(MAX).flat_map(char::escape_debug).collect();
    if s.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// SAFE_ID: `[A-Za-z0-9_][A-Za-z0-9._\-]*` — also the BACKUP_ID rule.
pub fn is_safe_id(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphanumeric() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A backup namespace: a path of SAFE_ID components; the root has none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Namespace {
    components: Vec<String>,
}

impl Namespace {
    pub fn root() -> Self {
        Self::default()
    }

    /// Parses `a/b/c`; `""` and `"/"` are the root.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.is_empty() || s == "/" {
            return Ok(Self::root());
        }
        let mut ns = Self::root();
        for component in s.split('/') {
            if component.is_empty() {
                return Err(NameError::NamespaceEmptyComponent { ns: s.to_string() });
            }
            ns.push_checked(component, s)?;
        }
        Ok(ns)
    }

    /// A child namespace, validated like PBS's `BackupNamespace::push`.
    pub fn child(&self, name: &str) -> Result<Self, NameError> {
        let mut ns = self.clone();
        let display = if self.is_root() {
            name.to_string()
        } else {
            format!("{self}/{name}")
        };
        ns.push_checked(name, &display)?;
        Ok(ns)
    }

    fn push_checked(&mut self, component: &str, full: &str) -> Result<(), NameError> {
        if !is_safe_id(component) {
            return Err(NameError::NamespaceComponent {
                ns: full.to_string(),
                component: component.to_string(),
            });
        }
        if self.components.len() >= MAX_NAMESPACE_DEPTH {
            return Err(NameError::NamespaceTooDeep {
                ns: full.to_string(),
                depth: self.components.len() + 1,
            });
        }
        // PBS adds 1 for the separator even for the first component.
        let len = self.name_len() + component.len() + 1;
        if len > MAX_NAMESPACE_LENGTH {
            return Err(NameError::NamespaceTooLong {
                ns: full.to_string(),
                len,
            });
        }
        self.components.push(component.to_string());
        Ok(())
    }

    fn name_len(&self) -> usize {
        self.components.iter().map(String::len).sum::<usize>()
            + self.components.len().saturating_sub(1)
    }

    pub fn is_root(&self) -> bool {
        self.components.is_empty()
    }

    pub fn depth(&self) -> usize {
        self.components.len()
    }

    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// The last component, or `None` for the root.
    pub fn name(&self) -> Option<&str> {
        self.components.last().map(String::as_str)
    }

    pub fn parent(&self) -> Option<Self> {
        if self.is_root() {
            return None;
        }
        Some(Self {
            components: self.components[..self.components.len() - 1].to_vec(),
        })
    }

    /// The non-root ancestors, outermost first, excluding `self`.
    pub fn ancestors(&self) -> impl Iterator<Item = Namespace> + '_ {
        (1..self.components.len()).map(|n| Self {
            components: self.components[..n].to_vec(),
        })
    }

    /// Relative on-disk path: `ns/a/ns/b` (empty for the root).
    pub fn rel_path(&self) -> PathBuf {
        let mut p = PathBuf::new();
        for c in &self.components {
            p.push("ns");
            p.push(c);
        }
        p
    }

    /// The lock-directory name: components joined with ':' (empty for the root).
    pub fn lock_dir_name(&self) -> String {
        self.components.join(":")
    }

    /// `Some(n)` when `other` is `self` or lies `n` levels below it.
    pub fn contains(&self, other: &Namespace) -> Option<usize> {
        other
            .components
            .starts_with(&self.components)
            .then(|| other.depth() - self.depth())
    }

    /// Re-roots `self` from under `source` to under `target` (PBS `map_prefix`).
    pub fn map_prefix(&self, source: &Namespace, target: &Namespace) -> Result<Self, NameError> {
        let mut out = target.clone();
        let rest = self
            .components
            .strip_prefix(source.components.as_slice())
            .ok_or_else(|| NameError::NamespaceComponent {
                ns: self.to_string(),
                component: source.to_string(),
            })?;
        for c in rest {
            let display = if out.is_root() {
                c.clone()
            } else {
                format!("{out}/{c}")
            };
            out.push_checked(c, &display)?;
        }
        Ok(out)
    }

    /// Human form: `a/b`, or `/` for the root (JSON uses `Display`, which is "" for the root).
    pub fn human(&self) -> String {
        human_ns(&self.to_string()).to_string()
    }
}

/// The one rule for showing a namespace to people, for its text form (`Display`, as reports,
/// plans and journals carry it): `a/b`, or `/` for the root, which is `""` there.
pub fn human_ns(ns: &str) -> &str {
    if ns.is_empty() { "/" } else { ns }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.components.join("/"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackupType {
    Vm,
    Ct,
    Host,
}

impl BackupType {
    pub const ALL: [BackupType; 3] = [BackupType::Vm, BackupType::Ct, BackupType::Host];

    pub fn parse(s: &str) -> Result<Self, NameError> {
        match s {
            "vm" => Ok(Self::Vm),
            "ct" => Ok(Self::Ct),
            "host" => Ok(Self::Host),
            _ => Err(NameError::BackupType(s.to_string())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vm => "vm",
            Self::Ct => "ct",
            Self::Host => "host",
        }
    }
}

impl fmt::Display for BackupType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backup group: `TYPE/ID`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId {
    pub ty: BackupType,
    pub id: String,
}

impl GroupId {
    pub fn new(ty: BackupType, id: &str) -> Result<Self, NameError> {
        if !is_safe_id(id) {
            return Err(NameError::BackupId(id.to_string()));
        }
        Ok(Self {
            ty,
            id: id.to_string(),
        })
    }

    /// Parses `vm/100`.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let (ty, id) = s
            .split_once('/')
            .ok_or_else(|| NameError::Group(s.to_string()))?;
        if id.contains('/') {
            return Err(NameError::Group(s.to_string()));
        }
        Self::new(BackupType::parse(ty)?, id)
    }

    /// Path relative to its namespace dir: `vm/100`.
    pub fn rel_path(&self) -> PathBuf {
        PathBuf::from(self.ty.as_str()).join(&self.id)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ty, self.id)
    }
}

/// Reports, plans, journals and `--json-progress` events carry names in their text form
/// (`Display`, "" for the root namespace), exactly as the JSON contract has always spelled them.
macro_rules! serde_as_text {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_text!(Namespace);
serde_as_text!(GroupId);

/// A snapshot directory name: RFC3339 UTC with second precision, e.g. `2025-07-14T14:20:02Z`.
/// The fixed-width format sorts lexicographically in time order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotTime(String);

impl SnapshotTime {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let err = || NameError::SnapshotTime(s.to_string());
        let b = s.as_bytes();
        let shape_ok = b.len() == 20
            && b.iter().enumerate().all(|(i, &c)| match i {
                4 | 7 => c == b'-',
                10 => c == b'T',
                13 | 16 => c == b':',
                19 => c == b'Z',
                _ => c.is_ascii_digit(),
            });
        if !shape_ok {
            return Err(err());
        }
        // humantime checks calendar validity (month lengths, leap years, ranges)...
        let t = humantime::parse_rfc3339(s).map_err(|_| err())?;
        // ...but accepts a leap second (`23:59:60Z`), which names the same instant as the
        // next `00:00:00Z` and never comes out of PBS: only the canonical form is a snapshot.
        let secs = t
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| err())?
            .as_secs();
        if Self::from_epoch(secs).0 != s {
            return Err(err());
        }
        Ok(Self(s.to_string()))
    }

    pub fn from_epoch(secs: u64) -> Self {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        Self(humantime::format_rfc3339_seconds(t).to_string())
    }

    pub fn epoch(&self) -> u64 {
        humantime::parse_rfc3339(&self.0)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SnapshotTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_as_text!(SnapshotTime);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_serialize_as_their_text_and_back() {
        let root = serde_json::to_string(&Namespace::root()).unwrap();
        assert_eq!(root, "\"\"");
        let ns = Namespace::parse("a/b").unwrap();
        assert_eq!(serde_json::to_string(&ns).unwrap(), "\"a/b\"");
        let g = GroupId::parse("vm/100").unwrap();
        assert_eq!(serde_json::to_string(&g).unwrap(), "\"vm/100\"");
        assert_eq!(serde_json::from_str::<Namespace>("\"a/b\"").unwrap(), ns);
        assert_eq!(serde_json::from_str::<GroupId>("\"vm/100\"").unwrap(), g);
        assert!(serde_json::from_str::<GroupId>("\"vm\"").is_err());
    }

    #[test]
    fn safe_id_table() {
        let cases: &[(&str, bool)] = &[
            ("a", true),
            ("A9", true),
            ("_x", true),
            ("0", true),
            ("a.b-c_d", true),
            ("web1.example.com", true),
            ("", false),
            ("-a", false),
            (".a", false),
            ("a b", false),
            ("a/b", false),
            ("a:b", false),
            ("ä", false),
            ("..", false),
            ("a\n", false),
        ];
        for (s, ok) in cases {
            assert_eq!(is_safe_id(s), *ok, "{s:?}");
        }
    }

    #[test]
    fn namespace_valid_table() {
        let cases: &[(&str, usize, &str, &str)] = &[
            ("", 0, "", ""),
            ("/", 0, "", ""),
            ("a", 1, "ns/a", "a"),
            ("a/b", 2, "ns/a/ns/b", "a:b"),
            (
                "a/b/c/d/e/f/g",
                7,
                "ns/a/ns/b/ns/c/ns/d/ns/e/ns/f/ns/g",
                "a:b:c:d:e:f:g",
            ),
            (
                "prod.eu-1/db_2",
                2,
                "ns/prod.eu-1/ns/db_2",
                "prod.eu-1:db_2",
            ),
        ];
        for (s, depth, path, lock) in cases {
            let ns = Namespace::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(ns.depth(), *depth, "{s:?}");
            assert_eq!(ns.rel_path(), PathBuf::from(path), "{s:?}");
            assert_eq!(ns.lock_dir_name(), *lock, "{s:?}");
        }
    }

    #[test]
    fn namespace_invalid_table() {
        let long = "x".repeat(250);
        let too_long = format!("{long}/abcdef");
        let cases: Vec<(&str, &str)> = vec![
            ("../x", "'..'"),
            ("a//b", "empty component"),
            ("/a", "empty component"),
            ("a/", "empty component"),
            ("a/b/c/d/e/f/g/h", "maximum depth"),
            ("a b", "'a b'"),
            ("-a", "'-a'"),
            (".hidden", "'.hidden'"),
            ("a/./b", "'.'"),
            ("a:b", "'a:b'"),
            (&too_long, "exceeds the maximum of 256"),
        ];
        for (s, needle) in cases {
            let err = Namespace::parse(s).expect_err(s).to_string();
            assert!(err.contains(needle), "{s:?}: {err}");
        }
    }

    #[test]
    fn namespace_length_counts_separators_like_pbs() {
        // 255 chars + 1 (PBS counts the separator even for the first component) = 256: ok.
        assert!(Namespace::parse(&"y".repeat(255)).is_ok());
        assert!(Namespace::parse(&"y".repeat(256)).is_err());
    }

    #[test]
    fn namespace_relations() {
        let a = Namespace::parse("a").unwrap();
        let abc = Namespace::parse("a/b/c").unwrap();
        let x = Namespace::parse("x").unwrap();
        assert_eq!(a.contains(&abc), Some(2));
        assert_eq!(a.contains(&a), Some(0));
        assert_eq!(abc.contains(&a), None);
        assert_eq!(Namespace::root().contains(&a), Some(1));
        assert_eq!(abc.map_prefix(&a, &x).unwrap().to_string(), "x/b/c");
        assert_eq!(
            abc.map_prefix(&a, &Namespace::root()).unwrap().to_string(),
            "b/c"
        );
        assert!(x.map_prefix(&a, &x).is_err());
        assert_eq!(abc.parent().unwrap().to_string(), "a/b");
        assert_eq!(Namespace::root().parent(), None);
        let anc: Vec<String> = abc.ancestors().map(|n| n.to_string()).collect();
        assert_eq!(anc, vec!["a", "a/b"]);
        assert_eq!(Namespace::root().human(), "/");
        let deep = Namespace::parse("a/b/c/d/e/f").unwrap();
        assert!(
            deep.map_prefix(&a, &Namespace::parse("x/y/z").unwrap())
                .is_err()
        );
    }

    #[test]
    fn group_table() {
        let ok: &[(&str, BackupType, &str)] = &[
            ("vm/100", BackupType::Vm, "100"),
            ("ct/101", BackupType::Ct, "101"),
            ("host/web1", BackupType::Host, "web1"),
            ("host/my-pc.local", BackupType::Host, "my-pc.local"),
            ("host/_x", BackupType::Host, "_x"),
        ];
        for (s, ty, id) in ok {
            let g = GroupId::parse(s).unwrap();
            assert_eq!((g.ty, g.id.as_str()), (*ty, *id));
            assert_eq!(g.to_string(), *s);
        }
        let bad: &[(&str, &str)] = &[
            ("vm", "expected TYPE/ID"),
            ("vm/", "invalid backup id"),
            ("lxc/100", "invalid backup type 'lxc'"),
            ("VM/100", "invalid backup type"),
            ("vm/-1", "invalid backup id '-1'"),
            ("vm/1/2", "expected TYPE/ID"),
            ("vm/../x", "expected TYPE/ID"),
            ("vm/..", "invalid backup id"),
            ("vm/a b", "invalid backup id"),
            ("/100", "invalid backup type"),
        ];
        for (s, needle) in bad {
            let err = GroupId::parse(s).expect_err(s).to_string();
            assert!(err.contains(needle), "{s:?}: {err}");
        }
    }

    #[test]
    fn snapshot_time_table() {
        for ok in [
            "2025-07-14T14:20:02Z",
            "2024-02-29T00:00:00Z",
            "1970-01-01T00:00:00Z",
        ] {
            assert_eq!(SnapshotTime::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "2025-07-14T14:20:02",
            "2025-07-14 14:20:02Z",
            "2025-13-01T00:00:00Z",
            "2025-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2025-07-14T24:00:00Z",
            "2025-07-14T14:20:02.5Z",
            "2025-07-14T14:20:02+00:00",
            "2016-12-31T23:59:60Z",
            "x",
            "",
        ] {
            assert!(SnapshotTime::parse(bad).is_err(), "{bad}");
        }
        let t = SnapshotTime::from_epoch(1_752_502_802);
        assert_eq!(t.as_str(), "2025-07-14T14:20:02Z");
        assert_eq!(t.epoch(), 1_752_502_802);
        assert!(SnapshotTime::parse("2025-01-01T00:00:00Z").unwrap() < t);
    }
}
