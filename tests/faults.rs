//! Fault injection: the gateway in front of an upstream that misbehaves on command, and
//! clients that hang up halfway.
//!
//! The misbehaving upstream is a small TCP server in this file ([`FaultyUpstream`]) that
//! speaks just enough HTTP/1.1 to refuse, stall, trickle, cut or fail on cue. The client
//! faults run against the real harness (s3s-fs upstream), so "nothing was committed" is
//! checked in the store itself.
//!
//! Every case checks the same four things: the client gets the right S3 error (status
//! and `<Code>`) within the gateway's timeouts, or a cleanly closed connection; nothing is
//! committed from a partial or refused upload; nothing leaks (the in-flight, client and
//! upstream connection gauges and the process's open file descriptors return to their
//! baseline); and the next request works.
//!
//! The gauges and the descriptor table are process-wide, so the cases run one at a time
//! (each takes [`SERIAL`] before it builds its runtime).

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::{
    encode_key, raw_head, sha256_hex, Harness, Presign, RawConn, RawError, RawResponse, SignedUrl, BUCKET,
    CLIENT_KEY_ID, CLIENT_SECRET, UPSTREAM_KEY_ID, UPSTREAM_SECRET,
};
use guestpass::metrics::METRICS;

/// `[upstream] connect_timeout` of the gateways in front of a faulty upstream.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// `[upstream] response_timeout` of those gateways.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// `[server] header_read_timeout` of those gateways.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);
/// `[server] idle_timeout` of those gateways: how long a request body may stall.
const IDLE_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest any one exchange may take: the gateway's timeouts, doubled for the one
/// retry of a bodyless GET, plus slack for a loaded machine.
const REQUEST_BOUND: Duration = Duration::from_secs(10);
/// How long leaked state gets to return to its baseline before the case fails.
const SETTLE: Duration = Duration::from_secs(10);
/// Descriptors that may come and go without a leak (the runtime's blocking pool, say).
const FD_SLACK: usize = 2;
/// What the faulty upstream's object holds when it answers normally.
const OBJECT: &[u8] = b"the upstream's object";

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `case` alone, on a runtime of its own.
fn serially<F: Future<Output = ()>>(case: impl FnOnce() -> F) {
    let _guard = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(case());
    runtime.shutdown_timeout(Duration::from_secs(5));
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// The process-wide state a fault must not leave behind.
#[derive(Debug, Clone, Copy)]
struct Baseline {
    in_flight: i64,
    connections: i64,
    upstream_connections: i64,
    fds: usize,
}

impl Baseline {
    fn now() -> Baseline {
        Baseline {
            in_flight: METRICS.in_flight.get(),
            connections: METRICS.connections_open.get(),
            upstream_connections: METRICS.upstream_connections_open.get(),
            fds: open_fds(),
        }
    }

    fn holds(&self) -> bool {
        let now = Baseline::now();
        now.in_flight == self.in_flight
            && now.connections <= self.connections
            && now.upstream_connections <= self.upstream_connections
            && now.fds <= self.fds + FD_SLACK
    }

    /// Waits (bounded) for the gauges and the descriptor count to come back.
    async fn assert_restored(&self, case: &str) {
        let deadline = Instant::now() + SETTLE;
        while !self.holds() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let now = Baseline::now();
        assert!(
            self.holds(),
            "{case}: state did not return to its baseline within {SETTLE:?}: before {self:?}, now {now:?}"
        );
    }
}

/// A gateway in this process, in front of `endpoint`, with short timeouts.
struct Gateway {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    async fn start(endpoint: &str) -> Gateway {
        let toml = format!(
            r#"
[server]
listen = "127.0.0.1:0"
header_read_timeout = "{header_read}s"
idle_timeout = "{idle}s"
drain_grace = "1s"

[auth]
region = "us-east-1"

[[credentials]]
access_key_id = "{CLIENT_KEY_ID}"
secret_access_key = "{CLIENT_SECRET}"

[upstream]
endpoint = "{endpoint}"
access_key_id = "{UPSTREAM_KEY_ID}"
secret_access_key = "{UPSTREAM_SECRET}"
connect_timeout = "{connect}s"
response_timeout = "{response}s"
"#,
            header_read = HEADER_READ_TIMEOUT.as_secs(),
            idle = IDLE_TIMEOUT.as_secs(),
            connect = CONNECT_TIMEOUT.as_secs(),
            response = RESPONSE_TIMEOUT.as_secs(),
        );
        let config = guestpass::config::Config::parse(&toml).expect("config parses");
        let app = guestpass::app::App::build(&config).await.expect("gateway builds");
        let settings = guestpass::server::ServerSettings::from_app(&app);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(guestpass::server::serve(app, listener, settings, async move {
            let _ = stopped.await;
        }));
        Gateway {
            addr,
            stop: Some(stop),
            task,
        }
    }

    fn presign(&self, method: &str, key: &str) -> SignedUrl {
        Presign::new(method, self.addr.to_string(), format!("/{BUCKET}/{}", encode_key(key))).sign()
    }

    /// Sends a bodyless request on a fresh connection and reads the answer.
    async fn request(&self, method: &str, key: &str) -> Result<RawResponse, RawError> {
        let url = self.presign(method, key);
        let mut conn = RawConn::connect(self.addr).await;
        conn.send(&raw_head(method, &url.path_and_query, &url.host, &[]))
            .await
            .expect("request sent");
        conn.read_response(REQUEST_BOUND, method == "HEAD").await
    }

    /// Sends a PUT of `body` (written while the answer is read) and reads the answer.
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<RawResponse, RawError> {
        let url = self.presign("PUT", key);
        let mut conn = RawConn::connect(self.addr).await;
        let len = body.len().to_string();
        conn.send(&raw_head(
            "PUT",
            &url.path_and_query,
            &url.host,
            &[("Content-Length", &len)],
        ))
        .await
        .expect("head sent");
        let writer = conn.send_in_background(body);
        let answer = conn.read_response(REQUEST_BOUND, false).await;
        writer.abort();
        answer
    }

    async fn shut_down(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        self.task.abort();
    }
}

/// The answer is the S3 error `code` with `status`.
fn assert_error(case: &str, answer: Result<RawResponse, RawError>, status: u16, code: &str) {
    let resp = answer.unwrap_or_else(|e| panic!("{case}: no answer ({e:?})"));
    assert_eq!(resp.status, status, "{case}: {}\n{}", resp.head, resp.text());
    assert_eq!(resp.code().as_deref(), Some(code), "{case}: {}", resp.text());
}

/// How the faulty upstream treats each request.
#[derive(Debug, Clone, Copy)]
enum Misbehaviour {
    /// Reads the request and its body, waits `delay`, answers `status` with `body`; with
    /// `keep_alive`, keeps the connection for `idle` and then closes it.
    Answer {
        status: u16,
        body: &'static [u8],
        delay: Duration,
        keep_alive: Option<Duration>,
    },
    /// Reads the request and never answers (closes when the gateway does).
    Silent,
    /// Answers `len` bytes, `chunk` bytes every `every`.
    Trickle { len: usize, chunk: usize, every: Duration },
    /// Sends the head announcing `len` bytes and only `sent` of them, then closes
    /// (with a reset when `reset`).
    CutResponse { len: usize, sent: usize, reset: bool },
    /// Sends the head announcing `len` bytes and `sent` of them, then goes quiet (closes
    /// when the gateway does).
    StallResponse { len: usize, sent: usize, delay: Duration },
    /// Reads the request head and closes without a word.
    CloseBeforeAnswer,
    /// Reads the head and `after` bytes of the body, then resets the connection.
    CutUpload { after: usize },
}

/// What the faulty upstream saw.
#[derive(Debug, Default)]
struct UpstreamStats {
    /// Connections accepted.
    accepted: AtomicUsize,
    /// Connections still open on the upstream's side.
    open: AtomicUsize,
    /// Request lines received.
    requests: Mutex<Vec<String>>,
    /// Requests whose body arrived whole.
    complete_bodies: AtomicUsize,
}

/// A TCP server on 127.0.0.1 that misbehaves as told (until told otherwise).
struct FaultyUpstream {
    addr: SocketAddr,
    how: Arc<Mutex<Misbehaviour>>,
    stats: Arc<UpstreamStats>,
    task: tokio::task::JoinHandle<()>,
}

/// An upstream that answers every request with [`OBJECT`].
const HEALTHY: Misbehaviour = Misbehaviour::Answer {
    status: 200,
    body: OBJECT,
    delay: Duration::ZERO,
    keep_alive: None,
};

/// No upstream connection is served for longer than this, whatever the misbehaviour.
const UPSTREAM_CONN_BOUND: Duration = Duration::from_secs(45);

impl FaultyUpstream {
    async fn start(how: Misbehaviour) -> FaultyUpstream {
        FaultyUpstream::start_on(0, how).await
    }

    async fn start_on(port: u16, how: Misbehaviour) -> FaultyUpstream {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let how = Arc::new(Mutex::new(how));
        let stats = Arc::new(UpstreamStats::default());
        let shared = stats.clone();
        let current = how.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                shared.open.fetch_add(1, Ordering::SeqCst);
                let stats = shared.clone();
                let how = current.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(UPSTREAM_CONN_BOUND, serve_conn(socket, &how, &stats)).await;
                    stats.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        FaultyUpstream { addr, how, stats, task }
    }

    /// Changes how the next requests are treated.
    fn set(&self, how: Misbehaviour) {
        *self.how.lock().unwrap_or_else(PoisonError::into_inner) = how;
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.stats
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (bounded) until the upstream has no connection left open: the gateway
    /// closed what the fault left behind.
    async fn assert_connections_closed(&self, case: &str) {
        let deadline = Instant::now() + SETTLE;
        while self.stats.open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            self.stats.open.load(Ordering::SeqCst),
            0,
            "{case}: the gateway left upstream connections open ({} accepted, requests {:?}, {:?})",
            self.stats.accepted.load(Ordering::SeqCst),
            self.requests(),
            Baseline::now()
        );
    }
}

impl Drop for FaultyUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request head into `buf`; returns the request line and the Content-Length.
/// `None` when the connection ends (or stays idle past `idle`) first.
async fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>, idle: Option<Duration>) -> Option<(String, usize)> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            let line = head.lines().next().unwrap_or("").to_owned();
            let len = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            return Some((line, len));
        }
        let mut chunk = [0u8; 8192];
        let n = match idle {
            Some(idle) => tokio::time::timeout(idle, s.read(&mut chunk)).await.ok()?.ok()?,
            None => s.read(&mut chunk).await.ok()?,
        };
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads `len` body bytes (some may already be in `buf`); whether they all came.
async fn read_body(s: &mut TcpStream, buf: &mut Vec<u8>, len: usize) -> bool {
    let mut chunk = [0u8; 64 * 1024];
    while buf.len() < len {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf.drain(..len);
    true
}

/// Reads until the peer closes.
async fn drain(s: &mut TcpStream) {
    let mut chunk = [0u8; 8192];
    while let Ok(n) = s.read(&mut chunk).await {
        if n == 0 {
            break;
        }
    }
}

fn response_head(status: u16, len: usize, keep_alive: bool) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    };
    let connection = if keep_alive { "keep-alive" } else { "close" };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\nConnection: {connection}\r\n\r\n"
    )
    .into_bytes()
}

