//! SigV4 query-string authentication: pre-signed URLs ("Authenticating Requests: Using
//! Query Parameters (AWS Signature Version 4)", Amazon S3 API Reference).
//!
//! Cheap checks come first (shape, scope, expiry), then the key lookup, then the crypto.
//! Every failure answers with the code and message S3 uses.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use time::Duration;

use crate::config::MAX_PRESIGNED_EXPIRES_SECS;
use crate::response::{GatewayError, S3ErrorCode};

use super::canonical::{CanonicalQuery, CanonicalRequest, UNSIGNED_PAYLOAD};
use super::date::{iso8601, AmzDate};
use super::signature::Signature;
use super::{check_signed_headers, parse_credential, verify_signature, SignatureCheck};
use crate::auth::{AuthScheme, Authenticator, Identity, PayloadHash, RequestView};

/// The query parameters of SigV4 query authentication, by their exact names.
pub const AUTH_PARAMS: [&str; 8] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
];

const MISSING: &str = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, \
X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";

/// The authentication parameters of a pre-signed URL, percent-decoded into one stack
/// arena (the credential's `%2F`s would otherwise cost a heap allocation per request).
#[derive(Default)]
pub struct PresignedParams {
    arena: smallvec::SmallVec<[u8; 512]>,
    ranges: [Option<(u32, u32)>; 8],
}

impl std::fmt::Debug for PresignedParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresignedParams")
            .field("credential", &self.get(1))
            .field("date", &self.get(2))
            .field("signature", &self.get(5).map(|_| "<redacted>"))
            .finish()
    }
}

fn qerr(message: impl Into<Cow<'static, str>>) -> GatewayError {
    GatewayError::auth(S3ErrorCode::AuthorizationQueryParametersError, message)
}

/// The index in [`AUTH_PARAMS`] of a parameter name compared without case.
pub fn auth_param_index(name: &str) -> Option<usize> {
    AUTH_PARAMS.iter().position(|p| p.eq_ignore_ascii_case(name))
}

impl PresignedParams {
    /// Collects the authentication parameters of `raw_query`. A parameter given twice,
    /// or spelled in another case than S3's, is refused: the one that would be checked
    /// must be the only one there is.
    pub fn parse(raw_query: &str) -> Result<Self, GatewayError> {
        let mut p = PresignedParams::default();
        for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode_str(raw_name).decode_utf8_lossy();
            let Some(i) = auth_param_index(&name) else {
                continue;
            };
            if name != AUTH_PARAMS[i] {
                return Err(qerr(format!(
                    "Query-string authentication parameter {name} must be spelled {}.",
                    AUTH_PARAMS[i]
                )));
            }
            if p.ranges[i].is_some() {
                return Err(qerr(format!(
                    "Query-string authentication parameter {} appears more than once.",
                    AUTH_PARAMS[i]
                )));
            }
            let start = p.arena.len();
            p.arena.extend(percent_decode_str(raw_value));
            if std::str::from_utf8(&p.arena[start..]).is_err() {
                return Err(qerr(format!("{} is not valid UTF-8.", AUTH_PARAMS[i])));
            }
            p.ranges[i] = Some((start as u32, p.arena.len() as u32));
        }
        Ok(p)
    }

    fn get(&self, i: usize) -> Option<&str> {
        // Each range was checked to be UTF-8 when it was stored.
        self.ranges[i].and_then(|(s, e)| std::str::from_utf8(&self.arena[s as usize..e as usize]).ok())
    }
}

