//! AWS Signature Version 4 for S3: canonicalisation, keys, and the checks shared by
//! pre-signed URLs and `Authorization` headers.

pub mod canonical;
pub mod chunked;
pub mod date;
pub mod encode;
pub mod header;
pub mod key;
pub mod presigned;
pub mod sign;
pub mod signature;
#[cfg(test)]
mod vector_tests;

use std::sync::Arc;

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::response::{GatewayError, S3ErrorCode};

use canonical::{write_string_to_sign, CanonicalRequest, CredentialScopeRef};
use date::AmzDate;
use signature::Signature;

use super::Authenticator;

/// A parsed credential: `<access-key-id>/<yyyymmdd>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, Copy)]
pub struct CredentialScope<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// `yyyymmdd`.
    pub date: &'a str,
    /// Region.
    pub region: &'a str,
    /// Service.
    pub service: &'a str,
}

impl<'a> CredentialScope<'a> {
    /// The scope without the access key id.
    pub fn as_ref(&self) -> CredentialScopeRef<'a> {
        CredentialScopeRef {
            date: self.date,
            region: self.region,
            service: self.service,
        }
    }
}

/// Why a credential was refused; rendered with the code of the auth method in use.
#[derive(Debug)]
pub struct CredentialProblem {
    message: String,
    region: Option<String>,
}

impl CredentialProblem {
    /// The error for this problem under `code`, with `prefix` before the message.
    pub fn into_error(self, code: S3ErrorCode, prefix: &str) -> GatewayError {
        let mut e = GatewayError::auth(code, format!("{prefix}{}", self.message));
        if let Some(region) = self.region {
            e = e.with_detail("Region", region);
        }
        e
    }
}

/// Splits and checks a credential against the request date and the gateway's region.
pub fn parse_credential<'a>(
    credential: &'a str,
    amz_date: &AmzDate,
    region: &str,
) -> Result<CredentialScope<'a>, CredentialProblem> {
    let problem = |message: String| CredentialProblem { message, region: None };
    let mut parts = credential.split('/');
    let (Some(access_key_id), Some(date), Some(scope_region), Some(service), Some(terminal), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(problem(format!("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\". (\"{credential}\")")));
    };
    if access_key_id.is_empty() {
        return Err(problem("the access key id is empty.".to_owned()));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(problem(format!(
            "incorrect date format \"{date}\". This date in the credential must be in the format \"yyyyMMdd\"."
        )));
    }
    if date != amz_date.date_str() {
        return Err(problem(format!(
            "the date in the credential \"{date}\" does not match the request date \"{}\".",
            amz_date.date_str()
        )));
    }
    if scope_region != region {
        return Err(CredentialProblem {
            message: format!("the region '{scope_region}' is wrong; expecting '{region}'"),
            region: Some(region.to_owned()),
        });
    }
    if service != "s3" {
        return Err(problem(format!(
            "incorrect service \"{service}\". This endpoint belongs to \"s3\"."
        )));
    }
    if terminal != "aws4_request" {
        return Err(problem(format!(
            "incorrect terminal \"{terminal}\". This endpoint uses \"aws4_request\"."
        )));
    }
    Ok(CredentialScope {
        access_key_id,
        date,
        region: scope_region,
        service,
    })
}

/// Checks the `SignedHeaders` list: well formed, `host` included, and every `x-amz-*`
/// header of the request included. An unsigned `x-amz-*` header is refused because the
/// gateway re-signs what it forwards: an unsigned `x-amz-copy-source` would otherwise turn
/// a pre-signed PUT into a copy of anything the upstream key can read.
pub fn check_signed_headers(
    signed_headers: &str,
    headers: &HeaderMap,
    malformed: S3ErrorCode,
) -> Result<(), GatewayError> {
    let well_formed = !signed_headers.is_empty()
        && signed_headers.split(';').all(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
        });
    if !well_formed {
        return Err(GatewayError::auth(
            malformed,
            format!("SignedHeaders must be a ';'-separated list of lower-case header names; got \"{signed_headers}\""),
        ));
    }
    let is_signed = |name: &str| signed_headers.split(';').any(|h| h == name);
    let mut not_signed: Vec<&str> = Vec::new();
    if !is_signed("host") {
        not_signed.push("host");
    }
    for name in headers.keys() {
        let name = name.as_str();
        if name.starts_with("x-amz-") && !is_signed(name) && !not_signed.contains(&name) {
            not_signed.push(name);
        }
    }
    if not_signed.is_empty() {
        Ok(())
    } else {
        Err(GatewayError::auth(
            S3ErrorCode::AccessDenied,
            "There were headers present in the request which were not signed",
        )
        .with_detail("HeadersNotSigned", not_signed.join(", ")))
    }
}

