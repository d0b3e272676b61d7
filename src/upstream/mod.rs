//! The upstream leg: strip the client's authentication, re-sign with the gateway's own
//! upstream credentials (SigV4 header auth, `UNSIGNED-PAYLOAD` or the client's pinned
//! hash), and stream the request and the answer through a pooled keep-alive client.
//! Bodies are never collected.

pub mod counted;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod headers;
pub mod idle_body;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Uri};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use time::OffsetDateTime;

use crate::auth::sigv4::canonical::CanonicalQuery;
use crate::auth::sigv4::date::AmzDate;
use crate::auth::sigv4::encode::{encode, PATH};
use crate::auth::sigv4::key::SigningKey;
use crate::auth::sigv4::sign::sign_request_headers;
use crate::response::{BoxError, GatewayBody, GatewayError, S3ErrorCode};
use crate::secret::Secret;
use http_body::Body as _;
use http_body_util::BodyExt;

/// Which trust roots verify the upstream's TLS certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsRoots {
    /// Mozilla's roots compiled in (`webpki-roots`): the same everywhere.
    #[default]
    Webpki,
    /// The operating system's store.
    Native,
}

/// What the upstream client needs.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// `http(s)://host[:port]`.
    pub endpoint: String,
    /// Region the upstream signs for.
    pub region: String,
    /// Upstream access key id.
    pub access_key_id: String,
    /// Upstream secret.
    pub secret: Secret,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Time allowed for response headers.
    pub response_timeout: Duration,
    /// Idle pooled connections are closed after this.
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// TLS roots.
    pub tls_roots: TlsRoots,
}

/// The pooled, signing client of one upstream.
pub struct Upstream {
    client: Client<HttpsConnector<counted::CountingConnector<HttpConnector>>, GatewayBody>,
    scheme: Scheme,
    authority: Authority,
    host: HeaderValue,
    region: String,
    access_key_id: String,
    secret: Secret,
    key: Mutex<Option<([u8; 8], SigningKey)>>,
    response_timeout: Duration,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("endpoint", &format_args!("{}://{}", self.scheme, self.authority))
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A request bound for the upstream.
pub struct Forward<'a> {
    /// Method.
    pub method: Method,
    /// Bucket, if any.
    pub bucket: Option<&'a str>,
    /// Key, if any.
    pub key: Option<&'a str>,
    /// The client's query parameters to pass on (decoded), authentication removed.
    pub query: Vec<(String, String)>,
    /// Headers to send (already filtered), besides host and authentication.
    pub headers: HeaderMap,
    /// The body, streamed.
    pub body: GatewayBody,
    /// The payload line to sign: `UNSIGNED-PAYLOAD` or a hex SHA-256.
    pub payload: &'a str,
}

