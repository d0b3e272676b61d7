//! Issuing pre-signed URLs and POST forms for the gateway (`guestpass presign`, the
//! embedded default's example, the load-test command): which credential, which URL, how
//! long, and which restrictions are signed into it.

use base64::Engine;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::auth::sigv4::canonical::{CredentialScopeRef, ALGORITHM};
use crate::auth::sigv4::date::AmzDate;
use crate::auth::sigv4::key::SigningKey;
use crate::auth::sigv4::sign::{presign_url, PresignRequest};
use crate::config::Config;
use crate::policy::restrictions::Restrictions;
use crate::secret::Secret;

/// Why a URL could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PresignError {
    /// Not `s3://bucket/key`.
    #[error("expected s3://bucket/key, got {0:?}")]
    BadObject(String),
    /// Longer than the gateway accepts.
    #[error("--expires {asked}s is longer than auth.max_expires ({max}s): the gateway would refuse the URL")]
    TooLong {
        /// Requested.
        asked: u64,
        /// Allowed.
        max: u64,
    },
    /// Zero lifetime.
    #[error("--expires must be at least 1s")]
    TooShort,
    /// No such credential.
    #[error("no [[credentials]] entry with access_key_id {0:?}")]
    UnknownKey(String),
    /// The credential is disabled (revoked).
    #[error("credential {0:?} is disabled: URLs it signs would not work")]
    Disabled(String),
    /// The secret could not be read.
    #[error("cannot read the secret: {0}")]
    Secret(String),
}

/// Splits `s3://bucket/key`.
pub fn parse_s3_url(s: &str) -> Result<(&str, &str), PresignError> {
    let rest = s
        .strip_prefix("s3://")
        .ok_or_else(|| PresignError::BadObject(s.to_owned()))?;
    match rest.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b, k)),
        _ => Err(PresignError::BadObject(s.to_owned())),
    }
}

/// What to grant.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    /// HTTP method (ignored for POST forms).
    pub method: &'a str,
    /// Bucket.
    pub bucket: &'a str,
    /// Key (for POST forms it may end in `${filename}`).
    pub key: &'a str,
    /// Lifetime in seconds.
    pub expires_secs: u64,
    /// Access key to sign with (default: the first credential).
    pub access_key_id: Option<&'a str>,
    /// Restrictions signed into the grant.
    pub restrictions: &'a Restrictions,
    /// The secret to sign with, when the caller holds it already (the running gateway's
    /// loaded credential); otherwise it is read from the configuration.
    pub secret: Option<&'a Secret>,
    /// Signing time.
    pub now: OffsetDateTime,
}

fn credential<'c>(config: &'c Config, grant: &Grant<'_>) -> Result<(&'c str, Secret), PresignError> {
    let max = config.auth.max_expires.0.as_secs();
    if grant.expires_secs == 0 {
        return Err(PresignError::TooShort);
    }
    if grant.expires_secs > max {
        return Err(PresignError::TooLong {
            asked: grant.expires_secs,
            max,
        });
    }
    let cred = match grant.access_key_id {
        Some(id) => config
            .credentials
            .iter()
            .find(|c| c.access_key_id == id)
            .ok_or_else(|| PresignError::UnknownKey(id.to_owned()))?,
        None => config
            .credentials
            .iter()
            .find(|c| !c.disabled)
            .ok_or_else(|| PresignError::UnknownKey(String::new()))?,
    };
    if cred.disabled {
        return Err(PresignError::Disabled(cred.access_key_id.clone()));
    }
    let secret = match grant.secret {
        Some(s) => s.clone(),
        None => cred
            .secret_source()
            .and_then(|s| s.resolve())
            .map_err(|e| PresignError::Secret(e.to_string()))?,
    };
    Ok((&cred.access_key_id, secret))
}

/// A SigV4 pre-signed URL on `config`'s public URL, path-style.
pub fn presign(config: &Config, grant: &Grant<'_>) -> Result<String, PresignError> {
    let (access_key_id, secret) = credential(config, grant)?;
    let base = config.public_url();
    let path = format!("/{}/{}", grant.bucket, grant.key);
    let restrictions = grant.restrictions.to_query();
    let extra: Vec<(&str, &str)> = restrictions.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(presign_url(
        access_key_id,
        &secret,
        &config.auth.region,
        &PresignRequest {
            method: grant.method,
            base_url: &base,
            path: &path,
            extra_query: &extra,
            expires_secs: grant.expires_secs,
            now: grant.now,
        },
    ))
}

