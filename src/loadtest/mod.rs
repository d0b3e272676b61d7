//! `guestpass loadtest`: drives a gateway with pre-signed requests and reports what it
//! sustained. The URLs are minted up front ([`urls`]), so the run measures the gateway's
//! verification and forwarding, not the load generator's signing.
//!
//! A fixed number of worker tasks (the concurrency) pull request numbers from one shared
//! atomic counter; request `n` uses URL `n % urls`. Each worker sends over one pooled
//! client (keep-alive HTTP/1.1, or HTTP/2 with prior knowledge on `http://`), streams the
//! response body away (error bodies are read whole, for their S3 `<Code>`), and records
//! into a tally shard ([`report`]). A request allocates nothing of its own beyond what hyper
//! needs: URLs are parsed once and cloned by reference count, PUT bodies are slices of one
//! shared buffer. Every run is bounded by a request count, a duration, or both, and never
//! runs longer than [`MAX_DURATION`].

mod report;
mod urls;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use time::OffsetDateTime;

use crate::config::{HumanDuration, DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY};
use crate::secret::Secret;
use report::{s3_error_code, Outcome, Tally, ERROR_BODY_CAP};
pub use report::{ClassReport, Latency, Report, RunInfo};

/// No run lasts longer than this, whatever its bounds.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// The largest PUT body.
pub const MAX_BODY_SIZE: usize = 1 << 30;
/// The most requests in flight at once.
pub const MAX_CONCURRENCY: usize = 4096;
/// The most distinct URLs minted for one run.
pub const MAX_URLS: usize = 1_000_000;

/// The request method the URLs are signed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadMethod {
    /// Download the object.
    #[value(name = "GET")]
    Get,
    /// Fetch its metadata.
    #[value(name = "HEAD")]
    Head,
    /// Upload `--size` bytes to it.
    #[value(name = "PUT")]
    Put,
}

impl LoadMethod {
    /// The HTTP method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadMethod::Get => "GET",
            LoadMethod::Head => "HEAD",
            LoadMethod::Put => "PUT",
        }
    }

    fn method(self) -> Method {
        match self {
            LoadMethod::Get => Method::GET,
            LoadMethod::Head => Method::HEAD,
            LoadMethod::Put => Method::PUT,
        }
    }
}

