//! One request, start to end: addressing -> auth -> policy -> upstream, then the answer.
//! One span and one access-log line per request. Stages return values or errors; only
//! this module turns them into a response (through `response/`).

mod post_form;

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use rand::RngCore;
use time::OffsetDateTime;

use crate::app::App;
use crate::auth::body::{preread, verify_sha256, BodyVerdict, CheckedBody, DigestCheck, Digests};
use crate::auth::sigv2::QUERY_PARAMS;
use crate::auth::sigv4::canonical::UNSIGNED_PAYLOAD;
use crate::auth::sigv4::chunked::{AwsChunkedBody, ChecksumAlgorithm, ChunkMode};
use crate::auth::sigv4::presigned::auth_param_index;
use crate::auth::{AuthScheme, Identity, PayloadHash, RequestView};
use crate::metrics::{Outcome, RequestLabels};
use crate::policy::limit::LimitBody;
use crate::policy::restrictions::Restrictions;
use crate::policy::PolicyRequest;
use crate::response::{error_response, BoxError, GatewayBody, GatewayError, S3ErrorCode};
use crate::upstream::headers::forwarded_request_headers;
use crate::upstream::idle_body::IdleTimeoutBody;
use crate::upstream::Forward;

/// What the access log records of one request. The line is written when the response
/// body is finished or dropped, so bytes out and duration are final.
#[derive(Debug, Default)]
pub(crate) struct AccessRecord {
    request_id: String,
    peer: Option<SocketAddr>,
    method: String,
    bucket: Option<String>,
    key: Option<String>,
    access_key_id: Option<Arc<str>>,
    auth: &'static str,
    status: u16,
    error_code: Option<&'static str>,
    error_origin: Option<&'static str>,
    error_detail: Option<String>,
    bytes_in: Arc<AtomicU64>,
    bytes_out: u64,
    started: Option<Instant>,
    method_label: &'static str,
    issuance: Option<String>,
}

impl Drop for AccessRecord {
    fn drop(&mut self) {
        let m = &crate::metrics::METRICS;
        m.in_flight.dec();
        let outcome = match self.error_origin {
            None if self.status >= 400 => Outcome::upstream_status,
            None => Outcome::ok,
            Some("client") => Outcome::client_error,
            Some("auth") => Outcome::auth_error,
            Some("policy") => Outcome::policy_error,
            Some("upstream") => Outcome::upstream_error,
            Some(_) => Outcome::internal_error,
        };
        m.requests
            .get_or_create(&RequestLabels {
                method: self.method_label,
                outcome,
                code: self.error_code.unwrap_or(""),
            })
            .inc();
        m.bytes_in.inc_by(self.bytes_in.load(Ordering::Relaxed));
        m.bytes_out.inc_by(self.bytes_out);
        let duration_ms = self.started.map_or(0.0, |s| s.elapsed().as_secs_f64() * 1000.0);
        tracing::info!(
            target: "guestpass::access",
            request_id = %self.request_id,
            peer = %self.peer.map_or_else(String::new, |p| p.to_string()),
            method = %self.method,
            bucket = self.bucket.as_deref().unwrap_or(""),
            key = self.key.as_deref().unwrap_or(""),
            access_key_id = self.access_key_id.as_deref().unwrap_or(""),
            auth = self.auth,
            issuance = self.issuance.as_deref().unwrap_or(""),
            status = self.status,
            error_code = self.error_code.unwrap_or(""),
            error_origin = self.error_origin.unwrap_or(""),
            error = self.error_detail.as_deref().unwrap_or(""),
            bytes_in = self.bytes_in.load(Ordering::Relaxed),
            bytes_out = self.bytes_out,
            duration_ms,
            "request"
        );
    }
}

/// A body that counts the bytes it passes and owns the access record, so the log line is
/// written once the last byte has gone (or the client went away).
struct LoggedBody {
    inner: GatewayBody,
    record: AccessRecord,
}

impl Body for LoggedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                this.record.bytes_out += data.len() as u64;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Counts request body bytes into a shared counter.
struct CountingBody<B> {
    inner: B,
    count: Arc<AtomicU64>,
}

impl<B> Body for CountingBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.count.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn new_request_id() -> String {
    let mut b = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode_upper(b)
}

