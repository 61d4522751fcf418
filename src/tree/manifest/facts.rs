//! The manifest JSON (pbs-datastore `manifest.rs`, kebab-case) and what the GUI derives
//! from it: the backup size, the crypt mode, the verify state with its time, the notes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ManifestError;

/// A snapshot's crypt mode as PBS's content view shows it: from the crypt modes of its
/// archives (the manifest itself never counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CryptMode {
    None,
    /// Signed with the client's key, not encrypted.
    SignOnly,
    Encrypt,
    /// Archives with different modes.
    Mixed,
}

impl CryptMode {
    /// The word PBS's GUI uses.
    pub fn label(self) -> &'static str {
        match self {
            CryptMode::None => "none",
            CryptMode::SignOnly => "signed",
            CryptMode::Encrypt => "encrypted",
            CryptMode::Mixed => "mixed",
        }
    }
}

/// One archive's crypt mode in the manifest (`files[].crypt-mode`, `none` before 0.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArchiveCrypt {
    #[default]
    None,
    Encrypt,
    SignOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyState {
    Ok,
    Failed,
}

impl VerifyState {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyState::Ok => "ok",
            VerifyState::Failed => "failed",
        }
    }
}

/// The last verification (`unprotected.verify_state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub state: VerifyState,
    /// Start of the verify task, from its UPID (epoch seconds).
    pub time: Option<u64>,
}

/// What the manifest says about one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFacts {
    /// Sum of the archives' sizes plus the manifest's own bytes, as PBS's GUI adds them up.
    pub size: u64,
    pub archives: usize,
    pub crypt_mode: CryptMode,
    /// The manifest carries a signature (sign-only or encrypted backups).
    pub signed: bool,
    pub verification: Option<Verification>,
    /// `unprotected.notes`, the snapshot's notes.
    pub notes: Option<String>,
    /// The `.protected` marker exists.
    pub protected: bool,
}

impl SnapshotFacts {
    /// The first line of the notes: PBS's "comment".
    pub fn comment(&self) -> Option<&str> {
        first_line(self.notes.as_deref())
    }

    pub fn verify_state(&self) -> Option<VerifyState> {
        self.verification.as_ref().map(|v| v.state)
    }
}

/// The first line of `notes`, `None` when there is none or it is empty.
pub fn first_line(notes: Option<&str>) -> Option<&str> {
    notes
        .and_then(|n| n.lines().next())
        .filter(|l| !l.trim().is_empty())
}

/// Only what is read; the other fields are required, as PBS requires them, so that a JSON
/// file that is not a manifest is reported as one that is not.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawManifest {
    #[allow(dead_code)]
    backup_type: String,
    #[allow(dead_code)]
    backup_id: String,
    #[allow(dead_code)]
    backup_time: i64,
    files: Vec<RawFile>,
    #[serde(default)]
    unprotected: Value,
    signature: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    #[allow(dead_code)]
    filename: String,
    #[serde(default)]
    crypt_mode: ArchiveCrypt,
    size: u64,
}

#[derive(Deserialize)]
struct RawVerify {
    state: VerifyState,
    upid: Option<String>,
}

/// Facts from the manifest JSON; `blob_len` is the raw `index.json.blob` size.
pub fn parse(json: &[u8], blob_len: u64, protected: bool) -> Result<SnapshotFacts, ManifestError> {
    let m: RawManifest =
        serde_json::from_slice(json).map_err(|e| ManifestError::BadJson(e.to_string()))?;
    let archives: u64 = m.files.iter().fold(0u64, |a, f| a.saturating_add(f.size));
    // PBS only logs a verify_state it cannot parse and shows none: so do we.
    let verification = serde_json::from_value::<RawVerify>(m.unprotected["verify_state"].clone())
        .ok()
        .map(|v| Verification {
            state: v.state,
            time: v.upid.as_deref().and_then(upid_start_time),
        });
    Ok(SnapshotFacts {
        size: archives.saturating_add(blob_len),
        archives: m.files.len(),
        crypt_mode: crypt_mode(m.files.iter().map(|f| f.crypt_mode)),
        signed: m.signature.is_some(),
        verification,
        notes: m.unprotected["notes"].as_str().map(str::to_string),
        protected,
    })
}

/// PBS's `calculateCryptMode`: all encrypted, all signed, none of either, else mixed.
fn crypt_mode(modes: impl Iterator<Item = ArchiveCrypt>) -> CryptMode {
    let (mut count, mut encrypted, mut signed) = (0usize, 0usize, 0usize);
    for m in modes {
        count += 1;
        encrypted += usize::from(m == ArchiveCrypt::Encrypt);
        signed += usize::from(m == ArchiveCrypt::SignOnly);
    }
    if encrypted > 0 && encrypted == count {
        CryptMode::Encrypt
    } else if signed > 0 && signed == count {
        CryptMode::SignOnly
    } else if encrypted + signed == 0 {
        CryptMode::None
    } else {
        CryptMode::Mixed
    }
}

