//! Locating a datastore: by `--path` or by `--store` through PBS's `datastore.cfg`.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::config::{self, ConfigError, Section};
use super::names::is_safe_id;

pub const DEFAULT_CONFIG_DIR: &str = "/etc/proxmox-backup";

/// Where the datastore's contents live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    Filesystem,
    /// `backend type=s3,client=ID,bucket=B`: `path` is the local cache.
    S3 {
        client: String,
        bucket: String,
    },
}

#[derive(Debug, Clone)]
pub struct Datastore {
    pub name: String,
    /// Canonical base directory (the local cache for S3 datastores).
    pub base: PathBuf,
    pub backend: BackendConfig,
    /// The maintenance type (`read-only`, `offline`, …) when one is set.
    pub maintenance: Option<String>,
    /// The `datastore.cfg` this datastore was found in, to re-read its maintenance mode.
    pub config: Option<PathBuf>,
}

impl Datastore {
    /// A filesystem datastore `name` at the canonical `base`, outside any `datastore.cfg`
    /// (no maintenance mode to re-read).
    pub fn filesystem(name: String, base: PathBuf) -> Self {
        Self {
            name,
            base,
            backend: BackendConfig::Filesystem,
            maintenance: None,
            config: None,
        }
    }

    /// The maintenance mode as `datastore.cfg` says now (PBS sets one before it unmounts
    /// or refreshes a datastore); the one read at start when the file cannot be read.
    pub fn current_maintenance(&self) -> Option<String> {
        let Some(cfg) = &self.config else {
            return self.maintenance.clone();
        };
        let fresh = config::read_sections(cfg).ok().and_then(|sections| {
            let section = sections
                .iter()
                .find(|s| s.kind == "datastore" && s.id == self.name)?;
            from_section(section, self.base.clone(), cfg).ok()
        });
        fresh.map_or_else(|| self.maintenance.clone(), |ds| ds.maintenance)
    }
}

#[derive(Debug, Error)]
pub enum LocateError {
    #[error("neither --path nor --store given: pass --path DIR or --store NAME")]
    NoneGiven,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("datastore '{name}' not found in {cfg}: check the name or use --path DIR")]
    UnknownStore { name: String, cfg: String },
    #[error("datastore '{name}' in {cfg} has no 'path': fix the config or use --path DIR")]
    NoPath { name: String, cfg: String },
    #[error("datastore '{name}': invalid {what} '{value}' in {cfg}: {msg}")]
    BadProperty {
        name: String,
        what: &'static str,
        value: String,
        cfg: String,
        msg: String,
    },
    #[error("datastore path {path} is not a directory: {msg}")]
    BadPath { path: String, msg: String },
    #[error(
        "cannot derive a datastore name from {path}: its last component is not a valid name; pass --store NAME"
    )]
    NoName { path: String },
    #[error("{path} is not a datastore root: {missing}; pass the datastore's top directory")]
    NotARoot { path: String, missing: String },
    #[error("{path} is inside datastore {root}; use --path {root}{ns_hint}")]
    InsideDatastore {
        path: String,
        root: String,
        ns_hint: String,
    },
}

/// What the user told us about the datastore.
#[derive(Debug, Clone, Default)]
pub struct Locator {
    pub path: Option<PathBuf>,
    pub store: Option<String>,
    pub config_dir: Option<PathBuf>,
}

impl Locator {
    fn config_dir(&self) -> PathBuf {
        self.config_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_DIR))
    }

    pub fn datastore_cfg(&self) -> PathBuf {
        self.config_dir().join("datastore.cfg")
    }

    pub fn s3_cfg(&self) -> PathBuf {
        self.config_dir().join("s3.cfg")
    }

    pub fn locate(&self) -> Result<Datastore, LocateError> {
        match (&self.path, &self.store) {
            (None, None) => Err(LocateError::NoneGiven),
            (None, Some(name)) => self.by_store(name),
            (Some(path), store) => self.by_path(path, store.as_deref()),
        }
    }

    fn by_store(&self, name: &str) -> Result<Datastore, LocateError> {
        let cfg = self.datastore_cfg();
        let sections = config::read_sections(&cfg)?;
        let section = sections
            .iter()
            .find(|s| s.kind == "datastore" && s.id == name)
            .ok_or_else(|| LocateError::UnknownStore {
                name: name.to_string(),
                cfg: cfg.display().to_string(),
            })?;
        let path = section.get("path").ok_or_else(|| LocateError::NoPath {
            name: name.to_string(),
            cfg: cfg.display().to_string(),
        })?;
        let base = datastore_root(Path::new(path))?;
        from_section(section, base, &cfg)
    }

    fn by_path(&self, path: &Path, store: Option<&str>) -> Result<Datastore, LocateError> {
        let base = datastore_root(path)?;
        let cfg = self.datastore_cfg();
        // An unreadable or absent datastore.cfg is normal for --path: fall back to defaults.
        if let Ok(sections) = config::read_sections(&cfg) {
            let matching = sections.iter().find(|s| {
                s.kind == "datastore"
                    && store.is_none_or(|n| n == s.id)
                    && s.get("path")
                        .and_then(|p| Path::new(p).canonicalize().ok())
                        .is_some_and(|p| p == base)
            });
            if let Some(section) = matching {
                return from_section(section, base, &cfg);
            }
        }
        let name = match store {
            Some(n) => n.to_string(),
            None => base
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| is_safe_id(n))
                .ok_or_else(|| LocateError::NoName {
                    path: base.display().to_string(),
                })?
                .to_string(),
        };
        Ok(Datastore::filesystem(name, base))
    }
}

