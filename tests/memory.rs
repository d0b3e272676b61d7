//! Memory under large uploads: the real `guestpass` binary, as its own process, in front
//! of a real upstream (the embedded s3s-fs store, run in this test process so that the
//! gateway's memory is measured alone). A 1 GiB pre-signed PUT, a 1 GiB browser POST form
//! and a 1 GiB GET stream through it while the gateway's resident set is sampled from
//! `/proc/<pid>/status`; its peak (`VmHWM`, the kernel's high-water mark) must stay under
//! 64 MiB. Bodies are generated as they are sent and checked byte for byte on the way
//! back, never held in memory.
//!
//! Also: a POST form whose file exceeds its policy's `content-length-range` is refused
//! (400 EntityTooLarge) before the upstream receives anything.
//!
//! The gateway is the debug build (`cargo test` builds no other), so these numbers are an
//! upper bound for a release build; the test prints them along with the transfer times.

// Memory is read from /proc.
#![cfg(target_os = "linux")]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{Method, Request, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::{RngCore, SeedableRng};

use guestpass::config::Config;
use guestpass::policy::restrictions::{Restrictions, MAX_SIZE};
use guestpass::presign::{presign, presign_post, Grant};
use guestpass::secret::Secret;
use guestpass::upstream::embedded::{EmbeddedStore, Observer};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
/// The ceiling the gateway's peak resident set must stay under.
const RSS_LIMIT_KIB: u64 = 64 * 1024;

const CLIENT_KEY_ID: &str = "MEMTESTCLIENT";
const CLIENT_SECRET: &str = "memtest-client-secret-Vb81qX";
const UPSTREAM_KEY_ID: &str = "MEMTESTUPSTREAM";
const UPSTREAM_SECRET: &str = "memtest-upstream-secret-Tz40hK";
const BUCKET: &str = "big";
const BOUNDARY: &str = "----guestpassMemoryTest7MA4YWxkTrZu0gW";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One request head as the upstream received it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
}

/// The upstream: the embedded store in this process, recording what reaches it.
struct Upstream {
    store: EmbeddedStore,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    async fn start(root: &Path) -> Upstream {
        std::fs::create_dir_all(root.join(BUCKET)).expect("bucket folder");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = seen.clone();
        let observer: Observer = Arc::new(move |parts: &http::request::Parts| {
            record.lock().unwrap().push(Seen {
                method: parts.method.clone(),
                path: parts.uri.path().to_owned(),
            });
        });
        let store = EmbeddedStore::start_with(
            root,
            UPSTREAM_KEY_ID.to_owned(),
            Secret::new(UPSTREAM_SECRET),
            Some(observer),
        )
        .await
        .expect("upstream store starts");
        Upstream { store, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// The gateway's configuration; `listen` is `127.0.0.1:0` to start it, and its real
/// address to mint URLs for it.
fn config_toml(listen: &str, upstream: &str) -> String {
    format!(
        r#"
[server]
listen = "{listen}"

[[credentials]]
access_key_id = "{CLIENT_KEY_ID}"
secret_access_key = "{CLIENT_SECRET}"

[upstream]
endpoint = "{upstream}"
access_key_id = "{UPSTREAM_KEY_ID}"
secret_access_key = "{UPSTREAM_SECRET}"
# The store answers a PUT after its last byte: give a debug build time for 1 GiB.
response_timeout = "20m"

[log]
format = "json"
level = "info"
"#
    )
}

/// The `guestpass serve` process.
struct Gateway {
    child: Child,
    /// The last lines of its log, for failure messages.
    log: Arc<Mutex<VecDeque<String>>>,
    /// Config for minting URLs that point at it.
    config: Config,
}

impl Gateway {
    fn start(dir: &Path, upstream: &str) -> Gateway {
        let path = dir.join("gateway.toml");
        std::fs::write(&path, config_toml("127.0.0.1:0", upstream)).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_guestpass"))
            .args(["serve", "--config"])
            .arg(&path)
            .env_remove("RUST_LOG")
            .env_remove("GUESTPASS_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("guestpass starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let log: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let lines = log.clone();
        // Drains the log for the process's whole life, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("guestpass is serving") {
                    if let Some(addr) = serde_json::from_str::<serde_json::Value>(&line)
                        .ok()
                        .and_then(|v| v.get("listen")?.as_str()?.parse().ok())
                    {
                        let _ = addr_tx.send(addr);
                    }
                }
                let mut lines = lines.lock().unwrap();
                if lines.len() == 50 {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        });
        let addr = match addr_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "gateway did not start; log:\n{}",
                    log.lock().unwrap().iter().cloned().collect::<Vec<_>>().join("\n")
                );
            }
        };
        let config = Config::parse(&config_toml(&addr.to_string(), upstream)).expect("config parses");
        Gateway { child, log, config }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        self.log.lock().unwrap().iter().cloned().collect::<Vec<_>>().join("\n")
    }

    fn grant<'a>(&self, method: &'a str, key: &'a str, restrictions: &'a Restrictions) -> Grant<'a> {
        Grant {
            method,
            bucket: BUCKET,
            key,
            expires_secs: 3600,
            access_key_id: None,
            restrictions,
            secret: None,
            now: time::OffsetDateTime::now_utc(),
        }
    }

    fn presign(&self, method: &str, key: &str) -> String {
        let none = Restrictions::default();
        presign(&self.config, &self.grant(method, key, &none)).expect("presign")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("gateway is running");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Samples the gateway's VmRSS every 50 ms until stopped; keeps the largest.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(u64, u64)>>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut max, mut samples) = (0u64, 0u64);
            // Bounded: at most an hour of samples, whatever the test does.
            for _ in 0..72_000 {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                    break;
                };
                if let Some(kib) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    max = max.max(kib);
                    samples += 1;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (max, samples)
        });
        RssSampler {
            stop,
            thread: Some(thread),
        }
    }

    /// (largest VmRSS seen in KiB, number of samples).
    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().expect("joined once").join().expect("sampler")
    }
}

