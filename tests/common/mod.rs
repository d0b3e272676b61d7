//! The integration-test harness: the real parts on ephemeral loopback ports.
//!
//! - A real upstream: the embedded s3s-fs store, holding keys the clients never see, which
//!   checks the SigV4 signature of every request the gateway re-signs, and reports each
//!   request head to an observer so tests can assert exactly what reached it (and that
//!   nothing did when the gateway refused a request).
//! - The gateway in-process in front of it, built from TOML as `guestpass` builds it.
//! - Pre-signed URLs minted by `aws-sigv4`, an independent oracle, never by our own signer.
//! - A raw hyper client that sends the path and query exactly as written: no client-side
//!   `..` or `//` normalisation.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4::SigningParams;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use guestpass::secret::Secret;
use guestpass::upstream::embedded::{EmbeddedStore, Observer};

/// The key clients sign with.
pub const CLIENT_KEY_ID: &str = "GUESTCLIENTKEY";
/// Its secret.
pub const CLIENT_SECRET: &str = "client-secret-Qm7pX2vL9rT4";
/// The upstream store's key: only the gateway holds it.
pub const UPSTREAM_KEY_ID: &str = "UPSTREAMSTOREKEY";
/// Its secret.
pub const UPSTREAM_SECRET: &str = "upstream-secret-Hs8kW3nB6yJ1";
/// A bucket that exists in every harness.
pub const BUCKET: &str = "guest-bucket";
/// A second bucket that exists in every harness.
pub const OTHER_BUCKET: &str = "other-bucket";
/// The virtual-host domain the gateway is configured with.
pub const VHOST_DOMAIN: &str = "s3.example.com";
/// The region the gateway verifies.
pub const REGION: &str = "us-east-1";

/// S3's UriEncode for a query component: all but `A-Z a-z 0-9 - _ . ~`.
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// S3's UriEncode for the path: as above, but `/` stays literal.
const PATH: &AsciiSet = &QUERY_COMPONENT.remove(b'/');

/// A key encoded as an S3 client puts it in the path.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, PATH).to_string()
}

/// A query name or value encoded as an S3 client puts it in the URL.
pub fn encode_query(v: &str) -> String {
    utf8_percent_encode(v, QUERY_COMPONENT).to_string()
}

/// One request head as the upstream store received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: Method,
    /// Path as received, still percent-encoded.
    pub path: String,
    /// Query as received.
    pub query: Option<String>,
    /// Headers as received.
    pub headers: HeaderMap,
}

impl Seen {
    /// The path percent-decoded once: the bucket and key the store acts on.
    pub fn decoded_path(&self) -> String {
        percent_decode_str(&self.path)
            .decode_utf8()
            .expect("upstream path is UTF-8")
            .into_owned()
    }

    /// The decoded value of query parameter `name`, if present.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        q.split('&').find_map(|pair| {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            let n = percent_decode_str(n).decode_utf8_lossy();
            (n == name).then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
        })
    }
}

/// How a harness is configured.
#[derive(Debug, Clone)]
pub struct Options {
    /// `[auth] signature_mismatch_details`.
    pub mismatch_details: bool,
    /// Use `[upstream] embedded_data_dir` (the gateway's own store, no observer) instead
    /// of an endpoint with an observed store.
    pub embedded: bool,
    /// TOML lines added to `[server]` (`trusted_proxies = [...]`, say).
    pub server_toml: String,
    /// TOML lines added to `[auth]` (`sigv2 = false`, say).
    pub auth_toml: String,
    /// TOML right after the client's `[[credentials]]` entry: its own
    /// `[[credentials.scopes]]`, or further `[[credentials]]` entries with theirs.
    pub credentials_toml: String,
    /// TOML after `[upstream]`: `[[rules]]` and `[[cors]]` entries.
    pub policy_toml: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mismatch_details: true,
            embedded: false,
            server_toml: String::new(),
            auth_toml: String::new(),
            credentials_toml: String::new(),
            policy_toml: String::new(),
        }
    }
}

/// The body type the test client sends.
pub type TestBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A body of bytes held in memory.
pub fn full(bytes: impl Into<Bytes>) -> TestBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

