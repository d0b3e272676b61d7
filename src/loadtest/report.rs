//! What a load-test run measured: per-worker tallies recorded without allocating, merged
//! once at the end into a [`Report`], printed for people or as one JSON object.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The longest latency the histogram tells apart; anything longer is recorded as this.
const HISTOGRAM_MAX_MICROS: u64 = 3_600 * 1_000_000;
/// Error bodies are read whole up to this many bytes (S3 error documents are small).
pub(crate) const ERROR_BODY_CAP: usize = 64 * 1024;

/// One worker's tallies. Each worker owns its own, so recording takes no lock; a status
/// or error code seen for the first time is the only thing that allocates.
#[derive(Debug)]
pub(crate) struct Tally {
    latency: Histogram<u64>,
    bytes: u64,
    valid: ClassTally,
    invalid: ClassTally,
    first_transport_error: Option<String>,
}

/// The tallies of one class of request (valid, or deliberately invalid signature).
#[derive(Debug, Default)]
struct ClassTally {
    requests: u64,
    status: Vec<(u16, u64)>,
    error_codes: Vec<(Box<str>, u64)>,
    transport_errors: u64,
}

/// How one request ended.
pub(crate) enum Outcome<'a> {
    /// A complete response: its status and, for an error, the S3 `<Code>` of its body.
    Response {
        /// The HTTP status.
        status: u16,
        /// The S3 error code, if the body carried one.
        error_code: Option<&'a str>,
    },
    /// No complete response (connect, protocol or body error, or the request timed out).
    Transport(&'a dyn fmt::Display),
}

impl Tally {
    pub(crate) fn new() -> Tally {
        Tally {
            // Three significant figures between 1 us and an hour: microsecond resolution on
            // loopback and 0.1% everywhere else.
            latency: new_histogram(),
            bytes: 0,
            valid: ClassTally::default(),
            invalid: ClassTally::default(),
            first_transport_error: None,
        }
    }

    /// Records one finished request: its latency, the body bytes it moved each way, and
    /// how it ended.
    pub(crate) fn record(&mut self, invalid: bool, latency: Duration, bytes: u64, outcome: Outcome<'_>) {
        self.latency
            .saturating_record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1));
        self.bytes += bytes;
        let class = if invalid { &mut self.invalid } else { &mut self.valid };
        class.requests += 1;
        match outcome {
            Outcome::Response { status, error_code } => {
                bump(&mut class.status, status);
                if let Some(code) = error_code {
                    match class.error_codes.iter_mut().find(|(c, _)| &**c == code) {
                        Some((_, n)) => *n += 1,
                        None => class.error_codes.push((code.into(), 1)),
                    }
                }
            }
            Outcome::Transport(error) => {
                class.transport_errors += 1;
                if self.first_transport_error.is_none() {
                    self.first_transport_error = Some(error.to_string());
                }
            }
        }
    }

    /// Adds `other` into this one.
    pub(crate) fn merge(&mut self, other: Tally) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        self.bytes += other.bytes;
        self.valid.merge(other.valid);
        self.invalid.merge(other.invalid);
        if self.first_transport_error.is_none() {
            self.first_transport_error = other.first_transport_error;
        }
    }

    /// The report of a run that took `elapsed`, described by `run`.
    pub(crate) fn into_report(self, run: RunInfo, elapsed: Duration) -> Report {
        let secs = elapsed.as_secs_f64();
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let valid = self.valid.summary();
        let invalid = self.invalid.summary();
        let mut status = valid.status.clone();
        for (s, n) in &invalid.status {
            *status.entry(s.clone()).or_default() += n;
        }
        let mut error_codes = valid.error_codes.clone();
        for (c, n) in &invalid.error_codes {
            *error_codes.entry(c.clone()).or_default() += n;
        }
        let requests = valid.requests + invalid.requests;
        let unexpected = valid.requests - status_count(&valid.status, |s| (200..300).contains(&s)) + invalid.requests
            - status_count(&invalid.status, |s| s == 403);
        let h = &self.latency;
        let q = |q: f64| if h.is_empty() { 0 } else { h.value_at_quantile(q) };
        Report {
            run,
            requests,
            duration_secs: secs,
            requests_per_sec: per_sec(requests),
            bytes: self.bytes,
            bytes_per_sec: per_sec(self.bytes),
            latency_us: Latency {
                p50: q(0.50),
                p90: q(0.90),
                p99: q(0.99),
                p99_9: q(0.999),
                max: h.max(),
                mean: if h.is_empty() { 0.0 } else { h.mean() },
            },
            status,
            error_codes,
            transport_errors: valid.transport_errors + invalid.transport_errors,
            first_transport_error: self.first_transport_error,
            unexpected,
            valid,
            invalid,
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, HISTOGRAM_MAX_MICROS, 3) {
        Ok(h) => h,
        // The bounds are constants that hdrhistogram accepts.
        Err(e) => unreachable!("histogram bounds: {e:?}"),
    }
}

fn bump(counts: &mut Vec<(u16, u64)>, status: u16) {
    match counts.iter_mut().find(|(s, _)| *s == status) {
        Some((_, n)) => *n += 1,
        None => counts.push((status, 1)),
    }
}

