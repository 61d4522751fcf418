//! What PBS knows about each snapshot, read from real-format manifests written into a
//! datastore: `ls --json` per group and per snapshot, damaged manifests as warnings, and
//! the parser on blobs as PBS writes them (plain, zstd, signed) and as disks break them.

use crate::support;

use support::api::{ArchiveCrypt, CryptMode, ManifestError, VerifyState, manifest};
use support::store::manifest_spec;
use support::{Store, exit_code, json, stderr};

const T1: &str = "2025-01-01T00:00:00Z";
const T2: &str = "2025-02-01T00:00:00Z";
const T3: &str = "2025-03-01T00:00:00Z";

/// vm/100 with three snapshots: an old plain one, a signed one that failed verification,
/// and the newest, encrypted and zstd-compressed, with notes; ct/101 with a broken one.
fn store() -> Store {
    let s = Store::empty(&["prod"]);
    s.add_group("prod", "vm/100", "root@pam", &[T1, T2, T3]);
    let mut old = manifest_spec("vm/100", T1, 10 << 30);
    old.compress = false;
    s.write_manifest("prod", "vm/100", T1, &old);
    let mut signed = manifest_spec("vm/100", T2, 11 << 30);
    signed.archives[0].crypt = ArchiveCrypt::SignOnly;
    signed.verified = Some((VerifyState::Failed, 1_738_400_000));
    s.write_manifest("prod", "vm/100", T2, &signed);
    let mut newest = manifest_spec("vm/100", T3, 12 << 30);
    newest.archives[0].crypt = ArchiveCrypt::Encrypt;
    newest.notes = Some("before the upgrade\nsecond line".to_string());
    newest.verified = Some((VerifyState::Ok, 1_740_790_800));
    s.write_manifest("prod", "vm/100", T3, &newest);
    std::fs::write(
        s.group_dir("prod", "vm/100").join(T1).join(".protected"),
        b"",
    )
    .unwrap();
    s.add_group("prod", "ct/101", "root@pam", &[T1, T2]);
    let broken = s
        .group_dir("prod", "ct/101")
        .join(T2)
        .join("index.json.blob");
    let mut raw = std::fs::read(&broken).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 0x01;
    std::fs::write(&broken, raw).unwrap();
    s
}

fn blob_len(s: &Store, group: &str, t: &str) -> u64 {
    let p = s.group_dir("prod", group).join(t).join("index.json.blob");
    std::fs::metadata(p).unwrap().len()
}

#[test]
fn ls_json_shows_size_comment_and_verify_state_per_group() {
    let s = store();
    let out = s.run(&["ls", "--ns", "prod", "--json"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    let groups = &j["namespaces"][0]["groups"];
    let vm = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "vm/100")
        .unwrap();
    let manifests: u64 = [T1, T2, T3].iter().map(|t| blob_len(&s, "vm/100", t)).sum();
    assert_eq!(vm["size"], (33u64 << 30) + manifests);
    assert_eq!(vm["comment"], "before the upgrade");
    assert_eq!(vm["verify_state"], "ok");
    assert!(vm.get("snapshot_list").is_none());
    // The broken manifest is not counted and is reported, not fatal.
    let ct = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "ct/101")
        .unwrap();
    assert_eq!(ct["size"], (1u64 << 30) + blob_len(&s, "ct/101", T1));
    assert_eq!(ct["comment"], serde_json::Value::Null);
    let warnings = j["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| {
            let w = w.as_str().unwrap();
            w.contains("ct/101/2025-02-01T00:00:00Z/index.json.blob") && w.contains("bad CRC")
        }),
        "{warnings:?}"
    );
}