/// Handles one request.
pub async fn handle<B>(app: Arc<App>, req: Request<B>, peer: Option<SocketAddr>) -> Response<GatewayBody>
where
    B: Body<Data = Bytes> + Send + Sync + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let mut record = AccessRecord::default();
    record.request_id = new_request_id();
    record.peer = peer;
    record.method = req.method().to_string();
    record.method_label = crate::metrics::method_label(req.method());
    crate::metrics::METRICS.in_flight.inc();
    record.started = Some(Instant::now());
    let head = req.method() == Method::HEAD;
    let method = req.method().clone();
    let origin = req.headers().get(http::header::ORIGIN).cloned();
    let span = tracing::debug_span!("request", id = %record.request_id);
    let _enter = span.enter();
    let (parts, body) = req.into_parts();
    let declares_body = parts.headers.contains_key(http::header::TRANSFER_ENCODING)
        || parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    let awaits_continue = parts
        .headers
        .get(http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    // One verdict for every check on the body, including a client that stops sending its
    // upload: after idle_timeout of silence it is cut with S3's RequestTimeout.
    let verdict = BodyVerdict::default();
    let counted = CountingBody {
        inner: body,
        count: record.bytes_in.clone(),
    }
    .boxed();
    let stalled = GatewayError::client(
        S3ErrorCode::RequestTimeout,
        "Your socket connection to the server was not read from or written to within the timeout period.",
    );
    let idle = app.config().server.idle_timeout.0;
    let mut body = Some(IdleTimeoutBody::new(counted, idle, stalled, Some(verdict.clone())).boxed());
    let result = run(&app, parts, &mut body, &verdict, &mut record).await;
    let mut response = match result {
        Ok(resp) => resp,
        Err(err) => {
            // The key a refused request claimed (never its secret or signature) helps
            // trace misuse of a leaked or revoked key.
            if record.access_key_id.is_none() {
                record.access_key_id = err.detail("AWSAccessKeyId").map(Arc::from);
            }
            record.error_code = Some(err.code().as_str());
            record.error_origin = Some(err.origin().as_str());
            if matches!(
                err.origin(),
                crate::response::Origin::Upstream | crate::response::Origin::Internal
            ) {
                record.error_detail = Some(err.to_string());
            }
            let mut resp = error_response(&err, &record.request_id, head);
            // A refused upload whose body was not read: read it away (bounded) so the
            // client, still sending, sees the answer instead of a reset connection. A
            // client waiting for 100-continue has sent nothing, and gets none.
            let drained = match body.take() {
                Some(b) if declares_body && !awaits_continue => drain(b).await,
                Some(_) => !declares_body,
                None => !declares_body,
            };
            if !drained {
                resp.headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            resp
        }
    };
    if let Some(origin) = origin {
        if method != Method::OPTIONS {
            let mut req_headers = HeaderMap::new();
            req_headers.insert(http::header::ORIGIN, origin);
            app.policy()
                .cors()
                .decorate(record.bucket.as_deref(), &method, &req_headers, response.headers_mut());
        }
    }
    record.status = response.status().as_u16();
    if !response.headers().contains_key("x-amz-request-id") {
        if let Ok(v) = HeaderValue::from_str(&record.request_id) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-amz-request-id"), v);
        }
    }
    response.map(|inner| LoggedBody { inner, record }.boxed())
}

/// Reads and discards what is left of a refused request's body, up to 8 MiB and 5 s.
/// Whether it reached the end.
async fn drain(mut body: GatewayBody) -> bool {
    const MAX: usize = 8 << 20;
    let mut read = 0usize;
    let reading = async {
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return false };
            read += frame.data_ref().map_or(0, |d| d.len());
            if read > MAX {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), reading)
        .await
        .unwrap_or(false)
}

fn take_body(slot: &mut Option<GatewayBody>) -> Result<GatewayBody, GatewayError> {
    slot.take()
        .ok_or_else(|| GatewayError::internal("request body taken twice"))
}

