//! Signature Version 2 ("Signing and Authenticating REST Requests", Amazon S3 Developer
//! Guide, legacy): `Authorization: AWS <id>:<base64 HMAC-SHA1>` and the query form
//! `?AWSAccessKeyId=&Expires=&Signature=`. Older tools and the aws CLI v1's `presign`
//! still produce it. The upstream leg is always SigV4.
//!
//! StringToSign = `VERB\nContent-MD5\nContent-Type\nDate|Expires\n` + canonicalized
//! `x-amz-*` headers + canonicalized resource (`/bucket` + the path as sent + sorted
//! sub-resources with decoded values).

use std::borrow::Cow;

use base64::Engine;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use percent_encoding::percent_decode_str;
use sha1::Sha1;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::addressing::Target;
use crate::auth::sigv4::date::iso8601;
use crate::auth::sigv4::header::check_skew;
use crate::auth::{AuthScheme, Authenticator, Identity, PayloadHash, RequestView};
use crate::response::{GatewayError, S3ErrorCode};

/// Query parameters that are part of the canonicalized resource, sorted.
const SUB_RESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "delete",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "partNumber",
    "policy",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "retention",
    "select",
    "select-type",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// The query parameters of SigV2 query authentication.
pub const QUERY_PARAMS: [&str; 3] = ["AWSAccessKeyId", "Expires", "Signature"];

/// What a SigV2 string to sign is made of.
pub struct StringToSignV2<'a> {
    /// Method.
    pub method: &'a str,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The Date line: the `Date` header (header auth) or `Expires` (query auth).
    pub date_line: &'a str,
    /// Bucket when virtual-hosted (it is not in the path then).
    pub vhost_bucket: Option<&'a str>,
    /// Path as sent.
    pub raw_path: &'a str,
    /// Query as sent.
    pub raw_query: Option<&'a str>,
}

impl StringToSignV2<'_> {
    /// Builds the string.
    pub fn build(&self) -> String {
        let mut s = String::with_capacity(256);
        let header = |name: &str| {
            self.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .trim()
        };
        s.push_str(self.method);
        s.push('\n');
        s.push_str(header("content-md5"));
        s.push('\n');
        s.push_str(header("content-type"));
        s.push('\n');
        s.push_str(self.date_line);
        s.push('\n');

        let mut amz: Vec<(&str, String)> = Vec::new();
        for name in self.headers.keys() {
            let n = name.as_str();
            if n.starts_with("x-amz-") && !amz.iter().any(|(seen, _)| *seen == n) {
                let values: Vec<String> = self
                    .headers
                    .get_all(name)
                    .iter()
                    .map(|v| {
                        String::from_utf8_lossy(v.as_bytes())
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
                amz.push((n, values.join(",")));
            }
        }
        amz.sort_by(|a, b| a.0.cmp(b.0));
        for (n, v) in amz {
            s.push_str(n);
            s.push(':');
            s.push_str(&v);
            s.push('\n');
        }

        if let Some(b) = self.vhost_bucket {
            s.push('/');
            s.push_str(b);
        }
        s.push_str(self.raw_path);
        // A request naming only a bucket signs it as `/bucket/` (botocore's
        // "auth_path must be terminated with a '/'", which S3 accepts).
        if self.vhost_bucket.is_none() && self.is_bucket_only_path() {
            s.push('/');
        }
        let mut subs: Vec<(Cow<'_, str>, Option<Cow<'_, str>>)> = Vec::new();
        for pair in self.raw_query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (n, v) = match pair.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (pair, None),
            };
            let n = percent_decode_str(n).decode_utf8_lossy();
            if SUB_RESOURCES.contains(&n.as_ref()) {
                subs.push((n, v.map(|v| percent_decode_str(v).decode_utf8_lossy())));
            }
        }
        subs.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (n, v)) in subs.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.push_str(n);
            if let Some(v) = v {
                s.push('=');
                s.push_str(v);
            }
        }
        s
    }
}

impl StringToSignV2<'_> {
    fn is_bucket_only_path(&self) -> bool {
        self.raw_path
            .strip_prefix('/')
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
    }

    /// For a path-style request naming only a bucket, the string to sign with `/bucket`
    /// rather than `/bucket/` (older clients sign it so); `None` otherwise.
    pub fn build_without_bucket_slash(&self) -> Option<String> {
        if self.vhost_bucket.is_some() || !self.is_bucket_only_path() {
            return None;
        }
        let full = self.build();
        let resource_at = full.rfind(&format!("{}/", self.raw_path))?;
        let mut out = full;
        out.remove(resource_at + self.raw_path.len());
        Some(out)
    }
}

/// Base64 HMAC-SHA1 of `string_to_sign` under `secret`.
pub fn sign(secret: &str, string_to_sign: &str) -> [u8; 20] {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(string_to_sign.as_bytes());
    mac.finalize().into_bytes().into()
}

fn disabled() -> GatewayError {
    GatewayError::auth(
        S3ErrorCode::InvalidRequest,
        "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
    )
}

