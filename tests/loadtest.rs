//! `guestpass loadtest` against real gateways on loopback ports: the embedded default (as
//! `guestpass serve` runs with no config) and a gateway in front of a separate S3 store.
//! Each run is a few hundred requests; the assertions are on the report's counts, never on
//! its speed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tempfile::TempDir;

use guestpass::app::App;
use guestpass::auth::sigv4::sign::{presign_url, PresignRequest};
use guestpass::config::{Config, DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY};
use guestpass::loadtest::{run, LoadMethod, Options, Report};
use guestpass::secret::Secret;
use guestpass::server::{serve, ServerSettings};
use guestpass::upstream::embedded::EmbeddedStore;

/// A gateway serving on an ephemeral loopback port until the test's runtime ends.
struct Gateway {
    url: String,
    app: Arc<App>,
    _dir: TempDir,
}

async fn start_gateway(config: &Config, dir: TempDir) -> Gateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = App::build(config).await.unwrap();
    tokio::spawn(serve(
        Arc::clone(&app),
        listener,
        ServerSettings::default(),
        std::future::pending(),
    ));
    Gateway { url, app, _dir: dir }
}

/// The embedded default, with bucket "demo" created as `guestpass serve` creates it.
async fn embedded_default() -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::embedded_default(dir.path().join("data"), "127.0.0.1:1");
    let gw = start_gateway(&config, dir).await;
    create_bucket(&gw, "demo").await;
    gw
}

async fn create_bucket(gw: &Gateway, bucket: &str) {
    let resp = gw
        .app
        .upstream()
        .send_simple(Method::PUT, bucket, None, Bytes::new())
        .await
        .unwrap();
    assert!(resp.status().is_success(), "create bucket {bucket}: {}", resp.status());
}

/// Uploads `body` to `/demo/<key>` through the gateway with a pre-signed PUT.
async fn seed(gw: &Gateway, key: &str, body: &'static [u8]) {
    let url = presign_url(
        DEMO_ACCESS_KEY_ID,
        &Secret::new(DEMO_SECRET_ACCESS_KEY),
        "us-east-1",
        &PresignRequest {
            method: "PUT",
            base_url: &gw.url,
            path: &format!("/demo/{key}"),
            extra_query: &[],
            expires_secs: 300,
            now: time::OffsetDateTime::now_utc(),
        },
    );
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::put(url).body(Full::new(Bytes::from_static(body))).unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status();
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(status.is_success(), "seed PUT: {status} {text:?}");
}

