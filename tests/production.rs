//! Running it in production (issue 5), against the real `guestpass` binary.
//!
//! Each test starts the binary as a child process with its own temporary config on
//! ephemeral loopback ports, in front of its embedded store (`[upstream]
//! embedded_data_dir`: a real s3s-fs store that checks the gateway's signatures). It then
//! drives it the way an operator and its clients do: TLS with HTTP/1.1 and HTTP/2, a
//! certificate swapped on disk, SIGHUP under load while keys are added and revoked, an
//! invalid config refused, SIGTERM during an upload, a slow-header client, the admin
//! listener's probes, metrics and issuing API, and a secret rotation through Kubernetes-
//! style mounted files. Every load loop is bounded in count and in time.

#![cfg(all(unix, feature = "embedded"))]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::{CertificateDer, ServerName};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use guestpass::auth::sigv4::sign::{presign_url, PresignRequest};
use guestpass::secret::Secret;

const BUCKET: &str = "prod-bucket";
const REGION: &str = "us-east-1";
const APP_KEY: &str = "APPKEY";
const APP_SECRET: &str = "app-secret-7Yq2vN5kR8";
const ISSUER_TOKEN: &str = "issuer-token-Jx4mT9cW2pL6sB1";

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// `[[credentials]]` for the one key most tests sign with.
fn app_credential() -> String {
    format!("[[credentials]]\naccess_key_id = \"{APP_KEY}\"\nsecret_access_key = \"{APP_SECRET}\"\n")
}

/// A TOML string literal.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// What a test's gateway is configured with, besides ports, folders and logging.
#[derive(Clone, Default)]
struct Setup {
    /// Extra `[server]` lines.
    server: String,
    /// `[[credentials]]` (and `[[issuers]]`) entries.
    credentials: String,
    /// Serve TLS with these PEM files (written to `tls/cert.pem`, `tls/key.pem`).
    tls: Option<TestCert>,
}

/// A running `guestpass serve`; killed when dropped.
struct Gateway {
    child: Child,
    dir: tempfile::TempDir,
    setup: Setup,
    port: u16,
    admin_port: u16,
    logs: Arc<Mutex<Vec<String>>>,
    http: HttpClient,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

impl Gateway {
    async fn start(setup: Setup) -> Gateway {
        // The binary binds the ports the config names; a port picked here can be taken by
        // another process before it binds, so a start that could not listen is retried.
        let mut last_logs = String::new();
        for _attempt in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            std::fs::create_dir_all(dir.path().join("data").join(BUCKET)).expect("bucket folder");
            if let Some(cert) = &setup.tls {
                std::fs::create_dir_all(dir.path().join("tls")).expect("tls folder");
                write_atomically(&dir.path().join("tls/cert.pem"), cert.cert_pem.as_bytes());
                write_atomically(&dir.path().join("tls/key.pem"), cert.key_pem.as_bytes());
            }
            let (port, admin_port) = (free_port(), free_port());
            if port == admin_port {
                continue;
            }
            let mut gw = Gateway::spawn(dir, setup.clone(), port, admin_port);
            match gw.wait_ready(Duration::from_secs(30)).await {
                Ok(()) => return gw,
                Err(_) if gw.log_text().contains("cannot listen") => last_logs = gw.log_text(),
                Err(why) => panic!("the gateway did not start: {why}\n{}", gw.log_text()),
            }
        }
        panic!("the gateway did not start on free ports:\n{last_logs}");
    }

    fn spawn(dir: tempfile::TempDir, setup: Setup, port: u16, admin_port: u16) -> Gateway {
        let config_path = dir.path().join("config.toml");
        let text = config_text(dir.path(), &setup, port, admin_port, &setup.credentials);
        write_atomically(&config_path, text.as_bytes());
        let mut child = Command::new(env!("CARGO_BIN_EXE_guestpass"))
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("guestpass starts");
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = logs.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Gateway {
            child,
            dir,
            setup,
            port,
            admin_port,
            logs,
            http: http_client(),
        }
    }

