//! Cross-origin access for browsers, per bucket, as S3's bucket CORS configuration
//! ("Using cross-origin resource sharing (CORS)", Amazon S3 User Guide). Preflight
//! requests are answered by the gateway without authentication; real responses get the
//! matching rule's headers.

use http::{HeaderMap, HeaderValue, Method};

use crate::config::CorsConfig;
use crate::response::{GatewayError, S3ErrorCode};

#[derive(Debug, Clone)]
struct Rule {
    bucket: String,
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    expose: Vec<String>,
    max_age: Option<u64>,
}

fn origin_matches(pattern: &str, origin: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(origin),
        Some((pre, post)) => {
            origin.len() >= pre.len() + post.len()
                && origin[..pre.len()].eq_ignore_ascii_case(pre)
                && origin[origin.len() - post.len()..].eq_ignore_ascii_case(post)
        }
    }
}

impl Rule {
    fn matches(&self, bucket: &str, origin: &str, method: &str) -> bool {
        (self.bucket == "*" || self.bucket == bucket)
            && self.origins.iter().any(|p| origin_matches(p, origin))
            && self.methods.iter().any(|m| m == method)
    }

    fn allows_header(&self, h: &str) -> bool {
        self.headers.iter().any(|p| origin_matches(p, h))
    }

    fn origin_value(&self, origin: &str) -> HeaderValue {
        if self.origins.iter().any(|o| o == "*") {
            HeaderValue::from_static("*")
        } else {
            HeaderValue::from_str(origin).unwrap_or(HeaderValue::from_static("null"))
        }
    }
}

/// The CORS rules of one configuration.
#[derive(Debug, Clone, Default)]
pub struct CorsRules {
    rules: Vec<Rule>,
}

fn forbidden(message: &'static str) -> GatewayError {
    GatewayError::client(S3ErrorCode::AccessForbidden, message)
}

impl CorsRules {
    /// Rules from config.
    pub fn new(config: &[CorsConfig]) -> Self {
        CorsRules {
            rules: config
                .iter()
                .map(|c| Rule {
                    bucket: c.bucket.clone(),
                    origins: c.allowed_origins.clone(),
                    methods: c.allowed_methods.clone(),
                    headers: c.allowed_headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
                    expose: c.expose_headers.clone(),
                    max_age: c.max_age.map(|d| d.0.as_secs()),
                })
                .collect(),
        }
    }

    /// Answers a preflight `OPTIONS` for `bucket`: the headers of a 200, or S3's error.
    pub fn preflight(&self, bucket: Option<&str>, headers: &HeaderMap) -> Result<HeaderMap, GatewayError> {
        let origin = headers
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                GatewayError::client(
                    S3ErrorCode::BadRequest,
                    "Insufficient information. Origin request header needed.",
                )
            })?;
        let method = headers
            .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                GatewayError::client(S3ErrorCode::BadRequest, "Invalid Access-Control-Request-Method: null")
            })?;
        let bucket = bucket.unwrap_or("");
        if !self.rules.iter().any(|r| r.bucket == "*" || r.bucket == bucket) {
            return Err(forbidden("CORSResponse: CORS is not enabled for this bucket."));
        }
        let requested: Vec<String> = headers
            .get_all(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        let rule = self
            .rules
            .iter()
            .find(|r| r.matches(bucket, origin, method) && requested.iter().all(|h| r.allows_header(h)))
            .ok_or_else(|| {
                forbidden("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
            })?;
        let mut out = HeaderMap::new();
        out.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, rule.origin_value(origin));
        if let Ok(v) = HeaderValue::from_str(&rule.methods.join(", ")) {
            out.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        if !requested.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&requested.join(", ")) {
                out.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, v);
            }
        }
        if !rule.expose.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&rule.expose.join(", ")) {
                out.insert(http::header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
            }
        }
        if let Some(age) = rule.max_age {
            out.insert(http::header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
        }
        out.insert(
            http::header::VARY,
            HeaderValue::from_static("Origin, Access-Control-Request-Headers, Access-Control-Request-Method"),
        );
        Ok(out)
    }

    /// Adds CORS headers to a real response when the request's Origin matches a rule.
    pub fn decorate(&self, bucket: Option<&str>, method: &Method, request: &HeaderMap, response: &mut HeaderMap) {
        let Some(origin) = request.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()) else {
            return;
        };
        let bucket = bucket.unwrap_or("");
        let Some(rule) = self.rules.iter().find(|r| r.matches(bucket, origin, method.as_str())) else {
            return;
        };
        response.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, rule.origin_value(origin));
        if let Ok(v) = HeaderValue::from_str(&rule.methods.join(", ")) {
            response.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        if !rule.expose.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&rule.expose.join(", ")) {
                response.insert(http::header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
            }
        }
        if let Some(age) = rule.max_age {
            response.insert(http::header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
        }
        response.append(http::header::VARY, HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;

    fn rules() -> CorsRules {
        #[derive(serde::Deserialize)]
        struct C {
            cors: Vec<CorsConfig>,
        }
        let c: C = toml::from_str(
            r#"
            [[cors]]
            bucket = "uploads"
            allowed_origins = ["https://app.example.com", "https://*.preview.example.com"]
            allowed_methods = ["GET", "PUT", "POST"]
            allowed_headers = ["content-type", "x-amz-*"]
            expose_headers = ["ETag"]
            max_age = "1h"
            "#,
        )
        .unwrap();
        CorsRules::new(&c.cors)
    }

    fn req(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(HeaderName::from_static(k), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn preflight() {
        let ok = rules()
            .preflight(
                Some("uploads"),
                &req(&[
                    ("origin", "https://pr-1.preview.example.com"),
                    ("access-control-request-method", "PUT"),
                    ("access-control-request-headers", "Content-Type, X-Amz-Meta-A"),
                ]),
            )
            .unwrap();
        assert_eq!(ok["access-control-allow-origin"], "https://pr-1.preview.example.com");
        assert_eq!(ok["access-control-max-age"], "3600");
        let e = rules()
            .preflight(Some("uploads"), &req(&[("access-control-request-method", "PUT")]))
            .unwrap_err();
        assert_eq!((e.status().as_u16(), e.code()), (400, S3ErrorCode::BadRequest));
        let e = rules()
            .preflight(
                Some("uploads"),
                &req(&[
                    ("origin", "https://evil.example"),
                    ("access-control-request-method", "PUT"),
                ]),
            )
            .unwrap_err();
        assert_eq!((e.status().as_u16(), e.code()), (403, S3ErrorCode::AccessForbidden));
        let e = rules()
            .preflight(
                Some("uploads"),
                &req(&[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "DELETE"),
                ]),
            )
            .unwrap_err();
        assert_eq!(e.code(), S3ErrorCode::AccessForbidden);
        let e = rules()
            .preflight(
                Some("other"),
                &req(&[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "GET"),
                ]),
            )
            .unwrap_err();
        assert!(e.message().contains("not enabled"));
    }
}
