//! Does the time to refuse a pre-signed URL say anything about how wrong it was?
//!
//! Four refusals of one pre-signed GET are timed through `Authenticator::authenticate`:
//!
//! * `sig-first`: the signature's first hex digit changed;
//! * `sig-last`: its last hex digit changed;
//! * `known-key`: a known access key with a wrong signature;
//! * `unknown-key`: an unknown access key (of the same length) with a signature.
//!
//! The samples of all four are taken interleaved in a shuffled order (so drift in clock
//! speed or machine load falls on all of them alike), one call per sample, and each pair
//! is compared: median, mean, standard deviation, and Welch's t statistic on the samples
//! below the 99th percentile of the pair (interrupts and preemption make the top tail
//! noise, as dudect crops it). |t| < 4.5 is dudect's threshold for "no leak detected".
//! The whole comparison is run with `signature_mismatch_details` on (the default) and off.
//!
//! `cargo bench --bench timing` runs 20,000 samples per variant (`TIMING_SAMPLES` to
//! change it). Without `--bench` (as `cargo test --all-targets` runs it) it takes a few
//! hundred samples to prove that it works, and prints no verdict.

use std::hint::black_box;
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Method};
use rand::seq::SliceRandom;
use time::OffsetDateTime;

use guestpass::auth::credentials::{Credential, CredentialStore};
use guestpass::auth::sigv4::sign::{presign_url, PresignRequest};
use guestpass::auth::{AuthSettings, Authenticator, RequestView};
use guestpass::secret::Secret;

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const UNKNOWN_KEY: &str = "AKIAIOSFODNN7EXAMPLF";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const REGION: &str = "eu-west-1";
const HOST: &str = "s3.eu-west-1.amazonaws.com";
/// dudect's threshold: a larger |t| is evidence of a timing difference.
const T_THRESHOLD: f64 = 4.5;

struct Variant {
    name: &'static str,
    raw_query: String,
}

struct Fixture {
    auth: Authenticator,
    raw_path: String,
    headers: HeaderMap,
    now: OffsetDateTime,
    variants: Vec<Variant>,
}

/// `query` with the value of `X-Amz-Signature` passed through `f`.
fn with_signature(query: &str, f: impl Fn(&str) -> String) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("X-Amz-Signature", sig)) => format!("X-Amz-Signature={}", f(sig)),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn flip_hex(c: char) -> char {
    if c == '0' {
        '1'
    } else {
        '0'
    }
}

impl Fixture {
    fn new(mismatch_details: bool) -> Fixture {
        let signed_at = OffsetDateTime::from_unix_timestamp(1_718_000_000).expect("time");
        let url = presign_url(
            ACCESS_KEY,
            &Secret::new(SECRET),
            REGION,
            &PresignRequest {
                method: "GET",
                base_url: &format!("https://{HOST}"),
                path: "/media-archive/users/4711/albums/2024 summer/IMG_0042.jpg",
                extra_query: &[("x-id", "GetObject")],
                expires_secs: 3600,
                now: signed_at,
            },
        );
        let target = &url[url.find(HOST).expect("host in URL") + HOST.len()..];
        let (raw_path, query) = target.split_once('?').expect("query");
        let first = with_signature(query, |s| {
            let mut c = s.chars();
            let head = c.next().map(flip_hex).expect("a signature");
            format!("{head}{}", c.as_str())
        });
        let last = with_signature(query, |s| {
            let tail = s.chars().last().map(flip_hex).expect("a signature");
            format!("{}{tail}", &s[..s.len() - 1])
        });
        let unknown = last.replace(ACCESS_KEY, UNKNOWN_KEY);
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
        let auth = Authenticator::new(
            AuthSettings {
                max_expires_secs: 604_800,
                clock_skew: Duration::from_secs(900),
                mismatch_details,
                sigv2: false,
            },
            CredentialStore::new(REGION, vec![Credential::new(ACCESS_KEY, vec![Secret::new(SECRET)])]),
        );
        let fx = Fixture {
            auth,
            raw_path: raw_path.to_owned(),
            headers,
            now: signed_at + time::Duration::seconds(60),
            variants: vec![
                Variant {
                    name: "sig-first",
                    raw_query: first,
                },
                Variant {
                    name: "sig-last",
                    raw_query: last.clone(),
                },
                Variant {
                    name: "known-key",
                    raw_query: last,
                },
                Variant {
                    name: "unknown-key",
                    raw_query: unknown,
                },
            ],
        };
        // The unaltered URL verifies: the refusals are of a request that is otherwise right.
        assert!(fx.authenticate(query).is_ok(), "the fixture URL verifies");
        for v in &fx.variants {
            assert!(fx.authenticate(&v.raw_query).is_err(), "{} is refused", v.name);
        }
        fx
    }