/// A running gateway in front of a running store.
pub struct Harness {
    /// The gateway's address.
    pub addr: SocketAddr,
    /// The store's data folder (buckets are folders in it).
    pub data_dir: PathBuf,
    seen: Option<Arc<Mutex<Vec<Seen>>>>,
    client: Client<HttpConnector, TestBody>,
    _store: Option<EmbeddedStore>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// A gateway with the default options in front of an observed store.
    pub async fn start() -> Harness {
        Harness::start_with(Options::default()).await
    }

    /// A gateway configured by `options`.
    pub async fn start_with(options: Options) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("data");
        for bucket in [BUCKET, OTHER_BUCKET] {
            std::fs::create_dir_all(data_dir.join(bucket)).expect("bucket folder");
        }

        let (upstream_toml, store, seen) = if options.embedded {
            let toml = format!("embedded_data_dir = {}", toml_string(&data_dir));
            (toml, None, None)
        } else {
            let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
            let record = seen.clone();
            let observer: Observer = Arc::new(move |parts: &http::request::Parts| {
                record.lock().unwrap().push(Seen {
                    method: parts.method.clone(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().map(str::to_owned),
                    headers: parts.headers.clone(),
                });
            });
            let store = EmbeddedStore::start_with(
                &data_dir,
                UPSTREAM_KEY_ID.to_owned(),
                Secret::new(UPSTREAM_SECRET),
                Some(observer),
            )
            .await
            .expect("upstream store starts");
            let toml = format!(
                "endpoint = \"{}\"\naccess_key_id = \"{UPSTREAM_KEY_ID}\"\nsecret_access_key = \"{UPSTREAM_SECRET}\"",
                store.endpoint
            );
            (toml, Some(store), Some(seen))
        };

        let config_text = format!(
            r#"
[server]
listen = "127.0.0.1:0"
virtual_host_domains = ["{VHOST_DOMAIN}"]
{server_toml}

[auth]
region = "{REGION}"
signature_mismatch_details = {details}
{auth_toml}

[[credentials]]
access_key_id = "{CLIENT_KEY_ID}"
secret_access_key = "{CLIENT_SECRET}"
{credentials_toml}

[upstream]
{upstream_toml}

{policy_toml}
"#,
            details = options.mismatch_details,
            server_toml = options.server_toml,
            auth_toml = options.auth_toml,
            credentials_toml = options.credentials_toml,
            policy_toml = options.policy_toml,
        );
        let config = guestpass::config::Config::parse(&config_text).expect("config parses");
        let app = guestpass::app::App::build(&config).await.expect("gateway builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(guestpass::server::serve(
            app,
            listener,
            guestpass::server::ServerSettings::default(),
            async move {
                let _ = stop.await;
            },
        ));