/// A browser POST form: where to post and the fields to send before the file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PostForm {
    /// The form's action URL.
    pub url: String,
    /// Fields, in order.
    pub fields: Vec<(String, String)>,
}

/// A SigV4-signed POST policy form (like boto3's `generate_presigned_post`). The key may
/// end in `${filename}`; restrictions become policy conditions (and `x-guestpass-ip`, which
/// a policy cannot express, a bound field the gateway enforces).
pub fn presign_post(config: &Config, grant: &Grant<'_>) -> Result<PostForm, PresignError> {
    use serde_json::{json, Value};
    let (access_key_id, secret) = credential(config, grant)?;
    let amz_date = AmzDate::from_time(grant.now);
    let scope = CredentialScopeRef {
        date: amz_date.date_str(),
        region: &config.auth.region,
        service: "s3",
    };
    let credential = format!("{access_key_id}/{scope}");
    let expiration = (grant.now + time::Duration::seconds(grant.expires_secs as i64))
        .replace_nanosecond(0)
        .unwrap_or(grant.now)
        .format(&Rfc3339)
        .unwrap_or_default();

    let mut fields: Vec<(String, String)> = vec![("key".into(), grant.key.into())];
    let mut conditions: Vec<Value> = vec![json!({ "bucket": grant.bucket })];
    match grant.key.strip_suffix("${filename}") {
        Some(prefix) => conditions.push(json!(["starts-with", "$key", prefix])),
        None => conditions.push(json!({ "key": grant.key })),
    }
    let limits = &grant.restrictions.limits;
    if limits.max_size.is_some() || limits.min_size.is_some() {
        conditions.push(json!([
            "content-length-range",
            limits.min_size.unwrap_or(0),
            limits.max_size.unwrap_or(u64::MAX >> 11)
        ]));
    }
    for list in &limits.content_types {
        // A policy condition can name one family or one exact type.
        if let [one] = list.as_slice() {
            let p = one.to_string();
            match p.strip_suffix('*') {
                Some(family) => conditions.push(json!(["starts-with", "$Content-Type", family])),
                None => {
                    conditions.push(json!({ "Content-Type": p }));
                    fields.push(("Content-Type".into(), p));
                }
            }
        } else {
            let joined: Vec<String> = list.iter().map(|p| p.to_string()).collect();
            let value = joined.join(",");
            conditions.push(json!({ "x-guestpass-content-type": value }));
            fields.push(("x-guestpass-content-type".into(), value));
        }
    }
    if !grant.restrictions.ip_ranges.is_empty() {
        let value = grant
            .restrictions
            .ip_ranges
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",");
        conditions.push(json!({ "x-guestpass-ip": value }));
        fields.push(("x-guestpass-ip".into(), value));
    }
    if let Some(id) = &grant.restrictions.issuance {
        conditions.push(json!({ "x-guestpass-issuance": id }));
        fields.push(("x-guestpass-issuance".into(), id.clone()));
    }
    conditions.push(json!({ "x-amz-algorithm": ALGORITHM }));
    conditions.push(json!({ "x-amz-credential": credential }));
    conditions.push(json!({ "x-amz-date": amz_date.as_str() }));
    let policy = json!({ "expiration": expiration, "conditions": conditions }).to_string();
    let policy_b64 = base64::engine::general_purpose::STANDARD.encode(policy);
    let key = SigningKey::derive(&secret, amz_date.date_str(), &config.auth.region, "s3");
    let signature = hex::encode(key.sign(policy_b64.as_bytes()));
    fields.extend([
        ("x-amz-algorithm".to_owned(), ALGORITHM.to_owned()),
        ("x-amz-credential".to_owned(), credential),
        ("x-amz-date".to_owned(), amz_date.as_str().to_owned()),
        ("policy".to_owned(), policy_b64),
        ("x-amz-signature".to_owned(), signature),
    ]);
    Ok(PostForm {
        url: format!("{}/{}", config.public_url(), grant.bucket),
        fields,
    })
}