impl Authenticator {
    /// Verifies a SigV2 query-authenticated (pre-signed) request.
    pub fn verify_query_v2(&self, req: &RequestView<'_>, target: &Target) -> Result<Identity, GatewayError> {
        if !self.settings().sigv2 {
            return Err(disabled());
        }
        let mut values: [Option<Cow<'_, str>>; 3] = [None, None, None];
        for pair in req.raw_query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            let n = percent_decode_str(n).decode_utf8_lossy();
            let Some(i) = QUERY_PARAMS.iter().position(|p| p.eq_ignore_ascii_case(&n)) else {
                continue;
            };
            if n != QUERY_PARAMS[i] || values[i].is_some() {
                return Err(GatewayError::auth(
                    S3ErrorCode::InvalidArgument,
                    format!(
                        "Query-string authentication parameter {} must appear exactly once, spelled so.",
                        QUERY_PARAMS[i]
                    ),
                ));
            }
            // A literal `+` in a SigV2 signature is a space only to form decoders; the
            // base64 alphabet needs it as a plus.
            values[i] = Some(percent_decode_str(v).decode_utf8_lossy());
        }
        let [Some(access_key_id), Some(expires), Some(signature)] = &values else {
            return Err(GatewayError::auth(
                S3ErrorCode::AccessDenied,
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
            ));
        };
        let expires_at: i64 = expires.parse().map_err(|_| {
            GatewayError::auth(
                S3ErrorCode::AccessDenied,
                "Invalid date (should be seconds since epoch)",
            )
        })?;
        let now = req.now.unix_timestamp();
        if now > expires_at {
            let at = OffsetDateTime::from_unix_timestamp(expires_at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            return Err(GatewayError::auth(S3ErrorCode::AccessDenied, "Request has expired")
                .with_detail("Expires", iso8601(at))
                .with_detail("ServerTime", iso8601(req.now)));
        }
        if expires_at - now > self.settings().max_expires_secs as i64 {
            return Err(GatewayError::auth(
                S3ErrorCode::AccessDenied,
                format!(
                    "Expires lies more than {} seconds in the future; this gateway accepts no longer-lived URLs",
                    self.settings().max_expires_secs
                ),
            ));
        }
        let sts = StringToSignV2 {
            method: req.method.as_str(),
            headers: req.headers,
            date_line: expires,
            vhost_bucket: target.virtual_hosted.then_some(target.bucket.as_deref()).flatten(),
            raw_path: req.raw_path,
            raw_query: req.raw_query,
        };
        let (sts, alt) = (sts.build(), sts.build_without_bucket_slash());
        let access_key_id = self.verify_v2_signature(access_key_id, signature, &sts, alt.as_deref())?;
        let expires_at = OffsetDateTime::from_unix_timestamp(expires_at).ok();
        Ok(Identity {
            access_key_id,
            scheme: AuthScheme::PresignedV2,
            payload: PayloadHash::Unsigned,
            expires_at,
            chunk_signing: None,
        })
    }

    /// Verifies `Authorization: AWS <id>:<signature>`.
    pub fn verify_header_v2(
        &self,
        req: &RequestView<'_>,
        target: &Target,
        authorization: &str,
    ) -> Result<Identity, GatewayError> {
        if !self.settings().sigv2 {
            return Err(disabled());
        }
        let (access_key_id, signature) = authorization
            .strip_prefix("AWS ")
            .and_then(|r| r.rsplit_once(':'))
            .filter(|(id, sig)| !id.is_empty() && !sig.is_empty())
            .ok_or_else(|| {
                GatewayError::auth(
                    S3ErrorCode::InvalidArgument,
                    "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
                )
            })?;
        let amz_date = crate::auth::sigv4::header::request_time_with(req.headers, true)?;
        check_skew(&amz_date, req.now, self.settings().clock_skew)?;
        // With x-amz-date present, it is signed among the x-amz-* headers and the Date line
        // is empty ("Time Stamp Requirement").
        let date_line = if req.headers.contains_key("x-amz-date") {
            ""
        } else {
            req.headers
                .get(http::header::DATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        let sts = StringToSignV2 {
            method: req.method.as_str(),
            headers: req.headers,
            date_line,
            vhost_bucket: target.virtual_hosted.then_some(target.bucket.as_deref()).flatten(),
            raw_path: req.raw_path,
            raw_query: req.raw_query,
        };
        let (sts, alt) = (sts.build(), sts.build_without_bucket_slash());
        let access_key_id = self.verify_v2_signature(access_key_id, signature, &sts, alt.as_deref())?;
        Ok(Identity {
            access_key_id,
            scheme: AuthScheme::HeaderV2,
            payload: PayloadHash::Unsigned,
            expires_at: None,
            chunk_signing: None,
        })
    }

    fn verify_v2_signature(
        &self,
        access_key_id: &str,
        signature: &str,
        sts: &str,
        alternative: Option<&str>,
    ) -> Result<std::sync::Arc<str>, GatewayError> {
        let mut provided = [0u8; 20];
        let decoded_ok = matches!(
            base64::engine::general_purpose::STANDARD.decode_slice(signature.as_bytes(), &mut provided),
            Ok(20)
        );
        let lookup = self.store().lookup(access_key_id);
        let mut matched = false;
        for secret in lookup.credential.secrets() {
            matched |= bool::from(sign(secret.expose(), sts).ct_eq(&provided));
            if let Some(alt) = alternative {
                matched |= bool::from(sign(secret.expose(), alt).ct_eq(&provided));
            }
        }
        if !lookup.known {
            return Err(GatewayError::auth(
                S3ErrorCode::InvalidAccessKeyId,
                S3ErrorCode::InvalidAccessKeyId.default_message(),
            )
            .with_detail("AWSAccessKeyId", access_key_id));
        }
        if matched && decoded_ok {
            return Ok(lookup.credential.access_key_id().clone());
        }
        let mut e = GatewayError::auth(
            S3ErrorCode::SignatureDoesNotMatch,
            S3ErrorCode::SignatureDoesNotMatch.default_message(),
        )
        .with_detail("AWSAccessKeyId", access_key_id);
        if self.settings().mismatch_details {
            e = e
                .with_detail("StringToSign", sts)
                .with_detail("SignatureProvided", signature)
                .with_detail(
                    "StringToSignBytes",
                    sts.bytes().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" "),
                );
        }
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vector {
        name: String,
        kind: String,
        expected_signature: String,
        secret_key: String,
        string_to_sign: String,
    }

    /// Walks every SigV2 example of the S3 documentation.
    #[test]
    fn documentation_vectors() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/sigv4/s3-docs/s3_docs_vectors.json"
        );
        let all: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut n = 0;
        for v in all {
            if !v["kind"].as_str().unwrap_or("").starts_with("sigv2") {
                continue;
            }
            let v: Vector = serde_json::from_value(v).unwrap();
            let sig = base64::engine::general_purpose::STANDARD.encode(sign(&v.secret_key, &v.string_to_sign));
            assert_eq!(sig, v.expected_signature, "{} ({})", v.name, v.kind);
            n += 1;
        }
        assert_eq!(n, 11);
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(http::HeaderName::from_static(k), v.parse().unwrap());
        }
        h
    }