/// The start time in a PBS UPID
/// `UPID:{node}:{pid:08X}:{pstart:08X}:{task_id:08X}:{starttime:08X}:{type}:{id}:{auth}:`.
pub fn upid_start_time(upid: &str) -> Option<u64> {
    let mut parts = upid.split(':');
    if parts.next() != Some("UPID") {
        return None;
    }
    let hex = parts.nth(4)?;
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: &str, unprotected: &str, signature: bool) -> Vec<u8> {
        let sig = if signature {
            r#","signature":"ab12""#
        } else {
            ""
        };
        format!(
            r#"{{"backup-type":"vm","backup-id":"100","backup-time":1700000000,"files":[{files}],"unprotected":{unprotected}{sig}}}"#
        )
        .into_bytes()
    }

    const DISK: &str =
        r#"{"filename":"drive-scsi0.img.fidx","crypt-mode":"none","size":34359738368,"csum":"00"}"#;
    const CONF: &str =
        r#"{"filename":"qemu-server.conf.blob","crypt-mode":"none","size":412,"csum":"00"}"#;

    #[test]
    fn size_comment_and_verify_state() {
        let unprotected = r#"{"notes":"before upgrade\nsecond line","verify_state":{"state":"ok","upid":"UPID:pbs:000004D2:00000C8F:00000007:6553F100:verify:store1\\x3avm-100:root@pam:"}}"#;
        let json = manifest(&format!("{DISK},{CONF}"), unprotected, false);
        let f = parse(&json, 600, true).unwrap();
        assert_eq!(f.size, 34_359_738_368 + 412 + 600);
        assert_eq!(f.archives, 2);
        assert_eq!(f.crypt_mode, CryptMode::None);
        assert_eq!(f.comment(), Some("before upgrade"));
        assert_eq!(f.verify_state(), Some(VerifyState::Ok));
        assert_eq!(f.verification.unwrap().time, Some(0x6553_F100));
        assert!(f.protected);
        assert!(!f.signed);
    }

    #[test]
    fn crypt_modes_follow_the_gui() {
        let file = |mode: &str| {
            format!(r#"{{"filename":"a.didx","crypt-mode":"{mode}","size":1,"csum":"00"}}"#)
        };
        let mode = |files: &[&str], sig: bool| {
            let files: Vec<String> = files.iter().map(|m| file(m)).collect();
            parse(&manifest(&files.join(","), "{}", sig), 0, false)
                .unwrap()
                .crypt_mode
        };
        assert_eq!(mode(&["encrypt", "encrypt"], true), CryptMode::Encrypt);
        assert_eq!(mode(&["sign-only"], true), CryptMode::SignOnly);
        assert_eq!(mode(&["none", "none"], false), CryptMode::None);
        assert_eq!(mode(&["none", "encrypt"], true), CryptMode::Mixed);
        assert_eq!(mode(&[], false), CryptMode::None);
        // Before 0.8 there was no crypt-mode: none.
        let old = manifest(r#"{"filename":"a.didx","size":5,"csum":"00"}"#, "{}", false);
        assert_eq!(parse(&old, 0, false).unwrap().crypt_mode, CryptMode::None);
    }

    #[test]
    fn failed_verification_and_odd_verify_states() {
        let failed = r#"{"verify_state":{"state":"failed","upid":"garbage"}}"#;
        let f = parse(&manifest(DISK, failed, false), 0, false).unwrap();
        assert_eq!(f.verify_state(), Some(VerifyState::Failed));
        assert_eq!(f.verification.unwrap().time, None);
        let odd = r#"{"verify_state":{"state":"maybe"},"notes":""}"#;
        let f = parse(&manifest(DISK, odd, false), 0, false).unwrap();
        assert_eq!(f.verification, None);
        assert_eq!(f.comment(), None);
    }

    #[test]
    fn bad_json_is_typed() {
        for bad in [&b"{"[..], b"[]", br#"{"files":[]}"#, b"\xff\xfe"] {
            assert!(matches!(
                parse(bad, 0, false),
                Err(ManifestError::BadJson(_))
            ));
        }
        let bad_mode = manifest(
            r#"{"filename":"a","crypt-mode":"rot13","size":1,"csum":"00"}"#,
            "{}",
            false,
        );
        assert!(matches!(
            parse(&bad_mode, 0, false),
            Err(ManifestError::BadJson(_))
        ));
    }

    #[test]
    fn upid_times() {
        assert_eq!(
            upid_start_time("UPID:n:00000001:00000002:00000003:0000000A:verify:x:root@pam:"),
            Some(10)
        );
        assert_eq!(upid_start_time("UPID:n:1"), None);
        assert_eq!(upid_start_time("nope:n:1:2:3:4"), None);
    }
}
