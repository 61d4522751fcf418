//! Ownership and modes of what we create, so that proxmox-backup-proxy (running as user
//! `backup`) can keep using it: a root-owned lock directory or journal would make PBS fail
//! with EACCES, and a root-owned dir in the datastore can make GC abort on EPERM.
//!
//! Only things we created ourselves get chowned; pre-existing dirs are never touched, and
//! no chown or chmod follows a symlink.
//!
//! Handing a file to backup:backup needs root (or being `backup` already), so every
//! operation that creates files checks [`check_can_own`] before it touches anything: a
//! move that found out at its first chown would stop half-way with a bare EACCES/EPERM.

use std::fs::{self, DirBuilder, File};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path};
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};

/// PBS runs as this user and group (uid/gid 34 on Debian, but PBS resolves it by name).
pub const BACKUP_USER: &str = "backup";
/// Datastore directories and lock directories.
pub const DIR_MODE: u32 = 0o755;
/// Datastore files (owner, notes, …), PBS's `replace_file` default.
pub const FILE_MODE: u32 = 0o644;
/// Lock files and the move journal (`open_backup_lockfile`).
pub const LOCK_FILE_MODE: u32 = 0o660;

/// Who owns what this process creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// backup:backup (when that user exists), as PBS: every real datastore.
    Backup,
    /// Whoever runs us, nothing chowned: a non-root `demo` only, whose datastore, locks and
    /// journal are the user's own, in the user's own dir, and never seen by PBS.
    Invoker,
}

static OWNERSHIP: OnceLock<Ownership> = OnceLock::new();

/// Makes this process create everything owned by its own user. Only the `demo` subcommand
/// calls it, and only when not root, for its own throwaway datastore; nothing a user can
/// pass to a real move (flag, environment, file) reaches it.
pub fn own_as_invoker() {
    // A second call (or one after the policy was fixed) changes nothing: the policy is set once.
    let _ = OWNERSHIP.set(Ownership::Invoker);
}

/// The ownership policy of this process ([`Ownership::Backup`] unless [`own_as_invoker`]).
pub fn ownership() -> Ownership {
    OWNERSHIP.get().copied().unwrap_or(Ownership::Backup)
}

/// The `(uid, gid)` to hand what we create to, or `None`: leave it to whoever runs us.
pub fn chown_ids() -> Option<(u32, u32)> {
    match ownership() {
        Ownership::Backup => backup_ids(),
        Ownership::Invoker => None,
    }
}

/// This process cannot create files owned by backup:backup (see [`check_can_own`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "pbs-mover must run as root or as user '{BACKUP_USER}' to move, resume or undo: it creates lock files and directories owned by {BACKUP_USER}:{BACKUP_USER} as PBS does (running as uid {uid}{name}); rerun it with sudo"
)]
pub struct CannotOwn {
    pub uid: u32,
    /// `" 'alice'"`, or empty when the uid has no passwd entry.
    name: String,
}

/// Whether this process may create files owned by backup:backup: it is root, or it runs as
/// `backup` itself (a chown to one's own uid and primary group needs no privilege). Hosts
/// without a `backup` user have nothing to hand files to, and a demo owns its files itself.
pub fn check_can_own() -> Result<(), CannotOwn> {
    let euid = rustix::process::geteuid();
    if ownership() == Ownership::Invoker || euid.is_root() {
        return Ok(());
    }
    match backup_ids() {
        None => Ok(()),
        Some((uid, _)) if uid == euid.as_raw() => Ok(()),
        Some(_) => {
            let uid = euid.as_raw();
            let name = nix::unistd::User::from_uid(uid.into())
                .ok()
                .flatten()
                .map(|u| format!(" '{}'", u.name))
                .unwrap_or_default();
            Err(CannotOwn { uid, name })
        }
    }
}

/// `(uid, gid)` of user and group `backup`, or `None` on hosts without them.
pub fn backup_ids() -> Option<(u32, u32)> {
    static IDS: OnceLock<Option<(u32, u32)>> = OnceLock::new();
    *IDS.get_or_init(lookup_backup_ids)
}

fn lookup_backup_ids() -> Option<(u32, u32)> {
    let user = nix::unistd::User::from_name(BACKUP_USER).ok()??;
    let group = nix::unistd::Group::from_name(BACKUP_USER).ok()??;
    Some((user.uid.as_raw(), group.gid.as_raw()))
}

/// `lchown path backup:backup`; a no-op on hosts without a backup user (nothing to hand
/// ownership to, and nothing from PBS that could be locked out) and in a non-root demo.
pub fn chown_backup(path: &Path) -> io::Result<()> {
    match chown_ids() {
        Some((uid, gid)) => std::os::unix::fs::lchown(path, Some(uid), Some(gid)),
        None => Ok(()),
    }
}

/// Gives a file or directory we just created PBS's mode and owner, via its open fd so a
/// concurrent rename of the path cannot redirect the change.
pub fn set_owned_mode(fd: impl AsFd, mode: u32) -> io::Result<()> {
    // fchmod because the umask may have stripped bits from the create mode.
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    match chown_ids() {
        Some((uid, gid)) => std::os::unix::fs::fchown(&fd, Some(uid), Some(gid)),
        None => Ok(()),
    }
}