    async fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the log reader take the last lines, which say why.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return Err(format!("it exited with {status}"));
            }
            if let Ok((StatusCode::OK, _)) = self.admin("GET", "/readyz", "").await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("not ready after {limit:?}"))
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// Rewrites the config with other `[[credentials]]` entries (atomically, as a
    /// ConfigMap update or an editor's rename does).
    fn rewrite_credentials(&self, credentials: &str) {
        let text = config_text(self.dir.path(), &self.setup, self.port, self.admin_port, credentials);
        write_atomically(&self.config_path(), text.as_bytes());
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// Waits (bounded) for the process to exit; its exit status.
    async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {limit:?} after the signal\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn scheme(&self) -> &'static str {
        if self.setup.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    fn base_url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), self.port)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A pre-signed URL for `method` on `key` in the test bucket.
    fn presign(&self, method: &str, access_key_id: &str, secret: &str, key: &str) -> String {
        presign_url(
            access_key_id,
            &Secret::new(secret),
            REGION,
            &PresignRequest {
                method,
                base_url: &self.base_url(),
                path: &format!("/{BUCKET}/{key}"),
                extra_query: &[],
                expires_secs: 3600,
                now: time::OffsetDateTime::now_utc(),
            },
        )
    }

    /// Sends a plain-HTTP request to the S3 listener.
    async fn send(&self, method: &str, url: &str, body: impl Into<Bytes>) -> Result<(StatusCode, Bytes), String> {
        send(&self.http, method, url, body.into()).await
    }

    async fn must(&self, method: &str, url: &str, body: impl Into<Bytes>) -> (StatusCode, Bytes) {
        self.send(method, url, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}\n{}", self.log_text()))
    }

    async fn admin(&self, method: &str, path: &str, body: &str) -> Result<(StatusCode, Bytes), String> {
        let url = format!("http://127.0.0.1:{}{path}", self.admin_port);
        send(&self.http, method, &url, Bytes::from(body.to_owned())).await
    }

    async fn issue(&self, token: Option<&str>, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
        let mut req = Request::builder()
            .method("POST")
            .uri(format!("http://127.0.0.1:{}/v1/presign", self.admin_port))
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
        let resp = self.http.request(req).await.expect("issuing API answers");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    async fn metrics(&self) -> Metrics {
        let (status, body) = self.admin("GET", "/metrics", "").await.expect("/metrics answers");
        assert_eq!(status, 200);
        Metrics::parse(&String::from_utf8_lossy(&body))
    }

    /// Polls `/metrics` (bounded) until `ok` holds for them.
    async fn wait_metrics(&self, what: &str, ok: impl Fn(&Metrics) -> bool) -> Metrics {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = self.metrics().await;
            if ok(&m) {
                return m;
            }
            assert!(Instant::now() < deadline, "metrics never showed {what}:\n{}", m.text);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// The JSON log lines written so far.
    fn log_json(&self) -> Vec<serde_json::Value> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn object_file(&self, key: &str) -> PathBuf {
        self.dir.path().join("data").join(BUCKET).join(key)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self.logs.lock().map(|l| l.join("\n")).unwrap_or_default();
            eprintln!("--- guestpass log ---\n{logs}\n--- end of log ---");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_text(dir: &Path, setup: &Setup, port: u16, admin_port: u16, credentials: &str) -> String {
    let scheme = if setup.tls.is_some() { "https" } else { "http" };
    let tls = if setup.tls.is_some() {
        format!(
            "[server.tls]\ncert_file = {}\nkey_file = {}\n",
            toml_str(&dir.join("tls/cert.pem").display().to_string()),
            toml_str(&dir.join("tls/key.pem").display().to_string()),
        )
    } else {
        String::new()
    };
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
public_url = "{scheme}://127.0.0.1:{port}"
drain_grace = "30s"
{server}
{tls}
[admin]
listen = "127.0.0.1:{admin_port}"

[log]
format = "json"
level = "info"

[upstream]
embedded_data_dir = {data}

{credentials}
"#,
        server = setup.server,
        data = toml_str(&dir.join("data").display().to_string()),
    )
}

/// Writes `path` by renaming a finished temporary file over it, so a reader (the
/// gateway's file watcher) never sees half a file.
fn write_atomically(path: &Path, contents: &[u8]) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, contents).expect("write temp file");
    std::fs::rename(&tmp, path).expect("rename into place");
}

async fn send(client: &HttpClient, method: &str, url: &str, body: Bytes) -> Result<(StatusCode, Bytes), String> {
    let req = Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .map_err(|_| "no answer in 30 s".to_owned())?
        .map_err(|e| format!("{e:?}"))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e:?}"))?
        .to_bytes();
    Ok((status, bytes))
}

/// `/metrics` as (name, labels) -> value.
struct Metrics {
    text: String,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Metrics {
    fn parse(text: &str) -> Metrics {
        let mut samples = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else { continue };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                None => (series, BTreeMap::new()),
            };
            samples.push((name.to_owned(), labels, value));
        }
        Metrics {
            text: text.to_owned(),
            samples,
        }
    }

    /// The sum over the series of `name` that carry every label in `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, _, v)| v)
            .sum()
    }

    fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|(n, _, _)| n == name)
    }
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(n);
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.insert(key.trim_start_matches(',').trim().to_owned(), value);
        rest = &after[end..];
    }
    out
}

// ---------------------------------------------------------------------------------------
// Certificates