/// The chunk store's lock file and chunk dir: what makes a directory a datastore root
/// (`ChunkStore::open`), also for the local cache of an S3 datastore.
const ROOT_MARKERS: [(&str, bool); 2] = [(".chunks", true), (".lock", false)];

/// `path` canonicalised, when it is a datastore root: `.chunks/` and `.lock` present (never
/// through symlinks). A directory inside a datastore is refused with the way to name it.
fn datastore_root(path: &Path) -> Result<PathBuf, LocateError> {
    let base = canonical_dir(path)?;
    let missing = missing_markers(&base);
    if missing.is_empty() {
        return Ok(base);
    }
    if let Some(root) = base
        .ancestors()
        .skip(1)
        .find(|a| missing_markers(a).is_empty())
    {
        return Err(inside(&base, root));
    }
    Err(LocateError::NotARoot {
        path: base.display().to_string(),
        missing: format!("{} missing", missing.join(" and ")),
    })
}

fn missing_markers(dir: &Path) -> Vec<&'static str> {
    ROOT_MARKERS
        .iter()
        .filter(|(name, is_dir)| {
            !std::fs::symlink_metadata(dir.join(name))
                .is_ok_and(|m| if *is_dir { m.is_dir() } else { m.is_file() })
        })
        .map(|(name, is_dir)| if *is_dir { ".chunks/" } else { *name })
        .collect()
}