async fn serve_conn(mut s: TcpStream, how: &Mutex<Misbehaviour>, stats: &UpstreamStats) {
    let mut buf = Vec::new();
    let mut idle = None;
    while let Some((line, len)) = read_head(&mut s, &mut buf, idle).await {
        let how = *how.lock().unwrap_or_else(PoisonError::into_inner);
        stats.requests.lock().unwrap_or_else(PoisonError::into_inner).push(line);
        match how {
            Misbehaviour::Silent => return drain(&mut s).await,
            Misbehaviour::CloseBeforeAnswer => return,
            Misbehaviour::CutUpload { after } => {
                let _ = read_body(&mut s, &mut buf, after.min(len)).await;
                let _ = s.set_zero_linger();
                return;
            }
            _ => {}
        }
        if !read_body(&mut s, &mut buf, len).await {
            return;
        }
        stats.complete_bodies.fetch_add(1, Ordering::SeqCst);
        match how {
            Misbehaviour::Answer {
                status,
                body,
                delay,
                keep_alive,
            } => {
                tokio::time::sleep(delay).await;
                let mut out = response_head(status, body.len(), keep_alive.is_some());
                out.extend_from_slice(body);
                if s.write_all(&out).await.is_err() {
                    return;
                }
                match keep_alive {
                    Some(d) => idle = Some(d),
                    None => return,
                }
            }
            Misbehaviour::Trickle { len, chunk, every } => {
                if s.write_all(&response_head(200, len, false)).await.is_err() {
                    return;
                }
                for i in (0..len).step_by(chunk) {
                    tokio::time::sleep(every).await;
                    let piece = pattern(i, chunk.min(len - i));
                    if s.write_all(&piece).await.is_err() {
                        return;
                    }
                }
                return;
            }
            Misbehaviour::CutResponse { len, sent, reset } => {
                let mut out = response_head(200, len, false);
                out.extend_from_slice(&pattern(0, sent));
                let _ = s.write_all(&out).await;
                let _ = s.flush().await;
                if reset {
                    let _ = s.set_zero_linger();
                }
                return;
            }
            Misbehaviour::StallResponse { len, sent, delay } => {
                tokio::time::sleep(delay).await;
                let mut out = response_head(200, len, false);
                out.extend_from_slice(&pattern(0, sent));
                if s.write_all(&out).await.is_ok() {
                    drain(&mut s).await;
                }
                return;
            }
            Misbehaviour::Silent | Misbehaviour::CloseBeforeAnswer | Misbehaviour::CutUpload { .. } => return,
        }
    }
}

