//! Which PBS runs on this host, and therefore which of PBS's two lock schemes a move must
//! honour.
//!
//! PBS ≤ 3.3.4 locks groups and snapshots by flock(2) on their *directories*; 3.3.5 moved
//! every lock to files under `/run/proxmox-backup/locks`. A PBS upgraded from < 3.3.5 keeps
//! the old scheme until reboot (the `old-locking` marker, refused separately). When the
//! version cannot be known, both schemes are taken: that is always safe.

use std::cmp::Ordering;
use std::fmt;
use std::path::Path;

/// The dpkg status database, where `proxmox-backup-server`'s version is recorded.
pub const DPKG_STATUS: &str = "/var/lib/dpkg/status";
/// Overrides the detected version (`--pbs-version`): a version, `none` or `unknown`.
pub const PBS_VERSION_ENV: &str = "PBS_MOVER_PBS_VERSION";
/// Another dpkg status file to detect the version from (tests, a chroot's database).
pub const DPKG_STATUS_ENV: &str = "PBS_MOVER_DPKG_STATUS";
const PACKAGE: &str = "proxmox-backup-server";
/// The first release with lock files under `/run` (PBS commit 27dd73777, 3.3.5-1).
const NEW_LOCKING_SINCE: [u64; 3] = [3, 3, 5];

/// What is known about the PBS installed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PbsVersion {
    /// Installed at this Debian version (e.g. `3.2.4-1`).
    Installed(DebVersion),
    /// The user said no PBS runs on this host (`--pbs-version none`).
    NotInstalled,
    /// No dpkg record (offline copy, another distribution): any version may run.
    Unknown,
}

impl PbsVersion {
    /// What the dpkg database (`$PBS_MOVER_DPKG_STATUS`, default [`DPKG_STATUS`]) says.
    pub fn detect_installed() -> Self {
        match std::env::var_os(DPKG_STATUS_ENV) {
            Some(path) => Self::detect(Path::new(&path)),
            None => Self::detect(Path::new(DPKG_STATUS)),
        }
    }

    /// `none`, `unknown`, or a Debian version such as `3.2.4` or `4.1.9-1`.
    pub fn parse_override(v: &str) -> Result<Self, String> {
        if v.eq_ignore_ascii_case("none") {
            return Ok(Self::NotInstalled);
        }
        if v.eq_ignore_ascii_case("unknown") {
            return Ok(Self::Unknown);
        }
        DebVersion::parse(v).map(Self::Installed).ok_or_else(|| {
            format!(
                "invalid PBS version '{v}': give a version like 3.2.4 or 4.1.9-1, 'none' or 'unknown'"
            )
        })
    }

    /// The installed `proxmox-backup-server` per the dpkg status file at `status`.
    pub fn detect(status: &Path) -> Self {
        std::fs::read_to_string(status)
            .ok()
            .and_then(|text| installed_version(&text, PACKAGE))
            .map_or(Self::Unknown, Self::Installed)
    }

    /// Whether PBS's pre-3.3.5 directory locks must be taken too.
    pub fn needs_old_locks(&self) -> bool {
        match self {
            Self::Installed(v) => v.upstream_before(&NEW_LOCKING_SINCE),
            Self::NotInstalled => false,
            Self::Unknown => true,
        }
    }

    /// The installed version string, if any.
    pub fn version(&self) -> Option<&str> {
        match self {
            Self::Installed(v) => Some(v.as_str()),
            _ => None,
        }
    }

    /// Which locks a move takes, in words (TUI header, `ls`).
    pub fn lock_scheme(&self) -> &'static str {
        if self.needs_old_locks() {
            "old+new"
        } else {
            "new"
        }
    }
}

impl fmt::Display for PbsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Installed(v) => write!(f, "PBS {v}"),
            Self::NotInstalled => f.write_str("no PBS"),
            Self::Unknown => f.write_str("PBS version unknown"),
        }
    }
}

/// A Debian package version; only the leading numbers of its upstream part are compared,
/// which is all PBS's `major.minor.patch-release` versions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebVersion(String);