        let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        Harness {
            addr,
            data_dir,
            seen,
            client,
            _store: store,
            _shutdown: shutdown,
            _dir: dir,
        }
    }

    /// The gateway's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request head the upstream store has received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .as_ref()
            .expect("this harness has an observed upstream")
            .lock()
            .unwrap()
            .clone()
    }

    /// How many requests the upstream store has received so far.
    pub fn seen_count(&self) -> usize {
        self.seen
            .as_ref()
            .expect("this harness has an observed upstream")
            .lock()
            .unwrap()
            .len()
    }

    /// The last request the upstream store received.
    pub fn last_seen(&self) -> Seen {
        self.seen().pop().expect("the upstream received at least one request")
    }

    /// A pre-signing of `method` on `key` in `BUCKET`, path-style, with the client's
    /// credentials, valid for an hour from now.
    pub fn presign(&self, method: &str, key: &str) -> Presign {
        self.presign_in(method, BUCKET, key)
    }

    /// As [`Harness::presign`] for a given bucket.
    pub fn presign_in(&self, method: &str, bucket: &str, key: &str) -> Presign {
        let path = if key.is_empty() {
            format!("/{bucket}")
        } else {
            format!("/{bucket}/{}", encode_key(key))
        };
        Presign::new(method, format!("127.0.0.1:{}", self.port()), path)
    }

    /// A pre-signing of `method` on `key`, virtual-hosted style: the Host names the bucket.
    pub fn presign_vhost(&self, method: &str, bucket: &str, key: &str) -> Presign {
        Presign::new(
            method,
            format!("{bucket}.{VHOST_DOMAIN}:{}", self.port()),
            format!("/{}", encode_key(key)),
        )
    }

    /// Sends `method` to `url` (connecting to the gateway, whatever the URL's host) with
    /// `headers` and `body`, and reads the whole answer.
    pub async fn send(&self, method: &str, url: &SignedUrl, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Reply {
        let body: Bytes = body.into();
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        if !body.is_empty() || method == "PUT" || method == "POST" {
            all.push(("content-length".to_owned(), body.len().to_string()));
        }
        let resp = self.send_streaming(method, url, &all, full(body)).await;
        Reply::read(resp).await
    }

    /// Sends a request whose body streams; returns the answer with its body unread.
    pub async fn send_streaming(
        &self,
        method: &str,
        url: &SignedUrl,
        headers: &[(String, String)],
        body: TestBody,
    ) -> Response<Incoming> {
        let uri: Uri = format!("http://{}{}", self.addr, url.path_and_query)
            .parse()
            .unwrap_or_else(|e| panic!("{:?} is not a URI: {e}", url.path_and_query));
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(uri)
            .header(http::header::HOST, url.host.as_str())
            .body(body)
            .expect("request");
        for (n, v) in headers {
            req.headers_mut().append(
                HeaderName::from_bytes(n.as_bytes()).expect("header name"),
                HeaderValue::from_str(v).expect("header value"),
            );
        }
        self.client.request(req).await.expect("gateway answers")
    }

    /// Sends a request that the gateway must refuse before contacting the upstream, and
    /// checks the status, the S3 error code, that no secret leaked into the body, and that
    /// the upstream received nothing.
    pub async fn expect_refusal(
        &self,
        method: &str,
        url: &SignedUrl,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
        status: u16,
        code: &str,
    ) -> Reply {
        let before = self.seen.as_ref().map(|_| self.seen_count());
        let reply = self.send(method, url, headers, body).await;
        let context = format!("{method} {}", url.path_and_query);
        assert_eq!(reply.status, status, "{context}: {}", reply.text());
        if method != "HEAD" {
            assert_eq!(reply.code().as_deref(), Some(code), "{context}: {}", reply.text());
        }
        reply.assert_no_secrets();
        if let Some(before) = before {
            let after = self.seen();
            assert_eq!(
                after.len(),
                before,
                "{context}: the upstream received {:?}",
                &after[before..]
            );
        }
        reply
    }
}

impl Harness {
    /// A header signing of `method` on `key` in `bucket`, path-style, with the client's
    /// credentials, signed now, the body described by `payload`.
    pub fn sign_headers(&self, method: &str, bucket: &str, key: &str, payload: Payload) -> HeaderSign {
        let path = if key.is_empty() {
            format!("/{bucket}")
        } else {
            format!("/{bucket}/{}", encode_key(key))
        };
        HeaderSign::new(method, format!("127.0.0.1:{}", self.port()), path, payload)
    }

    /// Sends a header-signed request with `body` (a Content-Length is added for non-empty
    /// bodies and for PUT and POST, as [`Harness::send`] does).
    pub async fn send_signed(&self, signed: &SignedRequest, body: impl Into<Bytes>) -> Reply {
        self.send(&signed.method, &signed.url(), &signed.header_refs(), body)
            .await
    }

    /// Where the store keeps `key` of `bucket` (s3s-fs maps keys to files).
    pub fn object_file(&self, bucket: &str, key: &str) -> PathBuf {
        self.data_dir.join(bucket).join(key)
    }

    /// The object is stored with exactly `contents`: in the store's folder and through a
    /// valid pre-signed GET.
    pub async fn assert_object(&self, bucket: &str, key: &str, contents: &[u8]) {
        let on_disk = std::fs::read(self.object_file(bucket, key))
            .unwrap_or_else(|e| panic!("{bucket}/{key} is not in the store: {e}"));
        assert!(on_disk == contents, "{bucket}/{key}: the stored bytes differ");
        let get = self
            .send("GET", &self.presign_in("GET", bucket, key).sign(), &[], "")
            .await;
        assert_eq!(get.status, 200, "GET {bucket}/{key}: {}", get.text());
        assert!(get.body == contents, "GET {bucket}/{key}: the bytes read back differ");
    }