/// What to run. [`Options::new`] gives the defaults of the command line, with no bound set.
#[derive(Debug, Clone)]
pub struct Options {
    /// The gateway's base URL: `http(s)://host[:port]`.
    pub target: String,
    /// The access key id the URLs are signed with.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: Secret,
    /// The region the gateway verifies.
    pub region: String,
    /// The bucket.
    pub bucket: String,
    /// The object keys, used in turn.
    pub keys: Vec<String>,
    /// GET, HEAD or PUT.
    pub method: LoadMethod,
    /// Bytes in each PUT body.
    pub body_size: usize,
    /// How many distinct URLs to mint.
    pub urls: usize,
    /// Lifetime of each URL (X-Amz-Expires), counted from the run's start.
    pub expires: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Stop sending after this long.
    pub duration: Option<Duration>,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// Send at this fixed rate (req/s) instead of as fast as responses come back.
    pub rate: Option<f64>,
    /// Share of URLs (0.0 to 1.0) minted with a corrupted signature.
    pub invalid_share: f64,
    /// HTTP/2 (prior knowledge on `http://`) instead of HTTP/1.1.
    pub http2: bool,
    /// Longest wait for one request's complete response.
    pub timeout: Duration,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl Options {
    /// The defaults against `target`: the embedded default's demo credential, bucket
    /// "demo", key "hello.txt", GET, 1000 URLs, 16 in flight. Set a bound before running.
    pub fn new(target: impl Into<String>) -> Options {
        Options {
            target: target.into(),
            access_key_id: DEMO_ACCESS_KEY_ID.to_owned(),
            secret_access_key: Secret::new(DEMO_SECRET_ACCESS_KEY),
            region: "us-east-1".to_owned(),
            bucket: "demo".to_owned(),
            keys: vec!["hello.txt".to_owned()],
            method: LoadMethod::Get,
            body_size: 1024,
            urls: 1000,
            expires: Duration::from_secs(3600),
            concurrency: 16,
            duration: None,
            requests: None,
            rate: None,
            invalid_share: 0.0,
            http2: false,
            timeout: Duration::from_secs(30),
            progress: false,
        }
    }

    /// Every problem with these options, as one message.
    pub fn validate(&self) -> Result<(), LoadtestError> {
        let mut problems = Vec::new();
        if self.duration.is_none() && self.requests.is_none() {
            problems.push("a bound is required: --duration, --requests or both".to_owned());
        }
        if let Some(d) = self.duration {
            if d.is_zero() || d > MAX_DURATION {
                problems.push(format!(
                    "--duration must be more than 0s and at most {}",
                    human(MAX_DURATION)
                ));
            }
            if self.expires <= d {
                problems.push("--expires must be longer than --duration, or URLs expire mid-run".to_owned());
            }
        }
        if self.requests == Some(0) {
            problems.push("--requests must be at least 1".to_owned());
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            problems.push(format!("--concurrency must be 1 to {MAX_CONCURRENCY}"));
        }
        if !(1..=MAX_URLS).contains(&self.urls) {
            problems.push(format!("--urls must be 1 to {MAX_URLS}"));
        }
        if self.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            problems.push("--rate must be a positive number of requests per second".to_owned());
        }
        if !(0.0..=1.0).contains(&self.invalid_share) {
            problems.push("--invalid-share must be between 0 and 1".to_owned());
        }
        if self.timeout.is_zero() || self.timeout > MAX_DURATION {
            problems.push(format!(
                "--timeout must be more than 0s and at most {}",
                human(MAX_DURATION)
            ));
        }
        if self.expires.as_secs() == 0 {
            problems.push("--expires must be at least 1s".to_owned());
        }
        if self.body_size > MAX_BODY_SIZE {
            problems.push("--size must be at most 1GiB".to_owned());
        }
        if self.bucket.is_empty() || self.bucket.contains('/') {
            problems.push("--bucket must be a bucket name".to_owned());
        }
        if self.keys.is_empty() || self.keys.iter().any(String::is_empty) {
            problems.push("object keys must not be empty".to_owned());
        }
        if self.access_key_id.is_empty() || self.secret_access_key.is_empty() {
            problems.push("the access key id and secret must not be empty".to_owned());
        }
        if let Err(e) = normalize_target(&self.target) {
            problems.push(e);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(LoadtestError::Options(problems.join("; ")))
        }
    }
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum LoadtestError {
    /// The options describe no run that can be made.
    #[error("{0}")]
    Options(String),
    /// A worker task panicked or was cancelled.
    #[error("a load-test worker failed: {0}")]
    Worker(String),
    /// The runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// `guestpass loadtest`'s arguments.
#[derive(Debug, clap::Args)]
pub struct LoadtestArgs {
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub target: String,
    /// Access key id to sign the URLs with (default: the embedded default's demo key).
    #[arg(long, env = "GUESTPASS_LOADTEST_ACCESS_KEY_ID", default_value = DEMO_ACCESS_KEY_ID)]
    pub access_key_id: String,
    /// Its secret (default: the embedded default's demo secret). Prefer the environment
    /// variable: arguments are visible to other users in the process list.
    #[arg(long, env = "GUESTPASS_LOADTEST_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub secret_access_key: Option<Secret>,
    /// The region the gateway verifies.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The bucket.
    #[arg(long, default_value = "demo")]
    pub bucket: String,
    /// An object key; repeat for several (default: hello.txt, or loadtest/object for PUT).
    #[arg(long = "key", value_name = "KEY", conflicts_with = "keys_prefix")]
    pub keys: Vec<String>,
    /// Use keys <PREFIX>0 .. <PREFIX>{N-1}, with --objects N.
    #[arg(long, value_name = "PREFIX", requires = "objects")]
    pub keys_prefix: Option<String>,
    /// How many keys under --keys-prefix.
    #[arg(long, value_name = "N", requires = "keys_prefix", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub objects: Option<u32>,
    /// The request method.
    #[arg(long, value_enum, ignore_case = true, default_value = "GET")]
    pub method: LoadMethod,
    /// PUT body size, such as 1KiB, 1MiB or 512 (bytes); at most 1GiB.
    #[arg(long, default_value = "1KiB", value_parser = parse_size)]
    pub size: usize,
    /// Distinct pre-signed URLs to mint before the run (by key and signing time).
    #[arg(long, default_value_t = 1000)]
    pub urls: usize,
    /// Lifetime of each URL.
    #[arg(long, default_value = "1h")]
    pub expires: HumanDuration,
    /// Requests in flight at once (HTTP/1.1: connections).
    #[arg(long, short, default_value_t = 16)]
    pub concurrency: usize,
    /// Stop after this long, such as 10s or 1m (default 10s when --requests is not given;
    /// at most 1h).
    #[arg(long, short)]
    pub duration: Option<HumanDuration>,
    /// Stop after this many requests.
    #[arg(long, short = 'n')]
    pub requests: Option<u64>,
    /// Send at this fixed rate (requests per second); latency is then measured from each
    /// request's scheduled time, so a stalled gateway cannot hide its queueing delay.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Share of URLs, 0 to 1, minted with a corrupted signature: a 403 is their expected
    /// answer, reported apart from the rest.
    #[arg(long, default_value_t = 0.0)]
    pub invalid_share: f64,
    /// Speak HTTP/2 (h2c with prior knowledge on http://) instead of HTTP/1.1.
    #[arg(long)]
    pub http2: bool,
    /// Longest wait for one complete response; longer counts as a transport error.
    #[arg(long, default_value = "30s")]
    pub timeout: HumanDuration,
    /// Print the report as one JSON object (and no progress bar).
    #[arg(long)]
    pub json: bool,
}

impl LoadtestArgs {
    /// The run these arguments describe.
    pub fn into_options(self, progress: bool) -> Options {
        let keys = match (self.keys_prefix, self.objects) {
            (Some(prefix), Some(n)) => (0..n).map(|i| format!("{prefix}{i}")).collect(),
            _ if !self.keys.is_empty() => self.keys,
            _ if self.method == LoadMethod::Put => vec!["loadtest/object".to_owned()],
            _ => vec!["hello.txt".to_owned()],
        };
        let duration = match (self.duration, self.requests) {
            (Some(d), _) => Some(d.0),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs(10)),
        };
        Options {
            target: self.target,
            access_key_id: self.access_key_id,
            secret_access_key: self
                .secret_access_key
                .unwrap_or_else(|| Secret::new(DEMO_SECRET_ACCESS_KEY)),
            region: self.region,
            bucket: self.bucket,
            keys,
            method: self.method,
            body_size: self.size,
            urls: self.urls,
            expires: self.expires.0,
            concurrency: self.concurrency,
            duration,
            requests: self.requests,
            rate: self.rate,
            invalid_share: self.invalid_share,
            http2: self.http2,
            timeout: self.timeout.0,
            progress,
        }
    }
}

/// The command: runs on a multi-thread runtime, prints the report to stdout, and exits
/// non-zero when any request ended unexpectedly.
pub fn main(args: LoadtestArgs) -> Result<ExitCode, LoadtestError> {
    let json = args.json;
    let opts = args.into_options(!json && std::io::stderr().is_terminal());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(run(&opts))?;
    if json {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs the load test `opts` describes and returns what it measured.
pub async fn run(opts: &Options) -> Result<Report, LoadtestError> {
    opts.validate()?;
    let target = normalize_target(&opts.target).map_err(LoadtestError::Options)?;
    let urls = urls::mint(opts, &target, OffsetDateTime::now_utc())?;
    let body = match opts.method {
        LoadMethod::Put => Bytes::from((0..opts.body_size).map(|i| (i % 251) as u8).collect::<Vec<u8>>()),
        LoadMethod::Get | LoadMethod::Head => Bytes::new(),
    };
    let run_info = RunInfo {
        target: target.clone(),
        method: opts.method.as_str().to_owned(),
        protocol: if opts.http2 { "HTTP/2" } else { "HTTP/1.1" }.to_owned(),
        concurrency: opts.concurrency,
        urls: urls.len(),
        invalid_urls: urls.iter().filter(|u| u.invalid).count(),
        body_size: body.len(),
        rate: opts.rate,
    };
    let client = build_client(opts);
    // Shards keep memory flat in the concurrency (a histogram is ~190 KiB) while keeping
    // lock contention negligible: a lock is held only to add one sample.
    let shards = opts
        .concurrency
        .min(2 * std::thread::available_parallelism().map_or(2, |n| n.get()));
    let start = Instant::now();
    let bound = opts.duration.unwrap_or(MAX_DURATION).min(MAX_DURATION);
    let shared = Arc::new(Shared {
        urls,
        method: opts.method.method(),
        body,
        next: AtomicU64::new(0),
        finished: AtomicU64::new(0),
        limit: opts.requests,
        start,
        deadline: start + bound,
        rate: opts.rate,
        timeout: opts.timeout,
        tallies: (0..shards).map(|_| Mutex::new(Tally::new())).collect(),
    });
    let progress = opts
        .progress
        .then(|| Progress::start(Arc::clone(&shared), opts.requests, opts.duration));
    let workers: Vec<_> = (0..opts.concurrency)
        .map(|id| tokio::spawn(worker(id, Arc::clone(&shared), client.clone())))
        .collect();
    let mut failure = None;
    for w in workers {
        if let Err(e) = w.await {
            failure.get_or_insert(e);
        }
    }
    let elapsed = start.elapsed();
    if let Some(p) = progress {
        p.finish().await;
    }
    if let Some(e) = failure {
        return Err(LoadtestError::Worker(e.to_string()));
    }
    let mut total = Tally::new();
    for shard in &shared.tallies {
        let tally = std::mem::replace(&mut *lock(shard), Tally::new());
        total.merge(tally);
    }
    Ok(total.into_report(run_info, elapsed))
}

/// What the workers share. Read-only but for the counters and the tally shards.
struct Shared {
    urls: Vec<urls::PresignedTarget>,
    method: Method,
    body: Bytes,
    /// The next request number to send.
    next: AtomicU64,
    /// Requests finished, for the progress bar.
    finished: AtomicU64,
    limit: Option<u64>,
    start: Instant,
    deadline: Instant,
    rate: Option<f64>,
    timeout: Duration,
    tallies: Vec<Mutex<Tally>>,
}

type LoadClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

fn build_client(opts: &Options) -> LoadClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(opts.timeout));
    let tls = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http();
    let connector = if opts.http2 {
        tls.enable_http2().wrap_connector(http)
    } else {
        tls.enable_http1().wrap_connector(http)
    };
    Client::builder(TokioExecutor::new())
        .http2_only(opts.http2)
        .pool_max_idle_per_host(opts.concurrency)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(connector)
}

async fn worker(id: usize, shared: Arc<Shared>, client: LoadClient) {
    let tally = &shared.tallies[id % shared.tallies.len()];
    let mut error_body = Vec::with_capacity(4096);
    let urls = shared.urls.len() as u64;
    loop {
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        if shared.limit.is_some_and(|limit| n >= limit) {
            break;
        }
        let started = match shared.rate {
            Some(rate) => {
                // Pacing by schedule: request n leaves at start + n/rate, so the rate holds
                // however the workers interleave and a slow response cannot lower it.
                let at = shared.start + Duration::from_secs_f64(n as f64 / rate);
                if at >= shared.deadline {
                    break;
                }
                tokio::time::sleep_until(at.into()).await;
                at
            }
            None => Instant::now(),
        };
        if Instant::now() >= shared.deadline {
            break;
        }
        let target = &shared.urls[(n % urls) as usize];
        let mut request = Request::new(Full::new(shared.body.clone()));
        *request.method_mut() = shared.method.clone();
        *request.uri_mut() = target.uri.clone();
        let result = tokio::time::timeout(shared.timeout, exchange(&client, request, &mut error_body)).await;
        let latency = started.elapsed();
        {
            let mut tally = lock(tally);
            match result {
                Ok(Ok((status, received))) => {
                    let error_code = if status >= 300 {
                        s3_error_code(&error_body)
                    } else {
                        None
                    };
                    let bytes = shared.body.len() as u64 + received;
                    tally.record(target.invalid, latency, bytes, Outcome::Response { status, error_code });
                }
                Ok(Err(e)) => tally.record(target.invalid, latency, 0, Outcome::Transport(&e)),
                Err(_) => tally.record(
                    target.invalid,
                    latency,
                    0,
                    Outcome::Transport(&TimedOut(shared.timeout)),
                ),
            }
        }
        shared.finished.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends one request and reads its response to the end: a success body is counted and
/// dropped frame by frame; an error body is kept (up to [`ERROR_BODY_CAP`]) in
/// `error_body` for its S3 error code. Returns the status and the body bytes received.
async fn exchange(
    client: &LoadClient,
    request: Request<Full<Bytes>>,
    error_body: &mut Vec<u8>,
) -> Result<(u16, u64), TransportError> {
    error_body.clear();
    let response = client.request(request).await.map_err(TransportError::Request)?;
    let status = response.status().as_u16();
    let keep = !response.status().is_success();
    let mut body = response.into_body();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(TransportError::Body)?;
        if let Some(data) = frame.data_ref() {
            received += data.len() as u64;
            if keep && error_body.len() < ERROR_BODY_CAP {
                let room = ERROR_BODY_CAP - error_body.len();
                error_body.extend_from_slice(&data[..data.len().min(room)]);
            }
        }
    }
    Ok((status, received))
}

/// A request that got no complete response.
#[derive(Debug)]
enum TransportError {
    Request(hyper_util::client::legacy::Error),
    Body(hyper::Error),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e: &dyn std::error::Error = match self {
            TransportError::Request(e) => e,
            TransportError::Body(e) => e,
        };
        // hyper's errors say little at the top ("client error (Connect)"): show the chain.
        write!(f, "{e}")?;
        let mut source = e.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

struct TimedOut(Duration);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no complete response within {}", human(self.0))
    }
}

fn lock(m: &Mutex<Tally>) -> std::sync::MutexGuard<'_, Tally> {
    // A tally is consistent after any panic (plain counters), so poisoning is ignored.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The live progress bar: redrawn from the shared counters ten times a second.
struct Progress {
    bar: ProgressBar,
    done: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    fn start(shared: Arc<Shared>, requests: Option<u64>, duration: Option<Duration>) -> Progress {
        // Whichever bound is given measures progress; a request count is exact, so it wins.
        let by_count = requests.is_some();
        let length = match (requests, duration) {
            (Some(n), _) => n,
            (None, d) => d.unwrap_or(MAX_DURATION).as_millis() as u64,
        };
        let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {elapsed:>4} [{wide_bar}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        let done = Arc::new(AtomicBool::new(false));
        let task = {
            let (bar, done) = (bar.clone(), Arc::clone(&done));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                while !done.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let finished = shared.finished.load(Ordering::Relaxed);
                    let secs = shared.start.elapsed().as_secs_f64();
                    bar.set_position(if by_count {
                        finished
                    } else {
                        shared.start.elapsed().as_millis() as u64
                    });
                    bar.set_message(format!(
                        "{finished} requests, {:.0} req/s",
                        finished as f64 / secs.max(1e-3)
                    ));
                }
            })
        };
        Progress { bar, done, task }
    }

    async fn finish(self) {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.bar.finish_and_clear();
    }
}

