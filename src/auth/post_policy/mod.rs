//! Browser POST uploads ("Browser-Based Uploads Using POST (AWS Signature Version 4)",
//! "Creating a POST Policy", Amazon S3 API Reference; and the SigV2 form of the older
//! "Browser-Based Uploads Using POST" guide).
//!
//! A policy is base64 JSON `{"expiration": …, "conditions": […]}`; its signature is the
//! HMAC of the base64 text. Every form field but the exempt ones must be covered by a
//! condition; `starts-with` is allowed only on the fields S3 allows it on; a Content-Type
//! `starts-with` holds only if every comma-separated item matches.

pub mod form;

use std::collections::HashSet;

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::auth::sigv4::date::AmzDate;
use crate::auth::sigv4::parse_credential;
use crate::auth::sigv4::signature::Signature;
use crate::auth::{AuthScheme, Authenticator, Identity, PayloadHash};
use crate::response::{GatewayError, S3ErrorCode};

/// The longest policy document accepted (base64 text).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// One policy condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The field equals the value.
    Eq {
        /// Field name, lower-case, without `$`.
        field: String,
        /// Required value.
        value: String,
    },
    /// The field starts with the prefix (`""`: anything).
    StartsWith {
        /// Field name, lower-case, without `$`.
        field: String,
        /// Required prefix.
        prefix: String,
    },
    /// The file's size is within `min..=max` bytes.
    ContentLengthRange {
        /// Smallest.
        min: u64,
        /// Largest.
        max: u64,
    },
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::Eq { field, value } => write!(f, "[\"eq\", \"${field}\", {value:?}]"),
            Condition::StartsWith { field, prefix } => write!(f, "[\"starts-with\", \"${field}\", {prefix:?}]"),
            Condition::ContentLengthRange { min, max } => write!(f, "[\"content-length-range\", {min}, {max}]"),
        }
    }
}

/// A decoded policy document.
#[derive(Debug, Clone)]
pub struct PostPolicy {
    /// When the policy stops working.
    pub expiration: OffsetDateTime,
    /// The conditions.
    pub conditions: Vec<Condition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    expiration: String,
    conditions: Vec<Value>,
}

/// Fields that may appear in a form without a condition.
fn exempt(field: &str) -> bool {
    matches!(
        field,
        "policy" | "x-amz-signature" | "signature" | "awsaccesskeyid" | "file"
    ) || field.starts_with("x-ignore-")
}

/// Fields `starts-with` may be used on (besides `x-amz-meta-*`).
fn starts_with_allowed(field: &str) -> bool {
    matches!(
        field,
        "key"
            | "acl"
            | "cache-control"
            | "content-type"
            | "content-disposition"
            | "content-encoding"
            | "expires"
            | "success_action_redirect"
            | "redirect"
            | "success_action_status"
    ) || field.starts_with("x-amz-meta-")
}

fn malformed(why: impl std::fmt::Display) -> GatewayError {
    GatewayError::auth(S3ErrorCode::InvalidPolicyDocument, format!("Invalid Policy: {why}"))
}

fn invalid(why: impl std::fmt::Display) -> GatewayError {
    GatewayError::auth(S3ErrorCode::AccessDenied, format!("Invalid according to Policy: {why}"))
}

fn field_name(v: &Value) -> Result<String, GatewayError> {
    let s = v
        .as_str()
        .ok_or_else(|| malformed("a condition's field must be a string"))?;
    let name = s
        .strip_prefix('$')
        .ok_or_else(|| malformed(format!("field {s:?} must start with $")))?;
    Ok(name.to_ascii_lowercase())
}

fn length_value(v: &Value) -> Result<u64, GatewayError> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| malformed("content-length-range bounds must be non-negative integers"))
}