/// The body bytes in `raw`, a response read so far.
fn body_len(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |i| raw.len() - i - 4)
}

/// `n` bytes of a body whose byte `i` is `i % 251`, from `offset`.
fn pattern(offset: usize, n: usize) -> Vec<u8> {
    (offset..offset + n).map(|i| (i % 251) as u8).collect()
}

/// Runs `fault` against a gateway in front of an upstream that misbehaves as `how`,
/// checks that nothing leaked, then heals the upstream and checks that the next request
/// through the same gateway works.
async fn with_faulty_upstream<F, Fut>(case: &str, how: Misbehaviour, fault: F)
where
    F: FnOnce(Gateway, Arc<FaultyUpstream>) -> Fut,
    Fut: Future<Output = Gateway>,
{
    let upstream = Arc::new(FaultyUpstream::start(how).await);
    let gateway = Gateway::start(&upstream.endpoint()).await;
    let baseline = Baseline::now();
    let gateway = fault(gateway, upstream.clone()).await;
    upstream.assert_connections_closed(case).await;
    baseline.assert_restored(case).await;
    upstream.set(HEALTHY);
    assert_next_request_works(case, &gateway).await;
    gateway.shut_down().await;
}

/// The gateway still serves: a GET through it to its (now healthy) upstream works.
async fn assert_next_request_works(case: &str, gateway: &Gateway) {
    let resp = gateway
        .request("GET", "after/fault")
        .await
        .unwrap_or_else(|e| panic!("{case}: the next request failed: {e:?}"));
    assert_eq!(resp.status, 200, "{case}: next request: {}", resp.text());
    assert_eq!(resp.body, OBJECT, "{case}: next request");
}

