//! May this identity do this? Checked after the signature and before any upstream contact.
//! No I/O.
//!
//! In order: keys the upstream would misread (the embedded s3s-fs store resolves `.` and
//! `..` segments, so `../other-bucket/x` would land in another bucket; real S3 keeps such
//! keys literally, so this applies only when the upstream needs it), the client address
//! signed into the URL, the key's scopes, then the upload rules and signed upload
//! restrictions, decided from the declared length before the upstream sees a byte.

pub mod cors;
pub mod limit;
pub mod restrictions;
pub mod rules;
pub mod scope;

use std::net::IpAddr;

use http::{HeaderMap, Method};
use ipnet::IpNet;
use percent_encoding::percent_decode_str;

use crate::addressing::Target;
use crate::auth::Identity;
use crate::config::{Action, Config};
use crate::response::{GatewayError, S3ErrorCode};

use cors::CorsRules;
use restrictions::Restrictions;
use rules::{UploadLimits, UploadRules};
use scope::Scopes;

/// The policy of one configuration.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    refuse_dot_segments: bool,
    scopes: Scopes,
    rules: UploadRules,
    cors: CorsRules,
    trusted_proxies: Vec<IpNet>,
    client_ip_header: String,
}

/// What policy looks at.
#[derive(Debug, Clone, Copy)]
pub struct PolicyRequest<'a> {
    /// Who signed.
    pub identity: &'a Identity,
    /// Method.
    pub method: &'a Method,
    /// Bucket and key.
    pub target: &'a Target,
    /// Query parameters bound upstream (decoded; authentication and restrictions removed).
    pub query: &'a [(String, String)],
    /// Headers bound upstream (including signed `x-amz-*` query parameters).
    pub headers: &'a HeaderMap,
    /// The client's address.
    pub client_ip: IpAddr,
    /// Restrictions signed into the URL.
    pub restrictions: &'a Restrictions,
}

/// What the request may go on to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Most body bytes the upload may stream.
    pub body_limit: Option<u64>,
    /// ListBuckets answers must be cut to the buckets this key can see.
    pub filter_bucket_list: bool,
    /// A multipart upload may be completed only if its parts add up to a size within
    /// these bounds (min, max): the parts are listed upstream first.
    pub multipart_total: Option<(u64, u64)>,
}

fn denied() -> GatewayError {
    GatewayError::policy(S3ErrorCode::AccessDenied, "Access Denied")
}

