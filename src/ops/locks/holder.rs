//! Who holds a flock on a file, from `/proc/locks`, so a lock conflict can name the
//! process (usually proxmox-backup-proxy running a backup) instead of just failing.
//!
//! Diagnostics only: any parse or read problem yields "unknown holder", never an error.

use std::fmt;
use std::fs::File;
use std::os::unix::fs::MetadataExt;

const PROC_LOCKS: &str = "/proc/locks";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// `LOCK_SH`.
    Read,
    /// `LOCK_EX`.
    Write,
}

/// A process holding a flock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: u32,
    /// `/proc/PID/comm`, or "unknown" if the process is gone or unreadable.
    pub comm: String,
    pub kind: LockKind,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PID {} ({})", self.pid, self.comm)
    }
}

/// One granted flock from `/proc/locks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcLock {
    pub pid: u32,
    pub kind: LockKind,
    pub major: u32,
    pub minor: u32,
    pub ino: u64,
}

/// Parses `1: FLOCK  ADVISORY  WRITE 1234 fd:01:123456 0 EOF`.
///
/// Returns `None` for blocked waiters (`1: -> FLOCK …`, they hold nothing), for
/// non-flock locks (POSIX/OFD record locks don't conflict with flock), for holders in
/// another PID namespace (pid 0 or negative) and for anything unparsable.
pub fn parse_proc_locks_line(line: &str) -> Option<ProcLock> {
    let mut fields = line.split_whitespace();
    fields.next()?.strip_suffix(':')?;
    if fields.next()? != "FLOCK" {
        return None;
    }
    fields.next()?; // ADVISORY / MANDATORY
    let kind = match fields.next()? {
        "READ" => LockKind::Read,
        "WRITE" => LockKind::Write,
        _ => return None,
    };
    let pid: i64 = fields.next()?.parse().ok()?;
    let pid = u32::try_from(pid).ok().filter(|&p| p > 0)?;
    let (major, minor, ino) = parse_dev_ino(fields.next()?)?;
    Some(ProcLock {
        pid,
        kind,
        major,
        minor,
        ino,
    })
}

/// `fd:01:123456`: major and minor in hex, inode in decimal.
fn parse_dev_ino(field: &str) -> Option<(u32, u32, u64)> {
    let mut parts = field.split(':');
    let major = u32::from_str_radix(parts.next()?, 16).ok()?;
    let minor = u32::from_str_radix(parts.next()?, 16).ok()?;
    let ino = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((major, minor, ino))
}

/// Granted flocks on one inode in `content` (text of `/proc/locks`), excluding `own_pid`.
pub fn flock_holders_in(
    content: &str,
    major: u32,
    minor: u32,
    ino: u64,
    own_pid: u32,
) -> Vec<ProcLock> {
    let mut out: Vec<ProcLock> = Vec::new();
    for lock in content.lines().filter_map(parse_proc_locks_line) {
        let same_file = (lock.major, lock.minor, lock.ino) == (major, minor, ino);
        if same_file && lock.pid != own_pid && !out.iter().any(|l| l.pid == lock.pid) {
            out.push(lock);
        }
    }
    out
}

/// All other processes holding a flock on the file behind `file`.
pub fn find_holders(file: &File) -> Vec<LockHolder> {
    let Ok(meta) = file.metadata() else {
        return Vec::new();
    };
    let Ok(content) = std::fs::read_to_string(PROC_LOCKS) else {
        return Vec::new();
    };
    let (major, minor) = (rustix::fs::major(meta.dev()), rustix::fs::minor(meta.dev()));
    flock_holders_in(&content, major, minor, meta.ino(), std::process::id())
        .into_iter()
        .map(|l| LockHolder {
            pid: l.pid,
            comm: comm_of(l.pid),
            kind: l.kind,
        })
        .collect()
}

/// The most likely culprit of a conflict: a writer if there is one (it blocks every
/// request), otherwise the first reader.
pub fn find_holder(file: &File) -> Option<LockHolder> {
    let mut holders = find_holders(file);
    let pos = holders
        .iter()
        .position(|h| h.kind == LockKind::Write)
        .unwrap_or(0);
    (pos < holders.len()).then(|| holders.swap_remove(pos))
}

fn comm_of(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_granted_flock_lines() {
        let l = parse_proc_locks_line("1: FLOCK  ADVISORY  WRITE 1234 fd:01:123456 0 EOF").unwrap();
        assert_eq!(
            l,
            ProcLock {
                pid: 1234,
                kind: LockKind::Write,
                major: 0xfd,
                minor: 1,
                ino: 123_456
            }
        );
        let l = parse_proc_locks_line("12: FLOCK  ADVISORY  READ  99 00:1a:7 0 EOF").unwrap();
        assert_eq!(
            (l.kind, l.major, l.minor, l.ino),
            (LockKind::Read, 0, 0x1a, 7)
        );
    }

    #[test]
    fn skips_waiters_other_lock_types_and_garbage() {
        let skipped = [
            "1: -> FLOCK  ADVISORY  WRITE 1235 fd:01:123456 0 EOF",
            "2: POSIX  ADVISORY  WRITE 1234 fd:01:123456 0 EOF",
            "3: OFDLCK ADVISORY  READ  -1 fd:01:123456 0 EOF",
            "4: FLOCK  ADVISORY  WRITE 0 fd:01:123456 0 EOF",
            "5: FLOCK  ADVISORY  WRITE -7 fd:01:123456 0 EOF",
            "6: FLOCK  ADVISORY  UNLCK 12 fd:01:123456 0 EOF",
            "7: FLOCK  ADVISORY  WRITE 12 zz:01:123456 0 EOF",
            "8: FLOCK  ADVISORY  WRITE 12 fd:01 0 EOF",
            "9: FLOCK  ADVISORY  WRITE 12 fd:01:1:2 0 EOF",
            "FLOCK  ADVISORY  WRITE 12 fd:01:1 0 EOF",
            "1: FLOCK",
            "",
            "1: FLOCK  ADVISORY  WRITE 99999999999 fd:01:1 0 EOF",
        ];
        for line in skipped {
            assert_eq!(parse_proc_locks_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn filters_by_file_and_own_pid_and_dedups() {
        let content = "\
1: FLOCK  ADVISORY  READ  10 fd:01:5 0 EOF
1: -> FLOCK  ADVISORY  WRITE 11 fd:01:5 0 EOF
2: FLOCK  ADVISORY  READ  12 fd:01:5 0 EOF
3: FLOCK  ADVISORY  READ  10 fd:01:5 0 EOF
4: FLOCK  ADVISORY  WRITE 13 fd:02:5 0 EOF
5: FLOCK  ADVISORY  WRITE 14 fd:01:6 0 EOF
garbage line
";
        let pids: Vec<u32> = flock_holders_in(content, 0xfd, 1, 5, 12)
            .iter()
            .map(|l| l.pid)
            .collect();
        assert_eq!(pids, vec![10]);
        assert!(flock_holders_in(content, 0xfd, 1, 99, 0).is_empty());
    }

    #[test]
    fn own_locks_are_not_reported() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let file = tmp.reopen().unwrap();
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).unwrap();
        assert_eq!(find_holder(&file), None);
    }
}