impl PostPolicy {
    /// Decodes and checks the shape of a base64 policy.
    pub fn parse(policy_b64: &str) -> Result<PostPolicy, GatewayError> {
        if policy_b64.len() > MAX_POLICY_BYTES {
            return Err(malformed("the policy document is too large"));
        }
        let json = base64::engine::general_purpose::STANDARD
            .decode(policy_b64.trim())
            .map_err(|_| malformed("the policy is not valid base64"))?;
        let raw: RawPolicy =
            serde_json::from_slice(&json).map_err(|e| malformed(format!("the policy document is not valid: {e}")))?;
        let expiration = OffsetDateTime::parse(&raw.expiration, &Rfc3339)
            .map_err(|_| malformed(format!("expiration {:?} is not an ISO 8601 UTC date", raw.expiration)))?;
        let mut conditions = Vec::with_capacity(raw.conditions.len());
        for c in &raw.conditions {
            match c {
                Value::Object(map) => {
                    if map.is_empty() {
                        return Err(malformed("an empty condition object"));
                    }
                    for (k, v) in map {
                        let value = v
                            .as_str()
                            .ok_or_else(|| malformed(format!("condition {k:?} must have a string value")))?;
                        conditions.push(Condition::Eq {
                            field: k.to_ascii_lowercase(),
                            value: value.to_owned(),
                        });
                    }
                }
                Value::Array(items) => {
                    let op = items
                        .first()
                        .and_then(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .unwrap_or_default();
                    match (op.as_str(), items.len()) {
                        ("eq", 3) | ("starts-with", 3) => {
                            let field = field_name(&items[1])?;
                            let value = items[2]
                                .as_str()
                                .ok_or_else(|| malformed(format!("condition on ${field} must have a string value")))?
                                .to_owned();
                            if op == "eq" {
                                conditions.push(Condition::Eq { field, value });
                            } else {
                                if !starts_with_allowed(&field) {
                                    return Err(malformed(format!("starts-with is not allowed on ${field}")));
                                }
                                conditions.push(Condition::StartsWith { field, prefix: value });
                            }
                        }
                        ("content-length-range", 3) => {
                            let (min, max) = (length_value(&items[1])?, length_value(&items[2])?);
                            if min > max {
                                return Err(malformed("content-length-range minimum is larger than its maximum"));
                            }
                            conditions.push(Condition::ContentLengthRange { min, max });
                        }
                        _ => return Err(malformed(format!("condition {c} is not one S3 knows"))),
                    }
                }
                _ => return Err(malformed(format!("condition {c} must be an object or an array"))),
            }
        }
        Ok(PostPolicy { expiration, conditions })
    }

    /// The content-length-range, if the policy sets one.
    pub fn length_range(&self) -> Option<(u64, u64)> {
        self.conditions.iter().rev().find_map(|c| match c {
            Condition::ContentLengthRange { min, max } => Some((*min, *max)),
            _ => None,
        })
    }

    /// Checks the form against the policy. `fields` are lower-case names with values
    /// (the key already has `${filename}` expanded); `bucket` is the request's bucket.
    pub fn check_fields(
        &self,
        fields: &[(String, String)],
        bucket: &str,
        now: OffsetDateTime,
    ) -> Result<(), GatewayError> {
        if now > self.expiration {
            return Err(invalid("Policy expired."));
        }
        let value_of = |name: &str| -> &str {
            if name == "bucket" {
                return bucket;
            }
            fields.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
        };
        let mut covered: HashSet<&str> = HashSet::new();
        for c in &self.conditions {
            let ok = match c {
                Condition::Eq { field, value } => {
                    covered.insert(field);
                    value_of(field) == value
                }
                Condition::StartsWith { field, prefix } => {
                    covered.insert(field);
                    let v = value_of(field);
                    if field == "content-type" {
                        v.split(',').all(|item| item.trim().starts_with(prefix.as_str()))
                    } else {
                        v.starts_with(prefix.as_str())
                    }
                }
                Condition::ContentLengthRange { .. } => true,
            };
            if !ok {
                return Err(invalid(format!("Policy Condition failed: {c}")));
            }
        }
        let extra: Vec<&str> = fields
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !exempt(n) && !covered.contains(n))
            .collect();
        if !extra.is_empty() {
            return Err(invalid(format!("Extra input fields: {}", extra.join(", "))));
        }
        Ok(())
    }
}

