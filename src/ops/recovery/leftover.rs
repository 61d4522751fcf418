//! What an interrupted move can leave in the way of the next one, and how it goes: the
//! hidden, half-built target group (`.pbs-mover-new.<id>`, built with its owner before it
//! is renamed into place) and an empty target group dir without owner (left by older
//! versions after EROFS/ENOSPC). Callers hold the group's lock. Only std and the error
//! type are used here, so the engine, the safety checks and `resume` may all use it.

use std::fs;
use std::io;
use std::path::Path;

use crate::ops::error::{MoveError, io_failed};
use crate::tree::model::OWNER_FILE;

/// Where a move builds the target group `dir` before renaming it into place: a hidden
/// name in the same type dir, which no group listing takes for a group.
pub fn hidden_new_group(dir: &Path) -> std::path::PathBuf {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!("{HIDDEN_NEW_PREFIX}{}", name.unwrap_or_default()))
}

/// The name prefix of [`hidden_new_group`] dirs.
pub const HIDDEN_NEW_PREFIX: &str = ".pbs-mover-new.";

/// Whether `dir` is a real directory with nothing in it: a target group an older version
/// created and could not give its owner file (EROFS, ENOSPC). No PBS code can use it (its
/// owner cannot be read) and nothing is lost by removing it.
pub fn is_empty_leftover(dir: &Path) -> bool {
    let is_dir = fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
    is_dir && fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// Removes an [`is_empty_leftover`] group dir (the caller holds its group lock); returns
/// whether there was one.
pub fn remove_empty_leftover(dir: &Path) -> Result<bool, MoveError> {
    if !is_empty_leftover(dir) {
        return Ok(false);
    }
    fs::remove_dir(dir).map_err(|e| io_failed("cannot remove the empty group dir", dir, e))?;
    Ok(true)
}

/// Removes the hidden, half-built target group of `dir` a fault left (the caller holds the
/// group lock): at most an owner file in it. Anything else in it is left for a person.
pub fn remove_hidden_new_group(dir: &Path) -> Result<bool, MoveError> {
    let tmp = hidden_new_group(dir);
    if !fs::symlink_metadata(&tmp).is_ok_and(|m| m.is_dir()) {
        return Ok(false);
    }
    let owner = tmp.join(OWNER_FILE);
    match fs::remove_file(&owner) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(io_failed("cannot remove", &owner, e));
        }
        _ => {}
    }
    fs::remove_dir(&tmp).map_err(|e| {
        io_failed(
            "cannot remove the half-built group dir of an interrupted move (remove it by hand)",
            &tmp,
            e,
        )
    })?;
    Ok(true)
}