impl Upstream {
    /// Builds the client. Fails on an unusable endpoint or TLS setup.
    pub fn new(s: UpstreamSettings) -> anyhow::Result<Upstream> {
        let uri: Uri = s.endpoint.parse()?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("upstream endpoint has no scheme"))?;
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("upstream endpoint has no host"))?;
        let host = HeaderValue::from_str(authority_for_host(&scheme, &authority))?;

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(s.connect_timeout));
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(60)));
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match s.tls_roots {
            TlsRoots::Webpki => builder.with_webpki_roots(),
            TlsRoots::Native => builder.with_native_roots()?,
        };
        let connector = builder
            .https_or_http()
            .enable_http1()
            .wrap_connector(counted::CountingConnector(http));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(s.pool_idle_timeout)
            .pool_max_idle_per_host(s.pool_max_idle_per_host)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Upstream {
            client,
            scheme,
            authority,
            host,
            region: s.region,
            access_key_id: s.access_key_id,
            secret: s.secret,
            key: Mutex::new(None),
            response_timeout: s.response_timeout,
        })
    }

    fn signing_key(&self, day: &str) -> SigningKey {
        let mut day_bytes = [0u8; 8];
        day_bytes.copy_from_slice(&day.as_bytes()[..8]);
        let mut guard = self.key.lock().unwrap_or_else(|p| p.into_inner());
        match &*guard {
            Some((d, k)) if *d == day_bytes => k.clone(),
            _ => {
                let k = SigningKey::derive(&self.secret, day, &self.region, "s3");
                *guard = Some((day_bytes, k.clone()));
                k
            }
        }
    }

    /// Signs and sends `fwd`; returns the upstream's response head with its body still
    /// streaming.
    pub async fn send(&self, fwd: Forward<'_>) -> Result<Response<GatewayBody>, GatewayError> {
        let mut path = String::with_capacity(64);
        if let Some(bucket) = fwd.bucket {
            path.push('/');
            path.push_str(bucket);
            if let Some(key) = fwd.key {
                path.push('/');
                path.push_str(key);
            }
        } else {
            path.push('/');
        }
        let encoded_path = encode(path.as_bytes(), PATH);
        let query = CanonicalQuery::from_decoded(fwd.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let path_and_query = if query.is_empty() {
            encoded_path.clone()
        } else {
            format!("{encoded_path}?{}", query.to_query_string())
        };
        let uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .map_err(GatewayError::internal)?;

        let mut headers = fwd.headers;
        headers.insert(http::header::HOST, self.host.clone());
        let amz_date = AmzDate::from_time(OffsetDateTime::now_utc());
        let key = self.signing_key(amz_date.date_str());
        sign_request_headers(
            fwd.method.as_str(),
            &encoded_path,
            &query,
            &mut headers,
            fwd.payload,
            &self.access_key_id,
            &key,
            &self.region,
            &amz_date,
        );

        // A bodyless idempotent request may be sent once more, on a fresh connection,
        // when the first attempt failed before any answer (a pooled connection the
        // upstream had closed, a refused connect). Nothing else is retried.
        let retry = matches!(fwd.method, Method::GET | Method::HEAD) && fwd.body.size_hint().exact() == Some(0);
        let again = retry.then(|| (fwd.method.clone(), uri.clone(), headers.clone()));
        // The response timeout counts from the end of the request body: a store answers
        // an upload only once it has it all, and a large upload may take long.
        let body_sent = Arc::new(tokio::sync::Notify::new());
        let body = EndSignal {
            inner: fwd.body,
            done: Some(body_sent.clone()),
        }
        .boxed();
        let mut req = Request::new(body);
        *req.method_mut() = fwd.method;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;

        let started = std::time::Instant::now();
        let mut answered = self.request_with_timeout(req, &body_sent).await;
        if let (Some((method, uri, headers)), Ok(Err(e))) = (again, &answered) {
            if e.is_connect() || is_closed_before_answer(e) {
                tracing::debug!(error = %e, "retrying a bodyless idempotent upstream request once");
                let mut req = Request::new(crate::response::empty_body());
                *req.method_mut() = method;
                *req.uri_mut() = uri;
                *req.headers_mut() = headers;
                answered = tokio::time::timeout(self.response_timeout, self.client.request(req)).await;
            }
        }
        crate::metrics::METRICS
            .upstream_seconds
            .observe(started.elapsed().as_secs_f64());
        match answered {
            Err(_) => Err(GatewayError::upstream(
                S3ErrorCode::GatewayTimeout,
                "The upstream store did not answer in time.",
                "upstream response timeout",
            )),
            Ok(Err(e)) if e.is_connect() => Err(GatewayError::upstream(
                S3ErrorCode::ServiceUnavailable,
                "The upstream store could not be reached.",
                e,
            )),
            Ok(Err(e)) => Err(GatewayError::upstream(
                S3ErrorCode::BadGateway,
                "The upstream store failed to answer.",
                e,
            )),
            Ok(Ok(mut resp)) => {
                headers::strip_hop_by_hop(resp.headers_mut());
                if resp.status() == http::StatusCode::FORBIDDEN {
                    return refused_credentials(resp).await;
                }
                // A body that stops coming is cut after the response timeout of silence.
                let idle = self.response_timeout;
                Ok(resp.map(|b| {
                    let err = GatewayError::upstream(
                        S3ErrorCode::GatewayTimeout,
                        "The upstream store stopped sending.",
                        "upstream body idle",
                    );
                    idle_body::IdleTimeoutBody::new(b.map_err(BoxError::from), idle, err, None).boxed()
                }))
            }
        }
    }

    /// Sends a small request the gateway makes for itself (embedded-store setup).
    pub async fn send_simple(
        &self,
        method: Method,
        bucket: &str,
        key: Option<&str>,
        body: Bytes,
    ) -> Result<Response<GatewayBody>, GatewayError> {
        let payload = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&body))
        };
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("content-length"), HeaderValue::from(body.len()));
        self.send(Forward {
            method,
            bucket: Some(bucket),
            key,
            query: Vec::new(),
            headers,
            body: crate::response::full_body(body),
            payload: &payload,
        })
        .await
    }
}