    /// No object exists under `key`: not in the store's folder (nor as a finished file of
    /// any name under it), and a valid pre-signed GET answers 404 NoSuchKey. Used where
    /// the upstream request had to start before the body could be judged.
    pub async fn assert_no_object(&self, bucket: &str, key: &str) {
        let path = self.object_file(bucket, key);
        assert!(
            !path.exists(),
            "{bucket}/{key} exists in the store at {}",
            path.display()
        );
        let get = self
            .send("GET", &self.presign_in("GET", bucket, key).sign(), &[], "")
            .await;
        assert_eq!(get.status, 404, "GET {bucket}/{key}: {}", get.text());
        assert_eq!(get.code().as_deref(), Some("NoSuchKey"), "{}", get.text());
    }
}

fn toml_string(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

/// What to pre-sign, handed to the `aws-sigv4` oracle.
#[derive(Debug, Clone)]
pub struct Presign {
    /// Method.
    pub method: String,
    /// The authority signed as `host` and sent in the Host header.
    pub host: String,
    /// The path, already S3-encoded (the oracle signs it as is).
    pub path: String,
    /// Extra query parameters, decoded; signed with the rest.
    pub query: Vec<(String, String)>,
    /// Extra headers to sign (the client must then send them).
    pub headers: Vec<(String, String)>,
    /// `X-Amz-Expires`.
    pub expires_in: Duration,
    /// Signing time.
    pub time: SystemTime,
    /// Region.
    pub region: String,
    /// Service.
    pub service: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret.
    pub secret: String,
    /// The SHA-256 the body is pinned to; `UNSIGNED-PAYLOAD` when `None`.
    pub payload: Option<String>,
}

impl Presign {
    /// A GET-style pre-signing with the client's credentials, valid for an hour from now.
    pub fn new(method: &str, host: String, path: String) -> Presign {
        Presign {
            method: method.to_owned(),
            host,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            expires_in: Duration::from_secs(3600),
            time: SystemTime::now(),
            region: REGION.to_owned(),
            service: "s3".to_owned(),
            access_key_id: CLIENT_KEY_ID.to_owned(),
            secret: CLIENT_SECRET.to_owned(),
            payload: None,
        }
    }

    /// Adds a signed query parameter.
    pub fn query(mut self, name: &str, value: &str) -> Presign {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a signed header.
    pub fn header(mut self, name: &str, value: &str) -> Presign {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the lifetime.
    pub fn expires_in(mut self, d: Duration) -> Presign {
        self.expires_in = d;
        self
    }

    /// Sets the signing time.
    pub fn at(mut self, t: SystemTime) -> Presign {
        self.time = t;
        self
    }

    /// Sets the region.
    pub fn region(mut self, r: &str) -> Presign {
        self.region = r.to_owned();
        self
    }

    /// Sets the service.
    pub fn service(mut self, s: &str) -> Presign {
        self.service = s.to_owned();
        self
    }

    /// Sets the credentials.
    pub fn credentials(mut self, access_key_id: &str, secret: &str) -> Presign {
        self.access_key_id = access_key_id.to_owned();
        self.secret = secret.to_owned();
        self
    }

    /// Pins the body to `sha256_hex`: the URL carries `X-Amz-Content-Sha256` and the
    /// hash is the payload line of the canonical request.
    pub fn pinned_payload(mut self, sha256_hex: &str) -> Presign {
        self.payload = Some(sha256_hex.to_owned());
        self.query("X-Amz-Content-Sha256", sha256_hex)
    }

    /// Signs with the oracle and returns the URL.
    pub fn sign(&self) -> SignedUrl {
        let mut url = format!("http://{}{}", self.host, self.path);
        for (i, (n, v)) in self.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&encode_query(n));
            url.push('=');
            url.push_str(&encode_query(v));
        }
        let identity = Credentials::new(
            self.access_key_id.clone(),
            self.secret.clone(),
            None,
            None,
            "guestpass-tests",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(self.expires_in);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        let params = SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(self.time)
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let signable = SignableRequest::new(
            &self.method,
            url.clone(),
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            match &self.payload {
                Some(hash) => SignableBody::Precomputed(hash.clone()),
                None => SignableBody::UnsignedPayload,
            },
        )
        .expect("signable request");
        let (instructions, _signature) = sign(signable, &params).expect("oracle signs").into_parts();
        let mut req = Request::builder().uri(url).body(()).expect("request");
        instructions.apply_to_request_http1x(&mut req);
        let path_and_query = req
            .uri()
            .path_and_query()
            .expect("signed URL has a path")
            .as_str()
            .to_owned();
        SignedUrl {
            host: self.host.clone(),
            path_and_query,
        }
    }
}

/// A pre-signed URL: the Host to send and the path and query, exactly as the oracle
/// wrote them. Tampering helpers work on the raw text.
#[derive(Debug, Clone)]
pub struct SignedUrl {
    /// The Host header value.
    pub host: String,
    /// `/path?query`, percent-encoded.
    pub path_and_query: String,
}

impl SignedUrl {
    /// The raw path.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(p, _)| p)
    }

    /// The raw query.
    pub fn query(&self) -> &str {
        self.path_and_query.split_once('?').map_or("", |(_, q)| q)
    }

    /// The raw value of the first query parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query().split('&').find_map(|pair| {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            (n == name).then_some(v)
        })
    }

    /// The same URL with another raw path.
    pub fn with_path(&self, path: &str) -> SignedUrl {
        SignedUrl {
            host: self.host.clone(),
            path_and_query: format!("{path}?{}", self.query()),
        }
    }

    /// The same URL sent with another Host.
    pub fn with_host(&self, host: &str) -> SignedUrl {
        SignedUrl {
            host: host.to_owned(),
            path_and_query: self.path_and_query.clone(),
        }
    }

    /// The same URL with the raw query pairs rewritten by `f`.
    pub fn with_query(&self, f: impl FnOnce(&mut Vec<String>)) -> SignedUrl {
        let mut pairs: Vec<String> = self
            .query()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        f(&mut pairs);
        SignedUrl {
            host: self.host.clone(),
            path_and_query: format!("{}?{}", self.path(), pairs.join("&")),
        }
    }

    /// The same URL with parameter `name` set to the raw `value` (it must be present).
    pub fn with_param(&self, name: &str, value: &str) -> SignedUrl {
        assert!(self.param(name).is_some(), "{name} is not in {self:?}");
        self.with_query(|pairs| {
            for p in pairs.iter_mut() {
                if p.split_once('=').map_or(p.as_str(), |(n, _)| n) == name {
                    *p = format!("{name}={value}");
                }
            }
        })
    }

    /// The same URL without parameter `name` (it must be present).
    pub fn without_param(&self, name: &str) -> SignedUrl {
        assert!(self.param(name).is_some(), "{name} is not in {self:?}");
        self.with_query(|pairs| pairs.retain(|p| p.split_once('=').map_or(p.as_str(), |(n, _)| n) != name))
    }

    /// The same URL with a raw `name=value` pair appended.
    pub fn with_extra(&self, pair: &str) -> SignedUrl {
        self.with_query(|pairs| pairs.push(pair.to_owned()))
    }
}