/// Creates `path` and its missing ancestors below `stop_at` with mode 0755, owned
/// backup:backup (only the directories created here are chowned).
///
/// `stop_at` must already exist and is never created: this keeps us from creating a
/// datastore's mount point when it is not mounted. Existing components below `stop_at`
/// must be real directories, not symlinks.
pub fn create_dir_all_owned(path: &Path, stop_at: &Path) -> io::Result<()> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    let rel = path.strip_prefix(stop_at).map_err(|_| {
        invalid_input(format!(
            "{} is not below {}",
            path.display(),
            stop_at.display()
        ))
    })?;
    let anchor = fs::metadata(stop_at).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{}: {e} (not creating it)", stop_at.display()),
        )
    })?;
    if !anchor.is_dir() {
        return Err(not_a_dir(stop_at));
    }
    let mut cur = stop_at.to_path_buf();
    for component in rel.components() {
        let Component::Normal(name) = component else {
            return Err(invalid_input(format!(
                "unexpected component in {}",
                path.display()
            )));
        };
        cur.push(name);
        create_one_dir(&cur)?;
    }
    Ok(())
}

fn create_one_dir(dir: &Path) -> io::Result<()> {
    create_dir_owned(dir, DIR_MODE)
}

/// Creates the one directory `dir` (its parent must exist) with `mode`, owned
/// backup:backup; an existing directory (never a symlink) is used as it is.
pub fn create_dir_owned(dir: &Path, mode: u32) -> io::Result<()> {
    match DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {
            let fd = rustix::fs::open(
                dir,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            set_owned_mode(fd, mode).map_err(|e| with_path(e, dir))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Someone else's directory (or a race winner's): use it, but never through a symlink.
            if fs::symlink_metadata(dir)?.is_dir() {
                Ok(())
            } else {
                Err(not_a_dir(dir))
            }
        }
        Err(e) => Err(with_path(e, dir)),
    }
}

/// Sets PBS's file mode (0644) and owner on a file we created.
pub fn set_file_owned(file: &File) -> io::Result<()> {
    set_owned_mode(file, FILE_MODE)
}

/// Mode bits (without the file type) of an existing path, not following symlinks.
pub fn mode_of(path: &Path) -> io::Result<u32> {
    Ok(fs::symlink_metadata(path)?.permissions().mode() & 0o7777)
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn invalid_input(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn not_a_dir(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotADirectory,
        format!(
            "{} exists but is not a directory (symlinks are not followed)",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::ops::error::MoveError;

    #[test]
    fn backup_ids_are_cached_and_match_passwd() {
        let first = backup_ids();
        assert_eq!(first, backup_ids());
        if let Some((uid, gid)) = first {
            let user = nix::unistd::User::from_uid(uid.into()).unwrap().unwrap();
            assert_eq!(user.name, BACKUP_USER);
            assert_eq!(user.gid.as_raw(), gid);
        }
    }

    #[test]
    fn root_may_own_and_the_refusal_says_who_and_what_to_do() {
        if rustix::process::geteuid().is_root() {
            assert_eq!(check_can_own(), Ok(()));
        }
        let e = CannotOwn {
            uid: 1000,
            name: " 'alice'".into(),
        };
        assert_eq!(
            e.to_string(),
            "pbs-mover must run as root or as user 'backup' to move, resume or undo: it creates lock files and directories owned by backup:backup as PBS does (running as uid 1000 'alice'); rerun it with sudo"
        );
        assert!(matches!(MoveError::from(e), MoveError::Refused(_)));
    }

    #[test]
    fn creates_only_below_stop_at_and_owns_only_new_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let pre = tmp.path().join("pre");
        fs::create_dir(&pre).unwrap();
        let before = fs::metadata(&pre).unwrap();
        let deep = pre.join("a/b/c");
        create_dir_all_owned(&deep, tmp.path()).unwrap();
        for dir in ["pre/a", "pre/a/b", "pre/a/b/c"] {
            let m = fs::metadata(tmp.path().join(dir)).unwrap();
            assert_eq!(m.permissions().mode() & 0o7777, DIR_MODE, "{dir}");
            if let Some((uid, gid)) = backup_ids() {
                assert_eq!((m.uid(), m.gid()), (uid, gid), "{dir}");
            }
        }
        let after = fs::metadata(&pre).unwrap();
        assert_eq!((before.uid(), before.gid()), (after.uid(), after.gid()));
        // Idempotent.
        create_dir_all_owned(&deep, tmp.path()).unwrap();
    }

    #[test]
    fn refuses_missing_anchor_outside_paths_and_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("mnt");
        let err = create_dir_all_owned(&missing.join("x"), &missing).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(!missing.exists());

        let err = create_dir_all_owned(Path::new("/elsewhere/x"), tmp.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

        let target = tmp.path().join("target");
        fs::create_dir(&target).unwrap();
        std::os::unix::fs::symlink(&target, tmp.path().join("link")).unwrap();
        let err = create_dir_all_owned(&tmp.path().join("link/x"), tmp.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotADirectory);
        assert!(!target.join("x").exists());
    }
}