async fn run_bounded(opts: &Options) -> Report {
    tokio::time::timeout(Duration::from_secs(60), run(opts))
        .await
        .expect("the load test finished within a minute")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_the_embedded_default_with_a_share_of_bad_signatures() {
    let gw = embedded_default().await;
    seed(&gw, "small.txt", b"a small object for the load test\n").await;

    let opts = Options {
        keys: vec!["small.txt".to_owned()],
        urls: 300,
        requests: Some(300),
        concurrency: 8,
        invalid_share: 0.2,
        ..Options::new(gw.url.as_str())
    };
    let report = run_bounded(&opts).await;
    assert_eq!(report.requests, 300, "{report}");
    assert_eq!(report.transport_errors, 0, "{report}");
    assert_eq!(report.run.invalid_urls, 60);
    assert_eq!(report.invalid.requests, 60, "{report}");
    assert_eq!(report.valid.requests, 240, "{report}");
    assert_eq!(report.status_count(200) + report.status_count(403), 300, "{report}");
    assert_eq!(report.status_count(403), report.invalid.requests, "{report}");
    assert_eq!(report.invalid.status.get("403"), Some(&60), "{report}");
    assert_eq!(
        report.error_codes.iter().collect::<Vec<_>>(),
        [(&"SignatureDoesNotMatch".to_owned(), &60)],
        "{report}"
    );
    assert_eq!(report.unexpected, 0, "{report}");
    assert!(report.is_clean());
    // 240 bodies of 33 bytes, plus 60 error documents.
    assert!(report.bytes > 240 * 33, "{report}");
    assert!(report.latency_us.p50 > 0 && report.latency_us.p50 <= report.latency_us.max);

    // HEAD over HTTP/2 (h2c with prior knowledge), all answered 200 with no body.
    let head = Options {
        method: LoadMethod::Head,
        http2: true,
        urls: 50,
        requests: Some(100),
        invalid_share: 0.0,
        ..opts.clone()
    };
    let report = run_bounded(&head).await;
    assert_eq!(report.run.protocol, "HTTP/2");
    assert_eq!((report.requests, report.status_count(200)), (100, 100), "{report}");
    assert_eq!(report.bytes, 0, "{report}");

    // The command itself, with no credentials given: the demo key is its default.
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_guestpass"))
            .args(["loadtest", "--target", &gw.url, "--key", "small.txt", "--json"])
            .args(["--requests", "100", "--concurrency", "4", "--urls", "50"])
            .env_remove("GUESTPASS_LOADTEST_SECRET")
            .env_remove("GUESTPASS_LOADTEST_ACCESS_KEY_ID")
            .output(),
    )
    .await
    .expect("the command finished within a minute")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // One JSON object and nothing else (no progress bar without a terminal).
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(json["requests"], 100, "{json}");
    assert_eq!(json["status"]["200"], 100, "{json}");
    assert_eq!(json["transport_errors"], 0, "{json}");
    assert_eq!(json["unexpected"], 0, "{json}");
    assert_eq!(json["run"]["target"], gw.url.as_str(), "{json}");
    for p in ["p50", "p90", "p99", "p99_9", "max"] {
        assert!(json["latency_us"][p].as_u64().is_some_and(|v| v > 0), "{p}: {json}");
    }
    assert!(json["requests_per_sec"].as_f64().is_some_and(|v| v > 0.0), "{json}");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_a_gateway_in_front_of_another_upstream() {
    const CLIENT_KEY: &str = "LOADTESTCLIENT";
    const CLIENT_SECRET: &str = "loadtest-client-secret-7Qp2";
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::start_with(
        &dir.path().join("store"),
        "LOADTESTUPSTREAM".to_owned(),
        Secret::new("loadtest-upstream-secret-K9s4"),
        None,
    )
    .await
    .unwrap();
    let config = Config::parse(&format!(
        r#"
        [[credentials]]
        access_key_id = "{CLIENT_KEY}"
        secret_access_key = "{CLIENT_SECRET}"

        [upstream]
        endpoint = "{endpoint}"
        access_key_id = "{upstream_key}"
        secret_access_key = "{upstream_secret}"
        "#,
        endpoint = store.endpoint,
        upstream_key = store.access_key_id,
        upstream_secret = store.secret.expose(),
    ))
    .unwrap();
    let gw = start_gateway(&config, dir).await;
    create_bucket(&gw, "uploads").await;

    let put = Options {
        access_key_id: CLIENT_KEY.to_owned(),
        secret_access_key: Secret::new(CLIENT_SECRET),
        bucket: "uploads".to_owned(),
        keys: (0..10).map(|i| format!("load/{i}")).collect(),
        method: LoadMethod::Put,
        body_size: 4096,
        urls: 100,
        requests: Some(100),
        concurrency: 4,
        ..Options::new(gw.url.as_str())
    };
    let report = run_bounded(&put).await;
    assert_eq!(report.requests, 100, "{report}");
    assert_eq!(report.status_count(200), 100, "{report}");
    assert_eq!(report.transport_errors, 0, "{report}");
    assert!(report.error_codes.is_empty(), "{report}");
    assert_eq!(report.bytes, 100 * 4096, "{report}");
    assert_eq!(report.run.body_size, 4096);

    // The uploads arrived whole: reading them back moves 4 KiB each.
    let get = Options {
        method: LoadMethod::Get,
        requests: Some(20),
        ..put.clone()
    };
    let report = run_bounded(&get).await;
    assert_eq!(report.status_count(200), 20, "{report}");
    assert_eq!(report.bytes, 20 * 4096, "{report}");

    // The gateway's client key is not the store's: signing with the store's own key is refused.
    let wrong = Options {
        access_key_id: store.access_key_id.clone(),
        secret_access_key: store.secret.clone(),
        requests: Some(10),
        ..get
    };
    let report = run_bounded(&wrong).await;
    assert_eq!(report.status_count(403), 10, "{report}");
    assert_eq!(report.error_codes.get("InvalidAccessKeyId"), Some(&10), "{report}");
    assert_eq!(report.unexpected, 10);
    assert!(!report.is_clean());
}
