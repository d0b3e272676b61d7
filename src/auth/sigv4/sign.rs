//! Producing SigV4 signatures: the gateway's own upstream requests (header auth) and the
//! pre-signed URLs `guestpass presign` hands out. Same canonical code as verification, so
//! the two can never drift apart.

use http::{HeaderMap, HeaderName, HeaderValue};
use time::OffsetDateTime;

use crate::secret::Secret;

use super::canonical::{write_string_to_sign, CanonicalQuery, CanonicalRequest, CredentialScopeRef, ALGORITHM};
use super::date::AmzDate;
use super::encode::{encode, PATH};
use super::key::SigningKey;

/// Signs `headers` in place for header authentication: sets `x-amz-date`,
/// `x-amz-content-sha256` and `authorization`, signing every header present.
/// `host` must already be in `headers`. `encoded_path` is the path as it will be sent.
#[allow(clippy::too_many_arguments)]
pub fn sign_request_headers(
    method: &str,
    encoded_path: &str,
    query: &CanonicalQuery,
    headers: &mut HeaderMap,
    payload: &str,
    access_key_id: &str,
    key: &SigningKey,
    region: &str,
    amz_date: &AmzDate,
) {
    headers.insert(HeaderName::from_static("x-amz-date"), header_value(amz_date.as_str()));
    headers.insert(HeaderName::from_static("x-amz-content-sha256"), header_value(payload));
    headers.remove(http::header::AUTHORIZATION);

    let mut names: Vec<&str> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|n| !UNSIGNED.contains(n))
        .collect();
    names.sort_unstable();
    names.dedup();
    let signed_headers = names.join(";");
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned();

    let scope = CredentialScopeRef {
        date: amz_date.date_str(),
        region,
        service: "s3",
    };
    let canonical = CanonicalRequest {
        method,
        raw_path: encoded_path,
        query,
        headers,
        host: &host,
        signed_headers: &signed_headers,
        payload,
    };
    let mut mac = key.mac();
    write_string_to_sign(amz_date.as_str(), &scope, &canonical.hash(), &mut mac);
    let signature = hex::encode(mac.finish());
    let authorization =
        format!("{ALGORITHM} Credential={access_key_id}/{scope},SignedHeaders={signed_headers},Signature={signature}");
    headers.insert(http::header::AUTHORIZATION, header_value(&authorization));
}

/// Headers that proxies and clients may change in transit; signing them would make a
/// valid request fail.
const UNSIGNED: &[&str] = &[
    "content-length",
    "user-agent",
    "expect",
    "connection",
    "transfer-encoding",
    "accept-encoding",
];

fn header_value(s: &str) -> HeaderValue {
    // Only called with ASCII produced above.
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// What a pre-signed URL grants.
#[derive(Debug, Clone)]
pub struct PresignRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// `scheme://host[:port]` the URL points at.
    pub base_url: &'a str,
    /// Decoded path: `/bucket/key` (path-style) or `/key` (virtual-hosted).
    pub path: &'a str,
    /// Extra query parameters, signed with the rest (decoded names and values).
    pub extra_query: &'a [(&'a str, &'a str)],
    /// Lifetime in seconds.
    pub expires_secs: u64,
    /// Signing time.
    pub now: OffsetDateTime,
}

/// Builds a SigV4 pre-signed URL (`UNSIGNED-PAYLOAD`, only `host` signed).
pub fn presign_url(access_key_id: &str, secret: &Secret, region: &str, req: &PresignRequest<'_>) -> String {
    let amz_date = AmzDate::from_time(req.now);
    let scope = CredentialScopeRef {
        date: amz_date.date_str(),
        region,
        service: "s3",
    };
    let credential = format!("{access_key_id}/{scope}");
    let expires = req.expires_secs.to_string();
    let mut params: Vec<(&str, &str)> = vec![
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", &credential),
        ("X-Amz-Date", amz_date.as_str()),
        ("X-Amz-Expires", &expires),
        ("X-Amz-SignedHeaders", "host"),
    ];
    params.extend_from_slice(req.extra_query);
    let query = CanonicalQuery::from_decoded(params);
    let encoded_path = encode(req.path.as_bytes(), PATH);
    let host = req
        .base_url
        .split_once("://")
        .map_or(req.base_url, |(_, rest)| rest)
        .trim_end_matches('/');
    let empty = HeaderMap::new();
    let canonical = CanonicalRequest {
        method: req.method,
        raw_path: &encoded_path,
        query: &query,
        headers: &empty,
        host,
        signed_headers: "host",
        payload: super::canonical::UNSIGNED_PAYLOAD,
    };
    let key = SigningKey::derive(secret, amz_date.date_str(), region, "s3");
    let mut mac = key.mac();
    write_string_to_sign(amz_date.as_str(), &scope, &canonical.hash(), &mut mac);
    let signature = hex::encode(mac.finish());
    format!(
        "{}{}?{}&X-Amz-Signature={signature}",
        req.base_url.trim_end_matches('/'),
        encoded_path,
        query.to_query_string()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_the_s3_documentation_presigned_url() {
        // "Authenticating Requests: Using Query Parameters", example: GET examplebucket/test.txt.
        let now = AmzDate::parse("20130524T000000Z").unwrap().time();
        let url = presign_url(
            "AKIAIOSFODNN7EXAMPLE",
            &Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            "us-east-1",
            &PresignRequest {
                method: "GET",
                base_url: "https://examplebucket.s3.amazonaws.com",
                path: "/test.txt",
                extra_query: &[],
                expires_secs: 86400,
                now,
            },
        );
        assert!(
            url.ends_with("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
            "{url}"
        );
    }
}
