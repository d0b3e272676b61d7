//! Checksums S3 clients send with a body: Content-MD5 and the flexible checksums
//! (`x-amz-checksum-crc32|crc32c|sha1|sha256`, "Checking object integrity", Amazon S3
//! User Guide), computed as the body streams.

use base64::Engine;
use sha2::{Digest, Sha256};

/// A trailing checksum algorithm (`x-amz-trailer: x-amz-checksum-<alg>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (IEEE).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// The algorithm a trailer header name stands for.
    pub fn from_trailer_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "x-amz-checksum-crc32" => Some(Self::Crc32),
            "x-amz-checksum-crc32c" => Some(Self::Crc32c),
            "x-amz-checksum-sha1" => Some(Self::Sha1),
            "x-amz-checksum-sha256" => Some(Self::Sha256),
            _ => None,
        }
    }

    /// The header that carries it.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Its name in S3 messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }
}

/// A running checksum.
#[allow(missing_docs)]
pub enum Checksum {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Sha1(sha1::Sha1),
    Sha256(Sha256),
}

impl Checksum {
    /// Starts one.
    pub fn new(alg: ChecksumAlgorithm) -> Self {
        match alg {
            ChecksumAlgorithm::Crc32 => Checksum::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => Checksum::Crc32c(0),
            ChecksumAlgorithm::Sha1 => Checksum::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Checksum::Sha256(Sha256::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Checksum::Crc32(h) => h.update(data),
            Checksum::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            Checksum::Sha1(h) => h.update(data),
            Checksum::Sha256(h) => h.update(data),
        }
    }

    /// The checksum, base64 as S3 writes it.
    pub fn finish_base64(self) -> String {
        let e = &base64::engine::general_purpose::STANDARD;
        match self {
            Checksum::Crc32(h) => e.encode(h.finalize().to_be_bytes()),
            Checksum::Crc32c(c) => e.encode(c.to_be_bytes()),
            Checksum::Sha1(h) => e.encode(h.finalize()),
            Checksum::Sha256(h) => e.encode(h.finalize()),
        }
    }
}
