//! Every group has an owner file PBS can parse (`user@realm` or `user@realm!token`, as
//! PBS's `Authid`): a group without one is refused by PBS's own move and backup code.

use super::inventory::Inventory;
use super::{Finding, FindingKind};
use crate::tree::model::OWNER_FILE;
use crate::tree::names::is_safe_id;

pub fn check(inv: &Inventory) -> Vec<Finding> {
    let mut out = Vec::new();
    for g in &inv.groups {
        let path = g.path.join(OWNER_FILE);
        let what = format!("group {} in '{}'", g.group, g.ns.human());
        match &g.owner {
            None => out.push(Finding::new(
                FindingKind::OwnerMissing,
                path,
                format!(
                    "{what} has no owner file (an interrupted move of an older pbs-mover? \
                     `pbs-mover resume` repairs an empty one; otherwise write the owner, \
                     e.g. root@pam, into it)"
                ),
            )),
            Some(o) if !is_authid(o) => out.push(Finding::new(
                FindingKind::OwnerInvalid,
                path,
                format!("{what}: owner file does not hold a valid owner ({o:?})"),
            )),
            Some(_) => {}
        }
    }
    out
}

/// PBS's `Authid`: a user name (1–64 characters, no whitespace, ':' or '/'), '@', a realm
/// (a SAFE_ID of 2–32 characters), optionally '!' and a token name (a SAFE_ID).
pub fn is_authid(s: &str) -> bool {
    let (user, token) = match s.split_once('!') {
        Some((u, t)) => (u, Some(t)),
        None => (s, None),
    };
    let Some((name, realm)) = user.rsplit_once('@') else {
        return false;
    };
    let name_ok = (1..=64).contains(&name.chars().count())
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ':' || c == '/');
    let realm_ok = (2..=32).contains(&realm.len()) && is_safe_id(realm);
    name_ok && realm_ok && token.is_none_or(is_safe_id)
}

#[cfg(test)]
mod tests {
    use super::is_authid;

    #[test]
    fn owners_pbs_accepts_and_rejects() {
        for ok in ["root@pam", "backup@pbs", "alice@ldap!nightly", "a.b-c@pve"] {
            assert!(is_authid(ok), "{ok}");
        }
        for bad in [
            "",
            "root",
            "@pam",
            "root@",
            "root@p",
            "ro ot@pam",
            "a/b@pam",
            "x@pam!",
        ] {
            assert!(!is_authid(bad), "{bad:?}");
        }
    }
}