    fn authenticate(&self, raw_query: &str) -> Result<(), ()> {
        let view = RequestView {
            method: &Method::GET,
            raw_path: &self.raw_path,
            raw_query: Some(raw_query),
            headers: &self.headers,
            host: HOST,
            now: self.now,
        };
        self.auth.authenticate(&view).map(|_| ()).map_err(|_| ())
    }

    /// `samples` timings (nanoseconds) of each variant, interleaved in a shuffled order.
    fn measure(&self, samples: usize) -> Vec<Vec<f64>> {
        // Warm the key cache (the known key's and the decoy's) and the branch predictors.
        for _ in 0..1000 {
            for v in &self.variants {
                let _ = black_box(self.authenticate(black_box(&v.raw_query)));
            }
        }
        let mut order: Vec<usize> = (0..self.variants.len())
            .flat_map(|i| std::iter::repeat_n(i, samples))
            .collect();
        order.shuffle(&mut rand::thread_rng());
        let mut out: Vec<Vec<f64>> = vec![Vec::with_capacity(samples); self.variants.len()];
        for i in order {
            let query = &self.variants[i].raw_query;
            let started = Instant::now();
            let refused = self.authenticate(black_box(query));
            let elapsed = started.elapsed();
            let _ = black_box(refused);
            out[i].push(elapsed.as_nanos() as f64);
        }
        out
    }
}

struct Summary {
    median: f64,
    mean: f64,
    stddev: f64,
}

fn summarize(xs: &[f64]) -> Summary {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let mean = sorted.iter().sum::<f64>() / n;
    let var = sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    Summary {
        median: sorted[sorted.len() / 2],
        mean,
        stddev: var.sqrt(),
    }
}

fn percentile(xs: &[f64], p: f64) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

/// Welch's t statistic of two samples.
fn welch_t(a: &[f64], b: &[f64]) -> f64 {
    let (sa, sb) = (summarize(a), summarize(b));
    let se = (sa.stddev.powi(2) / a.len() as f64 + sb.stddev.powi(2) / b.len() as f64).sqrt();
    if se == 0.0 {
        0.0
    } else {
        (sa.mean - sb.mean) / se
    }
}

/// Both samples cut at the 99th percentile of the two together.
fn cropped(a: &[f64], b: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let both: Vec<f64> = a.iter().chain(b).copied().collect();
    let cut = percentile(&both, 0.99);
    (
        a.iter().copied().filter(|x| *x <= cut).collect(),
        b.iter().copied().filter(|x| *x <= cut).collect(),
    )
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let samples = match std::env::var("TIMING_SAMPLES").ok().and_then(|v| v.parse().ok()) {
        Some(n) => n,
        None if full => 20_000,
        None => 300,
    };
    println!("timing: {samples} samples per variant, interleaved in a shuffled order; times in ns");
    let mut all_clear = true;
    for details in [true, false] {
        let fx = Fixture::new(details);
        let started = Instant::now();
        let timings = fx.measure(samples);
        println!(
            "\nsignature_mismatch_details = {details} ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
        println!(
            "  {:<12} {:>9} {:>9} {:>9} {:>9}",
            "variant", "median", "mean", "stddev", "p99"
        );
        for (v, xs) in fx.variants.iter().zip(&timings) {
            let s = summarize(xs);
            println!(
                "  {:<12} {:>9.0} {:>9.0} {:>9.0} {:>9.0}",
                v.name,
                s.median,
                s.mean,
                s.stddev,
                percentile(xs, 0.99)
            );
        }
        for (a, b, what) in [
            (0, 1, "first vs last hex digit wrong"),
            (2, 3, "known vs unknown access key"),
        ] {
            let (ca, cb) = cropped(&timings[a], &timings[b]);
            let t_raw = welch_t(&timings[a], &timings[b]);
            let t = welch_t(&ca, &cb);
            let (ma, mb) = (summarize(&ca).median, summarize(&cb).median);
            let same = t.abs() < T_THRESHOLD;
            let verdict = if !full {
                "(no verdict: run with `cargo bench --bench timing`)"
            } else if same {
                "indistinguishable within noise"
            } else {
                all_clear = false;
                "DISTINGUISHABLE"
            };
            println!(
                "  {what}: Welch t = {t:+.2} (uncropped {t_raw:+.2}), medians {ma:.0} vs {mb:.0} ns (diff {:+.0} ns): {verdict}",
                ma - mb
            );
        }
    }
    if full {
        println!(
            "\n{}",
            if all_clear {
                format!("verdict: every pair indistinguishable within noise (|t| < {T_THRESHOLD})")
            } else {
                format!("verdict: at least one pair differs (|t| >= {T_THRESHOLD}); rerun on a quiet machine before concluding")
            }
        );
    }
}