async fn run(
    app: &App,
    parts: http::request::Parts,
    body: &mut Option<GatewayBody>,
    verdict: &BodyVerdict,
    record: &mut AccessRecord,
) -> Result<Response<GatewayBody>, GatewayError> {
    let method = parts.method.clone();
    if !matches!(
        method,
        Method::GET | Method::HEAD | Method::PUT | Method::POST | Method::DELETE | Method::OPTIONS
    ) {
        return Err(GatewayError::client(
            S3ErrorCode::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        )
        .with_detail("Method", method.to_string()));
    }

    let url_len = parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if url_len > app.config().server.max_url_length {
        return Err(GatewayError::client(
            S3ErrorCode::UriTooLong,
            "The request URI is longer than this gateway accepts.",
        )
        .with_detail("MaxLength", app.config().server.max_url_length.to_string()));
    }

    // RFC 9112 3.2: more than one Host line, or an invalid one, is a 400.
    let mut hosts = parts.headers.get_all(http::header::HOST).iter();
    let host_header = hosts.next();
    let bad_host = || {
        GatewayError::client(
            S3ErrorCode::InvalidArgument,
            "The Host header is missing, repeated or not a valid host.",
        )
    };
    if hosts.next().is_some() {
        return Err(bad_host());
    }
    let host_header = match host_header {
        Some(v) => {
            let v = v.to_str().map_err(|_| bad_host())?;
            let authority: http::uri::Authority = v.parse().map_err(|_| bad_host())?;
            if authority.as_str() != v || v.contains('@') {
                return Err(bad_host());
            }
            Some(v)
        }
        None => None,
    };
    // HTTP/2 and absolute-form requests name the host in the URI; HTTP/1.1 in Host.
    let host = match parts.uri.authority() {
        Some(a) => a.as_str(),
        None => host_header.ok_or_else(|| GatewayError::client(S3ErrorCode::InvalidRequest, "Missing Host header."))?,
    };
    let raw_path = parts.uri.path();
    let raw_query = parts.uri.query();

    let target = app.addressing().resolve(host, raw_path)?;
    record.bucket = target.bucket.clone();
    record.key = target.key.clone();

    if method == Method::OPTIONS {
        // CORS preflight: answered here, without authentication, as S3 does.
        let headers = app
            .policy()
            .cors()
            .preflight(target.bucket.as_deref(), &parts.headers)?;
        let mut resp = Response::new(crate::response::empty_body());
        *resp.headers_mut() = headers;
        return Ok(resp);
    }

    if post_form::is_post_form(&method, &target, &parts.headers) {
        // A browser POST upload authenticates with its form; any other credentials on the
        // same request make it ambiguous.
        if parts.headers.contains_key(http::header::AUTHORIZATION)
            || raw_query.is_some_and(|q| {
                q.split('&').any(|p| {
                    let name = p.split('=').next().unwrap_or("");
                    auth_param_index(name).is_some() || QUERY_PARAMS.contains(&name)
                })
            })
        {
            return Err(GatewayError::auth(
                S3ErrorCode::InvalidArgument,
                "Only one auth mechanism allowed: a POST form carries its own signature.",
            ));
        }
        let peer = record.peer.map_or(IpAddr::from([127, 0, 0, 1]), |p| p.ip());
        return post_form::handle(app, &parts.headers, take_body(body)?, &target, peer, record).await;
    }

    let view = RequestView {
        method: &method,
        raw_path,
        raw_query,
        headers: &parts.headers,
        host,
        now: OffsetDateTime::now_utc(),
    };
    let verify_started = Instant::now();
    let verified = app.auth().authenticate_for(&view, &target);
    crate::metrics::METRICS
        .verify_seconds
        .observe(verify_started.elapsed().as_secs_f64());
    let identity = verified.map_err(|e| hide_details(app, e))?;
    record.access_key_id = Some(identity.access_key_id.clone());
    record.auth = identity.scheme.as_str();

    let (mut query, mut headers) = upstream_query_and_headers(raw_query, &parts.headers, identity.scheme)?;
    let restrictions = Restrictions::extract(&mut query)?;
    record.issuance = restrictions.issuance.clone();
    if !restrictions.is_empty() && matches!(identity.scheme, AuthScheme::PresignedV2 | AuthScheme::HeaderV2) {
        return Err(GatewayError::auth(
            S3ErrorCode::InvalidArgument,
            "Signed restrictions need Signature Version 4: SigV2 does not sign them.",
        ));
    }
    let peer = record.peer.map_or(IpAddr::from([127, 0, 0, 1]), |p| p.ip());
    let decision = app.policy().check(&PolicyRequest {
        identity: &identity,
        method: &method,
        target: &target,
        query: &query,
        headers: &headers,
        client_ip: app.policy().client_ip(peer, &parts.headers),
        restrictions: &restrictions,
    })?;

    if let (Some((min, max)), Some(bucket), Some(key)) = (
        decision.multipart_total,
        target.bucket.as_deref(),
        target.key.as_deref(),
    ) {
        let upload_id = query
            .iter()
            .find(|(n, _)| n == "uploadId")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let total = app.upstream().multipart_size(bucket, key, upload_id).await?;
        if total > max {
            return Err(crate::policy::rules::too_large(total, max));
        }
        if total < min {
            return Err(GatewayError::policy(
                S3ErrorCode::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size.",
            )
            .with_detail("ProposedSize", total.to_string())
            .with_detail("MinSizeAllowed", min.to_string()));
        }
    }
    let flexible = method == Method::PUT && !headers.contains_key("x-amz-copy-source");
    let digests = Digests::from_headers(&headers, flexible)?;
    let (mut body, payload) = verified_body(&identity, &parts.headers, &mut headers, take_body(body)?, verdict)?;
    let checked = !digests.is_empty() || !matches!(identity.payload, PayloadHash::Unsigned);
    if !digests.is_empty() {
        body = CheckedBody::new(body, DigestCheck::new(digests), verdict.clone()).boxed();
    }
    if let Some(limit) = decision.body_limit {
        body = LimitBody::new(body, limit, verdict.clone()).boxed();
    }
    let upstream_len = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if checked && upstream_len == Some(0) {
        // The upstream would never read a body of length 0, so its checks would never
        // run: run them here, on what should be (nearly) nothing.
        let rest = preread(body, verdict, 64 * 1024).await?;
        if !rest.is_empty() {
            return Err(GatewayError::client(
                S3ErrorCode::IncompleteBody,
                "The request body is longer than its declared length.",
            ));
        }
        body = crate::response::empty_body();
    }
    let sent = app
        .upstream()
        .send(Forward {
            method,
            bucket: target.bucket.as_deref(),
            key: target.key.as_deref(),
            query,
            headers,
            body,
            payload,
        })
        .await;
    // A body that failed verification aborted the upstream request; the client gets the
    // reason, not a generic upstream error.
    if let Some(refused) = verdict.take() {
        return Err(refused);
    }
    let resp = sent?;
    if decision.filter_bucket_list && resp.status().is_success() {
        return filter_bucket_list(app, &identity, resp).await;
    }
    Ok(resp)
}