impl Upstream {
    /// The total size of the parts uploaded so far to a multipart upload (ListParts,
    /// every page).
    pub async fn multipart_size(&self, bucket: &str, key: &str, upload_id: &str) -> Result<u64, GatewayError> {
        let mut total = 0u64;
        let mut marker: Option<String> = None;
        for _page in 0..100 {
            let mut query = vec![
                ("uploadId".to_owned(), upload_id.to_owned()),
                ("max-parts".to_owned(), "1000".to_owned()),
            ];
            if let Some(m) = &marker {
                query.push(("part-number-marker".to_owned(), m.clone()));
            }
            let resp = self
                .send(Forward {
                    method: Method::GET,
                    bucket: Some(bucket),
                    key: Some(key),
                    query,
                    headers: HeaderMap::new(),
                    body: crate::response::empty_body(),
                    payload: crate::auth::sigv4::canonical::EMPTY_SHA256,
                })
                .await?;
            let status = resp.status();
            let mut stream = resp.into_body();
            let mut body = Vec::new();
            while let Some(frame) = stream.frame().await {
                let unreadable = || GatewayError::new(S3ErrorCode::BadGateway, crate::response::Origin::Upstream);
                let frame = frame.map_err(|_| unreadable())?;
                if let Some(d) = frame.data_ref() {
                    body.extend_from_slice(d);
                }
                if body.len() > 4 << 20 {
                    return Err(unreadable().with_message("The upstream part list is too large."));
                }
            }
            let text = String::from_utf8_lossy(&body);
            if !status.is_success() {
                return Err(GatewayError::upstream(
                    S3ErrorCode::BadGateway,
                    "The upstream store did not list the upload's parts.",
                    format!("ListParts answered {status}"),
                ));
            }
            for part in text.split("<Part>").skip(1) {
                let size = part
                    .split("<Size>")
                    .nth(1)
                    .and_then(|s| s.split("</Size>").next())
                    .and_then(|s| s.trim().parse::<u64>().ok());
                total = total.saturating_add(size.unwrap_or(0));
            }
            let tag = |name: &str| {
                text.split(&format!("<{name}>"))
                    .nth(1)
                    .and_then(|s| s.split(&format!("</{name}>")).next())
                    .map(str::to_owned)
            };
            if tag("IsTruncated").as_deref() != Some("true") {
                return Ok(total);
            }
            marker = tag("NextPartNumberMarker");
            if marker.is_none() {
                return Ok(total);
            }
        }
        Ok(total)
    }
}

/// Signals when a body has yielded its end (or failed).
struct EndSignal {
    inner: GatewayBody,
    done: Option<Arc<tokio::sync::Notify>>,
}

impl http_body::Body for EndSignal {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        let ended = matches!(
            &polled,
            std::task::Poll::Ready(None) | std::task::Poll::Ready(Some(Err(_)))
        ) || (polled.is_ready() && self.inner.is_end_stream());
        if ended {
            if let Some(done) = self.done.take() {
                done.notify_one();
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Upstream {
    /// Sends `req`; the response timeout starts once its body has been sent (at once for
    /// a request that has none).
    async fn request_with_timeout(
        &self,
        req: Request<GatewayBody>,
        body_sent: &tokio::sync::Notify,
    ) -> Result<Result<Response<Incoming>, hyper_util::client::legacy::Error>, tokio::time::error::Elapsed> {
        let empty = req.body().is_end_stream();
        let request = self.client.request(req);
        tokio::pin!(request);
        if !empty {
            tokio::select! {
                answered = &mut request => return Ok(answered),
                () = body_sent.notified() => {}
            }
        }
        tokio::time::timeout(self.response_timeout, request).await
    }
}

/// Whether the connection closed before any answer came (safe to retry a bodyless
/// idempotent request).
fn is_closed_before_answer(e: &hyper_util::client::legacy::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            return h.is_incomplete_message() || h.is_canceled() || h.is_closed();
        }
        source = s.source();
    }
    false
}

/// An upstream 403 that refuses the gateway's own signature would tell the client its
/// (valid) signature is wrong: it becomes a 502 naming the real cause, logged. Other 403
/// answers (the upstream's own access rules) pass through unchanged.
async fn refused_credentials(resp: Response<Incoming>) -> Result<Response<GatewayBody>, GatewayError> {
    const MAX_ERROR_BODY: usize = 64 * 1024;
    let small = resp
        .body()
        .size_hint()
        .upper()
        .is_some_and(|n| n <= MAX_ERROR_BODY as u64);
    if !small {
        return Ok(resp.map(|b| b.map_err(BoxError::from).boxed()));
    }
    let (mut parts, mut body) = resp.into_parts();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(d) = frame.data_ref() {
            bytes.extend_from_slice(d);
        }
        if bytes.len() > MAX_ERROR_BODY {
            break;
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    for code in [
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidToken",
        "ExpiredToken",
        "RequestTimeTooSkewed",
    ] {
        if text.contains(&format!("<Code>{code}</Code>")) {
            return Err(GatewayError::upstream(
                S3ErrorCode::BadGateway,
                "The upstream store refused the gateway's own credentials.",
                format!("upstream answered 403 {code} to the gateway's signature: check [upstream] keys and clock"),
            ));
        }
    }
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, crate::response::full_body(bytes)))
}

/// The Host header for an endpoint: the port only when it is not the scheme's default,
/// exactly as an S3 server reconstructs it.
fn authority_for_host<'a>(scheme: &Scheme, authority: &'a Authority) -> &'a str {
    match (scheme.as_str(), authority.port_u16()) {
        ("https", Some(443)) | ("http", Some(80)) => authority.host(),
        _ => authority.as_str(),
    }
}
