//! Property tests (proptest) for every parser that sees user or config input: the name
//! parsers must agree with PBS's regexes and round-trip, the config parsers must never panic
//! and must round-trip what they accept, no S3 config error may show the secret, and the
//! manifest (DataBlob) parser never panics on any bytes.

use std::collections::BTreeMap;

use pbs_mover::tree::config::{Section, parse_property_string, parse_sections};
use pbs_mover::tree::s3::config::from_section;
use pbs_mover::tree::{GroupId, Namespace, SnapshotTime};
use proptest::prelude::*;
use regex::Regex;

use crate::support;
use support::api::manifest;

const SAFE_ID: &str = r"[A-Za-z0-9_][A-Za-z0-9._\-]*";

fn ns_re() -> Regex {
    Regex::new(&format!(r"^(?:(?:{SAFE_ID}/){{0,6}}{SAFE_ID})?$")).unwrap()
}

fn group_re() -> Regex {
    Regex::new(&format!(r"^(?:host|vm|ct)/{SAFE_ID}$")).unwrap()
}

fn time_re() -> Regex {
    Regex::new(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$").unwrap()
}

/// Strings that often hit the interesting edges: name characters, separators, unicode.
fn name_chars() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r"[a-zA-Z0-9_.\-/: \x00\n\téß]{0,40}").unwrap()
}

fn safe_id() -> impl Strategy<Value = String> {
    proptest::string::string_regex(SAFE_ID)
        .unwrap()
        .prop_filter("bounded", |s| s.len() <= 40)
}

