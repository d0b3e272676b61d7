//! `AwsChunkedBody`: the aws-chunked decoder, in every mode, over frames split at
//! fuzzer-chosen points.
//!
//! Input layout (all fields one byte unless said):
//!
//! ```text
//! [0]     mode % 3: 0 signed, 1 signed with trailer, 2 unsigned with trailer
//! [1]     trailing checksum % 5: none, CRC32, CRC32C, SHA1, SHA256
//! [2]     bit 0: build a well-formed body from the rest (else the rest is the raw body)
//! [3..5]  u16 LE: raw: x-amz-decoded-content-length; built: i16 added to the true length
//! [5..9]  frame sizes, cycled (0 counts as 1)
//! rest    raw: the body
//!         built: n, n chunk sizes (cycled over the data), m, m flips (u16 LE offset,
//!         xor byte) applied to the encoded body, then the data
//! ```
//!
//! A built body is signed and checksummed correctly, so the fuzzer reaches the states a
//! forged byte cannot. What must hold: a body that ends cleanly yielded exactly the
//! declared length; an unflipped body with the true length decodes to its data; and in
//! signed modes no flip yields different data.
#![no_main]

use base64::Engine;
use guestpass::auth::body::BodyVerdict;
use guestpass::auth::sigv4::canonical::EMPTY_SHA256;
use guestpass::auth::sigv4::chunked::{AwsChunkedBody, ChecksumAlgorithm, ChunkMode};
use guestpass::auth::sigv4::key::SigningKey;
use guestpass::auth::ChunkSigning;
use guestpass::secret::Secret;
use guestpass_fuzz::{drain, Drained, Frames, DOC_SECRET, REGION};
use libfuzzer_sys::fuzz_target;
use sha1::Digest as _;

const AMZ_DATE: &str = "20130524T000000Z";
/// The documentation's seed signature (the verified header signature of its example).
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

fn signing() -> ChunkSigning {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(SEED, &mut seed).expect("seed is hex");
    ChunkSigning {
        key: SigningKey::derive(&Secret::new(DOC_SECRET), &AMZ_DATE[..8], REGION, "s3"),
        seed,
        amz_date: AMZ_DATE.to_owned(),
        scope: format!("{}/{REGION}/s3/aws4_request", &AMZ_DATE[..8]),
    }
}

fn checksum(alg: ChecksumAlgorithm, data: &[u8]) -> (&'static str, String) {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    match alg {
        ChecksumAlgorithm::Crc32 => ("x-amz-checksum-crc32", b64(&crc32fast::hash(data).to_be_bytes())),
        ChecksumAlgorithm::Crc32c => ("x-amz-checksum-crc32c", b64(&crc32c::crc32c(data).to_be_bytes())),
        ChecksumAlgorithm::Sha1 => ("x-amz-checksum-sha1", b64(&sha1::Sha1::digest(data))),
        ChecksumAlgorithm::Sha256 => ("x-amz-checksum-sha256", b64(&sha2::Sha256::digest(data))),
    }
}