/// Cuts a ListBuckets answer down to the buckets `identity`'s scopes reach.
async fn filter_bucket_list(
    app: &App,
    identity: &Identity,
    resp: Response<GatewayBody>,
) -> Result<Response<GatewayBody>, GatewayError> {
    const MAX_LIST: usize = 4 << 20;
    let (mut parts, mut body) = resp.into_parts();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let unreadable = || GatewayError::new(S3ErrorCode::BadGateway, crate::response::Origin::Upstream);
        let frame = frame.map_err(|_| unreadable())?;
        if let Some(d) = frame.data_ref() {
            bytes.extend_from_slice(d);
        }
        if bytes.len() > MAX_LIST {
            return Err(unreadable().with_message("The upstream bucket list is too large to filter."));
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(start) = rest.find("<Bucket>") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("</Bucket>") else {
            break;
        };
        let end = start + len + "</Bucket>".len();
        let entry = &rest[start..end];
        let name = entry
            .split("<Name>")
            .nth(1)
            .and_then(|n| n.split("</Name>").next())
            .unwrap_or("");
        if app.policy().scopes().sees_bucket(&identity.access_key_id, name) {
            out.push_str(entry);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    parts.headers.remove(http::header::ETAG);
    Ok(Response::from_parts(parts, crate::response::full_body(out)))
}

/// Wraps the client body in the verification its signature calls for, adjusts the
/// upstream headers to what will actually be sent, and returns the payload line the
/// upstream request is signed with.
fn verified_body<'a>(
    identity: &'a Identity,
    client: &HeaderMap,
    headers: &mut HeaderMap,
    body: GatewayBody,
    verdict: &BodyVerdict,
) -> Result<(GatewayBody, &'a str), GatewayError> {
    match &identity.payload {
        PayloadHash::Unsigned => Ok((body, UNSIGNED_PAYLOAD)),
        PayloadHash::Sha256(hash) => Ok((verify_sha256(body, hash, verdict.clone()).boxed(), hash.as_str())),
        streaming => {
            let declared = client
                .get("x-amz-decoded-content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| {
                    GatewayError::client(
                        S3ErrorCode::MissingContentLength,
                        "aws-chunked uploads must carry x-amz-decoded-content-length.",
                    )
                })?;
            let checksum = match client.get("x-amz-trailer").map(|v| v.to_str().unwrap_or("")) {
                None => None,
                Some(name) => Some(ChecksumAlgorithm::from_trailer_name(name).ok_or_else(|| {
                    GatewayError::client(
                        S3ErrorCode::NotImplemented,
                        format!("Trailing header {name:?} is not supported."),
                    )
                })?),
            };
            let mode = match (streaming, &identity.chunk_signing) {
                (PayloadHash::StreamingSigned { trailer }, Some(signing)) => ChunkMode::Signed {
                    signing: signing.clone(),
                    trailer: *trailer,
                },
                (PayloadHash::StreamingUnsignedTrailer, _) => ChunkMode::UnsignedTrailer,
                _ => {
                    return Err(GatewayError::internal(
                        "signed aws-chunked identity without chunk signing",
                    ))
                }
            };
            // The upstream receives plain bytes of the decoded length.
            for name in [
                "x-amz-decoded-content-length",
                "x-amz-trailer",
                "x-amz-sdk-checksum-algorithm",
            ] {
                headers.remove(name);
            }
            let encodings: Vec<String> = headers
                .get_all(http::header::CONTENT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
                .map(str::to_owned)
                .collect();
            headers.remove(http::header::CONTENT_ENCODING);
            if !encodings.is_empty() {
                if let Ok(v) = HeaderValue::from_str(&encodings.join(",")) {
                    headers.insert(http::header::CONTENT_ENCODING, v);
                }
            }
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(declared));
            let body = AwsChunkedBody::new(body, mode, declared, checksum, verdict.clone()).boxed();
            Ok((body, UNSIGNED_PAYLOAD))
        }
    }
}