fn has(query: &[(String, String)], name: &str) -> bool {
    query.iter().any(|(n, _)| n == name)
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// The size an upload declares: the decoded length of aws-chunked bodies, else
/// Content-Length.
pub fn declared_size(headers: &HeaderMap) -> Option<u64> {
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    get("x-amz-decoded-content-length").or_else(|| get("content-length"))
}

impl Policy {
    /// The policy of `config`; `refuse_dot_segments` when the upstream resolves them.
    pub fn new(config: &Config, refuse_dot_segments: bool) -> Self {
        Policy {
            refuse_dot_segments,
            scopes: Scopes::new(
                config
                    .credentials
                    .iter()
                    .map(|c| (c.access_key_id.as_str(), c.scopes.as_deref())),
            ),
            rules: UploadRules::new(&config.rules),
            cors: CorsRules::new(&config.cors),
            trusted_proxies: config
                .server
                .trusted_proxies
                .iter()
                .filter_map(|p| {
                    p.parse::<IpNet>()
                        .ok()
                        .or_else(|| p.parse::<IpAddr>().ok().map(IpNet::from))
                })
                .collect(),
            client_ip_header: config.server.client_ip_header.to_ascii_lowercase(),
        }
    }

    /// CORS rules.
    pub fn cors(&self) -> &CorsRules {
        &self.cors
    }

    /// Scopes.
    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// The limits uploads to `key` in `bucket` must meet by config.
    pub fn upload_limits(&self, bucket: &str, key: &str) -> UploadLimits {
        self.rules.for_key(bucket, key)
    }

    /// The client address of a request from `peer`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        restrictions::client_ip(peer, headers, &self.trusted_proxies, &self.client_ip_header)
    }

    /// Decides whether the request may go upstream, and under which limits.
    pub fn check(&self, req: &PolicyRequest<'_>) -> Result<Decision, GatewayError> {
        let copy_source = req.headers.get("x-amz-copy-source").map(|v| v.to_str().unwrap_or(""));
        if self.refuse_dot_segments {
            if let Some(key) = &req.target.key {
                refuse_dots(key)?;
            }
            if let Some(source) = copy_source {
                refuse_dots(copy_source_parts(source).1.as_deref().unwrap_or(""))?;
            }
        }
        req.restrictions.check_ip(req.client_ip)?;
        let key_id: &str = &req.identity.access_key_id;
        let mut decision = Decision::default();

        let Some(bucket) = req.target.bucket.as_deref() else {
            // Service level: only ListBuckets exists.
            if *req.method == Method::GET && self.scopes.may_list_buckets(key_id) {
                decision.filter_bucket_list = self.scopes.is_restricted(key_id);
                return Ok(decision);
            }
            return Err(denied());
        };

        let Some(key) = req.target.key.as_deref() else {
            // Bucket level.
            let (action, prefix) = match *req.method {
                Method::GET | Method::HEAD => (Action::List, param(req.query, "prefix").unwrap_or("")),
                Method::POST if has(req.query, "delete") => {
                    // DeleteObjects names its keys in the body; only a grant on the whole
                    // bucket can cover keys the gateway has not read.
                    return if self.scopes.allows_whole_bucket(key_id, Action::Delete, bucket) {
                        Ok(decision)
                    } else {
                        Err(denied())
                    };
                }
                _ => {
                    return if self.scopes.allows_whole_bucket(key_id, Action::Admin, bucket) {
                        Ok(decision)
                    } else {
                        Err(denied())
                    };
                }
            };
            return if self.scopes.allows(key_id, action, bucket, prefix) {
                Ok(decision)
            } else {
                Err(denied())
            };
        };

        let upload_id = has(req.query, "uploadId");
        let action = match *req.method {
            Method::GET | Method::HEAD if upload_id => Action::Write,
            Method::GET | Method::HEAD => Action::Read,
            Method::PUT => Action::Write,
            Method::POST if has(req.query, "select") => Action::Read,
            Method::POST => Action::Write,
            Method::DELETE if upload_id || has(req.query, "tagging") => Action::Write,
            Method::DELETE => Action::Delete,
            _ => return Err(denied()),
        };
        if !self.scopes.allows(key_id, action, bucket, key) {
            return Err(denied());
        }
        if let Some(source) = copy_source {
            let (src_bucket, src_key) = copy_source_parts(source);
            let readable = match (src_bucket.as_deref(), src_key.as_deref()) {
                (Some(b), Some(k)) => self.scopes.allows(key_id, Action::Read, b, k),
                _ => false,
            };
            if !readable {
                return Err(denied());
            }
        }

        let limits = self.rules.for_key(bucket, key).and(&req.restrictions.limits);
        if limits.is_empty()
            || *req.method == Method::GET
            || *req.method == Method::HEAD
            || *req.method == Method::DELETE
        {
            return Ok(decision);
        }
        let is_put = *req.method == Method::PUT;
        let part_number = param(req.query, "partNumber");
        if is_put && copy_source.is_some() {
            return Err(GatewayError::policy(
                S3ErrorCode::AccessDenied,
                "Copies into keys with upload rules are refused: the gateway cannot check the size and type of the source.",
            ));
        }
        if is_put && (has(req.query, "tagging") || has(req.query, "acl")) {
            return Ok(decision);
        }
        if is_put && upload_id {
            // UploadPart: the per-part size and the part count.
            if let (Some(max), Some(n)) = (limits.max_parts, part_number.and_then(|p| p.parse::<u32>().ok())) {
                if n > max {
                    return Err(GatewayError::policy(
                        S3ErrorCode::InvalidArgument,
                        format!("Part number must not exceed {max} for this key."),
                    )
                    .with_detail("ArgumentName", "partNumber"));
                }
            }
            if let Some(max) = limits.max_part_size {
                let size = declared_size(req.headers).ok_or_else(missing_length)?;
                if size > max {
                    return Err(rules::too_large(size, max));
                }
                decision.body_limit = Some(size);
            }
            return Ok(decision);
        }
        if *req.method == Method::POST && has(req.query, "uploads") {
            // CreateMultipartUpload fixes the object's Content-Type.
            limits.check_content_type(
                req.headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
            )?;
            return Ok(decision);
        }
        if *req.method == Method::POST {
            // CompleteMultipartUpload carries XML, not the object: its size is the sum of
            // the parts, checked against the rule before the upload may complete.
            if upload_id && (limits.max_size.is_some() || limits.min_size.is_some()) {
                decision.multipart_total = Some((limits.min_size.unwrap_or(0), limits.max_size.unwrap_or(u64::MAX)));
            }
            return Ok(decision);
        }
        // PutObject.
        limits.check_content_type(
            req.headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        )?;
        if limits.max_size.is_some() || limits.min_size.is_some() {
            let size = declared_size(req.headers).ok_or_else(missing_length)?;
            limits.check_size(size)?;
            decision.body_limit = Some(size);
        }
        Ok(decision)
    }
}