/// Encodes `data` cut at `sizes` as a correct aws-chunked body for `mode`.
fn build(
    data: &[u8],
    sizes: &[u8],
    signing: Option<&ChunkSigning>,
    trailer: bool,
    alg: Option<ChecksumAlgorithm>,
) -> Vec<u8> {
    let mut prev = signing.map(|s| hex::encode(s.seed)).unwrap_or_default();
    let mut sign = |payload_hash: String, algorithm: &str| -> String {
        let s = signing.expect("signing");
        let sts = format!("{algorithm}\n{}\n{}\n{prev}\n{payload_hash}", s.amz_date, s.scope);
        prev = hex::encode(s.key.sign(sts.as_bytes()));
        prev.clone()
    };
    let mut body = Vec::new();
    let chunk = |body: &mut Vec<u8>, piece: &[u8], sign: &mut dyn FnMut(String, &str) -> String| {
        body.extend_from_slice(format!("{:x}", piece.len()).as_bytes());
        if signing.is_some() {
            let hash = hex::encode(sha2::Sha256::digest(piece));
            let sig = sign(format!("{EMPTY_SHA256}\n{hash}"), "AWS4-HMAC-SHA256-PAYLOAD");
            body.extend_from_slice(format!(";chunk-signature={sig}").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        if !piece.is_empty() {
            body.extend_from_slice(piece);
            body.extend_from_slice(b"\r\n");
        }
    };
    let mut at = 0;
    let mut i = 0;
    while at < data.len() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .map_or(data.len(), |&s| usize::from(s).max(1));
        let end = (at + n).min(data.len());
        chunk(&mut body, &data[at..end], &mut sign);
        at = end;
        i += 1;
    }
    chunk(&mut body, &[], &mut sign);
    if !trailer {
        body.extend_from_slice(b"\r\n");
        return body;
    }
    let mut canonical = String::new();
    if let Some(alg) = alg {
        let (name, value) = checksum(alg, data);
        body.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        canonical.push_str(&format!("{name}:{value}\n"));
    }
    if signing.is_some() {
        let hash = hex::encode(sha2::Sha256::digest(canonical.as_bytes()));
        let sig = sign(hash, "AWS4-HMAC-SHA256-TRAILER");
        body.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    body
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

fuzz_target!(|input: &[u8]| {
    let mut input = input;
    let Some(head) = take(&mut input, 9) else {
        return;
    };
    let alg = match head[1] % 5 {
        1 => Some(ChecksumAlgorithm::Crc32),
        2 => Some(ChecksumAlgorithm::Crc32c),
        3 => Some(ChecksumAlgorithm::Sha1),
        4 => Some(ChecksumAlgorithm::Sha256),
        _ => None,
    };
    let (signed, trailer) = match head[0] % 3 {
        0 => (true, false),
        1 => (true, true),
        _ => (false, true),
    };
    let structured = head[2] & 1 == 1;
    let word = u16::from_le_bytes([head[3], head[4]]);
    let pieces = &head[5..9];
    let signing = signing();

    let (body, declared, data, flipped) = if structured {
        let Some(&[n]) = take(&mut input, 1) else { return };
        let Some(sizes) = take(&mut input, usize::from(n % 16)) else {
            return;
        };
        let Some(&[m]) = take(&mut input, 1) else { return };
        let Some(flips) = take(&mut input, 3 * usize::from(m % 8)) else {
            return;
        };
        let data = input;
        let mut body = build(data, sizes, signed.then_some(&signing), trailer, alg);
        let mut flipped = false;
        for f in flips.chunks(3) {
            if body.is_empty() || f[2] == 0 {
                continue;
            }
            let at = usize::from(u16::from_le_bytes([f[0], f[1]])) % body.len();
            body[at] ^= f[2];
            flipped = true;
        }
        let declared = (data.len() as i64 + i64::from(word as i16)).max(0) as u64;
        (body, declared, Some(data), flipped)
    } else {
        (input.to_vec(), u64::from(word), None, false)
    };

    let mode = if signed {
        ChunkMode::Signed { signing, trailer }
    } else {
        ChunkMode::UnsignedTrailer
    };
    let verdict = BodyVerdict::default();
    let decoder = AwsChunkedBody::new(Frames::split(&body, pieces), mode, declared, alg, verdict.clone());
    match drain(decoder) {
        Drained::Complete(out) => {
            assert!(verdict.take().is_none(), "a clean end with a refusal recorded");
            assert_eq!(
                out.len() as u64,
                declared,
                "a clean end must yield exactly the declared length"
            );
            if let Some(data) = data {
                if signed || !flipped {
                    assert_eq!(out, data, "verified data differs from what was signed");
                }
            }
        }
        Drained::Failed(out) => {
            assert!(verdict.take().is_some(), "a refusal without its reason");
            if let Some(data) = data {
                assert!(
                    flipped || declared != data.len() as u64,
                    "a correct body of the declared length was refused"
                );
                if signed && !flipped {
                    assert!(data.starts_with(&out), "bytes passed on that were not in the data");
                }
            }
        }
    }
});