#[test]
fn upstream_refusing_connections_is_503_service_unavailable() {
    serially(|| async {
        // A port nothing listens on: bound, then released.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let gateway = Gateway::start(&format!("http://127.0.0.1:{port}")).await;
        let baseline = Baseline::now();
        let case = "refused GET";
        assert_error(case, gateway.request("GET", "k").await, 503, "ServiceUnavailable");
        let case = "refused PUT";
        assert_error(
            case,
            gateway.put("k", vec![7; 64 * 1024]).await,
            503,
            "ServiceUnavailable",
        );
        baseline.assert_restored("refused").await;
        // The upstream comes up on that port: the gateway reaches it.
        let _upstream = FaultyUpstream::start_on(port, HEALTHY).await;
        assert_next_request_works("refused", &gateway).await;
        gateway.shut_down().await;
    });
}

#[test]
fn upstream_that_never_answers_is_504_gateway_timeout() {
    serially(|| async {
        with_faulty_upstream("silent GET", Misbehaviour::Silent, |gateway, upstream| async move {
            let started = Instant::now();
            let answer = gateway.request("GET", "k").await;
            assert_error("silent GET", answer, 504, "GatewayTimeout");
            assert!(
                started.elapsed() < RESPONSE_TIMEOUT + Duration::from_secs(3),
                "silent GET: answered after {:?}",
                started.elapsed()
            );
            // A timeout is not retried: the deadline covers every attempt.
            assert_eq!(upstream.requests().len(), 1, "{:?}", upstream.requests());
            let answer = gateway.put("k", vec![1; 128 * 1024]).await;
            assert_error("silent PUT", answer, 504, "GatewayTimeout");
            gateway
        })
        .await;
    });
}

#[test]
fn upstream_answering_late_times_out_and_one_in_time_is_served() {
    serially(|| async {
        let late = Misbehaviour::Answer {
            status: 200,
            body: OBJECT,
            delay: RESPONSE_TIMEOUT + Duration::from_secs(1),
            keep_alive: None,
        };
        with_faulty_upstream("late head", late, |gateway, _| async move {
            assert_error("late head", gateway.request("GET", "k").await, 504, "GatewayTimeout");
            gateway
        })
        .await;
        let in_time = Misbehaviour::Answer {
            status: 200,
            body: OBJECT,
            delay: RESPONSE_TIMEOUT / 2,
            keep_alive: None,
        };
        with_faulty_upstream("slow head", in_time, |gateway, _| async move {
            let resp = gateway.request("GET", "k").await.expect("slow head: an answer");
            assert_eq!(resp.status, 200, "{}", resp.text());
            assert_eq!(resp.body, OBJECT);
            gateway
        })
        .await;
    });
}

#[test]
fn body_trickling_past_the_response_timeout_streams_through_whole() {
    serially(|| async {
        // The response timeout bounds the wait for the head, not the body: a slow body
        // that keeps coming is passed on as it comes.
        let len = 3000;
        let trickle = Misbehaviour::Trickle {
            len,
            chunk: 150,
            every: Duration::from_millis(150),
        };
        with_faulty_upstream("trickle", trickle, |gateway, _| async move {
            let resp = gateway.request("GET", "k").await.expect("trickle: an answer");
            assert_eq!(resp.status, 200, "{}", resp.text());
            assert!(!resp.truncated, "trickle: body cut short at {}", resp.body.len());
            assert!(resp.body == pattern(0, len), "trickle: the bytes differ");
            gateway
        })
        .await;
    });
}