fn status_count(status: &BTreeMap<String, u64>, pick: impl Fn(u16) -> bool) -> u64 {
    status
        .iter()
        .filter(|(s, _)| s.parse().is_ok_and(&pick))
        .map(|(_, n)| n)
        .sum()
}

impl ClassTally {
    fn merge(&mut self, other: ClassTally) {
        self.requests += other.requests;
        self.transport_errors += other.transport_errors;
        for (s, n) in other.status {
            match self.status.iter_mut().find(|(t, _)| *t == s) {
                Some((_, m)) => *m += n,
                None => self.status.push((s, n)),
            }
        }
        for (c, n) in other.error_codes {
            match self.error_codes.iter_mut().find(|(d, _)| *d == c) {
                Some((_, m)) => *m += n,
                None => self.error_codes.push((c, n)),
            }
        }
    }

    fn summary(self) -> ClassReport {
        ClassReport {
            requests: self.requests,
            status: self.status.into_iter().map(|(s, n)| (s.to_string(), n)).collect(),
            error_codes: self.error_codes.into_iter().map(|(c, n)| (c.into(), n)).collect(),
            transport_errors: self.transport_errors,
        }
    }
}

/// Finds the S3 error code in an error document: the text of its first `<Code>` element.
pub(crate) fn s3_error_code(body: &[u8]) -> Option<&str> {
    const OPEN: &[u8] = b"<Code>";
    let start = body.windows(OPEN.len()).position(|w| w == OPEN)? + OPEN.len();
    let len = body[start..].iter().position(|&b| b == b'<')?;
    let code = std::str::from_utf8(&body[start..start + len]).ok()?.trim();
    (!code.is_empty()).then_some(code)
}

/// What was run: echoed in the report so a saved JSON result explains itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The gateway's base URL.
    pub target: String,
    /// GET, HEAD or PUT.
    pub method: String,
    /// "HTTP/1.1" or "HTTP/2".
    pub protocol: String,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Distinct pre-signed URLs cycled through.
    pub urls: usize,
    /// How many of them carry a corrupted signature.
    pub invalid_urls: usize,
    /// Request body size of each PUT, in bytes.
    pub body_size: usize,
    /// The fixed request rate, if one was set (req/s).
    pub rate: Option<f64>,
}

/// The result of a load-test run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// What was run.
    pub run: RunInfo,
    /// Requests finished: a response, or a transport error.
    pub requests: u64,
    /// From the first request sent to the last one finished.
    pub duration_secs: f64,
    /// `requests / duration_secs`.
    pub requests_per_sec: f64,
    /// Body bytes moved: request bodies sent plus response bodies received.
    pub bytes: u64,
    /// `bytes / duration_secs`.
    pub bytes_per_sec: f64,
    /// Latency from sending a request (or its scheduled time, with a fixed rate) to the
    /// end of its response body, in microseconds.
    pub latency_us: Latency,
    /// Responses per HTTP status, all requests.
    pub status: BTreeMap<String, u64>,
    /// Responses per S3 error code (from the `<Code>` of error bodies), all requests.
    pub error_codes: BTreeMap<String, u64>,
    /// Requests that got no complete response (including those that timed out).
    pub transport_errors: u64,
    /// The first transport error's message, to say what went wrong.
    pub first_transport_error: Option<String>,
    /// Requests that did not end as expected: a valid URL without a 2xx, or a corrupted
    /// one without a 403 (transport errors included).
    pub unexpected: u64,
    /// The requests with a valid signature.
    pub valid: ClassReport,
    /// The requests with a deliberately corrupted signature: a 403 is expected.
    pub invalid: ClassReport,
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// Slowest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// The outcome counts of one class of request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// Requests finished.
    pub requests: u64,
    /// Responses per HTTP status.
    pub status: BTreeMap<String, u64>,
    /// Responses per S3 error code.
    pub error_codes: BTreeMap<String, u64>,
    /// Requests that got no complete response.
    pub transport_errors: u64,
}

impl Report {
    /// Responses with HTTP status `code`.
    pub fn status_count(&self, code: u16) -> u64 {
        self.status.get(&code.to_string()).copied().unwrap_or(0)
    }