/// `YYYY-MM-DDTHH:MM:SSZ` naming a real instant from 1970 on, leap seconds excluded: what
/// PBS writes as a snapshot time. Checked here by hand, independently of the parser.
fn canonical_time(s: &str) -> bool {
    if !time_re().is_match(s) {
        return false;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap();
    let (y, mo, d, h, mi, sec) = (n(0..4), n(5..7), n(8..10), n(11..13), n(14..16), n(17..19));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1970 && (1..=days).contains(&d) && h < 24 && mi < 60 && sec < 60
}

/// PBS's total-length rule: components + separators + 1 ≤ 256.
fn pbs_len_ok(s: &str) -> bool {
    s.is_empty() || s.len() < 256
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn namespace_agrees_with_pbs_regex(s in prop_oneof![name_chars(), any::<String>()]) {
        let pbs_ok = (ns_re().is_match(&s) && pbs_len_ok(&s)) || s == "/";
        match Namespace::parse(&s) {
            Ok(ns) => {
                prop_assert!(pbs_ok, "accepted {s:?} that PBS rejects");
                let shown = if s == "/" { String::new() } else { s.clone() };
                prop_assert_eq!(ns.to_string(), shown.clone());
                prop_assert_eq!(Namespace::parse(&ns.to_string()).unwrap(), ns.clone());
                prop_assert!(ns.depth() <= 7);
            }
            Err(e) => {
                prop_assert!(!pbs_ok, "rejected {s:?} that PBS accepts: {e}");
                prop_assert_eq!(e.to_string().lines().count(), 1);
            }
        }
    }

    #[test]
    fn valid_namespaces_round_trip(parts in proptest::collection::vec(safe_id(), 0..=7)) {
        let s = parts.join("/");
        let ns = Namespace::parse(&s).unwrap();
        prop_assert_eq!(ns.to_string(), s.clone());
        prop_assert_eq!(ns.depth(), parts.len());
        prop_assert_eq!(ns.components(), parts.as_slice());
        // The lock dir name is injective for SAFE_IDs (':' never occurs in one).
        prop_assert_eq!(ns.lock_dir_name().split(':').filter(|c| !c.is_empty()).count(), parts.len());
    }

    #[test]
    fn group_agrees_with_pbs_regex(s in prop_oneof![
        name_chars(),
        any::<String>(),
        (prop_oneof![Just("vm"), Just("ct"), Just("host"), Just("VM"), Just("")], name_chars())
            .prop_map(|(t, id)| format!("{t}/{id}")),
    ]) {
        let pbs_ok = group_re().is_match(&s);
        match GroupId::parse(&s) {
            Ok(g) => {
                prop_assert!(pbs_ok, "accepted {s:?}");
                prop_assert_eq!(g.to_string(), s.clone());
                prop_assert_eq!(GroupId::parse(&g.to_string()).unwrap(), g);
            }
            Err(e) => prop_assert!(!pbs_ok, "rejected {s:?}: {e}"),
        }
    }

    #[test]
    fn snapshot_time_is_strict_and_round_trips(s in prop_oneof![
        any::<String>(),
        proptest::string::string_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z").unwrap(),
        proptest::string::string_regex(r"(19[0-9]{2}|20[0-9]{2}|9999)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)Z").unwrap(),
    ]) {
        // Both directions: what the parser accepts is a canonical time, and every canonical
        // time is accepted (a parser that rejects everything fails here).
        prop_assert_eq!(SnapshotTime::parse(&s).is_ok(), canonical_time(&s), "{:?}", s);
        if let Ok(t) = SnapshotTime::parse(&s) {
            prop_assert!(time_re().is_match(&s), "accepted {s:?}");
            prop_assert_eq!(t.as_str(), s.as_str());
            // Every accepted name maps to exactly one epoch and back.
            prop_assert_eq!(SnapshotTime::from_epoch(t.epoch()), t);
        }
    }

    /// Every well-formed endpoint with a valid port and path-style is accepted, keeping the
    /// secret (the other direction of `s3_endpoint_errors_never_show_the_secret`).
    #[test]
    fn valid_s3_endpoints_are_accepted(
        host in "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        port in proptest::option::of(1u16..),
        path_style in proptest::option::of(prop_oneof![
            Just("1"), Just("true"), Just("yes"), Just("on"),
            Just("0"), Just("false"), Just("no"), Just("off"),
        ]),
    ) {
        let mut props = BTreeMap::new();
        props.insert("endpoint".to_string(), host.clone());
        props.insert("access-key".into(), "ak".into());
        props.insert("secret-key".into(), "sk".into());
        if let Some(p) = port { props.insert("port".into(), p.to_string()); }
        if let Some(p) = path_style { props.insert("path-style".into(), p.to_string()); }
        let section = Section { kind: "s3-endpoint".into(), id: "ep".into(), props };
        let t = from_section(&section, "bk", "s3.cfg");
        prop_assert!(t.is_ok(), "{:?} refused: {:?}", section, t.err());
        let t = t.unwrap();
        prop_assert!(t.url.contains(&host), "{} {}", t.url, host);
        prop_assert_eq!(t.secret_key.expose(), "sk");
        prop_assert_eq!(t.path_style, matches!(path_style, Some("1" | "true" | "yes" | "on")));
    }

    #[test]
    fn epochs_round_trip(secs in 0u64..253_402_300_800) {
        let t = SnapshotTime::from_epoch(secs);
        prop_assert_eq!(SnapshotTime::parse(t.as_str()).unwrap().epoch(), secs);
    }

    #[test]
    fn section_parser_never_panics(text in prop_oneof![
        any::<String>(),
        proptest::string::string_regex(r"((datastore|s3-endpoint|#)?[: \ta-z0-9=,/{}\-]{0,30}\n){0,8}").unwrap(),
    ]) {
        if let Err(e) = parse_sections(&text, "datastore.cfg") {
            let msg = e.to_string();
            prop_assert!(msg.starts_with("datastore.cfg:"), "{msg}");
            prop_assert_eq!(msg.lines().count(), 1, "{}", msg);
        }
    }

    #[test]
    fn sections_round_trip(sections in proptest::collection::vec(section(), 0..5)) {
        let mut text = String::from("# generated\n");
        for s in &sections {
            text.push_str(&format!("{}: {}\n", s.kind, s.id));
            for (k, v) in &s.props {
                text.push_str(&format!("\t{k} {v}\n"));
            }
            text.push('\n');
        }
        prop_assert_eq!(parse_sections(&text, "f").unwrap(), sections);
    }

    #[test]
    fn property_strings_never_panic_and_round_trip(
        raw in any::<String>(),
        map in proptest::collection::btree_map(
            "[a-z][a-z0-9-]{0,10}", "[A-Za-z0-9_./:%-]{1,20}", 0..6),
    ) {
        let _ = parse_property_string(&raw, "type");
        let joined: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
        prop_assert_eq!(parse_property_string(&joined.join(","), "type").unwrap(), map);
    }

    #[test]
    fn s3_endpoint_errors_never_show_the_secret(
        endpoint in name_chars(),
        port in prop_oneof![Just(None), any::<String>().prop_map(Some), Just(Some("9000".to_string()))],
        path_style in prop_oneof![Just(None), any::<String>().prop_map(Some)],
        extra in proptest::collection::btree_map("[a-z-]{1,12}", any::<String>(), 0..3),
    ) {
        const SECRET: &str = "Zq9!s3cr3t,=#\"'x";
        let mut props: BTreeMap<String, String> = extra;
        props.insert("endpoint".into(), endpoint);
        props.insert("access-key".into(), "ak".into());
        props.insert("secret-key".into(), SECRET.into());
        if let Some(p) = port { props.insert("port".into(), p); }
        if let Some(p) = path_style { props.insert("path-style".into(), p); }
        let section = Section { kind: "s3-endpoint".into(), id: "ep".into(), props };
        match from_section(&section, "bk", "s3.cfg") {
            Ok(t) => {
                prop_assert_eq!(t.secret_key.expose(), SECRET);
                let dbg = format!("{t:?}");
                prop_assert!(!dbg.contains(SECRET));
            }
            Err(e) => {
                let text = format!("{e} {e:?}");
                prop_assert!(!text.contains(SECRET), "{}", text);
            }
        }
    }
}

fn section() -> impl Strategy<Value = Section> {
    (
        prop_oneof![
            Just("datastore".to_string()),
            Just("s3-endpoint".to_string())
        ],
        safe_id(),
        proptest::collection::btree_map(
            "[a-z][a-z0-9-]{0,12}",
            "[A-Za-z0-9_./:=,{}%-]([ A-Za-z0-9_./:=,{}%-]{0,20}[A-Za-z0-9_./:=,{}%-])?",
            0..6,
        ),
    )
        .prop_map(|(kind, id, props)| Section { kind, id, props })
}

/// A real manifest blob (zstd or plain) to mutate.
fn manifest_blob(compress: bool) -> Vec<u8> {
    let mut spec = support::store::manifest_spec("vm/100", "2025-01-01T00:00:00Z", 1 << 30);
    spec.notes = Some("notes\nmore".to_string());
    spec.compress = compress;
    spec.blob()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn manifest_parser_never_panics_on_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = manifest::blob::decode(&raw);
        let _ = manifest::facts::parse(&raw, raw.len() as u64, false);
    }

    /// Mutations of a real blob with the CRC sealed again, so the zstd decoder and the JSON
    /// parser see the damage too.
    #[test]
    fn damaged_manifests_are_errors_not_panics(
        compress in any::<bool>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut raw = manifest_blob(compress);
        for (at, x) in flips {
            let i = 12 + at.index(raw.len() - 12);
            raw[i] ^= x;
        }
        raw.truncate(12 + cut.index(raw.len() - 11));
        let crc = crc32_ieee(&raw[12..]);
        raw[8..12].copy_from_slice(&crc.to_le_bytes());
        if let Ok(json) = manifest::blob::decode(&raw) {
            let _ = manifest::facts::parse(&json, raw.len() as u64, false);
        }
    }
}

/// CRC-32 (IEEE), written out here so the test does not trust the code under test.
fn crc32_ieee(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