#[test]
fn upstream_cutting_a_response_short_closes_the_client_connection() {
    serially(|| async {
        for reset in [false, true] {
            let case = if reset {
                "reset mid-response"
            } else {
                "closed mid-response"
            };
            let cut = Misbehaviour::CutResponse {
                len: 100_000,
                sent: 30_000,
                reset,
            };
            with_faulty_upstream(case, cut, |gateway, _| async move {
                // The head (and its Content-Length) has gone to the client before the
                // upstream failed: the only honest signal left is to close the
                // connection short of the announced length.
                let url = gateway.presign("GET", "k");
                let mut conn = RawConn::connect(gateway.addr).await;
                // Keep-alive on purpose: the gateway must still close.
                let head = format!("GET {} HTTP/1.1\r\nHost: {}\r\n\r\n", url.path_and_query, url.host);
                conn.send(head.as_bytes()).await.expect("sent");
                match conn.read_response(REQUEST_BOUND, false).await {
                    Ok(resp) => {
                        assert_eq!(resp.status, 200, "{case}: {}", resp.head);
                        assert_eq!(resp.header("content-length"), Some("100000"), "{case}");
                        assert!(resp.truncated, "{case}: the client got {} bytes", resp.body.len());
                        assert!(resp.body.len() <= 30_000, "{case}: padded to {}", resp.body.len());
                        assert!(resp.body == pattern(0, resp.body.len()), "{case}: bytes differ");
                    }
                    // Or the reset reached the client before the head did: also closed.
                    Err(e @ (RawError::Closed(_) | RawError::Io(_))) => {
                        eprintln!("{case}: closed before a head: {e:?}")
                    }
                    Err(RawError::TimedOut) => panic!("{case}: the connection was left open"),
                }
                assert!(conn.closes_within(REQUEST_BOUND).await, "{case}: connection left open");
                gateway
            })
            .await;
        }
    });
}

#[test]
fn upstream_closing_before_answering_is_502_and_a_get_is_retried_once() {
    serially(|| async {
        with_faulty_upstream(
            "closed before answer",
            Misbehaviour::CloseBeforeAnswer,
            |gateway, upstream| async move {
                assert_error(
                    "closed before answer, GET",
                    gateway.request("GET", "k").await,
                    502,
                    "BadGateway",
                );
                // A bodyless GET is sent once more on a fresh connection, and no more.
                assert_eq!(upstream.requests().len(), 2, "{:?}", upstream.requests());
                assert_error(
                    "closed before answer, PUT",
                    gateway.put("k", vec![2; 32 * 1024]).await,
                    502,
                    "BadGateway",
                );
                // A request with a body is never retried.
                assert_eq!(upstream.requests().len(), 3, "{:?}", upstream.requests());
                gateway
            },
        )
        .await;
    });
}

#[test]
fn upstream_resetting_mid_upload_is_502_and_nothing_is_committed() {
    serially(|| async {
        let cut = Misbehaviour::CutUpload { after: 64 * 1024 };
        with_faulty_upstream("reset mid-upload", cut, |gateway, upstream| async move {
            let answer = gateway.put("k", vec![3; 4 << 20]).await;
            match answer {
                Ok(resp) => {
                    assert_eq!(resp.status, 502, "reset mid-upload: {}\n{}", resp.head, resp.text());
                    assert_eq!(resp.code().as_deref(), Some("BadGateway"), "{}", resp.text());
                }
                // The gateway may also hang up on an upload it can no longer deliver.
                Err(e @ (RawError::Closed(_) | RawError::Io(_))) => eprintln!("reset mid-upload: closed: {e:?}"),
                Err(RawError::TimedOut) => panic!("reset mid-upload: no answer and no close"),
            }
            assert_eq!(upstream.stats.complete_bodies.load(Ordering::SeqCst), 0);
            assert_eq!(upstream.requests().len(), 1, "{:?}", upstream.requests());
            gateway
        })
        .await;
    });
}

#[test]
fn upstream_5xx_passes_through_unretried() {
    serially(|| async {
        for (status, code) in [(500u16, "InternalError"), (503, "SlowDown")] {
            let body: &'static [u8] = match status {
                500 => b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
                _ => b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
            };
            let how = Misbehaviour::Answer {
                status,
                body,
                delay: Duration::ZERO,
                keep_alive: None,
            };
            let case = format!("upstream {status}");
            with_faulty_upstream(&case.clone(), how, |gateway, upstream| async move {
                assert_error(&case, gateway.request("GET", "k").await, status, code);
                assert_eq!(upstream.requests().len(), 1, "{case}: {:?}", upstream.requests());
                assert_error(&case, gateway.put("k", vec![4; 1024]).await, status, code);
                assert_eq!(upstream.requests().len(), 2, "{case}: {:?}", upstream.requests());
                gateway
            })
            .await;
        }
    });
}

