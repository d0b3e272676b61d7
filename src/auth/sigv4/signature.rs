//! `Signature`: a SigV4 signature as sent by a client. It has no `==`: the only way to
//! compare it is [`Signature::verify`], which takes constant time.

use subtle::ConstantTimeEq;

/// A 32-byte SigV4 signature parsed from 64 lower-case hex digits.
pub struct Signature([u8; 32]);

impl Signature {
    /// Parses the hex form. S3 signatures are lower-case; anything else is not a
    /// signature any S3 client would produce.
    pub fn parse_hex(s: &str) -> Option<Signature> {
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Signature(out))
    }

    /// A signature that matches nothing a client could have computed is not needed: a
    /// malformed signature is compared against a zero value in constant time all the same,
    /// so the work done does not depend on its shape.
    pub fn placeholder() -> Signature {
        Signature([0u8; 32])
    }

    /// The raw bytes, to chain aws-chunked signatures from this one once it is verified.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Whether `computed` equals this signature, in constant time.
    pub fn verify(&self, computed: &[u8; 32]) -> bool {
        self.0.ct_eq(computed).into()
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A signature is a bearer token for the life of its URL: never log it.
        f.write_str("Signature(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lower_hex_only() {
        let hex = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        let sig = Signature::parse_hex(hex).unwrap();
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex, &mut bytes).unwrap();
        assert!(sig.verify(&bytes));
        bytes[31] ^= 1;
        assert!(!sig.verify(&bytes));
        assert!(Signature::parse_hex(&hex.to_uppercase()).is_none());
        assert!(Signature::parse_hex(&hex[1..]).is_none());
        assert_eq!(format!("{sig:?}"), "Signature(<redacted>)");
    }
}
