//! Issuing pre-signed URLs for the gateway (`guestpass presign`, the embedded default's
//! example): which credential, which URL, how long.

use time::OffsetDateTime;

use crate::auth::sigv4::sign::{presign_url, PresignRequest};
use crate::config::Config;

/// Why a URL could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PresignError {
    /// Not `s3://bucket/key`.
    #[error("expected s3://bucket/key, got {0:?}")]
    BadObject(String),
    /// Longer than the gateway accepts.
    #[error("--expires {asked}s is longer than auth.max_expires ({max}s): the gateway would refuse the URL")]
    TooLong {
        /// Requested.
        asked: u64,
        /// Allowed.
        max: u64,
    },
    /// Zero lifetime.
    #[error("--expires must be at least 1s")]
    TooShort,
    /// No such credential.
    #[error("no [[credentials]] entry with access_key_id {0:?}")]
    UnknownKey(String),
    /// The secret could not be read.
    #[error("cannot read the secret: {0}")]
    Secret(String),
}

/// Splits `s3://bucket/key`.
pub fn parse_s3_url(s: &str) -> Result<(&str, &str), PresignError> {
    let rest = s
        .strip_prefix("s3://")
        .ok_or_else(|| PresignError::BadObject(s.to_owned()))?;
    match rest.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b, k)),
        _ => Err(PresignError::BadObject(s.to_owned())),
    }
}

/// A pre-signed URL on `config`'s public URL, path-style, signed by `access_key_id` (or the
/// first credential).
pub fn presign(
    config: &Config,
    method: &str,
    bucket: &str,
    key: &str,
    expires_secs: u64,
    access_key_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<String, PresignError> {
    let max = config.auth.max_expires.0.as_secs();
    if expires_secs == 0 {
        return Err(PresignError::TooShort);
    }
    if expires_secs > max {
        return Err(PresignError::TooLong {
            asked: expires_secs,
            max,
        });
    }
    let cred = match access_key_id {
        Some(id) => config
            .credentials
            .iter()
            .find(|c| c.access_key_id == id)
            .ok_or_else(|| PresignError::UnknownKey(id.to_owned()))?,
        None => config
            .credentials
            .first()
            .ok_or_else(|| PresignError::UnknownKey(String::new()))?,
    };
    let secret = cred
        .secret_source()
        .and_then(|s| s.resolve())
        .map_err(|e| PresignError::Secret(e.to_string()))?;
    let base = config.public_url();
    let path = format!("/{bucket}/{key}");
    Ok(presign_url(
        &cred.access_key_id,
        &secret,
        &config.auth.region,
        &PresignRequest {
            method,
            base_url: &base,
            path: &path,
            extra_query: &[],
            expires_secs,
            now,
        },
    ))
}