#[test]
fn upstream_closing_an_idle_pooled_connection_is_not_seen_by_the_client() {
    serially(|| async {
        let how = Misbehaviour::Answer {
            status: 200,
            body: OBJECT,
            delay: Duration::ZERO,
            keep_alive: Some(Duration::from_millis(200)),
        };
        with_faulty_upstream("stale pooled connection", how, |gateway, upstream| async move {
            for round in 0..3 {
                let resp = gateway.request("GET", "k").await.expect("an answer");
                assert_eq!(resp.status, 200, "round {round}: {}", resp.text());
                assert_eq!(resp.body, OBJECT, "round {round}");
                // Past the upstream's idle limit: the pooled connection is gone.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            assert_eq!(upstream.requests().len(), 3, "{:?}", upstream.requests());
            gateway
        })
        .await;
    });
}

#[test]
fn upstream_stalling_mid_body_is_released_when_the_client_gives_up() {
    serially(|| async {
        // The client gives up on a stalled body before the gateway would cut it: the
        // gateway must let go of everything at once.
        let stall = Misbehaviour::StallResponse {
            len: 100_000,
            sent: 10_000,
            delay: Duration::ZERO,
        };
        with_faulty_upstream("stalled body", stall, |gateway, _| async move {
            let url = gateway.presign("GET", "k");
            let mut conn = RawConn::connect(gateway.addr).await;
            conn.send(&raw_head("GET", &url.path_and_query, &url.host, &[]))
                .await
                .expect("sent");
            // Everything the upstream sent arrives (the head and 10,000 bytes) ...
            let mut got = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            let deadline = Instant::now() + REQUEST_BOUND;
            while !got.windows(4).any(|w| w == b"\r\n\r\n") || body_len(&got) < 10_000 {
                assert!(
                    Instant::now() < deadline,
                    "stalled body: only {} bytes arrived",
                    got.len()
                );
                match conn.read_some(&mut chunk).await {
                    Some(n) => got.extend_from_slice(&chunk[..n]),
                    None => panic!("stalled body: the connection ended after {} bytes", got.len()),
                }
            }
            assert!(
                got.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&got[..40])
            );
            // ... and then nothing more.
            let more = tokio::time::timeout(RESPONSE_TIMEOUT / 4, conn.read_some(&mut chunk)).await;
            assert!(more.is_err(), "stalled body: more came: {more:?}");
            assert_eq!(METRICS.in_flight.get(), 1, "stalled body: the request is in flight");
            drop(conn);
            gateway
        })
        .await;
    });
}

#[test]
fn client_that_never_finishes_its_head_is_disconnected() {
    serially(|| async {
        with_faulty_upstream(
            "slow head from client",
            Misbehaviour::Answer {
                status: 200,
                body: OBJECT,
                delay: Duration::ZERO,
                keep_alive: None,
            },
            |gateway, upstream| async move {
                let mut conn = RawConn::connect(gateway.addr).await;
                conn.send(b"GET /guest-bucket/k HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                    .await
                    .expect("sent");
                assert!(
                    conn.closes_within(HEADER_READ_TIMEOUT + Duration::from_secs(4)).await,
                    "the gateway waited past header_read_timeout"
                );
                assert!(upstream.requests().is_empty());
                gateway
            },
        )
        .await;
    });
}

#[test]
fn client_hanging_up_mid_upload_reaches_no_upstream_commit() {
    serially(|| async {
        let answering = Misbehaviour::Answer {
            status: 200,
            body: b"",
            delay: Duration::ZERO,
            keep_alive: None,
        };
        with_faulty_upstream("client gone mid-upload", answering, |gateway, upstream| async move {
            let url = gateway.presign("PUT", "k");
            let mut conn = RawConn::connect(gateway.addr).await;
            let total = (8 << 20).to_string();
            conn.send(&raw_head(
                "PUT",
                &url.path_and_query,
                &url.host,
                &[("Content-Length", &total)],
            ))
            .await
            .expect("head sent");
            conn.send(&vec![5; 256 * 1024]).await.expect("part of the body sent");
            // Give the gateway time to start the upstream request with what it has.
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(conn);
            upstream.assert_connections_closed("client gone mid-upload").await;
            assert_eq!(upstream.stats.complete_bodies.load(Ordering::SeqCst), 0);
            gateway
        })
        .await;
    });
}

/// The store's bucket folder holds exactly `expected` entries: no object and no
/// temporary part file from an upload that did not finish.
fn assert_bucket_files(h: &Harness, case: &str, expected: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(h.data_dir.join(BUCKET))
        .expect("bucket folder")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, expected, "{case}: the bucket folder holds {names:?}");
}