/// A whole answer.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// Reads the whole body of `resp`.
    pub async fn read(resp: Response<Incoming>) -> Reply {
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// The S3 error `<Code>`.
    pub fn code(&self) -> Option<String> {
        self.element("Code")
    }

    /// The S3 error `<Message>`.
    pub fn message(&self) -> Option<String> {
        self.element("Message")
    }

    /// The unescaped text of the first `<name>` element of the body.
    pub fn element(&self, name: &str) -> Option<String> {
        xml_element(&self.text(), name)
    }

    /// Neither the client's nor the upstream's secret appears anywhere in the answer.
    pub fn assert_no_secrets(&self) {
        let text = self.text();
        for secret in [CLIENT_SECRET, UPSTREAM_SECRET] {
            assert!(!text.contains(secret), "secret in the body: {text}");
            for (name, value) in &self.headers {
                assert!(
                    !String::from_utf8_lossy(value.as_bytes()).contains(secret),
                    "secret in header {name}"
                );
            }
        }
    }
}

/// The unescaped text of the first `<name>…</name>` in `xml`.
pub fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// A body of `len` deterministic pseudo-random bytes, produced a chunk at a time (never
/// held whole), hashing what it sends into a shared SHA-256.
pub struct PatternBody {
    len: u64,
    sent: u64,
    hasher: Arc<Mutex<Sha256>>,
}

/// Size of one frame of a [`PatternBody`].
const PATTERN_CHUNK: u64 = 1 << 20;

impl PatternBody {
    /// A body of `len` bytes and the hasher that will hold the SHA-256 of what was sent.
    pub fn new(len: u64) -> (PatternBody, Arc<Mutex<Sha256>>) {
        let hasher = Arc::new(Mutex::new(Sha256::new()));
        (
            PatternBody {
                len,
                sent: 0,
                hasher: hasher.clone(),
            },
            hasher,
        )
    }