impl Authenticator {
    /// Verifies a SigV4 pre-signed request.
    pub fn verify_presigned(&self, req: &RequestView<'_>, raw_query: &str) -> Result<Identity, GatewayError> {
        let params = PresignedParams::parse(raw_query)?;
        let (Some(algorithm), Some(credential), Some(date), Some(expires), Some(signed_headers), Some(signature)) = (
            params.get(0),
            params.get(1),
            params.get(2),
            params.get(3),
            params.get(4),
            params.get(5),
        ) else {
            return Err(qerr(MISSING));
        };
        if algorithm != super::canonical::ALGORITHM {
            return Err(qerr("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
        }
        let amz_date = AmzDate::parse(date).ok_or_else(|| {
            qerr(format!(
                "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"; \"{date}\" is not"
            ))
        })?;
        let scope = parse_credential(credential, &amz_date, self.store().region()).map_err(|e| {
            e.into_error(
                S3ErrorCode::AuthorizationQueryParametersError,
                "Error parsing the X-Amz-Credential parameter; ",
            )
        })?;

        let expires: i64 = expires.parse().map_err(|_| qerr("X-Amz-Expires should be a number"))?;
        if expires < 0 {
            return Err(qerr("X-Amz-Expires must be non-negative"));
        }
        if expires == 0 {
            return Err(qerr("X-Amz-Expires must be at least 1 second"));
        }
        if expires as u64 > MAX_PRESIGNED_EXPIRES_SECS {
            return Err(qerr(
                "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds",
            ));
        }
        if expires as u64 > self.settings().max_expires_secs {
            return Err(qerr(format!(
                "X-Amz-Expires must be at most {} seconds on this gateway",
                self.settings().max_expires_secs
            )));
        }

        check_signed_headers(
            signed_headers,
            req.headers,
            S3ErrorCode::AuthorizationQueryParametersError,
        )?;

        if params.get(6).is_some() {
            return Err(GatewayError::auth(
                S3ErrorCode::InvalidToken,
                "This gateway issues no session tokens; X-Amz-Security-Token is not accepted.",
            ));
        }
        let payload = match params.get(7) {
            None => PayloadHash::Unsigned,
            Some(UNSIGNED_PAYLOAD) => PayloadHash::Unsigned,
            Some(v) => PayloadHash::parse_hex(v).ok_or_else(|| {
                GatewayError::auth(
                    S3ErrorCode::InvalidArgument,
                    "X-Amz-Content-Sha256 must be UNSIGNED-PAYLOAD or a SHA-256 hash in hex",
                )
                .with_detail("ArgumentName", "X-Amz-Content-Sha256")
            })?,
        };

        let provided = Signature::parse_hex(signature);

        let skew = Duration::try_from(self.settings().clock_skew).unwrap_or(Duration::ZERO);
        let signed_at = amz_date.time();
        if signed_at > req.now + skew {
            return Err(GatewayError::auth(
                S3ErrorCode::AccessDenied,
                "Request is not yet valid",
            ));
        }
        let expires_at = signed_at + Duration::seconds(expires);
        if req.now > expires_at {
            return Err(GatewayError::auth(S3ErrorCode::AccessDenied, "Request has expired")
                .with_detail("X-Amz-Expires", expires.to_string())
                .with_detail("Expires", iso8601(expires_at))
                .with_detail("ServerTime", iso8601(req.now)));
        }

        let query = CanonicalQuery::from_raw(raw_query, Some("X-Amz-Signature"));
        let canonical = CanonicalRequest {
            method: req.method.as_str(),
            raw_path: req.raw_path,
            query: &query,
            headers: req.headers,
            host: req.host,
            signed_headers,
            payload: payload.canonical_line(),
        };
        let verified = verify_signature(
            self,
            SignatureCheck {
                access_key_id: scope.access_key_id,
                amz_date: &amz_date,
                scope: &scope.as_ref(),
                canonical: &canonical,
            },
            provided.as_ref(),
            signature,
        )?;
        Ok(Identity {
            access_key_id: verified.access_key_id,
            scheme: AuthScheme::PresignedV4,
            payload,
            expires_at: Some(expires_at),
            chunk_signing: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicated_and_miscased_params_are_refused() {
        let e = PresignedParams::parse("X-Amz-Signature=a&X-Amz-Signature=b").unwrap_err();
        assert_eq!(e.code(), S3ErrorCode::AuthorizationQueryParametersError);
        let e = PresignedParams::parse("x-amz-signature=a").unwrap_err();
        assert_eq!(e.code(), S3ErrorCode::AuthorizationQueryParametersError);
        let e = PresignedParams::parse("X-Amz-%53ignature=a&X-Amz-Signature=b").unwrap_err();
        assert!(e.message().contains("more than once"), "{}", e.message());
    }
}
