//! PBS's DataBlob container (pbs-datastore `data_blob.rs`, `file_formats.rs`):
//! `MAGIC[8] || CRC32[4, little endian] || data`, the CRC over everything after the
//! header. Unencrypted blobs carry the data as is or zstd-compressed; encrypted ones
//! (`MAGIC || CRC || IV[16] || TAG[16] || data`) cannot be read without the key.

use std::io::Read;

use super::error::ManifestError;

/// sha256("Proxmox Backup uncompressed blob v1.0")[0..8]
pub const UNCOMPRESSED_MAGIC: [u8; 8] = [66, 171, 56, 7, 190, 131, 112, 161];
/// sha256("Proxmox Backup zstd compressed blob v1.0")[0..8]
pub const COMPRESSED_MAGIC: [u8; 8] = [49, 185, 88, 66, 111, 182, 163, 127];
/// sha256("Proxmox Backup encrypted blob v1.0")[0..8]
pub const ENCRYPTED_MAGIC: [u8; 8] = [123, 103, 133, 190, 34, 45, 76, 240];
/// sha256("Proxmox Backup zstd compressed encrypted blob v1.0")[0..8]
pub const ENCR_COMPR_MAGIC: [u8; 8] = [230, 89, 27, 191, 11, 191, 216, 11];

/// Magic plus CRC.
pub const HEADER_LEN: usize = 12;

/// PBS refuses to encode blobs larger than this (`MAX_BLOB_SIZE`); decoding stops there
/// too, so a zstd bomb costs at most this much memory.
pub const MAX_BLOB_SIZE: usize = 128 * 1024 * 1024;

/// How the payload of a readable blob is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Plain,
    Zstd,
}

/// The payload of a raw blob, after checking magic and CRC (as PBS's `load_from_reader`).
pub fn decode(raw: &[u8]) -> Result<Vec<u8>, ManifestError> {
    let (encoding, data) = split(raw)?;
    match encoding {
        Encoding::Plain => Ok(data.to_vec()),
        Encoding::Zstd => decompress(data),
    }
}

/// The encoding and the checked payload bytes (still compressed for [`Encoding::Zstd`]).
pub fn split(raw: &[u8]) -> Result<(Encoding, &[u8]), ManifestError> {
    if raw.len() < HEADER_LEN {
        return Err(ManifestError::Truncated(raw.len()));
    }
    let (magic, rest) = raw.split_at(8);
    let encoding = match magic {
        m if m == UNCOMPRESSED_MAGIC => Encoding::Plain,
        m if m == COMPRESSED_MAGIC => Encoding::Zstd,
        m if m == ENCRYPTED_MAGIC || m == ENCR_COMPR_MAGIC => {
            return Err(ManifestError::Encrypted);
        }
        _ => return Err(ManifestError::WrongMagic),
    };
    let (crc, data) = rest.split_at(4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = crc32fast::hash(data);
    if stored != computed {
        return Err(ManifestError::BadCrc { stored, computed });
    }
    Ok((encoding, data))
}

fn decompress(data: &[u8]) -> Result<Vec<u8>, ManifestError> {
    let bad = |e: std::io::Error| ManifestError::BadZstd(e.to_string());
    let decoder = zstd::stream::read::Decoder::with_buffer(data).map_err(bad)?;
    let mut out = Vec::new();
    decoder
        .take(MAX_BLOB_SIZE as u64 + 1)
        .read_to_end(&mut out)
        .map_err(bad)?;
    if out.len() > MAX_BLOB_SIZE {
        return Err(ManifestError::TooLarge(out.len() as u64));
    }
    Ok(out)
}

/// Encodes `data` as PBS does without a key: zstd level 1 when asked and only if that is
/// shorter, else plain. The demo and the tests write manifests with it.
pub fn encode(data: &[u8], compress: bool) -> Vec<u8> {
    let compressed = compress
        .then(|| zstd::bulk::compress(data, 1).ok())
        .flatten()
        .filter(|c| c.len() < data.len());
    let (magic, payload) = match &compressed {
        Some(c) => (COMPRESSED_MAGIC, c.as_slice()),
        None => (UNCOMPRESSED_MAGIC, data),
    };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&magic);
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &[u8] = br#"{"backup-type":"vm","backup-id":"100","files":[]}"#;

    #[test]
    fn plain_and_zstd_round_trip() {
        let plain = encode(JSON, false);
        assert_eq!(plain[..8], UNCOMPRESSED_MAGIC);
        assert_eq!(decode(&plain).unwrap(), JSON);
        let long = JSON.repeat(20);
        let zstd = encode(&long, true);
        assert_eq!(zstd[..8], COMPRESSED_MAGIC);
        assert!(zstd.len() < long.len());
        assert_eq!(decode(&zstd).unwrap(), long);
    }

    #[test]
    fn incompressible_data_stays_plain_like_pbs() {
        let blob = encode(b"{}", true);
        assert_eq!(blob[..8], UNCOMPRESSED_MAGIC);
    }

    #[test]
    fn header_errors_are_typed() {
        assert_eq!(decode(&[]), Err(ManifestError::Truncated(0)));
        assert_eq!(
            decode(&UNCOMPRESSED_MAGIC),
            Err(ManifestError::Truncated(8))
        );
        let mut wrong = encode(JSON, false);
        wrong[0] ^= 1;
        assert_eq!(decode(&wrong), Err(ManifestError::WrongMagic));
        let mut enc = encode(JSON, false);
        enc[..8].copy_from_slice(&ENCRYPTED_MAGIC);
        assert_eq!(decode(&enc), Err(ManifestError::Encrypted));
    }

    #[test]
    fn a_flipped_bit_is_a_bad_crc() {
        let mut blob = encode(JSON, false);
        let last = blob.len() - 1;
        blob[last] ^= 0x40;
        assert!(matches!(decode(&blob), Err(ManifestError::BadCrc { .. })));
    }

    #[test]
    fn a_cut_zstd_stream_is_bad_zstd_not_a_panic() {
        let blob = encode(&JSON.repeat(50), true);
        let cut = &blob[..blob.len() - 5];
        // Re-seal the CRC so the zstd decoder itself sees the truncation.
        let mut resealed = cut.to_vec();
        let crc = crc32fast::hash(&resealed[HEADER_LEN..]).to_le_bytes();
        resealed[8..12].copy_from_slice(&crc);
        assert!(matches!(decode(&resealed), Err(ManifestError::BadZstd(_))));
    }
}
