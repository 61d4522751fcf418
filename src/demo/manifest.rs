//! Real PBS manifests for generated snapshots: the JSON PBS writes (pretty, kebab-case)
//! inside a DataBlob, zstd-compressed or plain. The demo and the test fixtures use it.

use serde_json::{Value, json};

use crate::tree::manifest::{ArchiveCrypt, VerifyState, blob};
use crate::tree::names::{BackupType, SnapshotTime};

/// One archive as the manifest lists it.
#[derive(Debug, Clone)]
pub struct Archive {
    pub name: String,
    /// The backed-up size (a disk image's size, not its index file's).
    pub size: u64,
    pub crypt: ArchiveCrypt,
}

/// Everything a generated manifest says.
#[derive(Debug, Clone)]
pub struct ManifestSpec {
    pub ty: BackupType,
    pub id: String,
    pub time: SnapshotTime,
    pub archives: Vec<Archive>,
    /// The last verification and when its task started (epoch seconds).
    pub verified: Option<(VerifyState, u64)>,
    pub notes: Option<String>,
    /// zstd-compressed (as PBS writes them) or plain (older or hand-made ones).
    pub compress: bool,
}

impl ManifestSpec {
    /// A plain manifest for `archives`, unverified, without notes.
    pub fn new(ty: BackupType, id: &str, time: SnapshotTime, archives: Vec<Archive>) -> Self {
        Self {
            ty,
            id: id.to_string(),
            time,
            archives,
            verified: None,
            notes: None,
            compress: true,
        }
    }

    /// The manifest JSON as PBS formats it.
    pub fn json(&self) -> String {
        let files: Vec<Value> = self
            .archives
            .iter()
            .map(|a| {
                json!({
                    "filename": a.name,
                    "crypt-mode": a.crypt,
                    "size": a.size,
                    "csum": csum(&a.name, a.size),
                })
            })
            .collect();
        let mut unprotected = json!({});
        if let Some((state, at)) = self.verified {
            unprotected["verify_state"] = json!({ "state": state, "upid": verify_upid(at) });
        }
        if let Some(notes) = &self.notes {
            unprotected["notes"] = json!(notes);
        }
        let signed = self.archives.iter().any(|a| a.crypt != ArchiveCrypt::None);
        if signed {
            unprotected["key-fingerprint"] = json!(DEMO_FINGERPRINT);
        }
        let mut m = json!({
            "backup-type": self.ty.as_str(),
            "backup-id": self.id,
            "backup-time": self.time.epoch(),
            "files": files,
            "unprotected": unprotected,
        });
        if signed {
            m["signature"] = json!(csum("signature", self.time.epoch()));
        }
        serde_json::to_string_pretty(&m).unwrap_or_default()
    }

    /// The `index.json.blob` bytes.
    pub fn blob(&self) -> Vec<u8> {
        blob::encode(self.json().as_bytes(), self.compress)
    }
}

const DEMO_FINGERPRINT: &str = "de:mo:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd";

/// A verification job's UPID started at `at` (PBS's format, the time in field six).
fn verify_upid(at: u64) -> String {
    format!(
        "UPID:pbs:000A1B2C:0012D687:0000002A:{at:08X}:verificationjob:store1\\x3ademo:root@pam:"
    )
}

/// A stand-in sha256 (hex): stable for the same archive, not a real checksum.
fn csum(name: &str, size: u64) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{name}:{size}").as_bytes());
    crate::tree::hex::hex(&digest, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::manifest::{CryptMode, blob, facts};

    #[test]
    fn generated_manifests_parse_back() {
        let time = SnapshotTime::from_epoch(1_700_000_000);
        let disk = Archive {
            name: "drive-scsi0.img.fidx".into(),
            size: 32 << 30,
            crypt: ArchiveCrypt::Encrypt,
        };
        let mut spec = ManifestSpec::new(BackupType::Vm, "100", time, vec![disk]);
        spec.verified = Some((VerifyState::Failed, 1_700_003_600));
        spec.notes = Some("first\nsecond".into());
        for compress in [true, false] {
            spec.compress = compress;
            let raw = spec.blob();
            let json = blob::decode(&raw).unwrap();
            let f = facts::parse(&json, raw.len() as u64, false).unwrap();
            assert_eq!(f.size, (32 << 30) + raw.len() as u64);
            assert_eq!(f.crypt_mode, CryptMode::Encrypt);
            assert!(f.signed);
            assert_eq!(f.verification.as_ref().unwrap().time, Some(1_700_003_600));
            assert_eq!(f.comment(), Some("first"));
        }
    }
}