#[test]
fn ls_json_snapshots_carry_their_manifest_facts() {
    let s = store();
    let out = s.run(&["ls", "--ns", "prod", "--snapshots", "--json"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    let groups = j["namespaces"][0]["groups"].as_array().unwrap().clone();
    let snaps = |g: &str| {
        groups.iter().find(|x| x["group"] == g).unwrap()["snapshot_list"]
            .as_array()
            .unwrap()
            .clone()
    };
    let vm = snaps("vm/100");
    assert_eq!(vm[0]["size"], (10u64 << 30) + blob_len(&s, "vm/100", T1));
    assert_eq!(vm[0]["crypt_mode"], "none");
    assert_eq!(vm[0]["protected"], true);
    assert_eq!(vm[0]["verify_state"], serde_json::Value::Null);
    assert_eq!(vm[1]["crypt_mode"], "sign-only");
    assert_eq!(vm[1]["verify_state"], "failed");
    assert_eq!(vm[1]["verified_at"], "2025-02-01T08:53:20Z");
    assert_eq!(vm[1]["protected"], false);
    assert_eq!(vm[2]["crypt_mode"], "encrypt");
    assert_eq!(vm[2]["comment"], "before the upgrade");
    assert_eq!(vm[2]["manifest_error"], serde_json::Value::Null);
    let ct = snaps("ct/101");
    assert_eq!(ct[1]["size"], serde_json::Value::Null);
    assert_eq!(ct[1]["manifest_error"], "bad CRC");
    assert_eq!(ct[1]["crypt_mode"], serde_json::Value::Null);
}

#[test]
fn ls_text_shows_sizes_and_the_damage() {
    let s = store();
    let out = s.run(&["ls", "--ns", "prod", "--snapshots"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("33.0 GiB"), "{text}");
    assert!(
        text.contains("encrypted  verify ok  \"before the upgrade\""),
        "{text}"
    );
    assert!(text.contains("signed  verify failed"), "{text}");
    assert!(text.contains("manifest: bad CRC"), "{text}");
}

#[test]
fn parser_reads_what_pbs_writes_and_types_what_breaks() {
    let s = store();
    let dir = |g: &str, t: &str| s.group_dir("prod", g).join(t);
    let plain = manifest::read_facts(&dir("vm/100", T1)).unwrap();
    assert!(plain.protected && !plain.signed);
    let signed = manifest::read_facts(&dir("vm/100", T2)).unwrap();
    assert_eq!(signed.crypt_mode, CryptMode::SignOnly);
    assert!(signed.signed);
    let zstd = manifest::read_facts(&dir("vm/100", T3)).unwrap();
    assert_eq!(zstd.crypt_mode, CryptMode::Encrypt);
    assert_eq!(
        zstd.notes.as_deref(),
        Some("before the upgrade\nsecond line")
    );
    assert!(matches!(
        manifest::read_facts(&dir("ct/101", T2)),
        Err(ManifestError::BadCrc { .. })
    ));
    // Truncated, wrong magic, not JSON: each its own error, never a panic.
    let path = dir("ct/101", T1).join("index.json.blob");
    let good = std::fs::read(&path).unwrap();
    std::fs::write(&path, &good[..7]).unwrap();
    assert_eq!(
        manifest::read_facts(&dir("ct/101", T1)),
        Err(ManifestError::Truncated(7))
    );
    std::fs::write(&path, b"{\"backup-type\":\"ct\"} not a blob").unwrap();
    assert_eq!(
        manifest::read_facts(&dir("ct/101", T1)),
        Err(ManifestError::WrongMagic)
    );
    std::fs::write(&path, manifest::blob::encode(b"not json", false)).unwrap();
    assert!(matches!(
        manifest::read_facts(&dir("ct/101", T1)),
        Err(ManifestError::BadJson(_))
    ));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        manifest::read_facts(&dir("ct/101", T1)),
        Err(ManifestError::Missing)
    );
}

/// `ls` reads the manifests of many groups on several threads: the output (groups, sizes,
/// comments, warnings) is byte for byte what one thread gives, groups in listing order.
#[test]
fn ls_reads_manifests_in_parallel_with_the_same_output_in_the_same_order() {
    let s = Store::empty(&["a"]);
    for i in 0..150 {
        let (ns, g) = (if i % 3 == 0 { "a" } else { "" }, format!("vm/{i}"));
        s.add_group(ns, &g, "root@pam", &[T1, T2]);
        let mut spec = manifest_spec(&g, T2, (i as u64 + 1) << 20);
        spec.notes = Some(format!("comment of {g}"));
        s.write_manifest(ns, &g, T2, &spec);
    }
    // Two damaged manifests: their warnings keep the groups' order.
    for g in ["vm/7", "vm/100"] {
        let path = s.group_dir("", g).join(T1).join("index.json.blob");
        std::fs::write(path, b"not a blob").unwrap();
    }
    let args = ["ls", "--recursive", "--json"];
    let parallel = s.run(&args);
    assert_eq!(exit_code(&parallel), 0, "{}", stderr(&parallel));
    let one = s
        .cmd()
        .env("PBS_MOVER_SCAN_THREADS", "1")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&parallel.stdout),
        String::from_utf8_lossy(&one.stdout)
    );
    let j = json(&parallel);
    let root: Vec<String> = j["namespaces"][0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap().to_string())
        .collect();
    // The listing's order (by name, as `ls` always gave it).
    let mut expected: Vec<String> = (0..150)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("vm/{i}"))
        .collect();
    expected.sort();
    assert_eq!(root, expected);
    let at = root.iter().position(|g| g == "vm/5").unwrap();
    let vm5 = &j["namespaces"][0]["groups"][at];
    assert_eq!(vm5["comment"], "comment of vm/5");
    let warnings: Vec<&str> = j["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    // In the groups' listing order: vm/100 before vm/7.
    assert!(
        warnings[0].contains("vm/100/") && warnings[1].contains("vm/7/"),
        "{warnings:?}"
    );
}