/// Pseudo-random file content of a given length, generated on demand: chunk `i` is a
/// window of a random block at a position that depends on `i`, its first 8 bytes
/// overwritten with `i`, so no two chunks are alike and a lost, repeated or reordered
/// chunk is caught. Cheap to produce twice: once to send, once to check what comes back.
#[derive(Clone)]
struct Content {
    block: Bytes,
    len: u64,
}

const CHUNK: usize = 64 * 1024;
const BLOCK: usize = 2 << 20;

impl Content {
    fn new(seed: u64, len: u64) -> Content {
        let mut block = vec![0u8; BLOCK];
        rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut block);
        Content {
            block: Bytes::from(block),
            len,
        }
    }

    /// Chunk `i` (the last one may be short).
    fn chunk(&self, i: u64) -> Bytes {
        let n = (self.len - i * CHUNK as u64).min(CHUNK as u64) as usize;
        let start = ((i.wrapping_mul(7919) as usize) * 64) % (BLOCK - CHUNK);
        let mut chunk = BytesMut::from(&self.block[start..start + n]);
        let tag = i.to_be_bytes();
        let k = n.min(tag.len());
        chunk[..k].copy_from_slice(&tag[..k]);
        chunk.freeze()
    }

    fn chunks(&self) -> u64 {
        self.len.div_ceil(CHUNK as u64)
    }
}

/// Checks a stream against `Content` byte for byte as it arrives, however it is split
/// into frames. (Stronger than comparing digests, and cheaper: hashing 2 GiB twice in a
/// debug build would take most of this test's time.)
struct Verifier {
    content: Content,
    offset: u64,
    current: Option<(u64, Bytes)>,
}

impl Verifier {
    fn new(content: Content) -> Verifier {
        Verifier {
            content,
            offset: 0,
            current: None,
        }
    }

    /// Whether `data`, at the current offset, is what was sent.
    fn check(&mut self, mut data: &[u8]) -> bool {
        while !data.is_empty() {
            if self.offset >= self.content.len {
                return false;
            }
            let i = self.offset / CHUNK as u64;
            if self.current.as_ref().is_none_or(|(c, _)| *c != i) {
                self.current = Some((i, self.content.chunk(i)));
            }
            let expected = &self.current.as_ref().expect("just set").1[(self.offset % CHUNK as u64) as usize..];
            let n = expected.len().min(data.len());
            if expected[..n] != data[..n] {
                return false;
            }
            data = &data[n..];
            self.offset += n as u64;
        }
        true
    }
}

/// A request body generated as it is sent: an optional preamble, the content, an
/// optional epilogue.
struct GeneratedBody {
    preamble: Option<Bytes>,
    epilogue: Option<Bytes>,
    content: Content,
    next_chunk: u64,
}

impl GeneratedBody {
    fn new(content: &Content, preamble: Option<Bytes>, epilogue: Option<Bytes>) -> Self {
        GeneratedBody {
            preamble,
            epilogue,
            content: content.clone(),
            next_chunk: 0,
        }
    }

    fn empty() -> Self {
        GeneratedBody::new(
            &Content {
                block: Bytes::new(),
                len: 0,
            },
            None,
            None,
        )
    }

