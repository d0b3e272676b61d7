//! Browser POST uploads, start to end: read the form up to its file, verify the policy's
//! signature and conditions, apply the gateway's own policy as for a PUT of the same
//! object, and stream the file upstream as a PUT of its exact length (the upstream needs
//! no POST support). Answers as S3 does: `success_action_redirect` (303),
//! `success_action_status` 200, 201 (with a PostResponse document) or 204.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use time::OffsetDateTime;

use crate::addressing::{Target, MAX_KEY_BYTES};
use crate::app::App;
use crate::auth::body::BodyVerdict;
use crate::auth::post_policy::check_length;
use crate::auth::post_policy::form::{read_form, PostForm};
use crate::auth::sigv4::canonical::UNSIGNED_PAYLOAD;
use crate::auth::sigv4::encode::{encode, PATH, QUERY_COMPONENT};
use crate::policy::restrictions::Restrictions;
use crate::policy::PolicyRequest;
use crate::response::{full_body, GatewayBody, GatewayError, S3ErrorCode, XmlWriter};
use crate::upstream::Forward;

use super::AccessRecord;

/// Form fields that become headers of the upstream PUT (besides `x-amz-*`).
const HEADER_FIELDS: &[&str] = &["cache-control", "content-disposition", "content-encoding", "expires"];
/// `x-amz-*` form fields that belong to the form's own authentication.
const AUTH_FIELDS: &[&str] = &[
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-signature",
    "x-amz-security-token",
];

/// Whether a request is a browser POST upload: a POST to a bucket with a form body.
pub fn is_post_form(method: &Method, target: &Target, headers: &HeaderMap) -> bool {
    *method == Method::POST
        && target.bucket.is_some()
        && target.key.is_none()
        && headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Handles a browser POST upload.
pub async fn handle(
    app: &App,
    headers: &HeaderMap,
    body: GatewayBody,
    target: &Target,
    peer: IpAddr,
    record: &mut AccessRecord,
) -> Result<Response<GatewayBody>, GatewayError> {
    let bucket = target.bucket.as_deref().unwrap_or_default();
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let content_length = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());

    let form = read_form(body, content_type, content_length).await?;
    let (key, up, len) = match check(app, headers, &form, target, peer, record) {
        Ok(checked) => checked,
        Err(e) => {
            // Read away the rest of the refused form, so the client sees the answer.
            form.drain().await;
            return Err(e);
        }
    };

    let redirect = form
        .field("success_action_redirect")
        .or_else(|| form.field("redirect"))
        .map(str::to_owned);
    let status = form.field("success_action_status").map(str::to_owned);
    let verdict = BodyVerdict::default();
    use http_body_util::BodyExt;
    let file = form.into_file_body(len, verdict.clone()).boxed();
    let sent = app
        .upstream()
        .send(Forward {
            method: Method::PUT,
            bucket: Some(bucket),
            key: Some(&key),
            query: Vec::new(),
            headers: up,
            body: file,
            payload: UNSIGNED_PAYLOAD,
        })
        .await;
    if let Some(refused) = verdict.take() {
        return Err(refused);
    }
    let resp = sent?;
    if !resp.status().is_success() {
        return Ok(resp);
    }
    let etag = resp
        .headers()
        .get(http::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    Ok(success(
        app,
        bucket,
        &key,
        &etag,
        redirect.as_deref(),
        status.as_deref(),
    ))
}

fn success(
    app: &App,
    bucket: &str,
    key: &str,
    etag: &str,
    redirect: Option<&str>,
    status: Option<&str>,
) -> Response<GatewayBody> {
    let mut resp = Response::new(crate::response::empty_body());
    if let Ok(v) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(http::header::ETAG, v);
    }
    let location = format!("{}/{}/{}", app.public_url(), bucket, encode(key.as_bytes(), PATH));
    if let Some(url) = redirect.filter(|u| u.starts_with("http://") || u.starts_with("https://")) {
        let sep = if url.contains('?') { '&' } else { '?' };
        let target = format!(
            "{url}{sep}bucket={}&key={}&etag={}",
            encode(bucket.as_bytes(), QUERY_COMPONENT),
            encode(key.as_bytes(), QUERY_COMPONENT),
            encode(etag.as_bytes(), QUERY_COMPONENT)
        );
        if let Ok(v) = HeaderValue::from_str(&target) {
            *resp.status_mut() = StatusCode::SEE_OTHER;
            resp.headers_mut().insert(http::header::LOCATION, v);
            return resp;
        }
    }
    match status {
        Some("200") => *resp.status_mut() = StatusCode::OK,
        Some("201") => {
            let mut w = XmlWriter::new();
            w.open("PostResponse")
                .element("Location", &location)
                .element("Bucket", bucket)
                .element("Key", key)
                .element("ETag", etag)
                .close("PostResponse");
            resp = Response::new(full_body(w.finish()));
            *resp.status_mut() = StatusCode::CREATED;
            resp.headers_mut()
                .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
            if let Ok(v) = HeaderValue::from_str(etag) {
                resp.headers_mut().insert(http::header::ETAG, v);
            }
        }
        _ => *resp.status_mut() = StatusCode::NO_CONTENT,
    }
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    resp
}

