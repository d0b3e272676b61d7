//! The admin listener, on its own address: `/livez`, `/readyz` (ready once the gateway is
//! built, not while draining), `/metrics` (Prometheus), `PUT /v1/log-level`,
//! `POST /v1/reload`, and the issuing API `POST /v1/presign` (bearer token per issuer;
//! every issuance is written to the audit log with a signed issuance id that the access
//! log repeats on each use of the URL). Keep this listener private.

use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::RngCore;
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::app::Runtime;
use crate::config::{ByteSize, HumanDuration};
use crate::metrics::METRICS;
use crate::policy::restrictions::{Restrictions, CONTENT_TYPE, IP, ISSUANCE, MAX_SIZE, MIN_SIZE};
use crate::presign::{presign, presign_post, Grant};

type AdminBody = Full<Bytes>;

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<AdminBody> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    r
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<AdminBody> {
    reply(status, "application/json", value.to_string())
}

fn error(status: StatusCode, message: &str) -> Response<AdminBody> {
    json(status, serde_json::json!({ "error": message }))
}

/// Serves the admin API on `listener` until the process ends.
pub async fn serve(runtime: Arc<Runtime>, listener: TcpListener) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let runtime = runtime.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let runtime = runtime.clone();
                async move { Ok::<_, std::convert::Infallible>(route(&runtime, req).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(socket), svc)
                .await;
        });
    }
}

async fn route(runtime: &Runtime, req: Request<Incoming>) -> Response<AdminBody> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/livez") => reply(StatusCode::OK, "text/plain", "ok\n"),
        (&Method::GET, "/readyz") if runtime.is_ready() => reply(StatusCode::OK, "text/plain", "ready\n"),
        (&Method::GET, "/readyz") => reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "not ready\n"),
        (&Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            METRICS.render(),
        ),
        (&Method::PUT, "/v1/log-level") => match body_text(req).await {
            Ok(level) => match crate::telemetry::set_level(level.trim()) {
                Ok(()) => {
                    tracing::info!(level = level.trim(), "log level changed");
                    reply(StatusCode::OK, "text/plain", "ok\n")
                }
                Err(e) => error(StatusCode::BAD_REQUEST, &e),
            },
            Err(r) => r,
        },
        (&Method::POST, "/v1/reload") => match runtime.reload().await {
            Ok(()) => reply(StatusCode::OK, "text/plain", "reloaded\n"),
            Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, &format!("{e:#}")),
        },
        (&Method::POST, "/v1/presign") => issue(runtime, req).await,
        _ => error(StatusCode::NOT_FOUND, "no such admin endpoint"),
    }
}

async fn body_text(req: Request<Incoming>) -> Result<String, Response<AdminBody>> {
    let bytes = Limited::new(req.into_body(), 64 * 1024)
        .collect()
        .await
        .map_err(|_| error(StatusCode::PAYLOAD_TOO_LARGE, "body too large or unreadable"))?
        .to_bytes();
    String::from_utf8(bytes.to_vec()).map_err(|_| error(StatusCode::BAD_REQUEST, "body is not UTF-8"))
}

/// A request of the issuing API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueRequest {
    bucket: String,
    key: String,
    #[serde(default = "default_method")]
    method: String,
    #[serde(default)]
    expires: Option<HumanDuration>,
    #[serde(default)]
    max_size: Option<ByteSize>,
    #[serde(default)]
    min_size: Option<ByteSize>,
    #[serde(default)]
    content_type: Vec<String>,
    #[serde(default)]
    ip: Vec<String>,
    #[serde(default)]
    post: bool,
}

fn default_method() -> String {
    "GET".to_owned()
}

async fn issue(runtime: &Runtime, req: Request<Incoming>) -> Response<AdminBody> {
    let app = runtime.app();
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    // Every issuer's token is compared, so the time taken does not say which one is close.
    let mut issuer = None;
    for i in app.issuers() {
        if i.token_matches(&presented) && issuer.is_none() {
            issuer = Some(i);
        }
    }
    let Some(issuer) = issuer else {
        tracing::warn!(target: "guestpass::audit", "issuing API: refused a request with a missing or unknown token");
        return error(StatusCode::UNAUTHORIZED, "missing or unknown bearer token");
    };
    let text = match body_text(req).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let ask: IssueRequest = match serde_json::from_str(&text) {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid request: {e}")),
    };
    if !crate::addressing::is_valid_bucket_name(&ask.bucket) || ask.key.is_empty() || ask.key.len() > 1024 {
        return error(
            StatusCode::BAD_REQUEST,
            "bucket must be a valid bucket name and key 1 to 1024 bytes",
        );
    }
    if !matches!(ask.method.as_str(), "GET" | "HEAD" | "PUT" | "DELETE") {
        return error(StatusCode::BAD_REQUEST, "method must be GET, HEAD, PUT or DELETE");
    }
    let mut id = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut id);
    let issuance_id = hex::encode(id);
    let mut query: Vec<(String, String)> = vec![(ISSUANCE.into(), issuance_id.clone())];
    if let Some(s) = ask.max_size {
        query.push((MAX_SIZE.into(), s.0.to_string()));
    }
    if let Some(s) = ask.min_size {
        query.push((MIN_SIZE.into(), s.0.to_string()));
    }
    if !ask.content_type.is_empty() {
        query.push((CONTENT_TYPE.into(), ask.content_type.join(",")));
    }
    if !ask.ip.is_empty() {
        query.push((IP.into(), ask.ip.join(",")));
    }
    let restrictions = match Restrictions::extract(&mut query) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.message()),
    };
    let loaded_secret = app
        .auth()
        .store()
        .get(&issuer.access_key_id)
        .and_then(|c| c.secrets().first().cloned());
    let expires = ask.expires.map_or(900, |d| d.0.as_secs());
    let now = time::OffsetDateTime::now_utc();
    let grant = Grant {
        method: &ask.method,
        bucket: &ask.bucket,
        key: &ask.key,
        expires_secs: expires,
        access_key_id: Some(&issuer.access_key_id),
        restrictions: &restrictions,
        // Sign with the secret the running gateway verifies with, not a file that may
        // already hold the next one.
        secret: loaded_secret.as_ref(),
        now,
    };
    let expires_at = crate::auth::sigv4::date::iso8601(now + time::Duration::seconds(expires as i64));
    let body =
        if ask.post {
            presign_post(app.config(), &grant).map(|f| {
            let fields: serde_json::Map<String, serde_json::Value> =
                f.fields.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
            serde_json::json!({ "url": f.url, "fields": fields, "issuance_id": issuance_id, "expires_at": expires_at })
        })
        } else {
            presign(app.config(), &grant)
                .map(|url| serde_json::json!({ "url": url, "issuance_id": issuance_id, "expires_at": expires_at }))
        };
    match body {
        Ok(body) => {
            tracing::info!(
                target: "guestpass::audit",
                issuer = %issuer.name,
                issuance_id = %issuance_id,
                access_key_id = %issuer.access_key_id,
                action = if ask.post { "POST" } else { ask.method.as_str() },
                bucket = %ask.bucket,
                key = %ask.key,
                expires_at = %expires_at,
                restrictions = ?restrictions.to_query().into_iter().filter(|(k, _)| *k != ISSUANCE).collect::<Vec<_>>(),
                "issued"
            );
            json(StatusCode::OK, body)
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}