/// The client's query without its authentication, and the headers to forward. Signed
/// `x-amz-*` query parameters (SDK presigners hoist headers such as `x-amz-acl` into the
/// URL) act as the headers they stand for, as in S3; naming one both ways is refused.
fn upstream_query_and_headers(
    raw_query: Option<&str>,
    client: &HeaderMap,
    scheme: AuthScheme,
) -> Result<(Vec<(String, String)>, HeaderMap), GatewayError> {
    // Headers that name one thing: with two values, policy might check one while the
    // upstream acts on the other.
    for name in ["content-type", "content-md5", "range", "x-amz-copy-source", "x-amz-acl"] {
        if client.get_all(name).iter().nth(1).is_some() {
            return Err(GatewayError::client(
                S3ErrorCode::InvalidArgument,
                format!("The {name} header may be given only once."),
            )
            .with_detail("ArgumentName", name));
        }
    }
    let mut headers = forwarded_request_headers(client);
    let mut query = Vec::new();
    let mut buf = crate::auth::sigv4::encode::DecodeBuf::new();
    for pair in raw_query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        crate::auth::sigv4::encode::decode_into(raw_name.as_bytes(), true, &mut buf);
        let v2 = matches!(scheme, AuthScheme::PresignedV2 | AuthScheme::HeaderV2);
        {
            // Authentication parameters are dropped before anything is copied.
            let name = String::from_utf8_lossy(&buf);
            if auth_param_index(&name).is_some() || (v2 && QUERY_PARAMS.contains(&name.as_ref())) {
                continue;
            }
        }
        let name = String::from_utf8_lossy(&buf).into_owned();
        crate::auth::sigv4::encode::decode_into(raw_value.as_bytes(), true, &mut buf);
        let value = String::from_utf8_lossy(&buf).into_owned();
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("x-amz-") && v2 {
            // SigV2 signs no query parameter but sub-resources: an x-amz-* one is unsigned.
            return Err(GatewayError::auth(
                S3ErrorCode::AccessDenied,
                "There were headers present in the request which were not signed",
            )
            .with_detail("HeadersNotSigned", lower));
        }
        if lower.starts_with("x-amz-") {
            let bad = || {
                GatewayError::client(
                    S3ErrorCode::InvalidArgument,
                    format!("Query parameter {name} is not a valid header."),
                )
            };
            let hname = HeaderName::from_bytes(lower.as_bytes()).map_err(|_| bad())?;
            let hvalue = HeaderValue::from_str(&value).map_err(|_| bad())?;
            if client.contains_key(&hname) {
                return Err(GatewayError::client(
                    S3ErrorCode::InvalidArgument,
                    format!("{name} is given both as a header and as a query parameter."),
                ));
            }
            headers.append(hname, hvalue);
            continue;
        }
        query.push((name, value));
    }
    Ok((query, headers))
}

fn hide_details(app: &App, e: GatewayError) -> GatewayError {
    if app.auth().settings().mismatch_details {
        e
    } else {
        e.without_details(&[
            "StringToSign",
            "StringToSignBytes",
            "CanonicalRequest",
            "CanonicalRequestBytes",
            "SignatureProvided",
        ])
    }
}