    fn left(&self) -> u64 {
        self.preamble.as_ref().map_or(0, |b| b.len() as u64)
            + (self.content.len - (self.next_chunk * CHUNK as u64).min(self.content.len))
            + self.epilogue.as_ref().map_or(0, |b| b.len() as u64)
    }
}

impl Body for GeneratedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(p) = self.preamble.take() {
            return Poll::Ready(Some(Ok(Frame::data(p))));
        }
        if self.next_chunk < self.content.chunks() {
            let chunk = self.content.chunk(self.next_chunk);
            self.next_chunk += 1;
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if let Some(e) = self.epilogue.take() {
            return Poll::Ready(Some(Ok(Frame::data(e))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.left() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left())
    }
}

type TestClient = Client<HttpConnector, GeneratedBody>;

fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// The multipart/form-data around a file: fields, then the file part's head; and the
/// closing boundary.
fn form_parts(fields: &[(String, String)], filename: &str) -> (Bytes, Bytes) {
    let mut pre = String::new();
    for (name, value) in fields {
        pre.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    pre.push_str(&format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    ));
    (Bytes::from(pre), Bytes::from(format!("\r\n--{BOUNDARY}--\r\n")))
}

/// Sends `body` and returns the status and response body text.
async fn send(
    client: &TestClient,
    method: Method,
    url: &str,
    content_type: &str,
    body: GeneratedBody,
) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::CONTENT_LENGTH, body.left())
        .body(body)
        .expect("request");
    let resp = client.request(req).await.expect("gateway answers");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("response body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Sends `body` on a raw connection, writing and reading at once, and returns the status
/// and the response text. A gateway that refuses a request before reading its body
/// answers and closes while the client is still sending; a client that gives up on the
/// first failed write (hyper's does) never sees the answer, so this one keeps reading.
async fn send_raw(url: &str, content_type: &str, body: GeneratedBody) -> (StatusCode, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let uri: http::Uri = url.parse().expect("url");
    let authority = uri.authority().expect("authority").as_str().to_owned();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let stream = tokio::net::TcpStream::connect(&authority).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.left()
    );
    let writer = tokio::spawn(async move {
        let mut body = body;
        if wr.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                if wr.write_all(&data).await.is_err() {
                    return;
                }
            }
        }
        // Keep the sending side open until the answer is read: dropping it would
        // half-close the connection, which the gateway (like hyper) takes as the client
        // going away.
        std::future::pending::<()>().await;
        drop(wr);
    });
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    // Bounded by the deadline and by the answer's size.
    while answer.len() < (1 << 20) {
        match tokio::time::timeout_at(deadline, rd.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no answer within 120 s; got {:?}", String::from_utf8_lossy(&answer)),
        }
    }
    writer.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    (status, text)
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; the
    // kernel reports them in USER_HZ, which is 100 on Linux.
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Downloads `url`, streaming, and checks it byte for byte against `expected`:
/// (status, length, whether every byte matched).
async fn download(client: &TestClient, url: &str, expected: &Content) -> (StatusCode, u64, bool) {
    let req = Request::get(url).body(GeneratedBody::empty()).expect("request");
    let resp = client.request(req).await.expect("gateway answers");
    let status = resp.status();
    let mut body = resp.into_body();
    let mut verifier = Verifier::new(expected.clone());
    let mut same = true;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("download body").into_data() {
            same &= verifier.check(&data);
        }
    }
    (status, verifier.offset, same)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn rate(bytes: u64, took: Duration) -> String {
    format!(
        "{:.1}s, {:.0} MiB/s",
        took.as_secs_f64(),
        bytes as f64 / MIB as f64 / took.as_secs_f64()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_put_post_and_get_keep_gateway_rss_under_64_mib() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store_root = dir.path().join("store");
    let upstream = Upstream::start(&store_root).await;
    let gateway = Gateway::start(dir.path(), &upstream.store.endpoint);
    let pid = gateway.pid();
    let client = client();
    let started_kib = status_kib(pid, "VmRSS");
    let sampler = RssSampler::start(pid);

    // 1 GiB pre-signed PUT.
    let put_url = gateway.presign("PUT", "put.bin");
    let put_content = Content::new(1, GIB);
    let body = GeneratedBody::new(&put_content, None, None);
    let t = Instant::now();
    let (status, text) = send(&client, Method::PUT, &put_url, "application/octet-stream", body).await;
    let put_took = t.elapsed();
    assert_eq!(
        status,
        StatusCode::OK,
        "PUT: {text}\ngateway log:\n{}",
        gateway.log_tail()
    );
    let after_put_kib = status_kib(pid, "VmHWM");

    // 1 GiB browser POST form, `${filename}` in the key.
    let none = Restrictions::default();
    let form = presign_post(&gateway.config, &gateway.grant("POST", "form/${filename}", &none)).expect("presign post");
    let (pre, post) = form_parts(&form.fields, "post.bin");
    let post_content = Content::new(2, GIB);
    let body = GeneratedBody::new(&post_content, Some(pre), Some(post));
    let t = Instant::now();
    let (status, text) = send(
        &client,
        Method::POST,
        &form.url,
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        body,
    )
    .await;
    let post_took = t.elapsed();
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "POST: {text}\ngateway log:\n{}",
        gateway.log_tail()
    );
    let after_post_kib = status_kib(pid, "VmHWM");

    // Both objects back through the gateway, streamed and compared byte for byte.
    let t = Instant::now();
    let (status, len, same) = download(&client, &gateway.presign("GET", "put.bin"), &put_content).await;
    let get_took = t.elapsed();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(len, GIB, "stored PUT object size");
    assert!(same, "the stored PUT object is what was sent");
    let (status, len, same) = download(&client, &gateway.presign("GET", "form/post.bin"), &post_content).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(len, GIB, "stored POST object size");
    assert!(same, "the stored POST object is what was sent");
    for key in ["put.bin", "form/post.bin"] {
        let on_disk = std::fs::metadata(store_root.join(BUCKET).join(key))
            .expect("object file")
            .len();
        assert_eq!(on_disk, GIB, "{key} in the store's folder");
    }

    let (max_sampled_kib, samples) = sampler.finish();
    let gateway_cpu = cpu_secs(&pid.to_string());
    let test_cpu = cpu_secs("self");
    // VmHWM is the kernel's own high-water mark; the samples can only confirm it.
    let peak_kib = status_kib(pid, "VmHWM").max(max_sampled_kib);
    println!(
        "gateway RSS (debug build): at start {}, peak after 1 GiB PUT {}, after 1 GiB POST {}, \
         peak overall (VmHWM) {}; largest of {samples} VmRSS samples {}",
        mib(started_kib),
        mib(after_put_kib),
        mib(after_post_kib),
        mib(peak_kib),
        mib(max_sampled_kib),
    );
    println!(
        "transfer times: PUT {}, POST {}, GET {}",
        rate(GIB, put_took),
        rate(GIB, post_took),
        rate(GIB, get_took)
    );
    println!("CPU time: gateway {gateway_cpu:.1}s, this test process (client and store) {test_cpu:.1}s");
    assert!(samples > 0, "RSS was sampled during the transfers");
    assert!(
        peak_kib < RSS_LIMIT_KIB,
        "gateway peak RSS {} is not under {}",
        mib(peak_kib),
        mib(RSS_LIMIT_KIB)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_form_over_content_length_range_never_reaches_upstream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store_root = dir.path().join("store");
    let upstream = Upstream::start(&store_root).await;
    let gateway = Gateway::start(dir.path(), &upstream.store.endpoint);
    let client = client();

    let mut query = vec![(MAX_SIZE.to_owned(), MIB.to_string())];
    let one_mib = Restrictions::extract(&mut query).expect("restrictions");
    let form =
        presign_post(&gateway.config, &gateway.grant("POST", "capped/too-big.bin", &one_mib)).expect("presign post");
    let policy = form.fields.iter().find(|(n, _)| n == "policy").expect("policy field");
    let policy = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &policy.1).expect("base64"),
    )
    .expect("utf-8");
    assert!(
        policy.contains("[\"content-length-range\",0,1048576]"),
        "policy: {policy}"
    );

    let (pre, post) = form_parts(&form.fields, "too-big.bin");
    let body = GeneratedBody::new(&Content::new(3, 5 * MIB), Some(pre), Some(post));
    let (status, text) = send_raw(&form.url, &format!("multipart/form-data; boundary={BOUNDARY}"), body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("<Code>EntityTooLarge</Code>"), "{text}");

    let seen = upstream.seen();
    assert!(seen.is_empty(), "the upstream received {seen:?}");
    assert!(!store_root.join(BUCKET).join("capped").join("too-big.bin").exists());

    // The same form with a file inside the range is accepted: the refusal was the size.
    let form =
        presign_post(&gateway.config, &gateway.grant("POST", "capped/small.bin", &one_mib)).expect("presign post");
    let (pre, post) = form_parts(&form.fields, "small.bin");
    let body = GeneratedBody::new(&Content::new(4, MIB), Some(pre), Some(post));
    let (status, text) = send(
        &client,
        Method::POST,
        &form.url,
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    let seen = upstream.seen();
    assert!(
        seen.iter()
            .any(|s| s.method == Method::PUT && s.path == format!("/{BUCKET}/capped/small.bin")),
        "{seen:?}"
    );
}
