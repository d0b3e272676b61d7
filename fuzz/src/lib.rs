//! What the fuzz targets share: the gateway's verifier over the S3 documentation's example
//! credential, a reader for the small text format the request targets take, and a driver
//! that pulls an `http_body::Body` to its end without a runtime.
//!
//! Everything here is harness. Nothing in it decides whether a request is valid: that is
//! always the gateway's own code.

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::{Body, Frame};

use guestpass::auth::credentials::{Credential, CredentialStore};
use guestpass::auth::{AuthSettings, Authenticator};
use guestpass::response::BoxError;
use guestpass::secret::Secret;

/// The S3 documentation's example access key (every `s3-docs` vector is signed with it).
pub const DOC_ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
/// Its secret.
pub const DOC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// A second key with two secrets (rotation), so the multi-secret loop is reached.
pub const ROTATING_ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
/// The region every scope must name.
pub const REGION: &str = "us-east-1";
/// The virtual-host domain of the `authenticate` target (the S3 docs' endpoint).
pub const VHOST_DOMAIN: &str = "s3.amazonaws.com";
/// `now` when an input does not set it: 2013-05-24T00:05:00Z, five minutes after the
/// S3 documentation's examples were signed.
pub const DEFAULT_NOW: i64 = 1_369_353_900;

/// The verifier every request target uses (settings as in `chunked.rs`'s tests).
pub fn authenticator() -> Authenticator {
    Authenticator::new(
        AuthSettings {
            max_expires_secs: 604_800,
            clock_skew: std::time::Duration::from_secs(15 * 60),
            mismatch_details: true,
            sigv2: true,
        },
        CredentialStore::new(
            REGION,
            vec![
                Credential::new(DOC_ACCESS_KEY_ID, vec![Secret::new(DOC_SECRET)]),
                Credential::new(
                    ROTATING_ACCESS_KEY_ID,
                    vec![
                        Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                        Secret::new("an-older-secret-still-valid"),
                    ],
                ),
            ],
        ),
    )
}

/// A request read from the text format of the `authenticate` target:
///
/// ```text
/// [@<unix seconds>]            optional first line: the server clock (default DEFAULT_NOW)
/// METHOD /path[?query]         request line (anything after a second space is ignored)
/// name: value                  header lines; `host` is the Host
///
/// body bytes                   after the first empty line
/// ```
///
/// Lines end in `\n` or `\r\n`. Header lines that are not valid HTTP are skipped, as
/// hyper would have refused them before the gateway saw them.
pub struct TextRequest<'a> {
    /// The server clock.
    pub now: i64,
    /// Method token.
    pub method: &'a str,
    /// Path as sent.
    pub raw_path: &'a str,
    /// Query as sent, without `?`.
    pub raw_query: Option<&'a str>,
    /// Headers.
    pub headers: HeaderMap,
    /// The Host header (empty when absent).
    pub host: String,
    /// What follows the empty line.
    pub body: &'a [u8],
}

fn split_line(input: &[u8]) -> (&[u8], &[u8]) {
    match input.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let line = &input[..i];
            (line.strip_suffix(b"\r").unwrap_or(line), &input[i + 1..])
        }
        None => (input, &[]),
    }
}

impl<'a> TextRequest<'a> {
    /// Reads `input`; `None` when there is no usable request line.
    pub fn parse(input: &'a [u8]) -> Option<TextRequest<'a>> {
        let (mut line, mut rest) = split_line(input);
        let mut now = DEFAULT_NOW;
        if let Some(t) = line.strip_prefix(b"@") {
            now = std::str::from_utf8(t).ok()?.trim().parse().ok()?;
            (line, rest) = split_line(rest);
        }
        let line = std::str::from_utf8(line).ok()?;
        let mut parts = line.splitn(3, ' ');
        let method = parts.next()?;
        let target = parts.next()?;
        let (raw_path, raw_query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let mut headers = HeaderMap::new();
        let mut host = String::new();
        loop {
            let (line, after) = split_line(rest);
            rest = after;
            if line.is_empty() {
                break;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            let value = value.strip_prefix(b" ").unwrap_or(value);
            let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) else {
                continue;
            };
            if name == http::header::HOST {
                host = String::from_utf8_lossy(value.as_bytes()).into_owned();
            }
            headers.append(name, value);
        }
        Some(TextRequest {
            now,
            method,
            raw_path,
            raw_query,
            headers,
            host,
            body: rest,
        })
    }
}

/// A body of ready frames.
pub struct Frames(VecDeque<Bytes>);

impl Frames {
    /// `data` cut into frames of the sizes in `pieces` (cycled; a zero size counts as 1).
    pub fn split(data: &[u8], pieces: &[u8]) -> Frames {
        let mut frames = VecDeque::new();
        let mut at = 0;
        let mut i = 0;
        while at < data.len() {
            let n = pieces
                .get(i % pieces.len().max(1))
                .map_or(data.len(), |&p| usize::from(p).max(1));
            let end = (at + n).min(data.len());
            frames.push_back(Bytes::copy_from_slice(&data[at..end]));
            at = end;
            i += 1;
        }
        Frames(frames)
    }
}

impl Body for Frames {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
    }
}

/// How pulling a body ended.
pub enum Drained {
    /// The body ended cleanly; every data byte it yielded.
    Complete(Vec<u8>),
    /// The body yielded an error after these bytes.
    Failed(Vec<u8>),
}

/// A waker that remembers being woken.
struct WakeFlag(AtomicBool);

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls `poll` until it is ready. The input is always ready, so nothing but the polled
/// thing itself can wake it: a `Pending` that scheduled no wake-up would hang a real
/// request for good, and is a bug.
fn run<T>(mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>) -> T {
    let flag = Arc::new(WakeFlag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    // Every step consumes input or ends; this bound only stops a loop bug.
    for _ in 0..1_000_000 {
        flag.0.store(false, Ordering::SeqCst);
        match poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => assert!(
                flag.0.load(Ordering::SeqCst),
                "Pending over ready input without a wake-up: the request would hang"
            ),
        }
    }
    panic!("never finished over finite input")
}

/// Runs a future over ready input to its end.
pub fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    run(|cx| f.as_mut().poll(cx))
}

/// Pulls `body` to its end.
pub fn drain<B: Body<Data = Bytes> + Unpin>(mut body: B) -> Drained {
    let mut out = Vec::new();
    loop {
        match run(|cx| Pin::new(&mut body).poll_frame(cx)) {
            None => return Drained::Complete(out),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    out.extend_from_slice(&data);
                }
            }
            Some(Err(_)) => return Drained::Failed(out),
        }
    }
}
