//! Signing keys: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`
//! ("Calculate the signature for AWS Signature Version 4").

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::secret::Secret;

use super::canonical::Sink;

type HmacSha256 = Hmac<Sha256>;

/// A derived signing key. Zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey([u8; 32]);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// Derives the key for `date` (`yyyymmdd`), `region` and `service`.
    pub fn derive(secret: &Secret, date: &str, region: &str, service: &str) -> SigningKey {
        let mut k_secret = [0u8; 4 + 128];
        let secret = secret.expose().as_bytes();
        let k_date = if secret.len() <= 128 {
            k_secret[..4].copy_from_slice(b"AWS4");
            k_secret[4..4 + secret.len()].copy_from_slice(secret);
            let k = hmac(&k_secret[..4 + secret.len()], date.as_bytes());
            k_secret.zeroize();
            k
        } else {
            let mut long = Vec::with_capacity(4 + secret.len());
            long.extend_from_slice(b"AWS4");
            long.extend_from_slice(secret);
            let k = hmac(&long, date.as_bytes());
            long.zeroize();
            k
        };
        let k_region = hmac(&k_date, region.as_bytes());
        let k_service = hmac(&k_region, service.as_bytes());
        SigningKey(hmac(&k_service, b"aws4_request"))
    }

    /// HMAC-SHA256 of `data` under this key.
    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        hmac(&self.0, data)
    }

    /// A MAC that `data` can be streamed into (the string to sign).
    pub fn mac(&self) -> MacSink {
        // HMAC accepts keys of any length, so this cannot fail.
        MacSink(<HmacSha256 as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!()))
    }
}

/// An HMAC-SHA256 being fed.
pub struct MacSink(HmacSha256);

impl MacSink {
    /// The finished MAC.
    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into_bytes().into()
    }
}

impl Sink for MacSink {
    fn put(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// HMAC-SHA256.
pub fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_documented_key() {
        // "Examples of how to derive a signing key for Signature Version 4" (AWS docs).
        let k = SigningKey::derive(
            &Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(k.0),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }
}