    /// Bytes `offset..offset + n` of the pattern; `offset` is a multiple of 8.
    pub fn chunk(offset: u64, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n.next_multiple_of(8)];
        for (i, word) in out.chunks_exact_mut(8).enumerate() {
            word.copy_from_slice(&splitmix64(offset / 8 + i as u64).to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

fn splitmix64(i: u64) -> u64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.sent >= self.len {
            return Poll::Ready(None);
        }
        let n = PATTERN_CHUNK.min(self.len - self.sent) as usize;
        let chunk = PatternBody::chunk(self.sent, n);
        self.hasher.lock().unwrap().update(&chunk);
        self.sent += n as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent >= self.len
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len - self.sent)
    }
}

/// Reads a streamed body, returning its length and SHA-256 without holding it.
pub async fn hash_body(mut body: Incoming) -> (u64, [u8; 32]) {
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("body frame");
        if let Some(data) = frame.data_ref() {
            hasher.update(data);
            len += data.len() as u64;
        }
    }
    (len, hasher.finalize().into())
}

/// `now` shifted by `secs` seconds (negative is the past).
pub fn now_plus(secs: i64) -> SystemTime {
    let now = SystemTime::now();
    if secs >= 0 {
        now + Duration::from_secs(secs as u64)
    } else {
        now - Duration::from_secs(secs.unsigned_abs())
    }
}

/// What a header signature says about the body (`x-amz-content-sha256`).
#[derive(Debug, Clone)]
pub enum Payload {
    /// The SHA-256 of these bytes.
    Bytes(Vec<u8>),
    /// A value given as is: a hash, or `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` and the like.
    Precomputed(String),
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    StreamingUnsignedTrailer,
}

/// What to sign with an `Authorization` header, handed to the `aws-sigv4` oracle.
#[derive(Debug, Clone)]
pub struct HeaderSign {
    /// Method.
    pub method: String,
    /// The authority signed as `host` and sent in the Host header.
    pub host: String,
    /// The path, already S3-encoded.
    pub path: String,
    /// Query parameters, decoded; signed with the rest.
    pub query: Vec<(String, String)>,
    /// Headers to sign and send.
    pub headers: Vec<(String, String)>,
    /// Signing time.
    pub time: SystemTime,
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret.
    pub secret: String,
    /// The body's description.
    pub payload: Payload,
    /// Whether `x-amz-content-sha256` is sent (and signed); S3 requires it.
    pub content_sha256_header: bool,
}

impl HeaderSign {
    /// A signing with the client's credentials, now.
    pub fn new(method: &str, host: String, path: String, payload: Payload) -> HeaderSign {
        HeaderSign {
            method: method.to_owned(),
            host,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            time: SystemTime::now(),
            region: REGION.to_owned(),
            access_key_id: CLIENT_KEY_ID.to_owned(),
            secret: CLIENT_SECRET.to_owned(),
            payload,
            content_sha256_header: true,
        }
    }