/// A certificate and its key, PEM, signed by the test CA.
#[derive(Clone)]
struct TestCert {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

/// A throwaway CA that signs leaf certificates for 127.0.0.1 and localhost.
struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    der: CertificateDer<'static>,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "guestpass test CA");
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            der: cert.der().clone(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    fn leaf(&self, common_name: &str, serial: u64) -> TestCert {
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
        params.serial_number = Some(rcgen::SerialNumber::from(serial));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        TestCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    fn client_config(&self, alpn: &[&[u8]]) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config
    }
}

/// A TLS connection to the gateway offering `alpn`, verified against the test CA.
async fn tls_connect(ca: &TestCa, port: u16, alpn: &[&[u8]]) -> tokio_rustls::client::TlsStream<TcpStream> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(ca.client_config(alpn)));
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.expect("TCP connect");
    let name = ServerName::try_from("127.0.0.1").unwrap();
    tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .expect("TLS handshake in time")
        .expect("TLS handshake verifies against the test CA")
}

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn tls_handshake_over_http1_and_http2_then_a_presigned_get() {
    let ca = TestCa::new();
    let gw = Gateway::start(Setup {
        credentials: app_credential(),
        tls: Some(ca.leaf("guestpass test server", 1)),
        ..Setup::default()
    })
    .await;
    let body = Bytes::from_static(b"served over TLS\n");

    // HTTP/2 chosen by ALPN: a PUT, then GETs, through a pooled client that offers both.
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(ca.client_config(&[]))
        .https_only()
        .enable_all_versions()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let put = gw.presign("PUT", APP_KEY, APP_SECRET, "tls.txt");
    let resp = client
        .request(Request::put(put.as_str()).body(Full::new(body.clone())).unwrap())
        .await
        .expect("PUT over TLS");
    assert_eq!(
        resp.version(),
        Version::HTTP_2,
        "a client offering h2 and http/1.1 gets h2"
    );
    assert_eq!(resp.status(), 200);
    let get = gw.presign("GET", APP_KEY, APP_SECRET, "tls.txt");
    let resp = client
        .request(Request::get(get.as_str()).body(Full::default()).unwrap())
        .await
        .expect("GET over TLS");
    assert_eq!((resp.version(), resp.status()), (Version::HTTP_2, StatusCode::OK));
    assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), body);

    // HTTP/1.1 negotiated by ALPN, on a connection of its own.
    let tls = tls_connect(&ca, gw.port, &[b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(conn);
    let uri: http::Uri = get.parse().unwrap();
    let req = Request::get(uri.path_and_query().unwrap().as_str())
        .header("host", format!("127.0.0.1:{}", gw.port))
        .body(Full::<Bytes>::default())
        .unwrap();
    let resp = sender.send_request(req).await.expect("GET over HTTP/1.1");
    assert_eq!((resp.version(), resp.status()), (Version::HTTP_11, StatusCode::OK));
    assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), body);

    // HTTP/2 negotiated by ALPN, on a connection of its own: the host is `:authority`.
    let tls = tls_connect(&ca, gw.port, &[b"h2"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
        .await
        .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    let req = Request::get(get.as_str()).body(Full::<Bytes>::default()).unwrap();
    let resp = sender.send_request(req).await.expect("GET over HTTP/2");
    assert_eq!((resp.version(), resp.status()), (Version::HTTP_2, StatusCode::OK));
    assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), body);

    // `:authority` is the signed host: a URL signed for the name the certificate also
    // carries works with that authority, and fails once the authority is changed.
    let by_name = presign_url(
        APP_KEY,
        &Secret::new(APP_SECRET),
        REGION,
        &PresignRequest {
            method: "GET",
            base_url: &format!("https://localhost:{}", gw.port),
            path: &format!("/{BUCKET}/tls.txt"),
            extra_query: &[],
            expires_secs: 600,
            now: time::OffsetDateTime::now_utc(),
        },
    );
    let req = Request::get(by_name.as_str()).body(Full::<Bytes>::default()).unwrap();
    let resp = sender.send_request(req).await.expect("GET over HTTP/2");
    assert_eq!(
        resp.status(),
        200,
        "signed for localhost, sent with :authority localhost"
    );
    assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), body);
    let moved = by_name.replace("localhost", "127.0.0.1");
    let req = Request::get(moved.as_str()).body(Full::<Bytes>::default()).unwrap();
    let resp = sender.send_request(req).await.expect("GET over HTTP/2");
    assert_eq!(resp.status(), 403, "the signed host must match :authority");
}

