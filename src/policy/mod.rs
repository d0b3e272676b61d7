//! May this identity do this? Checked after the signature and before any upstream contact.
//! No I/O.
//!
//! The rules here protect the store: a store that maps keys to files (the embedded
//! s3s-fs store) resolves `.` and `..` segments, so a key `../other-bucket/x` would land
//! in another bucket. Real S3 keeps such keys literally, so the rule applies only when the
//! upstream needs it.

use http::HeaderMap;
use percent_encoding::percent_decode_str;

use crate::addressing::Target;
use crate::auth::Identity;
use crate::response::{GatewayError, S3ErrorCode};

/// The policy of one configuration.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    refuse_dot_segments: bool,
}

impl Policy {
    /// A policy; `refuse_dot_segments` is set when the upstream resolves `.`/`..` in keys.
    pub fn new(refuse_dot_segments: bool) -> Self {
        Policy { refuse_dot_segments }
    }

    /// Decides whether `identity` may send this request upstream.
    pub fn check(&self, _identity: &Identity, target: &Target, headers: &HeaderMap) -> Result<(), GatewayError> {
        if self.refuse_dot_segments {
            if let Some(key) = &target.key {
                refuse_dots(key)?;
            }
            if let Some(source) = headers.get("x-amz-copy-source") {
                let source = source.to_str().unwrap_or("");
                let path = source.split('?').next().unwrap_or("");
                let decoded = percent_decode_str(path).decode_utf8_lossy();
                refuse_dots(decoded.trim_start_matches('/'))?;
            }
        }
        Ok(())
    }
}

fn refuse_dots(key: &str) -> Result<(), GatewayError> {
    if key.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(GatewayError::policy(
            S3ErrorCode::InvalidArgument,
            "Object keys with '.' or '..' path segments are refused: the upstream store would resolve them to other keys.",
        )
        .with_detail("ArgumentName", "key"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthScheme, PayloadHash};

    fn id() -> Identity {
        Identity {
            access_key_id: "K".into(),
            scheme: AuthScheme::PresignedV4,
            payload: PayloadHash::Unsigned,
            expires_at: None,
            chunk_signing: None,
        }
    }

    fn target(key: &str) -> Target {
        Target {
            bucket: Some("bkt".into()),
            key: Some(key.into()),
            virtual_hosted: false,
        }
    }

    #[test]
    fn dot_segments_refused_only_when_asked() {
        let h = HeaderMap::new();
        for k in ["../other/x", "a/./b", "a/..", "."] {
            assert_eq!(
                Policy::new(true).check(&id(), &target(k), &h).unwrap_err().code(),
                S3ErrorCode::InvalidArgument
            );
            Policy::new(false).check(&id(), &target(k), &h).unwrap();
        }
        for k in ["a..b", ".hidden", "a//b", "..."] {
            Policy::new(true).check(&id(), &target(k), &h).unwrap();
        }
        let mut h = HeaderMap::new();
        h.insert("x-amz-copy-source", "/bkt/%2E%2E/other/x".parse().unwrap());
        assert!(Policy::new(true).check(&id(), &target("ok"), &h).is_err());
    }
}