impl DebVersion {
    /// Accepts `[epoch:]digits(.digits)*[anything]`.
    pub fn parse(v: &str) -> Option<Self> {
        let v = v.trim();
        let upstream = v.split_once(':').map_or(v, |(_, rest)| rest);
        upstream
            .chars()
            .next()
            .filter(char::is_ascii_digit)
            .map(|_| Self(v.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `3.3.5-1` → `[3, 3, 5]`; a `~` (pre-release) sorts before the release.
    fn numbers(&self) -> (Vec<u64>, bool) {
        let v = self.0.split_once(':').map_or(self.0.as_str(), |(_, r)| r);
        let end = v.find(['-', '~', '+']).unwrap_or(v.len());
        let pre = v[end..].starts_with('~');
        let nums = v[..end]
            .split('.')
            .map_while(|p| {
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .collect();
        (nums, pre)
    }

    fn upstream_before(&self, release: &[u64]) -> bool {
        let (mut nums, pre) = self.numbers();
        nums.resize(nums.len().max(release.len()), 0);
        match nums[..release.len()].cmp(release) {
            Ordering::Less => true,
            Ordering::Equal => pre && nums[release.len()..].iter().all(|&n| n == 0),
            Ordering::Greater => false,
        }
    }
}

impl fmt::Display for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `Version:` of `package` in a dpkg status file, if it is installed (a removed
/// package keeps its record with `Status: deinstall ok config-files`).
fn installed_version(status: &str, package: &str) -> Option<DebVersion> {
    status.split("\n\n").find_map(|para| {
        let field = |name: &str| {
            para.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim))
        };
        let installed = field("Status").is_some_and(|s| s.ends_with(" installed"));
        (field("Package") == Some(package) && installed)
            .then(|| field("Version").and_then(DebVersion::parse))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> PbsVersion {
        PbsVersion::parse_override(s).unwrap()
    }

    #[test]
    fn old_locks_below_3_3_5_and_when_unknown() {
        for old in [
            "3.2.4",
            "3.2.4-1",
            "2.4.7-1",
            "3.3.4-1",
            "3.3.5~rc1",
            "1:3.3.4-1",
        ] {
            assert!(v(old).needs_old_locks(), "{old}");
        }
        for new in [
            "3.3.5-1", "3.3.6", "3.4.1-1", "4.0.0", "4.1.9-1", "4.2.3-1", "10",
        ] {
            assert!(!v(new).needs_old_locks(), "{new}");
        }
        assert!(PbsVersion::Unknown.needs_old_locks());
        assert!(!v("none").needs_old_locks());
        assert!(!v("NONE").needs_old_locks());
        assert_eq!(v("unknown"), PbsVersion::Unknown);
    }

    #[test]
    fn bad_overrides_are_refused_with_a_hint() {
        for bad in ["", "latest", "v4", "-1", "x.y"] {
            let e = PbsVersion::parse_override(bad).unwrap_err();
            assert!(e.contains("like 3.2.4"), "{e}");
        }
    }

    #[test]
    fn reads_the_installed_package_from_dpkg_status() {
        let status = "Package: proxmox-backup-client\nStatus: install ok installed\nVersion: 4.2.0-1\n\n\
                      Package: proxmox-backup-server\nStatus: install ok installed\nPriority: optional\n\
                      Version: 3.2.4-1\nDescription: x\n\n\
                      Package: zsh\nStatus: install ok installed\nVersion: 5.9-4\n";
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("status");
        std::fs::write(&path, status).unwrap();
        let got = PbsVersion::detect(&path);
        assert_eq!(got.version(), Some("3.2.4-1"));
        assert!(got.needs_old_locks());
        assert_eq!(got.to_string(), "PBS 3.2.4-1");
    }

    #[test]
    fn removed_missing_or_unreadable_means_unknown() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("status");
        assert_eq!(PbsVersion::detect(&path), PbsVersion::Unknown);
        std::fs::write(
            &path,
            "Package: proxmox-backup-server\nStatus: deinstall ok config-files\nVersion: 4.2.3-1\n",
        )
        .unwrap();
        assert_eq!(PbsVersion::detect(&path), PbsVersion::Unknown);
        std::fs::write(&path, [0xff, 0xfe, b'\n']).unwrap();
        assert_eq!(PbsVersion::detect(&path), PbsVersion::Unknown);
    }
}