#[test]
fn client_hanging_up_mid_upload_to_a_real_store_commits_nothing() {
    serially(|| async {
        let h = Harness::start().await;
        let case = "client gone mid-upload (s3s-fs)";
        let key = "partial/upload.bin";
        let baseline = Baseline::now();
        let url = h.presign("PUT", key).sign();
        let mut conn = RawConn::connect(h.addr).await;
        let total = (8 << 20).to_string();
        conn.send(&raw_head(
            "PUT",
            &url.path_and_query,
            &url.host,
            &[("Content-Length", &total)],
        ))
        .await
        .expect("head sent");
        conn.send(&vec![6; 512 * 1024]).await.expect("part of the body sent");
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(conn);
        baseline.assert_restored(case).await;
        assert_bucket_files(&h, case, &[]);
        h.assert_no_object(BUCKET, key).await;
        // The next upload of the same key goes through whole.
        let put = h.send("PUT", &h.presign("PUT", key).sign(), &[], vec![9u8; 4096]).await;
        assert_eq!(put.status, 200, "{case}: next PUT: {}", put.text());
        h.assert_object(BUCKET, key, &[9u8; 4096]).await;
    });
}

#[test]
fn upload_refused_for_its_body_commits_nothing() {
    serially(|| async {
        let h = Harness::start().await;
        let case = "pinned hash mismatch";
        let key = "refused/upload.bin";
        let baseline = Baseline::now();
        let promised = vec![1u8; 256 * 1024];
        let mut sent = promised.clone();
        let last = sent.len() - 1;
        sent[last] ^= 1;
        let url = h.presign("PUT", key).pinned_payload(&sha256_hex(&promised)).sign();
        let mut conn = RawConn::connect(h.addr).await;
        let len = sent.len().to_string();
        conn.send(&raw_head(
            "PUT",
            &url.path_and_query,
            &url.host,
            &[("Content-Length", &len)],
        ))
        .await
        .expect("head sent");
        let writer = conn.send_in_background(sent);
        let resp = conn
            .read_response(REQUEST_BOUND, false)
            .await
            .unwrap_or_else(|e| panic!("{case}: no answer: {e:?}"));
        writer.abort();
        drop(conn);
        assert_eq!(resp.status, 400, "{case}: {}", resp.text());
        assert_eq!(
            resp.code().as_deref(),
            Some("XAmzContentSHA256Mismatch"),
            "{}",
            resp.text()
        );
        baseline.assert_restored(case).await;
        assert_bucket_files(&h, case, &[]);
        h.assert_no_object(BUCKET, key).await;
    });
}

#[test]
fn client_hanging_up_mid_download_releases_everything() {
    serially(|| async {
        let h = Harness::start().await;
        let case = "client gone mid-download";
        let key = "big/download.bin";
        let size = 16 << 20;
        let put = h.send("PUT", &h.presign("PUT", key).sign(), &[], vec![8u8; size]).await;
        assert_eq!(put.status, 200, "{}", put.text());
        let baseline = Baseline::now();
        let url = h.presign("GET", key).sign();
        let mut conn = RawConn::connect(h.addr).await;
        conn.send(&raw_head("GET", &url.path_and_query, &url.host, &[]))
            .await
            .expect("sent");
        // Read a little of the body, then hang up with the rest still coming.
        let mut got = 0usize;
        let mut chunk = vec![0u8; 64 * 1024];
        let started = Instant::now();
        while got < 512 * 1024 && started.elapsed() < REQUEST_BOUND {
            match conn.read_some(&mut chunk).await {
                Some(n) => got += n,
                None => break,
            }
        }
        assert!(got >= 512 * 1024, "{case}: only {got} bytes arrived");
        drop(conn);
        baseline.assert_restored(case).await;
        let get = h.send("GET", &h.presign("GET", key).sign(), &[], "").await;
        assert_eq!(get.status, 200, "{case}: next GET");
        assert_eq!(get.body.len(), size, "{case}: next GET");
    });
}

/// A request body that stops arriving is cut after `idle_timeout` of silence with S3's
/// 400 RequestTimeout ("Your socket connection to the server was not read from or written
/// to within the timeout period"), not blamed on the upstream, and nothing is committed.
#[test]
fn client_stalling_mid_upload_is_400_request_timeout() {
    serially(|| async {
        with_faulty_upstream("client stalls mid-upload", HEALTHY, |gateway, upstream| async move {
            let url = gateway.presign("PUT", "k");
            let mut conn = RawConn::connect(gateway.addr).await;
            let total = (1 << 20).to_string();
            conn.send(&raw_head(
                "PUT",
                &url.path_and_query,
                &url.host,
                &[("Content-Length", &total)],
            ))
            .await
            .expect("head sent");
            conn.send(&[5; 64 * 1024]).await.expect("part of the body sent");
            let resp = conn
                .read_response(IDLE_TIMEOUT + REQUEST_BOUND, false)
                .await
                .unwrap_or_else(|e| panic!("client stalls mid-upload: no answer: {e:?}"));
            assert_eq!(resp.status, 400, "{}\n{}", resp.head, resp.text());
            assert_eq!(resp.code().as_deref(), Some("RequestTimeout"), "{}", resp.text());
            assert_eq!(upstream.stats.complete_bodies.load(Ordering::SeqCst), 0);
            gateway
        })
        .await;
    });
}

