//! SigV4 `Authorization` header authentication ("Signature Calculations for the
//! Authorization Header: Transferring Payload in a Single Chunk", and "… in Multiple
//! Chunks (Chunked Upload)", Amazon S3 API Reference).
//!
//! `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`, the time
//! in `x-amz-date` (or `Date`), and the body described by the mandatory
//! `x-amz-content-sha256`. Unlike pre-signed URLs, the signing time must lie within the
//! clock skew on both sides (`RequestTimeTooSkewed`).

use time::Duration;

use crate::auth::{AuthScheme, Authenticator, ChunkSigning, Identity, PayloadHash, RequestView};
use crate::response::{GatewayError, S3ErrorCode};

use super::canonical::{CanonicalQuery, CanonicalRequest, ALGORITHM};
use super::date::{iso8601, AmzDate};
use super::signature::Signature;
use super::{check_signed_headers, parse_credential, verify_signature, SignatureCheck};

/// The parts of a SigV4 `Authorization` header.
#[derive(Clone, Copy)]
pub struct AuthorizationV4<'a> {
    /// `Credential=` value.
    pub credential: &'a str,
    /// `SignedHeaders=` value.
    pub signed_headers: &'a str,
    /// `Signature=` value.
    pub signature: &'a str,
}

impl std::fmt::Debug for AuthorizationV4<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationV4")
            .field("credential", &self.credential)
            .field("signed_headers", &self.signed_headers)
            .finish_non_exhaustive()
    }
}

fn malformed(message: impl Into<std::borrow::Cow<'static, str>>) -> GatewayError {
    GatewayError::auth(S3ErrorCode::AuthorizationHeaderMalformed, message)
}

impl<'a> AuthorizationV4<'a> {
    /// Parses the header value. Each component must appear exactly once.
    pub fn parse(value: &'a str) -> Result<Self, GatewayError> {
        let rest = value
            .strip_prefix(ALGORITHM)
            .filter(|r| r.starts_with(' '))
            .ok_or_else(|| {
                malformed("The authorization header is malformed; the authorization mechanism is not AWS4-HMAC-SHA256.")
            })?;
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim_matches(' ');
            let (name, v) = part.split_once('=').ok_or_else(|| {
                malformed(format!(
                    "The authorization header is malformed; \"{part}\" is not a name=value component."
                ))
            })?;
            let slot = match name {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => {
                    return Err(malformed(format!(
                        "The authorization header is malformed; unknown component \"{name}\"."
                    )))
                }
            };
            if slot.replace(v).is_some() {
                return Err(malformed(format!(
                    "The authorization header is malformed; {name} appears more than once."
                )));
            }
        }
        match (credential, signed_headers, signature) {
            (Some(credential), Some(signed_headers), Some(signature)) => Ok(AuthorizationV4 {
                credential,
                signed_headers,
                signature,
            }),
            _ => Err(malformed(
                "The authorization header is malformed; it must contain Credential, SignedHeaders and Signature.",
            )),
        }
    }
}

/// The signing time of a header-signed request: `x-amz-date`, else `Date`. With
/// `lenient`, `x-amz-date` may also be an HTTP date (SigV2 clients send it so).
pub fn request_time_with(headers: &http::HeaderMap, lenient: bool) -> Result<AmzDate, GatewayError> {
    let denied = || {
        GatewayError::auth(
            S3ErrorCode::AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header",
        )
    };
    if let Some(v) = headers.get("x-amz-date") {
        let v = v.to_str().map_err(|_| denied())?;
        return match AmzDate::parse(v) {
            Some(d) => Ok(d),
            None if lenient => parse_http_date(v).map(AmzDate::from_time).ok_or_else(denied),
            None => Err(denied()),
        };
    }
    let date = headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(denied)?;
    parse_http_date(date).map(AmzDate::from_time).ok_or_else(denied)
}

/// The signing time of a SigV4 header-signed request.
pub fn request_time(headers: &http::HeaderMap) -> Result<AmzDate, GatewayError> {
    request_time_with(headers, false)
}

/// An HTTP date: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete forms, or
/// RFC 2822 with a numeric zone (`Tue, 27 Mar 2007 19:36:42 +0000`, as in the S3
/// documentation's SigV2 examples).
pub fn parse_http_date(s: &str) -> Option<time::OffsetDateTime> {
    if let Ok(t) = httpdate::parse_http_date(s) {
        return Some(time::OffsetDateTime::from(t));
    }
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc2822).ok()
}

/// Checks the signing time against the server clock, both ways.
pub fn check_skew(
    amz_date: &AmzDate,
    now: time::OffsetDateTime,
    skew: std::time::Duration,
) -> Result<(), GatewayError> {
    let skew = Duration::try_from(skew).unwrap_or(Duration::ZERO);
    if (amz_date.time() - now).abs() > skew {
        return Err(GatewayError::auth(
            S3ErrorCode::RequestTimeTooSkewed,
            S3ErrorCode::RequestTimeTooSkewed.default_message(),
        )
        .with_detail("RequestTime", iso8601(amz_date.time()))
        .with_detail("ServerTime", iso8601(now))
        .with_detail("MaxAllowedSkewMilliseconds", (skew.whole_milliseconds()).to_string()));
    }
    Ok(())
}