#[tokio::test]
async fn a_certificate_swapped_on_disk_is_served_without_a_restart() {
    let ca = TestCa::new();
    let first = ca.leaf("guestpass first", 1);
    let gw = Gateway::start(Setup {
        credentials: app_credential(),
        tls: Some(first.clone()),
        ..Setup::default()
    })
    .await;
    let presented = |tls: &tokio_rustls::client::TlsStream<TcpStream>| {
        tls.get_ref().1.peer_certificates().expect("a certificate")[0]
            .clone()
            .into_owned()
    };
    assert_eq!(presented(&tls_connect(&ca, gw.port, &[]).await), first.der);

    // Renewed on disk: another key, serial and common name. No signal: the watcher sees it.
    let second = ca.leaf("guestpass renewed", 2);
    write_atomically(&gw.dir.path().join("tls/key.pem"), second.key_pem.as_bytes());
    write_atomically(&gw.dir.path().join("tls/cert.pem"), second.cert_pem.as_bytes());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = presented(&tls_connect(&ca, gw.port, &[]).await);
        if now == second.der {
            break;
        }
        assert_eq!(now, first.der, "neither the old nor the new certificate");
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not served within 10 s\n{}",
            gw.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // And requests still work on new connections with the new certificate.
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(ca.client_config(&[]))
        .https_only()
        .enable_all_versions()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let put = gw.presign("PUT", APP_KEY, APP_SECRET, "after-renewal.txt");
    let resp = client
        .request(
            Request::put(put.as_str())
                .body(Full::new(Bytes::from_static(b"x")))
                .unwrap(),
        )
        .await
        .expect("PUT after the renewal");
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_under_load_drops_nothing_while_a_key_is_added_and_another_revoked() {
    const STAYS: &str = "STAYINGKEY";
    const STAYS_SECRET: &str = "staying-secret-4Hn8Qw";
    const NEW: &str = "ADDEDKEY";
    const NEW_SECRET: &str = "added-secret-9Vb3Zr";
    const OLD: &str = "REVOKEDKEY";
    const OLD_SECRET: &str = "revoked-secret-2Kp6Mx";
    let cred = |id: &str, secret: &str, disabled: bool| {
        format!("[[credentials]]\naccess_key_id = \"{id}\"\nsecret_access_key = \"{secret}\"\ndisabled = {disabled}\n")
    };
    let before = format!("{}{}", cred(STAYS, STAYS_SECRET, false), cred(OLD, OLD_SECRET, false));
    let after = format!(
        "{}{}{}",
        cred(STAYS, STAYS_SECRET, false),
        cred(OLD, OLD_SECRET, true),
        cred(NEW, NEW_SECRET, false)
    );
    let gw = Arc::new(
        Gateway::start(Setup {
            credentials: before,
            ..Setup::default()
        })
        .await,
    );
    let object = Bytes::from(vec![b'L'; 4096]);
    let (status, _) = gw
        .must(
            "PUT",
            &gw.presign("PUT", STAYS, STAYS_SECRET, "load.bin"),
            object.clone(),
        )
        .await;
    assert_eq!(status, 200);
    let old_url = gw.presign("GET", OLD, OLD_SECRET, "load.bin");
    let new_url = gw.presign("GET", NEW, NEW_SECRET, "load.bin");
    assert_eq!(
        gw.must("GET", &old_url, "").await.0,
        200,
        "the key to revoke works before"
    );
    let (status, body) = gw.must("GET", &new_url, "").await;
    assert_eq!(status, 403, "the key to add is unknown before");
    assert!(String::from_utf8_lossy(&body).contains("InvalidAccessKeyId"));

    // Four clients fetch for ~6 s (at most 4 x 5000 requests) while the config changes.
    let load_time = Duration::from_secs(6);
    let started = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut loops = Vec::new();
    for _ in 0..4 {
        let (gw, done, failures, object) = (gw.clone(), done.clone(), failures.clone(), object.clone());
        loops.push(tokio::spawn(async move {
            let client = http_client();
            for _ in 0..5000 {
                if started.elapsed() >= load_time {
                    break;
                }
                // A fresh URL now and then, so signing times move too.
                let url = gw.presign("GET", STAYS, STAYS_SECRET, "load.bin");
                match send(&client, "GET", &url, Bytes::new()).await {
                    Ok((StatusCode::OK, body)) if body == object => {}
                    Ok((status, body)) => failures
                        .lock()
                        .unwrap()
                        .push(format!("{status}: {}", String::from_utf8_lossy(&body))),
                    Err(e) => failures.lock().unwrap().push(e),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reloads_before = gw
        .metrics()
        .await
        .sum("guestpass_config_reloads_total", &[("result", "success")]);
    gw.rewrite_credentials(&after);
    gw.signal("HUP");
    gw.wait_metrics("a successful reload", |m| {
        m.sum("guestpass_config_reloads_total", &[("result", "success")]) > reloads_before
    })
    .await;
    for l in loops {
        l.await.expect("load loop");
    }
    let failures = std::mem::take(&mut *failures.lock().unwrap());
    let total = done.load(Ordering::Relaxed);
    assert!(
        failures.is_empty(),
        "{} of {total} requests failed across the reload, first: {:?}",
        failures.len(),
        failures.first()
    );
    assert!(total >= 40, "the load ran only {total} requests");

    let (status, body) = gw.must("GET", &old_url, "").await;
    assert_eq!(status, 403, "a revoked key's URL fails");
    assert!(String::from_utf8_lossy(&body).contains("<Code>InvalidAccessKeyId</Code>"));
    let fresh_old = gw.presign("GET", OLD, OLD_SECRET, "load.bin");
    assert_eq!(
        gw.must("GET", &fresh_old, "").await.0,
        403,
        "and so does a new one it signs"
    );
    let (status, body) = gw.must("GET", &new_url, "").await;
    assert_eq!((status, body), (StatusCode::OK, object), "the added key's URL works");
}

#[tokio::test]
async fn an_invalid_config_on_reload_is_refused_and_the_old_one_stays() {
    let gw = Gateway::start(Setup {
        credentials: app_credential(),
        ..Setup::default()
    })
    .await;
    let (status, _) = gw
        .must("PUT", &gw.presign("PUT", APP_KEY, APP_SECRET, "kept.txt"), "still here")
        .await;
    assert_eq!(status, 200);
    let get = gw.presign("GET", APP_KEY, APP_SECRET, "kept.txt");
    let valid = std::fs::read_to_string(gw.config_path()).unwrap();
    let other_key = "[[credentials]]\naccess_key_id = \"OTHERKEY\"\nsecret_access_key = \"other-secret-5Tg7\"\n";

    let broken: [(&str, String); 3] = [
        (
            "not TOML for this schema",
            valid.replace("[admin]", "bogus_key = 1\n[admin]"),
        ),
        (
            // Parses, but does not validate: the app key's secret is too short.
            "invalid",
            valid.replace(APP_SECRET, "short") + other_key,
        ),
        (
            "a restart-only change",
            valid.replace(&format!("127.0.0.1:{}\"", gw.port), "127.0.0.1:1\""),
        ),
    ];
    for (what, text) in broken {
        let failures = gw
            .metrics()
            .await
            .sum("guestpass_config_reloads_total", &[("result", "failure")]);
        write_atomically(&gw.config_path(), text.as_bytes());
        gw.signal("HUP");
        gw.wait_metrics(&format!("a refused reload of a {what} config"), |m| {
            m.sum("guestpass_config_reloads_total", &[("result", "failure")]) > failures
        })
        .await;
        let (status, body) = gw.must("GET", &get, "").await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, Bytes::from_static(b"still here")),
            "after a {what} config the old one serves"
        );
        let url = gw.presign("GET", "OTHERKEY", "other-secret-5Tg7", "kept.txt");
        assert_eq!(
            gw.must("GET", &url, "").await.0,
            403,
            "the refused config's key is unknown"
        );
        assert_eq!(gw.admin("GET", "/readyz", "").await.unwrap().0, 200);
        // The admin API says why too.
        let (status, body) = gw.admin("POST", "/v1/reload", "").await.unwrap();
        assert_eq!(
            status,
            422,
            "POST /v1/reload of a {what} config: {}",
            String::from_utf8_lossy(&body)
        );
    }
    assert!(
        gw.log_json()
            .iter()
            .any(|l| l["message"] == "reload refused; the previous configuration stays"),
        "the refusal is logged"
    );

    // Fixed again: the next reload succeeds.
    write_atomically(&gw.config_path(), (valid + other_key).as_bytes());
    let (status, _) = gw.admin("POST", "/v1/reload", "").await.unwrap();
    assert_eq!(status, 200);
    let url = gw.presign("GET", "OTHERKEY", "other-secret-5Tg7", "kept.txt");
    assert_eq!(gw.must("GET", &url, "").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_large_upload_lets_it_finish_then_exits_zero() {
    const SIZE: usize = 64 << 20;
    const CHUNK: usize = 1 << 20;
    let mut gw = Gateway::start(Setup {
        credentials: app_credential(),
        ..Setup::default()
    })
    .await;
    let data: Arc<Vec<u8>> = Arc::new((0..SIZE).map(|i| (i % 251) as u8 ^ (i >> 20) as u8).collect());
    let url: http::Uri = gw.presign("PUT", APP_KEY, APP_SECRET, "big.bin").parse().unwrap();

    // A raw HTTP/1.1 upload, paced at 1 MiB every 40 ms (about 2.7 s in all).
    let (sent_tx, mut sent_rx) = tokio::sync::watch::channel(0usize);
    let addr = gw.addr();
    let upload = {
        let data = data.clone();
        tokio::spawn(async move {
            let mut sock = TcpStream::connect(addr).await.expect("connect");
            let head = format!(
                "PUT {} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {SIZE}\r\nConnection: close\r\n\r\n",
                url.path_and_query().unwrap()
            );
            sock.write_all(head.as_bytes()).await.expect("head");
            for (i, chunk) in data.chunks(CHUNK).enumerate() {
                sock.write_all(chunk).await.expect("body chunk");
                let _ = sent_tx.send(i + 1);
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            let mut answer = Vec::new();
            tokio::time::timeout(Duration::from_secs(30), sock.read_to_end(&mut answer))
                .await
                .expect("an answer within 30 s")
                .expect("read the answer");
            String::from_utf8_lossy(&answer).into_owned()
        })
    };

    // Eight chunks in, the orchestrator says stop.
    tokio::time::timeout(Duration::from_secs(20), sent_rx.wait_for(|n| *n >= 8))
        .await
        .expect("the upload started")
        .unwrap();
    gw.signal("TERM");

    // While draining it is no longer ready, and it takes no new requests.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let status = gw.admin("GET", "/readyz", "").await.map(|r| r.0);
        if status == Ok(StatusCode::SERVICE_UNAVAILABLE) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still says {status:?} while draining"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        *sent_rx.borrow() < SIZE / CHUNK,
        "the upload finished before the drain began; slow it down"
    );
    let newcomer = tokio::time::timeout(
        Duration::from_secs(2),
        send(
            &http_client(),
            "GET",
            &gw.presign("GET", APP_KEY, APP_SECRET, "big.bin"),
            Bytes::new(),
        ),
    )
    .await;
    assert!(
        !matches!(newcomer, Ok(Ok(_))),
        "a request on a new connection was served while draining: {newcomer:?}"
    );

    let answer = upload.await.expect("upload task");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the in-flight upload did not finish: {answer}"
    );
    let status = gw.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "exit status after the drain\n{}", gw.log_text());

    let stored = std::fs::read(gw.object_file("big.bin")).expect("the object is stored");
    assert_eq!(stored.len(), SIZE);
    assert_eq!(
        Sha256::digest(&stored),
        Sha256::digest(&data[..]),
        "the stored bytes differ"
    );
}

#[tokio::test]
async fn a_slow_header_client_is_cut_off() {
    let gw = Gateway::start(Setup {
        server: "header_read_timeout = \"2s\"".to_owned(),
        credentials: app_credential(),
        ..Setup::default()
    })
    .await;
    let mut sock = TcpStream::connect(gw.addr()).await.unwrap();
    sock.write_all(format!("GET /{BUCKET}/slow.txt HT").as_bytes())
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    // The gateway may answer 408 before closing; what matters is that it closes.
    let read = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut buf)).await;
    let waited = started.elapsed();
    assert!(
        read.is_ok(),
        "the connection was still open 10 s after half a request line (header_read_timeout is 2 s)"
    );
    assert!(
        waited >= Duration::from_millis(1500),
        "cut off after {waited:?}, before the timeout"
    );
    let answer = String::from_utf8_lossy(&buf);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "unexpected answer to a slow header: {answer}"
    );

    // A keep-alive connection left idle after its request is closed too.
    let mut sock = TcpStream::connect(gw.addr()).await.unwrap();
    let head = format!("GET /{BUCKET}/none HTTP/1.1\r\nHost: {}\r\n\r\n", gw.addr());
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut first = [0u8; 12];
    sock.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 403", "an unsigned request is refused");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "an idle keep-alive connection was still open after 10 s");

    // And the gateway serves others meanwhile and after.
    let (status, _) = gw
        .must("PUT", &gw.presign("PUT", APP_KEY, APP_SECRET, "fast.txt"), "ok")
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn probes_answer_on_the_admin_listener() {
    let gw = Gateway::start(Setup {
        credentials: app_credential(),
        ..Setup::default()
    })
    .await;
    let (status, body) = gw.admin("GET", "/livez", "").await.unwrap();
    assert_eq!(status, 200, "{body:?}");
    let (status, body) = gw.admin("GET", "/readyz", "").await.unwrap();
    assert_eq!(status, 200, "{body:?}");
    let (status, _) = gw.admin("GET", "/nothing-here", "").await.unwrap();
    assert_eq!(status, 404);
    // The probes are not on the S3 listener: there a path is a bucket.
    let (status, _) = gw.must("GET", &format!("{}/livez", gw.base_url()), "").await;
    assert_ne!(status, 200);
}

#[tokio::test]
async fn metrics_counters_move_as_requests_are_made() {
    let gw = Gateway::start(Setup {
        credentials: app_credential(),
        ..Setup::default()
    })
    .await;
    let body = Bytes::from(vec![b'm'; 3000]);
    let before = gw.metrics().await;
    for name in [
        "guestpass_verify_seconds_count",
        "guestpass_upstream_seconds_count",
        "guestpass_in_flight_requests",
        "guestpass_client_connections_open",
    ] {
        assert!(before.has(name), "{name} is missing:\n{}", before.text);
    }
    let counter = |m: &Metrics, method: &str, outcome: &str, code: &str| {
        m.sum(
            "guestpass_requests_total",
            &[("method", method), ("outcome", outcome), ("code", code)],
        )
    };

    let (status, _) = gw
        .must(
            "PUT",
            &gw.presign("PUT", APP_KEY, APP_SECRET, "counted.bin"),
            body.clone(),
        )
        .await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        let (status, got) = gw
            .must("GET", &gw.presign("GET", APP_KEY, APP_SECRET, "counted.bin"), "")
            .await;
        assert_eq!((status, got), (StatusCode::OK, body.clone()));
    }
    let forged = gw.presign("GET", APP_KEY, "not-the-secret", "counted.bin");
    assert_eq!(gw.must("GET", &forged, "").await.0, 403);

    let after = gw
        .wait_metrics("the four requests", |m| {
            counter(m, "GET", "ok", "") >= counter(&before, "GET", "ok", "") + 2.0
                && counter(m, "PUT", "ok", "") >= counter(&before, "PUT", "ok", "") + 1.0
                && counter(m, "GET", "auth_error", "SignatureDoesNotMatch")
                    >= counter(&before, "GET", "auth_error", "SignatureDoesNotMatch") + 1.0
        })
        .await;
    let grew = |name: &str| after.sum(name, &[]) - before.sum(name, &[]);
    assert!(grew("guestpass_request_body_bytes_total") >= 3000.0, "{}", after.text);
    assert!(grew("guestpass_response_body_bytes_total") >= 6000.0, "{}", after.text);
    assert!(grew("guestpass_verify_seconds_count") >= 3.0, "{}", after.text);
    assert!(grew("guestpass_upstream_seconds_count") >= 3.0, "{}", after.text);
}

#[tokio::test]
async fn the_issuing_api_refuses_bad_tokens_and_its_urls_verify_and_are_traced() {
    let gw = Gateway::start(Setup {
        credentials: format!(
            "{}\n[[issuers]]\nname = \"photo-app\"\naccess_key_id = \"{APP_KEY}\"\ntoken = \"{ISSUER_TOKEN}\"\n",
            app_credential()
        ),
        ..Setup::default()
    })
    .await;
    let ask =
        |method: &str| serde_json::json!({ "bucket": BUCKET, "key": "issued.txt", "method": method, "expires": "10m" });

    for token in [None, Some("wrong-token-but-long-enough"), Some("")] {
        let (status, body) = gw.issue(token, ask("GET")).await;
        assert_eq!(status, 401, "token {token:?}: {body}");
        assert!(body.get("url").is_none());
    }

    let (status, put) = gw.issue(Some(ISSUER_TOKEN), ask("PUT")).await;
    assert_eq!(status, 200, "{put}");
    let put_id = put["issuance_id"].as_str().expect("an issuance id").to_owned();
    let put_url = put["url"].as_str().expect("a url");
    assert!(put["expires_at"].is_string(), "{put}");
    assert!(put_url.starts_with(&gw.base_url()), "{put_url}");
    assert!(put_url.contains(&format!("x-guestpass-issuance={put_id}")), "{put_url}");
    assert_eq!(gw.must("PUT", put_url, "issued content").await.0, 200);

    let (status, get) = gw.issue(Some(ISSUER_TOKEN), ask("GET")).await;
    assert_eq!(status, 200, "{get}");
    let get_id = get["issuance_id"].as_str().unwrap().to_owned();
    assert_ne!(get_id, put_id, "each issuance has its own id");
    let get_url = get["url"].as_str().unwrap();
    let (status, body) = gw.must("GET", get_url, "").await;
    assert_eq!((status, body), (StatusCode::OK, Bytes::from_static(b"issued content")));

    // The id is signed: claiming another issuance breaks the signature.
    let relabelled = get_url.replace(&get_id, &put_id);
    let (status, body) = gw.must("GET", &relabelled, "").await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("SignatureDoesNotMatch"));

    // The audit log names the issuer; each use's access-log line names the issuance.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines = gw.log_json();
        let issued = |id: &str| {
            lines
                .iter()
                .any(|l| l["target"] == "guestpass::audit" && l["issuance_id"] == id && l["issuer"] == "photo-app")
        };
        let used = |id: &str, method: &str| {
            lines.iter().any(|l| {
                l["target"] == "guestpass::access"
                    && l["issuance"] == id
                    && l["method"] == method
                    && l["status"] == 200
                    && l["access_key_id"] == APP_KEY
            })
        };
        if issued(&put_id) && issued(&get_id) && used(&put_id, "PUT") && used(&get_id, "GET") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "audit and access log lines missing for {put_id} / {get_id}:\n{}",
            gw.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !gw.log_text().contains(ISSUER_TOKEN),
        "the issuer token reached the log"
    );
}

