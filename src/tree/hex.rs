//! Lowercase hex of digests: lock-path hashes (PBS's own format) and TLS fingerprints.

use std::fmt::Write as _;

/// `bytes` as lowercase hex, two digits per byte, `sep` between bytes (`""` for none, `":"`
/// for a fingerprint as PBS shows it).
pub fn hex(bytes: &[u8], sep: &str) -> String {
    let mut s = String::with_capacity(bytes.len() * (2 + sep.len()));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push_str(sep);
        }
        // Writing into a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::hex;

    #[test]
    fn plain_and_separated() {
        assert_eq!(hex(&[0x00, 0xab, 0x10], ""), "00ab10");
        assert_eq!(hex(&[0x00, 0xab, 0x10], ":"), "00:ab:10");
        assert_eq!(hex(&[], ":"), "");
    }
}