/// Parses `x-amz-content-sha256`, mandatory for SigV4 header auth.
fn payload_hash(headers: &http::HeaderMap) -> Result<PayloadHash, GatewayError> {
    let v = headers.get("x-amz-content-sha256").ok_or_else(|| {
        GatewayError::auth(
            S3ErrorCode::InvalidRequest,
            "Missing required header for this request: x-amz-content-sha256",
        )
    })?;
    let v = v.to_str().unwrap_or("");
    PayloadHash::from_header(v).ok_or_else(|| {
        GatewayError::auth(
            S3ErrorCode::InvalidArgument,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a valid sha256 value.",
        )
        .with_detail("ArgumentName", "x-amz-content-sha256")
        .with_detail("ArgumentValue", v)
    })
}

impl Authenticator {
    /// Verifies a request signed with a SigV4 `Authorization` header.
    pub fn verify_header_v4(&self, req: &RequestView<'_>, authorization: &str) -> Result<Identity, GatewayError> {
        let auth = AuthorizationV4::parse(authorization)?;
        let amz_date = request_time(req.headers)?;
        let scope = parse_credential(auth.credential, &amz_date, self.store().region()).map_err(|e| {
            e.into_error(
                S3ErrorCode::AuthorizationHeaderMalformed,
                "The authorization header is malformed; ",
            )
        })?;
        check_signed_headers(
            auth.signed_headers,
            req.headers,
            S3ErrorCode::AuthorizationHeaderMalformed,
        )?;
        if req.headers.contains_key("x-amz-security-token") {
            return Err(GatewayError::auth(
                S3ErrorCode::InvalidToken,
                "This gateway issues no session tokens; x-amz-security-token is not accepted.",
            ));
        }
        let payload = payload_hash(req.headers)?;
        check_skew(&amz_date, req.now, self.settings().clock_skew)?;

        let provided = Signature::parse_hex(auth.signature);
        let query = CanonicalQuery::from_raw(req.raw_query.unwrap_or(""), None);
        let canonical = CanonicalRequest {
            method: req.method.as_str(),
            raw_path: req.raw_path,
            query: &query,
            headers: req.headers,
            host: req.host,
            signed_headers: auth.signed_headers,
            payload: payload.canonical_line(),
        };
        let scope_ref = scope.as_ref();
        let verified = verify_signature(
            self,
            SignatureCheck {
                access_key_id: scope.access_key_id,
                amz_date: &amz_date,
                scope: &scope_ref,
                canonical: &canonical,
            },
            provided.as_ref(),
            auth.signature,
        )?;
        let chunk_signing = match (&payload, &provided) {
            (PayloadHash::StreamingSigned { .. }, Some(seed)) => Some(ChunkSigning {
                key: verified.key,
                seed: seed.to_bytes(),
                amz_date: amz_date.as_str().to_owned(),
                scope: scope_ref.to_string(),
            }),
            _ => None,
        };
        let access_key_id = verified.access_key_id;
        Ok(Identity {
            access_key_id,
            scheme: AuthScheme::HeaderV4,
            payload,
            expires_at: None,
            chunk_signing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_authorization() {
        let a = AuthorizationV4::parse(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        )
        .unwrap();
        assert_eq!(a.signed_headers, "host;range;x-amz-date");
        for bad in [
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256Credential=a,SignedHeaders=b,Signature=c",
            "AWS4-HMAC-SHA256 Credential=a, SignedHeaders=b",
            "AWS4-HMAC-SHA256 Credential=a, Credential=a, SignedHeaders=b, Signature=c",
            "AWS4-HMAC-SHA256 Credential=a, SignedHeaders=b, Signature=c, Extra=d",
            "AWS AKID:sig",
        ] {
            assert_eq!(
                AuthorizationV4::parse(bad).unwrap_err().code(),
                S3ErrorCode::AuthorizationHeaderMalformed,
                "{bad}"
            );
        }
    }

    #[test]
    fn request_time_from_date_header() {
        let mut h = http::HeaderMap::new();
        h.insert("date", "Fri, 24 May 2013 00:00:00 GMT".parse().unwrap());
        assert_eq!(request_time(&h).unwrap().as_str(), "20130524T000000Z");
        h.insert("x-amz-date", "20130524T010000Z".parse().unwrap());
        assert_eq!(request_time(&h).unwrap().as_str(), "20130524T010000Z");
        h.insert("x-amz-date", "Tue, 27 Mar 2007 19:36:42 +0000".parse().unwrap());
        assert!(request_time(&h).is_err());
        assert_eq!(request_time_with(&h, true).unwrap().as_str(), "20070327T193642Z");
        h.remove("x-amz-date");
        h.insert("date", "Tue, 27 Mar 2007 19:36:42 +0000".parse().unwrap());
        assert_eq!(request_time(&h).unwrap().as_str(), "20070327T193642Z");
        h.insert("x-amz-date", "garbage".parse().unwrap());
        assert_eq!(request_time(&h).unwrap_err().code(), S3ErrorCode::AccessDenied);
    }
}