#[tokio::test]
async fn a_rotating_credential_verifies_both_secrets_and_follows_mounted_files() {
    // Secrets mounted the way Kubernetes mounts a Secret: files that are symlinks through
    // `..data`, which is swapped atomically to a new timestamped folder on update.
    let secrets = tempfile::tempdir().unwrap();
    let mount = |version: &str, current: &str, previous: &str| {
        let folder = secrets.path().join(format!("..{version}"));
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("current"), current).unwrap();
        std::fs::write(folder.join("previous"), previous).unwrap();
        let link = secrets.path().join("..data_tmp");
        std::os::unix::fs::symlink(format!("..{version}"), &link).unwrap();
        std::fs::rename(&link, secrets.path().join("..data")).unwrap();
        for name in ["current", "previous"] {
            let file = secrets.path().join(name);
            if std::fs::symlink_metadata(&file).is_err() {
                std::os::unix::fs::symlink(format!("..data/{name}"), &file).unwrap();
            }
        }
    };
    const OLD: &str = "rotating-secret-old-1Qa";
    const NEW: &str = "rotating-secret-new-2Ws";
    const NEWER: &str = "rotating-secret-newer-3Ed";
    mount("2024_01", NEW, OLD);
    let path = |name: &str| toml_str(&secrets.path().join(name).display().to_string());
    let gw = Gateway::start(Setup {
        credentials: format!(
            "[[credentials]]\naccess_key_id = \"ROTATING\"\nsecret_access_key_file = {}\nprevious_secret_access_key_file = {}\n",
            path("current"),
            path("previous")
        ),
        ..Setup::default()
    })
    .await;
    let put = gw.presign("PUT", "ROTATING", NEW, "rotated.txt");
    assert_eq!(gw.must("PUT", &put, "rotation").await.0, 200);
    for (which, secret) in [("new", NEW), ("previous", OLD)] {
        let url = gw.presign("GET", "ROTATING", secret, "rotated.txt");
        let (status, body) = gw.must("GET", &url, "").await;
        assert_eq!(
            status,
            200,
            "a URL signed with the {which} secret: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let forged = gw.presign("GET", "ROTATING", "neither-of-the-two", "rotated.txt");
    let (status, body) = gw.must("GET", &forged, "").await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("SignatureDoesNotMatch"));

    // The Secret is updated (the next rotation step): no signal, the watcher follows it.
    let old_url = gw.presign("GET", "ROTATING", OLD, "rotated.txt");
    let newer_url = gw.presign("GET", "ROTATING", NEWER, "rotated.txt");
    let new_url = gw.presign("GET", "ROTATING", NEW, "rotated.txt");
    mount("2024_02", NEWER, NEW);
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.must("GET", &newer_url, "").await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the updated secret files were not picked up within 10 s\n{}",
            gw.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(gw.must("GET", &new_url, "").await.0, 200, "now the previous secret");
    let (status, body) = gw.must("GET", &old_url, "").await;
    assert_eq!(status, 403, "the retired secret no longer verifies");
    assert!(String::from_utf8_lossy(&body).contains("SignatureDoesNotMatch"));
}