    /// Found by the `sigv2_string_to_sign` fuzz target: a path whose first character is
    /// multi-byte panicked (byte 1 is not a char boundary).
    #[test]
    fn multibyte_first_character_does_not_panic() {
        let h = HeaderMap::new();
        let sts = StringToSignV2 {
            method: "GET",
            headers: &h,
            date_line: "1",
            vhost_bucket: None,
            raw_path: "ї",
            raw_query: None,
        };
        assert_eq!(sts.build(), "GET\n\n\n1\nї");
        assert!(sts.build_without_bucket_slash().is_none());
    }

    #[test]
    fn bucket_only_requests_sign_bucket_slash() {
        let h = HeaderMap::new();
        let sts = StringToSignV2 {
            method: "GET",
            headers: &h,
            date_line: "Tue, 27 Mar 2007 19:42:41 +0000",
            vhost_bucket: None,
            raw_path: "/johnsmith",
            raw_query: Some("list-type=2&prefix=a"),
        };
        assert_eq!(sts.build(), "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/");
        assert_eq!(
            sts.build_without_bucket_slash().unwrap(),
            "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith"
        );
        let object = StringToSignV2 {
            raw_path: "/johnsmith/k",
            ..sts
        };
        assert!(object.build().ends_with("/johnsmith/k"));
        assert!(object.build_without_bucket_slash().is_none());
    }

    #[test]
    fn builds_documented_strings_to_sign() {
        let h = headers(&[
            ("content-md5", "4gJE4saaMU4BqNR0kLY+lw=="),
            ("content-type", "application/x-download"),
            ("x-amz-acl", "public-read"),
            ("x-amz-meta-reviewedby", "joe@johnsmith.net"),
            ("x-amz-meta-reviewedby", "jane@johnsmith.net"),
            ("x-amz-meta-filechecksum", "0x02661779"),
            ("x-amz-meta-checksumalgorithm", "crc32"),
        ]);
        let sts = StringToSignV2 {
            method: "PUT",
            headers: &h,
            date_line: "Tue, 27 Mar 2007 21:06:08 +0000",
            vhost_bucket: Some("static.johnsmith.net"),
            raw_path: "/db-backup.dat.gz",
            raw_query: None,
        };
        assert_eq!(
            sts.build(),
            "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\nx-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\nx-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n/static.johnsmith.net/db-backup.dat.gz"
        );
        let empty = HeaderMap::new();
        let sts = StringToSignV2 {
            method: "GET",
            headers: &empty,
            date_line: "1175139620",
            vhost_bucket: None,
            raw_path: "/johnsmith/photos/puppy.jpg",
            raw_query: Some(
                "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=x&prefix=a&versionId=v%201&acl",
            ),
        };
        assert_eq!(
            sts.build(),
            "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg?acl&versionId=v 1"
        );
    }
}