    /// Whether every request ended as expected.
    pub fn is_clean(&self) -> bool {
        self.unexpected == 0
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        // A struct of numbers, strings and string-keyed maps always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.run;
        write!(
            f,
            "{} {} over {}, {} connection(s), {} URL(s)",
            r.method, r.target, r.protocol, r.concurrency, r.urls
        )?;
        if r.invalid_urls > 0 {
            write!(f, " ({} with a corrupted signature)", r.invalid_urls)?;
        }
        if r.method == "PUT" {
            write!(f, ", {} bodies", Bytes(r.body_size as f64))?;
        }
        if let Some(rate) = r.rate {
            write!(f, ", paced at {rate} req/s")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  requests    {} in {:.2} s = {:.1} req/s",
            self.requests, self.duration_secs, self.requests_per_sec
        )?;
        writeln!(
            f,
            "  transfer    {} = {}/s (request + response bodies)",
            Bytes(self.bytes as f64),
            Bytes(self.bytes_per_sec)
        )?;
        let l = &self.latency_us;
        writeln!(
            f,
            "  latency     p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            Millis(l.p50),
            Millis(l.p90),
            Millis(l.p99),
            Millis(l.p99_9),
            Millis(l.max)
        )?;
        write!(f, "  status     ")?;
        for (s, n) in &self.status {
            write!(f, " {s}: {n}")?;
        }
        writeln!(f)?;
        if !self.error_codes.is_empty() {
            write!(f, "  S3 errors  ")?;
            for (c, n) in &self.error_codes {
                write!(f, " {c}: {n}")?;
            }
            writeln!(f)?;
        }
        if self.invalid.requests > 0 {
            let rejected = self.invalid.status.get("403").copied().unwrap_or(0);
            writeln!(
                f,
                "  corrupted   {} sent, {} refused with 403 as expected",
                self.invalid.requests, rejected
            )?;
        }
        writeln!(f, "  transport errors {}", self.transport_errors)?;
        if let Some(e) = &self.first_transport_error {
            writeln!(f, "    first: {e}")?;
        }
        write!(f, "  unexpected  {}", self.unexpected)
    }
}

/// A byte count for people: B, KiB, MiB, GiB.
struct Bytes(f64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        if self.0 < 1024.0 {
            return write!(f, "{:.0} B", self.0);
        }
        let mut v = self.0 / 1024.0;
        let mut unit = 0;
        while v >= 1024.0 && unit + 1 < UNITS.len() {
            v /= 1024.0;
            unit += 1;
        }
        write!(f, "{v:.1} {}", UNITS[unit])
    }
}

/// Microseconds shown as milliseconds.
struct Millis(u64);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} ms", self.0 as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_info() -> RunInfo {
        RunInfo {
            target: "http://127.0.0.1:8080".into(),
            method: "GET".into(),
            protocol: "HTTP/1.1".into(),
            concurrency: 2,
            urls: 10,
            invalid_urls: 2,
            body_size: 0,
            rate: None,
        }
    }

    #[test]
    fn finds_the_error_code_of_an_s3_error_document() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>\
                     <Message>The request signature we calculated does not match</Message></Error>";
        assert_eq!(s3_error_code(body), Some("SignatureDoesNotMatch"));
        assert_eq!(s3_error_code(b"<Error><Code></Code></Error>"), None);
        assert_eq!(s3_error_code(b"<Error><Code>NoSuchKey"), None);
        assert_eq!(s3_error_code(b"not xml"), None);
    }

    #[test]
    fn merged_tallies_count_per_class_status_and_code() {
        let mut a = Tally::new();
        let mut b = Tally::new();
        let ok = || Outcome::Response {
            status: 200,
            error_code: None,
        };
        let denied = || Outcome::Response {
            status: 403,
            error_code: Some("SignatureDoesNotMatch"),
        };
        let ms = Duration::from_millis(1);
        for _ in 0..3 {
            a.record(false, ms, 10, ok());
            b.record(false, ms * 3, 10, ok());
        }
        a.record(true, ms, 100, denied());
        b.record(true, ms, 100, denied());
        b.record(false, ms, 0, Outcome::Transport(&"connection refused"));
        a.merge(b);
        let report = a.into_report(run_info(), Duration::from_secs(2));
        assert_eq!(report.requests, 9);
        assert_eq!(report.bytes, 260);
        assert_eq!(report.requests_per_sec, 4.5);
        assert_eq!(report.status_count(200), 6);
        assert_eq!(report.status_count(403), 2);
        assert_eq!(report.error_codes["SignatureDoesNotMatch"], 2);
        assert_eq!(report.invalid.requests, 2);
        assert_eq!(report.invalid.status["403"], 2);
        assert_eq!(report.transport_errors, 1);
        assert_eq!(report.first_transport_error.as_deref(), Some("connection refused"));
        assert_eq!(report.unexpected, 1);
        assert!(report.latency_us.max >= 3000 && report.latency_us.max < 3010);
        assert!(report.latency_us.p50 >= 1000 && report.latency_us.p50 < 1010);

        let json: Report = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json, report);
        let text = report.to_string();
        assert!(text.contains("SignatureDoesNotMatch: 2"), "{text}");
        assert!(text.contains("2 sent, 2 refused with 403"), "{text}");
    }

    #[test]
    fn an_empty_run_reports_zeros() {
        let report = Tally::new().into_report(run_info(), Duration::ZERO);
        assert_eq!(report.requests, 0);
        assert_eq!(report.requests_per_sec, 0.0);
        assert_eq!(report.latency_us.p99, 0);
        assert!(report.is_clean());
    }

    #[test]
    fn byte_counts_read_like_people_write_them() {
        assert_eq!(Bytes(512.0).to_string(), "512 B");
        assert_eq!(Bytes(4096.0).to_string(), "4.0 KiB");
        assert_eq!(Bytes(3.5 * 1024.0 * 1024.0).to_string(), "3.5 MiB");
    }
}
