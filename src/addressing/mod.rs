//! Bucket and key from the Host and the path ("Virtual hosting of buckets", Amazon S3
//! User Guide). Pure: no I/O, no auth.
//!
//! The key is the path as sent, percent-decoded once and otherwise untouched: `.`, `..`
//! and `//` are part of an S3 key, and a store that keeps keys literally must receive them
//! literally.

use percent_encoding::percent_decode_str;

use crate::response::{GatewayError, S3ErrorCode};

/// Where a request points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The bucket, if any (none for ListBuckets).
    pub bucket: Option<String>,
    /// The object key, if any (none for bucket-level requests).
    pub key: Option<String>,
    /// Whether the bucket came from the Host (virtual-hosted style).
    pub virtual_hosted: bool,
}

/// The longest key S3 accepts, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Resolves targets for the configured virtual-host domains.
#[derive(Debug, Clone, Default)]
pub struct Addressing {
    domains: Vec<String>,
}

impl Addressing {
    /// Addressing with these virtual-host domains (lower-case, no port).
    pub fn new(domains: Vec<String>) -> Self {
        Addressing { domains }
    }

    /// Finds bucket and key for a request to `host` (with or without port) and `raw_path`.
    pub fn resolve(&self, host: &str, raw_path: &str) -> Result<Target, GatewayError> {
        if !raw_path.starts_with('/') {
            return Err(GatewayError::client(
                S3ErrorCode::InvalidURI,
                "Couldn't parse the specified URI.",
            ));
        }
        let host_name = strip_port(host).to_ascii_lowercase();
        let vhost_bucket = self.domains.iter().find_map(|d| {
            host_name
                .strip_suffix(d.as_str())
                .and_then(|rest| rest.strip_suffix('.'))
                .filter(|b| !b.is_empty())
        });

        let (bucket, key, virtual_hosted) = match vhost_bucket {
            Some(bucket) => (Some(bucket.to_owned()), decode_key(&raw_path[1..])?, true),
            None => {
                let rest = &raw_path[1..];
                let (bucket, key) = match rest.split_once('/') {
                    Some((b, k)) => (b, decode_key(k)?),
                    None => (rest, None),
                };
                let bucket = decode(bucket)?;
                ((!bucket.is_empty()).then_some(bucket), key, false)
            }
        };
        if let Some(b) = &bucket {
            if !is_valid_bucket_name(b) {
                return Err(
                    GatewayError::client(S3ErrorCode::InvalidBucketName, "The specified bucket is not valid.")
                        .with_detail("BucketName", b.clone()),
                );
            }
        }
        if key.is_some() && bucket.is_none() {
            return Err(GatewayError::client(
                S3ErrorCode::InvalidURI,
                "Couldn't parse the specified URI.",
            ));
        }
        Ok(Target {
            bucket,
            key,
            virtual_hosted,
        })
    }
}

fn decode(raw: &str) -> Result<String, GatewayError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| {
            GatewayError::client(
                S3ErrorCode::InvalidURI,
                "Object keys and bucket names must be valid UTF-8.",
            )
        })
}

fn decode_key(raw: &str) -> Result<Option<String>, GatewayError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let key = decode(raw)?;
    if key.len() > MAX_KEY_BYTES {
        return Err(
            GatewayError::client(S3ErrorCode::KeyTooLongError, "Your key is too long")
                .with_detail("Size", key.len().to_string())
                .with_detail("MaxSizeAllowed", MAX_KEY_BYTES.to_string()),
        );
    }
    Ok(Some(key))
}

/// `host[:port]` or `[v6]:port` without the port.
pub fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// S3's bucket naming rules ("Bucket naming rules", general purpose buckets).
pub fn is_valid_bucket_name(b: &str) -> bool {
    let bytes = b.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-'))
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !b.contains("..")
        && !b.contains(".-")
        && !b.contains("-.")
        && b.parse::<std::net::Ipv4Addr>().is_err()
        && !b.starts_with("xn--")
        && !b.starts_with("sthree-")
        && !b.ends_with("-s3alias")
        && !b.ends_with("--ol-s3")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> Addressing {
        Addressing::new(vec!["s3.example.com".into()])
    }

    fn t(bucket: Option<&str>, key: Option<&str>, vh: bool) -> Target {
        Target {
            bucket: bucket.map(Into::into),
            key: key.map(Into::into),
            virtual_hosted: vh,
        }
    }

    #[test]
    fn path_style() {
        assert_eq!(a().resolve("localhost:8080", "/").unwrap(), t(None, None, false));
        assert_eq!(
            a().resolve("localhost:8080", "/bkt").unwrap(),
            t(Some("bkt"), None, false)
        );
        assert_eq!(
            a().resolve("localhost:8080", "/bkt/").unwrap(),
            t(Some("bkt"), None, false)
        );
        assert_eq!(
            a().resolve("s3.example.com", "/bkt/a%20b/../c//d").unwrap(),
            t(Some("bkt"), Some("a b/../c//d"), false)
        );
        assert_eq!(
            a().resolve("[::1]:80", "/bkt/a+b%2Bc").unwrap(),
            t(Some("bkt"), Some("a+b+c"), false)
        );
    }

    #[test]
    fn virtual_hosted() {
        assert_eq!(
            a().resolve("my.bucket.s3.example.com:8080", "/k%C3%BC").unwrap(),
            t(Some("my.bucket"), Some("kü"), true)
        );
        assert_eq!(
            a().resolve("BKT.S3.example.com", "/").unwrap(),
            t(Some("bkt"), None, true)
        );
        assert_eq!(
            a().resolve("bkt.s3.example.com", "//x").unwrap(),
            t(Some("bkt"), Some("/x"), true)
        );
    }

    #[test]
    fn rejects_bad_names() {
        for b in [
            "ab",
            "Bkt",
            "bkt_",
            "-bkt",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            &"a".repeat(64),
        ] {
            let e = a().resolve("localhost", &format!("/{b}/k")).unwrap_err();
            assert_eq!(e.code(), S3ErrorCode::InvalidBucketName, "{b}");
        }
        assert_eq!(
            a().resolve("localhost", "/bkt/%FF").unwrap_err().code(),
            S3ErrorCode::InvalidURI
        );
        assert_eq!(
            a().resolve("localhost", "bkt").unwrap_err().code(),
            S3ErrorCode::InvalidURI
        );
        let long = format!("/bkt/{}", "k".repeat(1025));
        assert_eq!(
            a().resolve("localhost", &long).unwrap_err().code(),
            S3ErrorCode::KeyTooLongError
        );
    }
}