/// "use --path ROOT --ns a/b" for `ROOT/ns/a/ns/b[/…]`.
fn inside(base: &Path, root: &Path) -> LocateError {
    let rel: Vec<String> = base
        .strip_prefix(root)
        .map(|r| {
            r.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let ns: Vec<&str> = rel
        .chunks(2)
        .map_while(|pair| match pair {
            [ns, name] if ns == "ns" => Some(name.as_str()),
            _ => None,
        })
        .collect();
    LocateError::InsideDatastore {
        path: base.display().to_string(),
        root: root.display().to_string(),
        ns_hint: if ns.is_empty() {
            String::new()
        } else {
            format!(" --ns {}", ns.join("/"))
        },
    }
}

fn canonical_dir(path: &Path) -> Result<PathBuf, LocateError> {
    let bad = |msg: String| LocateError::BadPath {
        path: path.display().to_string(),
        msg,
    };
    let base = path.canonicalize().map_err(|e| bad(e.to_string()))?;
    if !base.is_dir() {
        return Err(bad("not a directory".into()));
    }
    Ok(base)
}

fn from_section(section: &Section, base: PathBuf, cfg: &Path) -> Result<Datastore, LocateError> {
    let bad = |what: &'static str, value: &str, msg: String| LocateError::BadProperty {
        name: section.id.clone(),
        what,
        value: value.to_string(),
        cfg: cfg.display().to_string(),
        msg,
    };
    let backend = match section.get("backend") {
        None => BackendConfig::Filesystem,
        Some(raw) => {
            let props =
                config::parse_property_string(raw, "type").map_err(|m| bad("backend", raw, m))?;
            match props.get("type").map(String::as_str) {
                None | Some("filesystem") => BackendConfig::Filesystem,
                Some("s3") => {
                    let get = |k: &str| {
                        props
                            .get(k)
                            .cloned()
                            .ok_or_else(|| bad("backend", raw, format!("missing '{k}='")))
                    };
                    BackendConfig::S3 {
                        client: get("client")?,
                        bucket: get("bucket")?,
                    }
                }
                Some(other) => return Err(bad("backend", raw, format!("unknown type '{other}'"))),
            }
        }
    };
    let maintenance = match section.get("maintenance-mode") {
        None => None,
        Some(raw) => {
            let props = config::parse_property_string(raw, "type")
                .map_err(|m| bad("maintenance-mode", raw, m))?;
            let ty = props
                .get("type")
                .cloned()
                .ok_or_else(|| bad("maintenance-mode", raw, "missing 'type='".into()))?;
            Some(ty)
        }
    };
    Ok(Datastore {
        name: section.id.clone(),
        base,
        backend,
        maintenance,
        config: Some(cfg.to_path_buf()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(cfg: &str) -> (tempfile::TempDir, Locator) {
        let dir = tempfile::tempdir().unwrap();
        make_root(&dir.path().join("store1"));
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        let cfg = cfg.replace("@", &dir.path().display().to_string());
        std::fs::write(dir.path().join("etc/datastore.cfg"), cfg).unwrap();
        let loc = Locator {
            config_dir: Some(dir.path().join("etc")),
            ..Default::default()
        };
        (dir, loc)
    }

    #[test]
    fn by_store_and_by_path_agree() {
        let (dir, mut loc) =
            setup("datastore: store1\n\tpath @/store1\n\tmaintenance-mode type=read-only\n");
        loc.store = Some("store1".into());
        let a = loc.locate().unwrap();
        assert_eq!(a.name, "store1");
        assert_eq!(a.maintenance.as_deref(), Some("read-only"));
        loc.store = None;
        loc.path = Some(dir.path().join("store1"));
        let b = loc.locate().unwrap();
        assert_eq!(b.name, "store1");
        assert_eq!(b.maintenance.as_deref(), Some("read-only"));
        assert_eq!(a.base, b.base);
    }

    #[test]
    fn s3_backend_parsed() {
        let (_dir, mut loc) =
            setup("datastore: store1\n\tbackend bucket=bk,client=c1,type=s3\n\tpath @/store1\n");
        loc.store = Some("store1".into());
        let ds = loc.locate().unwrap();
        assert_eq!(
            ds.backend,
            BackendConfig::S3 {
                client: "c1".into(),
                bucket: "bk".into()
            }
        );
    }

    #[test]
    fn errors_are_clear() {
        let cases = [
            ("datastore: other\n\tpath @/store1\n", "not found in"),
            ("datastore: store1\n\tgc-schedule daily\n", "has no 'path'"),
            (
                "datastore: store1\n\tpath @/missing\n",
                "is not a directory",
            ),
            (
                "datastore: store1\n\tpath @/store1\n\tbackend type=nfs\n",
                "unknown type 'nfs'",
            ),
            (
                "datastore: store1\n\tpath @/store1\n\tbackend type=s3,client=c\n",
                "missing 'bucket='",
            ),
            ("garbage\n", "section header"),
        ];
        for (cfg, needle) in cases {
            let (_dir, mut loc) = setup(cfg);
            loc.store = Some("store1".into());
            let err = loc.locate().unwrap_err().to_string();
            assert!(err.contains(needle), "{cfg:?}: {err}");
        }
    }

    fn make_root(dir: &Path) {
        std::fs::create_dir_all(dir.join(".chunks")).unwrap();
        std::fs::write(dir.join(".lock"), b"").unwrap();
    }

    #[test]
    fn only_datastore_roots_are_datastores() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store1");
        make_root(&root);
        std::fs::create_dir_all(root.join("ns/prod/ns/db/vm/100")).unwrap();
        std::fs::create_dir_all(dir.path().join("empty")).unwrap();
        std::fs::create_dir_all(dir.path().join("half/.chunks")).unwrap();
        let at = |p: &Path| {
            Locator {
                path: Some(p.to_path_buf()),
                config_dir: Some(dir.path().join("nope")),
                ..Default::default()
            }
            .locate()
        };
        assert_eq!(at(&root).unwrap().name, "store1");
        let base = root.canonicalize().unwrap();
        for (sub, hint) in [
            ("ns/prod", " --ns prod"),
            ("ns/prod/ns/db", " --ns prod/db"),
            ("ns/prod/ns/db/vm/100", " --ns prod/db"),
            ("ns", ""),
        ] {
            let e = at(&root.join(sub)).unwrap_err().to_string();
            let want = format!(
                "{} is inside datastore {}; use --path {}{hint}",
                base.join(sub).display(),
                base.display(),
                base.display()
            );
            assert_eq!(e, want);
        }
        let e = at(&dir.path().join("empty")).unwrap_err().to_string();
        assert!(e.ends_with("is not a datastore root: .chunks/ and .lock missing; pass the datastore's top directory"), "{e}");
        let e = at(&dir.path().join("half")).unwrap_err().to_string();
        assert!(e.contains("not a datastore root: .lock missing"), "{e}");
        std::fs::write(dir.path().join("file"), b"x").unwrap();
        let e = at(&dir.path().join("file")).unwrap_err().to_string();
        assert!(e.contains("is not a directory"), "{e}");
    }

    #[test]
    fn maintenance_is_read_again_from_the_config() {
        let (dir, mut loc) = setup("datastore: store1\n\tpath @/store1\n");
        loc.store = Some("store1".into());
        let ds = loc.locate().unwrap();
        assert_eq!(ds.current_maintenance(), None);
        let cfg = format!(
            "datastore: store1\n\tpath {}/store1\n\tmaintenance-mode type=unmount\n",
            dir.path().display()
        );
        std::fs::write(dir.path().join("etc/datastore.cfg"), cfg).unwrap();
        assert_eq!(ds.current_maintenance().as_deref(), Some("unmount"));
    }

    #[test]
    fn path_without_config_uses_basename() {
        let dir = tempfile::tempdir().unwrap();
        make_root(&dir.path().join("mystore"));
        let loc = Locator {
            path: Some(dir.path().join("mystore")),
            config_dir: Some(dir.path().join("nope")),
            ..Default::default()
        };
        assert_eq!(loc.locate().unwrap().name, "mystore");
        let loc = Locator {
            path: Some(dir.path().join("mystore")),
            store: Some("named".into()),
            config_dir: Some(dir.path().join("nope")),
        };
        assert_eq!(loc.locate().unwrap().name, "named");
    }
}