/// An upstream body that stops coming is cut after the response timeout of silence: the
/// client gets what came and a connection closed short of the announced length.
#[test]
fn upstream_stalling_mid_body_is_cut_after_the_response_timeout() {
    serially(|| async {
        let stall = Misbehaviour::StallResponse {
            len: 100_000,
            sent: 10_000,
            delay: Duration::ZERO,
        };
        with_faulty_upstream("upstream stalls mid-body", stall, |gateway, _| async move {
            let url = gateway.presign("GET", "k");
            let mut conn = RawConn::connect(gateway.addr).await;
            conn.send(&raw_head("GET", &url.path_and_query, &url.host, &[]))
                .await
                .expect("sent");
            match conn.read_response(RESPONSE_TIMEOUT + REQUEST_BOUND, false).await {
                Ok(resp) => {
                    assert_eq!(resp.status, 200, "{}", resp.head);
                    assert!(resp.truncated, "a stalled body completed? {}", resp.head);
                    assert!(resp.body == pattern(0, resp.body.len()), "the bytes differ");
                }
                Err(e) => panic!("upstream stalls mid-body: no head: {e:?}"),
            }
            gateway
        })
        .await;
    });
}

/// An upload that keeps coming, slower than the response timeout allows for the whole
/// exchange, is not cut: the response timeout is the upstream's time to answer, and the
/// upstream cannot answer before it has the body.
#[test]
fn slow_steady_upload_is_not_cut_by_the_response_timeout() {
    serially(|| async {
        with_faulty_upstream("slow steady upload", HEALTHY, |gateway, upstream| async move {
            let chunks = 20;
            let chunk = 16 * 1024;
            let url = gateway.presign("PUT", "k");
            let mut conn = RawConn::connect(gateway.addr).await;
            let total = (chunks * chunk).to_string();
            conn.send(&raw_head(
                "PUT",
                &url.path_and_query,
                &url.host,
                &[("Content-Length", &total)],
            ))
            .await
            .expect("head sent");
            // Twice the response timeout in all, never idle for more than a fifth of it.
            for _ in 0..chunks {
                tokio::time::sleep(RESPONSE_TIMEOUT * 2 / chunks as u32).await;
                if conn.send(&vec![4; chunk]).await.is_err() {
                    break;
                }
            }
            let resp = conn
                .read_response(REQUEST_BOUND, false)
                .await
                .unwrap_or_else(|e| panic!("slow steady upload: no answer: {e:?}"));
            assert_eq!(resp.status, 200, "slow steady upload: {}\n{}", resp.head, resp.text());
            assert_eq!(upstream.stats.complete_bodies.load(Ordering::SeqCst), 1);
            gateway
        })
        .await;
    });
}

/// The control for every case above: the leak check sees one client connection left open
/// (two descriptors and the connection gauge), and sees it go.
#[test]
fn leak_check_notices_one_open_connection() {
    serially(|| async {
        let upstream = FaultyUpstream::start(HEALTHY).await;
        let gateway = Gateway::start(&upstream.endpoint()).await;
        let baseline = Baseline::now();
        let mut conn = RawConn::connect(gateway.addr).await;
        let url = gateway.presign("GET", "k");
        // Keep-alive: the connection stays open after the answer.
        let head = format!("GET {} HTTP/1.1\r\nHost: {}\r\n\r\n", url.path_and_query, url.host);
        conn.send(head.as_bytes()).await.expect("sent");
        let resp = conn.read_response(REQUEST_BOUND, false).await.expect("an answer");
        assert_eq!(resp.status, 200, "{}", resp.text());
        let now = Baseline::now();
        assert!(
            !baseline.holds(),
            "an open connection went unnoticed: {baseline:?} vs {now:?}"
        );
        assert_eq!(now.connections, baseline.connections + 1);
        drop(conn);
        baseline.assert_restored("leak check control").await;
        gateway.shut_down().await;
    });
}

/// A client that gives up while the upstream is still preparing its answer: the gateway
/// drops the upstream request instead of waiting for an answer nobody will read.
#[test]
fn client_hanging_up_before_the_answer_cancels_the_upstream_request() {
    serially(|| async {
        let slow = Misbehaviour::StallResponse {
            len: 100_000,
            sent: 10_000,
            delay: Duration::from_secs(1),
        };
        with_faulty_upstream("client gone before the answer", slow, |gateway, upstream| async move {
            let url = gateway.presign("GET", "k");
            let mut conn = RawConn::connect(gateway.addr).await;
            conn.send(&raw_head("GET", &url.path_and_query, &url.host, &[]))
                .await
                .expect("sent");
            let deadline = Instant::now() + REQUEST_BOUND;
            while upstream.requests().is_empty() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(upstream.requests().len(), 1, "the request reached the upstream");
            drop(conn);
            gateway
        })
        .await;
    });
}