/// Checks a file size against the policy's content-length-range.
pub fn check_length(range: Option<(u64, u64)>, len: u64) -> Result<(), GatewayError> {
    let Some((min, max)) = range else { return Ok(()) };
    if len > max {
        return Err(GatewayError::auth(
            S3ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size",
        )
        .with_detail("ProposedSize", len.to_string())
        .with_detail("MaxSizeAllowed", max.to_string()));
    }
    if len < min {
        return Err(GatewayError::auth(
            S3ErrorCode::EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed size",
        )
        .with_detail("ProposedSize", len.to_string())
        .with_detail("MinSizeAllowed", min.to_string()));
    }
    Ok(())
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

impl Authenticator {
    /// Verifies the signature of a POST form (SigV4 fields, or SigV2 when enabled) and
    /// returns who signed it with the decoded policy.
    pub fn verify_post_form(
        &self,
        fields: &[(String, String)],
        now: OffsetDateTime,
    ) -> Result<(Identity, PostPolicy), GatewayError> {
        let policy_b64 = field(fields, "policy").ok_or_else(|| {
            GatewayError::auth(
                S3ErrorCode::AccessDenied,
                "Anonymous POST uploads are not accepted: the form has no policy.",
            )
        })?;
        let v4 = field(fields, "x-amz-signature").is_some() || field(fields, "x-amz-algorithm").is_some();
        let v2 = field(fields, "signature").is_some() || field(fields, "awsaccesskeyid").is_some();
        let access_key_id = match (v4, v2) {
            (true, false) => self.verify_post_v4(fields, policy_b64, now)?,
            (false, true) => self.verify_post_v2(fields, policy_b64)?,
            (false, false) => {
                return Err(GatewayError::auth(
                    S3ErrorCode::AccessDenied,
                    "The form carries a policy but no signature.",
                ))
            }
            (true, true) => {
                return Err(GatewayError::auth(
                    S3ErrorCode::InvalidArgument,
                    "Only one auth mechanism allowed: the form carries both SigV4 and SigV2 fields.",
                ))
            }
        };
        let policy = PostPolicy::parse(policy_b64)?;
        let scheme = if v4 { AuthScheme::PostV4 } else { AuthScheme::PostV2 };
        let identity = Identity {
            access_key_id,
            scheme,
            payload: PayloadHash::Unsigned,
            expires_at: Some(policy.expiration),
            chunk_signing: None,
        };
        Ok((identity, policy))
    }

    fn verify_post_v4(
        &self,
        fields: &[(String, String)],
        policy_b64: &str,
        now: OffsetDateTime,
    ) -> Result<std::sync::Arc<str>, GatewayError> {
        let need = |name: &'static str| {
            field(fields, name).ok_or_else(|| {
                GatewayError::auth(
                    S3ErrorCode::InvalidArgument,
                    format!("Bucket POST must contain a field named '{name}'."),
                )
                .with_detail("ArgumentName", name)
            })
        };
        let algorithm = need("x-amz-algorithm")?;
        let credential = need("x-amz-credential")?;
        let date = need("x-amz-date")?;
        let signature = need("x-amz-signature")?;
        if algorithm != super::sigv4::canonical::ALGORITHM {
            return Err(GatewayError::auth(
                S3ErrorCode::InvalidArgument,
                "x-amz-algorithm only supports \"AWS4-HMAC-SHA256\"",
            ));
        }
        let amz_date = AmzDate::parse(date).ok_or_else(|| {
            GatewayError::auth(
                S3ErrorCode::InvalidArgument,
                format!("x-amz-date {date:?} is not yyyyMMdd'T'HHmmss'Z'"),
            )
        })?;
        let skew = time::Duration::try_from(self.settings().clock_skew).unwrap_or(time::Duration::ZERO);
        if amz_date.time() > now + skew {
            return Err(GatewayError::auth(
                S3ErrorCode::AccessDenied,
                "Request is not yet valid",
            ));
        }
        let scope = parse_credential(credential, &amz_date, self.store().region()).map_err(|e| {
            e.into_error(
                S3ErrorCode::InvalidArgument,
                "Error parsing the x-amz-credential field; ",
            )
        })?;
        let provided = Signature::parse_hex(signature).unwrap_or_else(Signature::placeholder);
        let lookup = self.store().lookup(scope.access_key_id);
        let mut matched = false;
        for i in 0..lookup.credential.secrets().len() {
            let key = self.store().signing_key(lookup.credential, i, scope.date);
            matched |= provided.verify(&key.sign(policy_b64.as_bytes()));
        }
        self.post_outcome(
            lookup,
            matched && Signature::parse_hex(signature).is_some(),
            scope.access_key_id,
        )
    }

    fn verify_post_v2(
        &self,
        fields: &[(String, String)],
        policy_b64: &str,
    ) -> Result<std::sync::Arc<str>, GatewayError> {
        if !self.settings().sigv2 {
            return Err(GatewayError::auth(
                S3ErrorCode::InvalidRequest,
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            ));
        }
        let access_key_id = field(fields, "awsaccesskeyid").ok_or_else(|| {
            GatewayError::auth(
                S3ErrorCode::InvalidArgument,
                "Bucket POST must contain a field named 'AWSAccessKeyId'.",
            )
        })?;
        let signature = field(fields, "signature").unwrap_or("");
        let mut provided = [0u8; 20];
        let decoded = matches!(
            base64::engine::general_purpose::STANDARD.decode_slice(signature.as_bytes(), &mut provided),
            Ok(20)
        );
        let lookup = self.store().lookup(access_key_id);
        let mut matched = false;
        for secret in lookup.credential.secrets() {
            matched |= bool::from(super::sigv2::sign(secret.expose(), policy_b64).ct_eq(&provided));
        }
        self.post_outcome(lookup, matched && decoded, access_key_id)
    }

    fn post_outcome(
        &self,
        lookup: super::credentials::Lookup<'_>,
        matched: bool,
        access_key_id: &str,
    ) -> Result<std::sync::Arc<str>, GatewayError> {
        if !lookup.known {
            return Err(GatewayError::auth(
                S3ErrorCode::InvalidAccessKeyId,
                S3ErrorCode::InvalidAccessKeyId.default_message(),
            )
            .with_detail("AWSAccessKeyId", access_key_id));
        }
        if !matched {
            return Err(GatewayError::auth(
                S3ErrorCode::SignatureDoesNotMatch,
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            )
            .with_detail("AWSAccessKeyId", access_key_id));
        }
        Ok(lookup.credential.access_key_id().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect()
    }

    const NOW: i64 = 1_451_347_200; // 2015-12-29T00:00:00Z

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(NOW).unwrap()
    }

    #[test]
    fn documentation_policy_verifies_and_holds() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/sigv4/s3-docs/s3_docs_vectors.json"
        );
        let all: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let v = all.iter().find(|v| v["kind"] == "sigv4-post-policy").unwrap();
        let auth = Authenticator::new(
            crate::auth::AuthSettings {
                max_expires_secs: 604_800,
                clock_skew: std::time::Duration::from_secs(900),
                mismatch_details: true,
                sigv2: true,
            },
            crate::auth::credentials::CredentialStore::new(
                "us-east-1",
                vec![crate::auth::credentials::Credential::new(
                    "AKIAIOSFODNN7EXAMPLE",
                    vec![crate::secret::Secret::new(v["secret_key"].as_str().unwrap())],
                )],
            ),
        );
        let mut form: Vec<(String, String)> = v["form_fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap().to_owned()))
            .collect();
        for (k, val) in form.iter_mut() {
            if k == "key" {
                *val = val.replace("${filename}", "photo.jpg");
            }
        }
        let (id, policy) = auth.verify_post_form(&form, now()).unwrap();
        assert_eq!(&*id.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        policy.check_fields(&form, "sigv4examplebucket", now()).unwrap();
        assert!(policy
            .check_fields(&form, "otherbucket", now())
            .unwrap_err()
            .message()
            .contains("bucket"));
        let mut tampered = form.clone();
        tampered
            .iter_mut()
            .find(|(k, _)| k == "x-amz-signature")
            .unwrap()
            .1
            .replace_range(0..1, "9");
        assert_eq!(
            auth.verify_post_form(&tampered, now()).unwrap_err().code(),
            S3ErrorCode::SignatureDoesNotMatch
        );
        let later = OffsetDateTime::from_unix_timestamp(NOW + 2 * 86400).unwrap();
        assert_eq!(
            policy
                .check_fields(&form, "sigv4examplebucket", later)
                .unwrap_err()
                .message(),
            "Invalid according to Policy: Policy expired."
        );
    }

    #[test]
    fn conditions() {
        let p = PostPolicy::parse(&b64(
            r#"{"expiration":"2016-01-01T00:00:00Z","conditions":[{"bucket":"b"},["starts-with","$key","avatars/"],["starts-with","$Content-Type","image/"],["content-length-range",1024,"10485760"],{"acl":"private"}]}"#,
        ))
        .unwrap();
        assert_eq!(p.length_range(), Some((1024, 10_485_760)));
        let good = fields(&[
            ("key", "avatars/a.png"),
            ("Content-Type", "image/png"),
            ("acl", "private"),
            ("policy", "x"),
            ("x-ignore-me", "1"),
        ]);
        p.check_fields(&good, "b", now()).unwrap();
        let e = p
            .check_fields(
                &fields(&[
                    ("key", "other/a.png"),
                    ("content-type", "image/png"),
                    ("acl", "private"),
                ]),
                "b",
                now(),
            )
            .unwrap_err();
        assert_eq!(
            e.message(),
            "Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$key\", \"avatars/\"]"
        );
        let e = p
            .check_fields(
                &fields(&[
                    ("key", "avatars/a"),
                    ("content-type", "image/png, text/html"),
                    ("acl", "private"),
                ]),
                "b",
                now(),
            )
            .unwrap_err();
        assert!(e.message().contains("$content-type"), "{}", e.message());
        let e = p
            .check_fields(
                &fields(&[
                    ("key", "avatars/a"),
                    ("content-type", "image/png"),
                    ("acl", "private"),
                    ("x-amz-meta-x", "1"),
                ]),
                "b",
                now(),
            )
            .unwrap_err();
        assert_eq!(
            e.message(),
            "Invalid according to Policy: Extra input fields: x-amz-meta-x"
        );
        assert_eq!(
            check_length(p.length_range(), 10_485_761).unwrap_err().code(),
            S3ErrorCode::EntityTooLarge
        );
        assert_eq!(
            check_length(p.length_range(), 1023).unwrap_err().code(),
            S3ErrorCode::EntityTooSmall
        );
        check_length(p.length_range(), 1024).unwrap();
    }

    #[test]
    fn malformed_policies() {
        for json in [
            r#"{"conditions":[]}"#,
            r#"{"expiration":"2016-01-01T00:00:00Z"}"#,
            r#"{"expiration":"tomorrow","conditions":[]}"#,
            r#"{"Expiration":"2016-01-01T00:00:00Z","conditions":[]}"#,
            r#"{"expiration":"2016-01-01T00:00:00Z","Conditions":[]}"#,
            r#"{"expiration":"2016-01-01T00:00:00Z","expiration":"2017-01-01T00:00:00Z","conditions":[]}"#,
            r#"{"expiration":"2016-01-01T00:00:00Z","conditions":[["content-length-range",10,1]]}"#,
            r#"{"expiration":"2016-01-01T00:00:00Z","conditions":[["content-length-range",-1,1]]}"#,
            r#"{"expiration":"2016-01-01T00:00:00Z","conditions":[["starts-with","$bucket","a"]]}"#,
            r#"{"expiration":"2016-01-01T00:00:00Z","conditions":[["matches","$key","a"]]}"#,
            r#"{"expiration":"2016-01-01T00:00:00Z","conditions":[["eq","key","a"]]}"#,
            r#"{"expiration":"2016-01-01T00:00:00Z","conditions":["key"]}"#,
        ] {
            let e = PostPolicy::parse(&b64(json)).unwrap_err();
            assert_eq!(e.code(), S3ErrorCode::InvalidPolicyDocument, "{json}");
        }
        assert_eq!(
            PostPolicy::parse("!!!").unwrap_err().code(),
            S3ErrorCode::InvalidPolicyDocument
        );
    }
}