fn missing_length() -> GatewayError {
    GatewayError::policy(
        S3ErrorCode::MissingContentLength,
        "You must provide the Content-Length HTTP header: uploads here have a size limit.",
    )
}

/// Splits `x-amz-copy-source` (`[/]bucket/key[?versionId=…]`, URL-encoded).
fn copy_source_parts(source: &str) -> (Option<String>, Option<String>) {
    let path = source.split('?').next().unwrap_or("");
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let trimmed = decoded.strip_prefix('/').unwrap_or(&decoded);
    match trimmed.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => (Some(b.to_owned()), Some(k.to_owned())),
        _ => (None, None),
    }
}

/// Refuses keys a file-mapping store would resolve to another place: `.` and `..`
/// segments, and empty segments (a leading `/` makes the key an absolute path that
/// replaces the bucket folder; `a//b` and `a/b` would be one file).
fn refuse_dots(key: &str) -> Result<(), GatewayError> {
    if key
        .split('/')
        .enumerate()
        .any(|(i, seg)| seg == "." || seg == ".." || (seg.is_empty() && i + 1 < key.split('/').count()))
    {
        return Err(GatewayError::policy(
            S3ErrorCode::InvalidArgument,
            "Object keys with '.', '..' or empty path segments are refused: the upstream store would resolve them to other keys.",
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

    fn config(extra: &str) -> Config {
        Config::parse(&format!(
            r#"
            [[credentials]]
            access_key_id = "K"
            secret_access_key = "secret-secret"
            {extra}
            [upstream]
            endpoint = "http://127.0.0.1:9"
            access_key_id = "U"
            secret_access_key = "upstream-secret"
            "#
        ))
        .unwrap()
    }

    fn check(
        policy: &Policy,
        method: Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&'static str, &str)],
    ) -> Result<Decision, GatewayError> {
        let target = Target {
            bucket: Some("bkt".into()),
            key: key.map(Into::into),
            virtual_hosted: false,
        };
        let query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        policy.check(&PolicyRequest {
            identity: &id(),
            method: &method,
            target: &target,
            query: &query,
            headers: &h,
            client_ip: "127.0.0.1".parse().unwrap(),
            restrictions: &Restrictions::default(),
        })
    }

    #[test]
    fn dot_segments_refused_only_when_asked() {
        let c = config("");
        for k in ["../other/x", "a/./b", "a/..", ".", "/abs/path", "a//b"] {
            assert_eq!(
                check(&Policy::new(&c, true), Method::GET, Some(k), &[], &[])
                    .unwrap_err()
                    .code(),
                S3ErrorCode::InvalidArgument
            );
            check(&Policy::new(&c, false), Method::GET, Some(k), &[], &[]).unwrap();
        }
        for k in ["a..b", ".hidden", "dir/", "..."] {
            check(&Policy::new(&c, true), Method::GET, Some(k), &[], &[]).unwrap();
        }
        let e = check(
            &Policy::new(&c, true),
            Method::PUT,
            Some("ok"),
            &[],
            &[("x-amz-copy-source", "/bkt/%2E%2E/other/x")],
        );
        assert!(e.is_err());
    }

    #[test]
    fn scopes_limit_actions_and_prefixes() {
        let c = config(
            r#"
            [[credentials.scopes]]
            bucket = "bkt"
            prefix = "avatars/"
            actions = ["read", "write", "list"]
            "#,
        );
        let p = Policy::new(&c, false);
        check(&p, Method::GET, Some("avatars/a.png"), &[], &[]).unwrap();
        check(&p, Method::PUT, Some("avatars/a.png"), &[], &[]).unwrap();
        let denied = |r: Result<Decision, GatewayError>| assert_eq!(r.unwrap_err().code(), S3ErrorCode::AccessDenied);
        denied(check(&p, Method::DELETE, Some("avatars/a.png"), &[], &[]));
        denied(check(&p, Method::GET, Some("invoices/1.pdf"), &[], &[]));
        check(
            &p,
            Method::GET,
            None,
            &[("list-type", "2"), ("prefix", "avatars/x")],
            &[],
        )
        .unwrap();
        denied(check(&p, Method::GET, None, &[("list-type", "2")], &[]));
        denied(check(&p, Method::POST, None, &[("delete", "")], &[]));
        denied(check(&p, Method::PUT, None, &[], &[]));
        denied(check(
            &p,
            Method::PUT,
            Some("avatars/b"),
            &[],
            &[("x-amz-copy-source", "bkt/invoices/1.pdf")],
        ));
        check(
            &p,
            Method::PUT,
            Some("avatars/b"),
            &[],
            &[("x-amz-copy-source", "bkt/avatars/a.png")],
        )
        .unwrap();
    }

    #[test]
    fn upload_rules_from_declared_length() {
        let c = config(
            r#"
            [[rules]]
            bucket = "bkt"
            prefix = "avatars/"
            max_size = "10MiB"
            min_size = "1KiB"
            content_types = ["image/*"]
            max_parts = 3
            "#,
        );
        let p = Policy::new(&c, false);
        let ok = check(
            &p,
            Method::PUT,
            Some("avatars/a.png"),
            &[],
            &[("content-length", "2048"), ("content-type", "image/png")],
        )
        .unwrap();
        assert_eq!(ok.body_limit, Some(2048));
        type Case<'a> = (
            Method,
            &'a [(&'a str, &'a str)],
            &'a [(&'static str, &'a str)],
            S3ErrorCode,
        );
        let refused: &[Case<'_>] = &[
            (
                Method::PUT,
                &[],
                &[("content-length", "20000000"), ("content-type", "image/png")],
                S3ErrorCode::EntityTooLarge,
            ),
            (
                Method::PUT,
                &[],
                &[("content-length", "10"), ("content-type", "image/png")],
                S3ErrorCode::EntityTooSmall,
            ),
            (
                Method::PUT,
                &[],
                &[("content-length", "2048"), ("content-type", "text/html")],
                S3ErrorCode::AccessDenied,
            ),
            (
                Method::PUT,
                &[],
                &[("content-type", "image/png")],
                S3ErrorCode::MissingContentLength,
            ),
            (
                Method::PUT,
                &[],
                &[
                    ("x-amz-decoded-content-length", "20000000"),
                    ("content-length", "100"),
                    ("content-type", "image/png"),
                ],
                S3ErrorCode::EntityTooLarge,
            ),
            (
                Method::PUT,
                &[("partNumber", "4"), ("uploadId", "u")],
                &[("content-length", "5")],
                S3ErrorCode::InvalidArgument,
            ),
            (
                Method::PUT,
                &[("partNumber", "2"), ("uploadId", "u")],
                &[("content-length", "20000000")],
                S3ErrorCode::EntityTooLarge,
            ),
            (
                Method::POST,
                &[("uploads", "")],
                &[("content-type", "text/plain")],
                S3ErrorCode::AccessDenied,
            ),
            (
                Method::PUT,
                &[],
                &[("x-amz-copy-source", "bkt/x")],
                S3ErrorCode::AccessDenied,
            ),
        ];
        for (method, query, headers, expected) in refused {
            let got = check(&p, method.clone(), Some("avatars/a.png"), query, headers);
            assert_eq!(got.unwrap_err().code(), *expected, "{method} {query:?} {headers:?}");
        }
        check(
            &p,
            Method::PUT,
            Some("avatars/a.png"),
            &[("partNumber", "2"), ("uploadId", "u")],
            &[("content-length", "5000000")],
        )
        .unwrap();
        check(&p, Method::PUT, Some("other/a.bin"), &[], &[]).unwrap();
    }
}
