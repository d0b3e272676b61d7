//! Who signed this request, and is it still valid?
//!
//! `Authenticator::authenticate` looks at every way a request can carry a signature
//! (SigV4 query parameters, SigV2 query parameters, the `Authorization` header) before it
//! decides anything: exactly one must be present, or the request is refused. The choice
//! of check never depends on which single header happens to be there, so no request can
//! slip past by carrying credentials in an unexpected place (the MinIO CVE-2026-41145 class).
//! No I/O happens here.

pub mod body;
pub mod checksum;
pub mod credentials;
pub mod post_policy;
pub mod sigv2;
pub mod sigv4;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method};
use time::OffsetDateTime;

use crate::addressing::Target;
use crate::response::{GatewayError, S3ErrorCode};

use credentials::CredentialStore;
use sigv4::canonical::UNSIGNED_PAYLOAD;

/// The parts of a request authentication reads.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// Method.
    pub method: &'a Method,
    /// Path as sent, still percent-encoded.
    pub raw_path: &'a str,
    /// Query as sent, without `?`.
    pub raw_query: Option<&'a str>,
    /// Headers.
    pub headers: &'a HeaderMap,
    /// Host as addressed by the client: the Host header, or `:authority` in HTTP/2.
    pub host: &'a str,
    /// When the request arrived.
    pub now: OffsetDateTime,
}

/// How a request was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// SigV4 query parameters.
    PresignedV4,
    /// SigV4 `Authorization` header.
    HeaderV4,
    /// SigV2 query parameters.
    PresignedV2,
    /// SigV2 `Authorization` header.
    HeaderV2,
    /// Browser POST form signed with SigV4.
    PostV4,
    /// Browser POST form signed with SigV2.
    PostV2,
}

impl AuthScheme {
    /// Name for log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::PresignedV4 => "sigv4-query",
            AuthScheme::HeaderV4 => "sigv4-header",
            AuthScheme::PresignedV2 => "sigv2-query",
            AuthScheme::HeaderV2 => "sigv2-header",
            AuthScheme::PostV4 => "post-sigv4",
            AuthScheme::PostV2 => "post-sigv2",
        }
    }
}

/// What the signature says about the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadHash {
    /// Not signed (`UNSIGNED-PAYLOAD`).
    Unsigned,
    /// Pinned to this SHA-256 (64 lower-case hex digits).
    Sha256(String),
    /// aws-chunked with a signature per chunk (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, and
    /// with `trailer` its `-TRAILER` form).
    StreamingSigned {
        /// Whether signed trailers follow the last chunk.
        trailer: bool,
    },
    /// aws-chunked without chunk signatures, with a trailing checksum
    /// (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
    StreamingUnsignedTrailer,
}

impl PayloadHash {
    /// Parses a hex SHA-256 (either case), normalised to lower case.
    pub fn parse_hex(v: &str) -> Option<PayloadHash> {
        (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| PayloadHash::Sha256(v.to_ascii_lowercase()))
    }

    /// Parses an `x-amz-content-sha256` header value.
    pub fn from_header(v: &str) -> Option<PayloadHash> {
        match v {
            UNSIGNED_PAYLOAD => Some(PayloadHash::Unsigned),
            STREAMING_SIGNED => Some(PayloadHash::StreamingSigned { trailer: false }),
            STREAMING_SIGNED_TRAILER => Some(PayloadHash::StreamingSigned { trailer: true }),
            STREAMING_UNSIGNED_TRAILER => Some(PayloadHash::StreamingUnsignedTrailer),
            _ => Self::parse_hex(v),
        }
    }

    /// The payload line of the canonical request.
    pub fn canonical_line(&self) -> &str {
        match self {
            PayloadHash::Unsigned => UNSIGNED_PAYLOAD,
            PayloadHash::Sha256(h) => h,
            PayloadHash::StreamingSigned { trailer: false } => STREAMING_SIGNED,
            PayloadHash::StreamingSigned { trailer: true } => STREAMING_SIGNED_TRAILER,
            PayloadHash::StreamingUnsignedTrailer => STREAMING_UNSIGNED_TRAILER,
        }
    }

    /// Whether the body is aws-chunked encoded.
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            PayloadHash::StreamingSigned { .. } | PayloadHash::StreamingUnsignedTrailer
        )
    }
}