/// `scheme://host[:port]` of `target`, with a default port dropped: SigV4 signs the Host
/// header, and HTTP clients leave a default port out of it.
fn normalize_target(target: &str) -> Result<String, String> {
    let bad = |why: &str| format!("--target {target:?}: {why}");
    let uri: Uri = target.parse().map_err(|e| bad(&format!("not a URL ({e})")))?;
    let scheme = match uri.scheme_str() {
        Some(s @ ("http" | "https")) => s,
        _ => return Err(bad("expected http:// or https://")),
    };
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(bad("give the gateway's base URL, with no path or query"));
    }
    let default_port = if scheme == "http" { 80 } else { 443 };
    let host = match authority.port_u16() {
        Some(p) if p == default_port => authority.host(),
        _ => authority.as_str(),
    };
    Ok(format!("{scheme}://{host}"))
}

/// A byte size such as `512`, `4KiB`, `1MiB`, `1.5MB` or `1GiB`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 1KiB or 1MiB"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(format!("{s:?}: unknown unit (B, KiB, MiB, GiB, KB, MB, GB)")),
    };
    let bytes = number * multiplier as f64;
    if bytes.fract() != 0.0 || bytes > MAX_BODY_SIZE as f64 {
        return Err(format!("{s:?}: a whole number of bytes up to 1GiB"));
    }
    Ok(bytes as usize)
}