    /// Adds a signed query parameter.
    pub fn query(mut self, name: &str, value: &str) -> HeaderSign {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a signed header.
    pub fn header(mut self, name: &str, value: &str) -> HeaderSign {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the signing time.
    pub fn at(mut self, t: SystemTime) -> HeaderSign {
        self.time = t;
        self
    }

    /// Sets the credentials.
    pub fn credentials(mut self, access_key_id: &str, secret: &str) -> HeaderSign {
        self.access_key_id = access_key_id.to_owned();
        self.secret = secret.to_owned();
        self
    }

    /// Leaves out `x-amz-content-sha256`.
    pub fn without_content_sha256(mut self) -> HeaderSign {
        self.content_sha256_header = false;
        self
    }

    /// Signs with the oracle.
    pub fn sign(&self) -> SignedRequest {
        let mut path_and_query = self.path.clone();
        for (i, (n, v)) in self.query.iter().enumerate() {
            path_and_query.push(if i == 0 { '?' } else { '&' });
            path_and_query.push_str(&encode_query(n));
            if !v.is_empty() {
                path_and_query.push('=');
                path_and_query.push_str(&encode_query(v));
            }
        }
        let url = format!("http://{}{}", self.host, path_and_query);
        let identity = Credentials::new(
            self.access_key_id.clone(),
            self.secret.clone(),
            None,
            None,
            "guestpass-tests",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::Headers;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = if self.content_sha256_header {
            PayloadChecksumKind::XAmzSha256
        } else {
            PayloadChecksumKind::NoHeader
        };
        let params = SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(self.time)
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let mut headers: Vec<(String, String)> = vec![("host".to_owned(), self.host.clone())];
        headers.extend(self.headers.iter().cloned());
        let body = match &self.payload {
            Payload::Bytes(b) => SignableBody::Bytes(b),
            Payload::Precomputed(v) => SignableBody::Precomputed(v.clone()),
            Payload::Unsigned => SignableBody::UnsignedPayload,
            Payload::StreamingUnsignedTrailer => SignableBody::StreamingUnsignedPayloadTrailer,
        };
        let signable = SignableRequest::new(
            &self.method,
            url,
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            body,
        )
        .expect("signable request");
        let (instructions, signature) = sign(signable, &params).expect("oracle signs").into_parts();
        let mut amz_date = String::new();
        for (n, v) in instructions.headers() {
            if n.eq_ignore_ascii_case("x-amz-date") {
                amz_date = v.to_owned();
            }
            headers.push((n.to_ascii_lowercase(), v.to_owned()));
        }
        // The Host header is sent by the transport.
        headers.remove(0);
        SignedRequest {
            method: self.method.clone(),
            host: self.host.clone(),
            path_and_query,
            headers,
            signature,
            amz_date,
            scope: format!("{}/{}/s3/aws4_request", &self.amz_day(), self.region),
        }
    }

    fn amz_day(&self) -> String {
        amz_date(self.time)[..8].to_owned()
    }
}

/// A header-signed request, ready to send.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    /// Method.
    pub method: String,
    /// The Host header value.
    pub host: String,
    /// `/path?query`, percent-encoded.
    pub path_and_query: String,
    /// Every header to send but Host and Content-Length, the signature's among them.
    pub headers: Vec<(String, String)>,
    /// The hex signature in `Authorization` (the seed of aws-chunked chunk signatures).
    pub signature: String,
    /// `x-amz-date`.
    pub amz_date: String,
    /// `<yyyymmdd>/<region>/s3/aws4_request`.
    pub scope: String,
}

impl SignedRequest {
    /// The URL part, for the harness's senders.
    pub fn url(&self) -> SignedUrl {
        SignedUrl {
            host: self.host.clone(),
            path_and_query: self.path_and_query.clone(),
        }
    }

    /// The headers as borrowed pairs.
    pub fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
    }

    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The same request with header `name` set to `value` (replaced or added), unsigned.
    pub fn with_header(&self, name: &str, value: &str) -> SignedRequest {
        let mut out = self.clone();
        out.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        out.headers.push((name.to_owned(), value.to_owned()));
        out
    }
}

/// `yyyymmddThhmmssZ` of `t`.
pub fn amz_date(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.format(time::macros::format_description!(
        "[year][month][day]T[hour][minute][second]Z"
    ))
    .expect("formats")
}

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// One HTTP/1.1 response read off a raw connection, exactly as the bytes came.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// The head as sent: status line and header lines, without the blank line.
    pub head: String,
    /// Header names (lower-cased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes received (chunked bodies are left encoded).
    pub body: Vec<u8>,
    /// Whether the body ended short of its framing (the connection closed first).
    pub truncated: bool,
}

impl RawResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The S3 error `<Code>` of the body.
    pub fn code(&self) -> Option<String> {
        xml_element(&self.text(), "Code")
    }
}

/// How reading a raw response ended when it did not produce one.
#[derive(Debug)]
pub enum RawError {
    /// The peer closed the connection before a complete head arrived (bytes received).
    Closed(Vec<u8>),
    /// Nothing conclusive within the time allowed.
    TimedOut,
    /// A socket error (a reset, typically).
    Io(std::io::Error),
}

/// A client connection that writes exactly the bytes it is given: for requests no
/// well-behaved HTTP client would send, and for hanging up at a chosen moment (drop it).
pub struct RawConn {
    read: tokio::net::tcp::OwnedReadHalf,
    write: Option<tokio::net::tcp::OwnedWriteHalf>,
    buf: Vec<u8>,
}

/// The largest response head [`RawConn`] accepts.
const RAW_MAX_HEAD: usize = 256 * 1024;

