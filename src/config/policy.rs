//! `[[credentials.scopes]]`, `[[rules]]` and `[[cors]]`: what each key may touch, what
//! uploads must look like, and which browser origins may call the gateway.

use serde::Deserialize;

use super::{ByteSize, HumanDuration};

/// An action a scope grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// GET and HEAD of objects.
    Read,
    /// PUT, POST uploads, copies into, multipart uploads.
    Write,
    /// DELETE of objects, aborting multipart uploads, DeleteObjects.
    Delete,
    /// Listing buckets, objects and uploads.
    List,
    /// Bucket-level changes: create or delete a bucket, its configuration.
    Admin,
}

/// One `[[credentials.scopes]]` entry: actions on keys under a prefix of a bucket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    /// The bucket, or `*` for every bucket.
    pub bucket: String,
    /// Key prefix; empty for the whole bucket.
    #[serde(default)]
    pub prefix: String,
    /// What may be done there.
    pub actions: Vec<Action>,
}

/// One `[[rules]]` entry: what uploads under a bucket and key prefix must look like. The
/// rule with the longest matching prefix applies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRuleConfig {
    /// The bucket, or `*`.
    pub bucket: String,
    /// Key prefix; empty for the whole bucket.
    #[serde(default)]
    pub prefix: String,
    /// Largest object accepted.
    #[serde(default)]
    pub max_size: Option<ByteSize>,
    /// Smallest object accepted.
    #[serde(default)]
    pub min_size: Option<ByteSize>,
    /// Allowed Content-Types: exact (`image/png`) or a family (`image/*`).
    #[serde(default)]
    pub content_types: Vec<String>,
    /// Whether uploads must carry a Content-Type.
    #[serde(default)]
    pub require_content_type: bool,
    /// Largest part of a multipart upload (default: max_size).
    #[serde(default)]
    pub max_part_size: Option<ByteSize>,
    /// Highest part number of a multipart upload (S3 allows 10000).
    #[serde(default)]
    pub max_parts: Option<u32>,
}

/// One `[[cors]]` entry, like a rule of S3's bucket CORS configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// The bucket, or `*`.
    pub bucket: String,
    /// Origins, exact (`https://app.example.com`), with one `*` wildcard
    /// (`https://*.example.com`), or `*` for any.
    pub allowed_origins: Vec<String>,
    /// Methods: GET, HEAD, PUT, POST, DELETE.
    pub allowed_methods: Vec<String>,
    /// Request headers a browser may send (`*` for any).
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Response headers scripts may read, such as `ETag`.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight answer.
    #[serde(default)]
    pub max_age: Option<HumanDuration>,
}

/// Problems in the policy sections, appended to `problems`.
pub(super) fn validate(
    credentials: &[super::CredentialConfig],
    rules: &[UploadRuleConfig],
    cors: &[CorsConfig],
    problems: &mut Vec<String>,
) {
    let bucket_ok = |b: &str| b == "*" || crate::addressing::is_valid_bucket_name(b);
    for c in credentials {
        for (i, s) in c.scopes.iter().flatten().enumerate() {
            let at = format!("credentials ({}).scopes[{i}]", c.access_key_id);
            if !bucket_ok(&s.bucket) {
                problems.push(format!("{at}: bucket {:?} is not a valid bucket name or *", s.bucket));
            }
            if s.actions.is_empty() {
                problems.push(format!(
                    "{at}: actions is empty; list read, write, delete, list or admin"
                ));
            }
        }
    }
    for (i, r) in rules.iter().enumerate() {
        let at = format!("rules[{i}] ({}/{})", r.bucket, r.prefix);
        if !bucket_ok(&r.bucket) {
            problems.push(format!("{at}: bucket {:?} is not a valid bucket name or *", r.bucket));
        }
        if let (Some(min), Some(max)) = (r.min_size, r.max_size) {
            if min > max {
                problems.push(format!("{at}: min_size {min} is larger than max_size {max}"));
            }
        }
        for t in &r.content_types {
            if !valid_type_pattern(t) {
                problems.push(format!("{at}: content type {t:?} is not type/subtype or type/*"));
            }
        }
        if r.max_parts.is_some_and(|p| p == 0 || p > 10_000) {
            problems.push(format!("{at}: max_parts must be 1..=10000"));
        }
        if rules[..i].iter().any(|o| o.bucket == r.bucket && o.prefix == r.prefix) {
            problems.push(format!("{at}: another rule has the same bucket and prefix"));
        }
    }
    for (i, c) in cors.iter().enumerate() {
        let at = format!("cors[{i}] ({})", c.bucket);
        if !bucket_ok(&c.bucket) {
            problems.push(format!("{at}: bucket {:?} is not a valid bucket name or *", c.bucket));
        }
        if c.allowed_origins.is_empty() {
            problems.push(format!("{at}: allowed_origins is empty"));
        }
        for o in &c.allowed_origins {
            if o.matches('*').count() > 1 {
                problems.push(format!("{at}: origin {o:?} has more than one *"));
            }
        }
        if c.allowed_methods.is_empty() {
            problems.push(format!("{at}: allowed_methods is empty"));
        }
        for m in &c.allowed_methods {
            if !matches!(m.as_str(), "GET" | "HEAD" | "PUT" | "POST" | "DELETE") {
                problems.push(format!("{at}: method {m:?} is not one of GET, HEAD, PUT, POST, DELETE"));
            }
        }
    }
}

fn valid_type_pattern(t: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match t.split_once('/') {
        Some((ty, "*")) => token(ty),
        Some((ty, sub)) => token(ty) && token(sub),
        None => false,
    }
}