fn parse_secret(s: &str) -> Result<Secret, String> {
    Ok(Secret::new(s))
}

fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("1 MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1.5kb"), Ok(1500));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("2GiB").is_err());
        assert!(parse_size("1.5B").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("3 parsecs").is_err());
    }

    #[test]
    fn targets_are_reduced_to_what_the_host_header_carries() {
        assert_eq!(
            normalize_target("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_target("http://files.example.com:80").unwrap(),
            "http://files.example.com"
        );
        assert_eq!(
            normalize_target("https://files.example.com:443").unwrap(),
            "https://files.example.com"
        );
        assert_eq!(normalize_target("https://[::1]:8443").unwrap(), "https://[::1]:8443");
        assert!(normalize_target("ftp://x").is_err());
        assert!(normalize_target("http://x/bucket").is_err());
        assert!(normalize_target("127.0.0.1:8080").is_err());
    }

    #[test]
    fn every_run_needs_a_bound_and_sane_numbers() {
        let base = Options::new("http://127.0.0.1:8080");
        assert!(base.validate().is_err(), "no bound");
        assert!(Options {
            requests: Some(10),
            ..base.clone()
        }
        .validate()
        .is_ok());
        let bad = Options {
            duration: Some(Duration::from_secs(7200)),
            concurrency: 0,
            invalid_share: 1.5,
            rate: Some(0.0),
            ..base.clone()
        };
        let Err(LoadtestError::Options(msg)) = bad.validate() else {
            panic!("accepted")
        };
        for word in ["--duration", "--concurrency", "--invalid-share", "--rate", "--expires"] {
            assert!(msg.contains(word), "{word} missing from {msg}");
        }
    }

    #[test]
    fn the_command_line_defaults_to_the_embedded_demo_and_ten_seconds() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: LoadtestArgs,
        }
        let opts = Cli::parse_from(["loadtest"]).args.into_options(false);
        assert_eq!(opts.target, "http://127.0.0.1:8080");
        assert_eq!(opts.access_key_id, DEMO_ACCESS_KEY_ID);
        assert_eq!(opts.secret_access_key.expose(), DEMO_SECRET_ACCESS_KEY);
        assert_eq!(opts.keys, ["hello.txt"]);
        assert_eq!(opts.duration, Some(Duration::from_secs(10)));
        assert!(opts.validate().is_ok());

        let opts = Cli::parse_from([
            "loadtest",
            "--method",
            "put",
            "--keys-prefix",
            "bench/",
            "--objects",
            "3",
            "--size",
            "1MiB",
            "-n",
            "50",
        ])
        .args
        .into_options(false);
        assert_eq!(opts.method, LoadMethod::Put);
        assert_eq!(opts.keys, ["bench/0", "bench/1", "bench/2"]);
        assert_eq!(opts.body_size, 1 << 20);
        assert_eq!((opts.requests, opts.duration), (Some(50), None));
    }
}