/// Everything the final signature comparison needs.
pub struct SignatureCheck<'a> {
    /// The access key id the client named.
    pub access_key_id: &'a str,
    /// The signing time.
    pub amz_date: &'a AmzDate,
    /// The credential scope.
    pub scope: &'a CredentialScopeRef<'a>,
    /// The canonical request.
    pub canonical: &'a CanonicalRequest<'a>,
}

/// A signature that verified.
pub struct Verified {
    /// The access key id.
    pub access_key_id: Arc<str>,
    /// Which of the credential's secrets it was made with.
    pub secret_index: usize,
    /// The signing key it was made with (chunk signatures chain from it).
    pub key: key::SigningKey,
}

/// Computes the expected signature under every secret of the named credential (or the
/// decoy) and compares it with `provided` in constant time. Returns the verified access
/// key id and which of its secrets matched, or `InvalidAccessKeyId` /
/// `SignatureDoesNotMatch` as S3 does. The same work is done whether the key exists or the
/// signature is well formed.
pub fn verify_signature(
    auth: &Authenticator,
    check: SignatureCheck<'_>,
    provided: Option<&Signature>,
    provided_text: &str,
) -> Result<Verified, GatewayError> {
    let canonical_hash = check.canonical.hash();
    let lookup = auth.store().lookup(check.access_key_id);
    let placeholder = Signature::placeholder();
    let provided_sig = provided.unwrap_or(&placeholder);
    let mut matched = None;
    for i in 0..lookup.credential.secrets().len() {
        let key = auth.store().signing_key(lookup.credential, i, check.scope.date);
        let mut mac = key.mac();
        write_string_to_sign(check.amz_date.as_str(), check.scope, &canonical_hash, &mut mac);
        if provided_sig.verify(&mac.finish()) && matched.is_none() {
            matched = Some((i, key));
        }
    }
    if !lookup.known {
        return Err(GatewayError::auth(
            S3ErrorCode::InvalidAccessKeyId,
            S3ErrorCode::InvalidAccessKeyId.default_message(),
        )
        .with_detail("AWSAccessKeyId", check.access_key_id));
    }
    if let (Some((secret_index, key)), Some(_)) = (matched, provided) {
        return Ok(Verified {
            access_key_id: lookup.credential.access_key_id().clone(),
            secret_index,
            key,
        });
    }
    let mut err = GatewayError::auth(
        S3ErrorCode::SignatureDoesNotMatch,
        S3ErrorCode::SignatureDoesNotMatch.default_message(),
    )
    .with_detail("AWSAccessKeyId", check.access_key_id);
    if auth.settings().mismatch_details {
        let canonical_text = check.canonical.to_text();
        let mut sts = Vec::with_capacity(256);
        write_string_to_sign(
            check.amz_date.as_str(),
            check.scope,
            &Sha256::digest(canonical_text.as_bytes()).into(),
            &mut sts,
        );
        let sts = String::from_utf8_lossy(&sts).into_owned();
        err = err
            .with_detail("StringToSign", sts.clone())
            .with_detail("SignatureProvided", provided_text)
            .with_detail("StringToSignBytes", spaced_hex(sts.as_bytes()))
            .with_detail("CanonicalRequest", canonical_text.clone())
            .with_detail("CanonicalRequestBytes", spaced_hex(canonical_text.as_bytes()));
    }
    Err(err)
}

fn spaced_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}