/// A client that connects and never sends a byte would hold a connection slot (of
/// `max_connections`) for ever: hyper's header-read timeout starts only with the first
/// byte, so the gateway bounds the wait for it too.
#[tokio::test]
async fn a_silent_client_is_cut_off() {
    let gw = Gateway::start(Setup {
        server: "header_read_timeout = \"2s\"".to_owned(),
        credentials: app_credential(),
        ..Setup::default()
    })
    .await;
    let mut sock = TcpStream::connect(gw.addr()).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "a connection that sent nothing was still open after 10 s (header_read_timeout is 2 s)"
    );
}

/// An issuer whose credential was revoked (`disabled = true`) gets no URL: it could only
/// fail.
#[tokio::test]
async fn the_issuing_api_refuses_to_sign_with_a_revoked_key() {
    let gw = Gateway::start(Setup {
        credentials: format!(
            "{}disabled = true\n[[credentials]]\naccess_key_id = \"OTHERKEY\"\nsecret_access_key = \"other-secret-5Tg7\"\n\
             [[issuers]]\nname = \"photo-app\"\naccess_key_id = \"{APP_KEY}\"\ntoken = \"{ISSUER_TOKEN}\"\n",
            app_credential()
        ),
        ..Setup::default()
    })
    .await;
    let (status, body) = gw
        .issue(
            Some(ISSUER_TOKEN),
            serde_json::json!({ "bucket": BUCKET, "key": "k", "method": "GET" }),
        )
        .await;
    if let Some(url) = body["url"].as_str() {
        let (used, _) = gw.must("GET", url, "").await;
        panic!("issued ({status}) a URL of a revoked key, which answers {used}: {url}");
    }
    assert!(status.is_client_error(), "{status}: {body}");
}