/// Everything decided before a byte of the file goes upstream: signature, policy
/// conditions, content-length-range, and the gateway's own policy as for a PUT. Returns
/// the key, the upstream headers and the file length.
fn check(
    app: &App,
    headers: &HeaderMap,
    form: &PostForm,
    target: &Target,
    peer: IpAddr,
    record: &mut AccessRecord,
) -> Result<(String, HeaderMap, u64), GatewayError> {
    let bucket = target.bucket.as_deref().unwrap_or_default();
    let now = OffsetDateTime::now_utc();
    let (identity, policy) = app.auth().verify_post_form(&form.fields, now)?;
    record.access_key_id = Some(identity.access_key_id.clone());
    record.auth = identity.scheme.as_str();

    let mut fields = form.fields.clone();
    let key_field = fields.iter_mut().find(|(n, _)| n == "key").ok_or_else(|| {
        GatewayError::client(
            S3ErrorCode::InvalidArgument,
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
        )
        .with_detail("ArgumentName", "key")
    })?;
    key_field.1 = key_field.1.replace("${filename}", &form.file_name);
    let key = key_field.1.clone();
    if key.is_empty() {
        return Err(GatewayError::client(
            S3ErrorCode::InvalidArgument,
            "User key must have a length greater than 0.",
        )
        .with_detail("ArgumentName", "key"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(GatewayError::client(
            S3ErrorCode::KeyTooLongError,
            "Your key is too long",
        ));
    }
    record.key = Some(key.clone());
    policy.check_fields(&fields, bucket, now)?;

    let len = form.file_len.ok_or_else(|| {
        GatewayError::client(
            S3ErrorCode::MissingContentLength,
            "POST uploads must carry a Content-Length.",
        )
    })?;
    check_length(policy.length_range(), len)?;

    let object_type = form
        .field("content-type")
        .map(str::to_owned)
        .or_else(|| form.file_content_type.clone())
        .unwrap_or_else(|| "binary/octet-stream".to_owned());
    let mut up = HeaderMap::new();
    let bad = |name: &str| {
        GatewayError::client(
            S3ErrorCode::InvalidArgument,
            format!("Form field {name} is not a valid header value."),
        )
    };
    up.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_str(&object_type).map_err(|_| bad("Content-Type"))?,
    );
    up.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    for (name, value) in &fields {
        let header = if HEADER_FIELDS.contains(&name.as_str())
            || (name.starts_with("x-amz-") && !AUTH_FIELDS.contains(&name.as_str()))
        {
            name.clone()
        } else if name == "acl" {
            "x-amz-acl".to_owned()
        } else {
            continue;
        };
        let hname = HeaderName::from_bytes(header.as_bytes()).map_err(|_| bad(name))?;
        up.insert(hname, HeaderValue::from_str(value).map_err(|_| bad(name))?);
    }

    // Restrictions a form carries are fields the policy binds (every field must be
    // covered, and starts-with is not allowed on them), enforced like URL restrictions.
    let mut restriction_fields: Vec<(String, String)> = fields
        .iter()
        .filter(|(n, _)| n.starts_with(crate::policy::restrictions::PREFIX))
        .cloned()
        .collect();
    let restrictions = Restrictions::extract(&mut restriction_fields)?;
    record.issuance = restrictions.issuance.clone();
    let object = Target {
        bucket: Some(bucket.to_owned()),
        key: Some(key.clone()),
        virtual_hosted: target.virtual_hosted,
    };
    let decision = app.policy().check(&PolicyRequest {
        identity: &identity,
        method: &Method::PUT,
        target: &object,
        query: &[],
        headers: &up,
        client_ip: app.policy().client_ip(peer, headers),
        restrictions: &restrictions,
    })?;
    if let Some(limit) = decision.body_limit {
        if len > limit {
            return Err(crate::policy::rules::too_large(len, limit));
        }
    }

    Ok((key, up, len))
}