/// `x-amz-content-sha256` of a signed aws-chunked upload.
pub const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// … with signed trailers.
pub const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// `x-amz-content-sha256` of an unsigned aws-chunked upload with a trailing checksum.
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// What chunk signatures of an aws-chunked upload chain from: the verified seed signature
/// and the key that made it.
#[derive(Debug, Clone)]
pub struct ChunkSigning {
    /// The signing key (zeroized on drop).
    pub key: sigv4::key::SigningKey,
    /// The seed signature (the verified header signature).
    pub seed: [u8; 32],
    /// `x-amz-date` of the request.
    pub amz_date: String,
    /// `<date>/<region>/s3/aws4_request`.
    pub scope: String,
}

/// A verified request's identity: the same value whatever the scheme.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The access key that signed.
    pub access_key_id: Arc<str>,
    /// How it signed.
    pub scheme: AuthScheme,
    /// What the signature covers of the body.
    pub payload: PayloadHash,
    /// When a pre-signed URL stops working.
    pub expires_at: Option<OffsetDateTime>,
    /// For signed aws-chunked uploads, what the chunk signatures chain from.
    pub chunk_signing: Option<ChunkSigning>,
}

/// Verification settings from `[auth]`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Longest pre-signed lifetime accepted, seconds.
    pub max_expires_secs: u64,
    /// Tolerance for signing times in the future.
    pub clock_skew: Duration,
    /// Whether `SignatureDoesNotMatch` carries the canonical request and string to sign.
    pub mismatch_details: bool,
    /// Whether Signature Version 2 is accepted at all.
    pub sigv2: bool,
}

/// Verifies requests against a credential store.
#[derive(Debug)]
pub struct Authenticator {
    settings: AuthSettings,
    store: CredentialStore,
}

/// Which authentication a request carries; found by looking at all of them.
#[derive(Debug, Default, Clone, Copy)]
struct Signals {
    query_v4: bool,
    query_v2: bool,
    header: bool,
}

impl Signals {
    fn scan(req: &RequestView<'_>) -> Signals {
        let mut s = Signals {
            header: req.headers.contains_key(http::header::AUTHORIZATION),
            ..Signals::default()
        };
        for pair in req.raw_query.unwrap_or("").split('&') {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            if sigv4::presigned::auth_param_index(&name).is_some_and(|i| i != 7) {
                s.query_v4 = true;
            }
            if ["AWSAccessKeyId", "Signature"]
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&name))
            {
                s.query_v2 = true;
            }
        }
        s
    }
}

impl Authenticator {
    /// An authenticator over `store`.
    pub fn new(settings: AuthSettings, store: CredentialStore) -> Self {
        Authenticator { settings, store }
    }

    /// The settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// The credentials.
    pub fn store(&self) -> &CredentialStore {
        &self.store
    }

    /// Verifies `req` and returns who signed it.
    pub fn authenticate(&self, req: &RequestView<'_>) -> Result<Identity, GatewayError> {
        self.authenticate_for(
            req,
            &Target {
                bucket: None,
                key: None,
                virtual_hosted: false,
            },
        )
    }

    /// Verifies `req`, addressed to `target`, and returns who signed it. (SigV2 signs the
    /// bucket of a virtual-hosted request, which is not in the path.)
    pub fn authenticate_for(&self, req: &RequestView<'_>, target: &Target) -> Result<Identity, GatewayError> {
        let s = Signals::scan(req);
        match (s.query_v4, s.query_v2, s.header) {
            (false, false, false) => Err(GatewayError::auth(S3ErrorCode::AccessDenied, "Access Denied")),
            (true, false, false) => self.verify_presigned(req, req.raw_query.unwrap_or("")),
            (false, true, false) => self.verify_query_v2(req, target),
            (false, false, true) => {
                let value = req.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
                if value.starts_with("AWS4-HMAC-SHA256 ") {
                    self.verify_header_v4(req, value)
                } else if value.starts_with("AWS ") {
                    self.verify_header_v2(req, target, value)
                } else {
                    Err(GatewayError::auth(S3ErrorCode::InvalidArgument, "Unsupported Authorization Type")
                        .with_detail("ArgumentName", "Authorization"))
                }
            }
            _ => Err(GatewayError::auth(
                S3ErrorCode::InvalidArgument,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
            )
            .with_detail("ArgumentName", "Authorization")),
        }
    }
}
