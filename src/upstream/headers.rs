//! Which headers cross the gateway. Requests: only headers S3 acts on, never the client's
//! own authentication. Responses: everything but hop-by-hop headers.

use http::{HeaderMap, HeaderName};

/// Client request headers S3 acts on and the gateway passes on (besides `x-amz-*`).
const FORWARDED: &[&str] = &[
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "expires",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// `x-amz-*` headers that belong to the client's authentication and are replaced by the
/// gateway's own.
const CLIENT_AUTH: &[&str] = &["x-amz-date", "x-amz-content-sha256", "x-amz-security-token"];

/// Headers that describe one connection, not the message (RFC 9110 section 7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The client headers to send upstream.
pub fn forwarded_request_headers(client: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(client.len());
    let connection_named = connection_tokens(client);
    for (name, value) in client {
        let n = name.as_str();
        let pass = (FORWARDED.contains(&n) || (n.starts_with("x-amz-") && !CLIENT_AUTH.contains(&n)))
            && !connection_named.iter().any(|c| c.eq_ignore_ascii_case(n));
        if pass {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Removes hop-by-hop headers from an upstream response.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in connection_tokens(headers) {
        if let Ok(h) = HeaderName::from_bytes(name.as_bytes()) {
            headers.remove(h);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

fn connection_tokens(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_only_what_s3_acts_on() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("content-type", "image/png"),
            ("x-amz-meta-a", "1"),
            ("x-amz-date", "20200101T000000Z"),
            ("authorization", "AWS4-HMAC-SHA256 ..."),
            ("cookie", "a=b"),
            ("range", "bytes=0-1"),
            ("connection", "range"),
            ("host", "example.com"),
        ] {
            h.insert(HeaderName::from_static(k), v.parse().unwrap());
        }
        let out = forwarded_request_headers(&h);
        let mut names: Vec<_> = out.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, ["content-type", "x-amz-meta-a"]);
    }

    #[test]
    fn strips_hop_by_hop() {
        let mut h = HeaderMap::new();
        h.insert("connection", "x-foo, close".parse().unwrap());
        h.insert("x-foo", "1".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("etag", "\"abc\"".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("etag"));
    }
}