impl RawConn {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> RawConn {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        RawConn {
            read,
            write: Some(write),
            buf: Vec::new(),
        }
    }

    /// Writes `bytes`; a write error (the peer has gone) is returned, not a panic.
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let write = self.write.as_mut().expect("the write half is still here");
        write.write_all(bytes).await?;
        write.flush().await
    }

    /// Writes `bytes` from a task of its own, so a response can be read while the
    /// request body is still going out (a server may answer before it has read it all).
    /// The write half comes back in the handle's output: keep the handle until the answer
    /// is read, since dropping the write half half-closes the connection, which an HTTP/1
    /// server may take as the client leaving.
    pub fn send_in_background(
        &mut self,
        bytes: Vec<u8>,
    ) -> tokio::task::JoinHandle<std::io::Result<tokio::net::tcp::OwnedWriteHalf>> {
        use tokio::io::AsyncWriteExt;
        let mut write = self.write.take().expect("the write half is still here");
        tokio::spawn(async move {
            for chunk in bytes.chunks(64 * 1024) {
                write.write_all(chunk).await?;
            }
            write.flush().await?;
            Ok(write)
        })
    }

    async fn fill(&mut self, deadline: tokio::time::Instant) -> Result<usize, RawError> {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout_at(deadline, self.read.read(&mut chunk)).await {
            Err(_) => Err(RawError::TimedOut),
            Ok(Err(e)) => Err(RawError::Io(e)),
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
        }
    }

    /// Reads one response within `within`. `head_request` says the response has no body
    /// whatever its framing headers say.
    pub async fn read_response(&mut self, within: Duration, head_request: bool) -> Result<RawResponse, RawError> {
        let deadline = tokio::time::Instant::now() + within;
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            if self.buf.len() > RAW_MAX_HEAD {
                return Err(RawError::Closed(std::mem::take(&mut self.buf)));
            }
            if self.fill(deadline).await? == 0 {
                return Err(RawError::Closed(std::mem::take(&mut self.buf)));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP status line: {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut response = RawResponse {
            status,
            head,
            headers,
            body: Vec::new(),
            truncated: false,
        };
        let bodyless = head_request || status == 204 || status == 304 || (100..200).contains(&status);
        if bodyless {
            return Ok(response);
        }
        if let Some(len) = response.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            while self.buf.len() < len {
                match self.fill(deadline).await {
                    Ok(0) | Err(RawError::Io(_)) => {
                        response.truncated = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
            let n = len.min(self.buf.len());
            response.body = self.buf.drain(..n).collect();
        } else if response
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                if let Some(i) = self.buf.windows(5).position(|w| w == b"0\r\n\r\n") {
                    response.body = self.buf.drain(..i + 5).collect();
                    break;
                }
                match self.fill(deadline).await {
                    Ok(0) | Err(RawError::Io(_)) => {
                        response.truncated = true;
                        response.body = std::mem::take(&mut self.buf);
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
        } else {
            // Delimited by the end of the connection.
            loop {
                match self.fill(deadline).await {
                    Ok(0) | Err(RawError::Io(_)) => break,
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
            response.body = std::mem::take(&mut self.buf);
        }
        Ok(response)
    }

    /// Reads whatever comes next into `out` (within ten seconds); `None` at the end of
    /// the connection, on an error or on a timeout.
    pub async fn read_some(&mut self, out: &mut [u8]) -> Option<usize> {
        use tokio::io::AsyncReadExt;
        if !self.buf.is_empty() {
            let n = out.len().min(self.buf.len());
            out[..n].copy_from_slice(&self.buf[..n]);
            self.buf.drain(..n);
            return Some(n);
        }
        match tokio::time::timeout(Duration::from_secs(10), self.read.read(out)).await {
            Ok(Ok(n)) if n > 0 => Some(n),
            _ => None,
        }
    }

    /// Whether the peer closes the connection (EOF or reset) within `within`, discarding
    /// anything it sends meanwhile.
    pub async fn closes_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match self.fill(deadline).await {
                Ok(0) | Err(RawError::Io(_)) | Err(RawError::Closed(_)) => return true,
                Ok(_) => self.buf.clear(),
                Err(RawError::TimedOut) => return false,
            }
        }
    }
}

/// A raw request head: `method target HTTP/1.1`, `Host`, the given header lines, and
/// `Connection: close`, ending with the blank line.
pub fn raw_head(method: &str, target: &str, host: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}
