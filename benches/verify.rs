//! The cost of verifying one pre-signed request, and the floor it is measured against.
//!
//! * `presigned/warm`: `Authenticator::authenticate` with the signing key cached (the
//!   steady state: one key per access key and day).
//! * `presigned/cold`: the same with the key cache emptied before every iteration, so
//!   each one also derives the key (four more HMACs) and inserts it.
//! * `canonical/query+hash`: `CanonicalQuery::from_raw` plus `CanonicalRequest::hash`.
//! * `floor/sha256+hmac`: SHA-256 of a canonical-request-sized buffer plus one HMAC-SHA256,
//!   the crypto no verifier can skip; warm verification over this is the overhead ratio.
//!
//! Before criterion runs, the heap allocations and reallocations of one verification (and
//! of its parts) are counted with a counting global allocator and printed.
//!
//! `cargo bench --bench verify -- --warm-up-time 1 --measurement-time 2` is enough for a
//! quick reading.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::{HeaderMap, HeaderValue, Method};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use guestpass::auth::credentials::{Credential, CredentialStore};
use guestpass::auth::sigv4::canonical::{CanonicalQuery, CanonicalRequest, UNSIGNED_PAYLOAD};
use guestpass::auth::sigv4::key::hmac;
use guestpass::auth::sigv4::presigned::PresignedParams;
use guestpass::auth::sigv4::sign::{presign_url, PresignRequest};
use guestpass::auth::{AuthSettings, Authenticator, RequestView};
use guestpass::secret::Secret;

use common::heap_ops_per_call;

#[global_allocator]
static GLOBAL: common::CountingAllocator = common::CountingAllocator;

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const REGION: &str = "eu-west-1";
const HOST: &str = "s3.eu-west-1.amazonaws.com";

/// A pre-signed GET as an SDK would mint it: path-style bucket, a key a few segments
/// deep, `x-id`, and the standard `X-Amz-*` parameters.
struct Fixture {
    auth: Authenticator,
    method: Method,
    raw_path: String,
    raw_query: String,
    headers: HeaderMap,
    now: OffsetDateTime,
}

impl Fixture {
    fn new() -> Fixture {
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
        let (raw_path, raw_query) = target.split_once('?').expect("query");
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
        headers.insert(http::header::USER_AGENT, HeaderValue::from_static("curl/8.5.0"));
        headers.insert(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        let auth = Authenticator::new(
            AuthSettings {
                max_expires_secs: 604_800,
                clock_skew: Duration::from_secs(900),
                mismatch_details: true,
                sigv2: false,
            },
            CredentialStore::new(REGION, vec![Credential::new(ACCESS_KEY, vec![Secret::new(SECRET)])]),
        );
        Fixture {
            auth,
            method: Method::GET,
            raw_path: raw_path.to_owned(),
            raw_query: raw_query.to_owned(),
            headers,
            now: signed_at + time::Duration::seconds(60),
        }
    }

    fn view(&self) -> RequestView<'_> {
        RequestView {
            method: &self.method,
            raw_path: &self.raw_path,
            raw_query: Some(&self.raw_query),
            headers: &self.headers,
            host: HOST,
            now: self.now,
        }
    }

    fn verify(&self) {
        let id = self.auth.authenticate(&self.view()).expect("the fixture verifies");
        black_box(id);
    }
}

fn report_allocations(fx: &Fixture) {
    fx.verify(); // warm the key cache
    let warm = heap_ops_per_call(1000, || fx.verify());
    let cold = heap_ops_per_call(100, || {
        fx.auth.store().clear_key_cache();
        fx.verify();
    });
    // Where the warm ones come from.
    let params = heap_ops_per_call(1000, || {
        black_box(PresignedParams::parse(&fx.raw_query).expect("parses"));
    });
    let empty = HeaderMap::new();
    let canonical = heap_ops_per_call(1000, || {
        let query = CanonicalQuery::from_raw(&fx.raw_query, Some("X-Amz-Signature"));
        let canonical = CanonicalRequest {
            method: fx.method.as_str(),
            raw_path: &fx.raw_path,
            query: &query,
            headers: &empty,
            host: HOST,
            signed_headers: "host",
            payload: UNSIGNED_PAYLOAD,
        };
        black_box(canonical.hash());
    });
    let store = fx.auth.store();
    let key = heap_ops_per_call(1000, || {
        let credential = store.lookup(ACCESS_KEY).credential;
        black_box(store.signing_key(credential, 0, "20240610"));
    });
    println!("heap per verification: warm {warm}; cold (incl. cache clear) {cold}");
    println!("  warm parts: auth parameters {params}; canonical query + hash {canonical}; cached key {key}");
    println!(
        "request: {} {}?{} ({} bytes of query)",
        fx.method,
        fx.raw_path,
        fx.raw_query,
        fx.raw_query.len()
    );
}

fn benches(c: &mut Criterion) {
    let fx = Fixture::new();
    report_allocations(&fx);

    let mut g = c.benchmark_group("presigned");
    fx.verify();
    g.bench_function("warm", |b| b.iter(|| fx.verify()));
    g.bench_function("cold", |b| {
        b.iter_batched(
            || fx.auth.store().clear_key_cache(),
            |()| fx.verify(),
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let empty = HeaderMap::new();
    let signed_headers = "host";
    c.bench_function("canonical/query+hash", |b| {
        b.iter(|| {
            let query = CanonicalQuery::from_raw(black_box(&fx.raw_query), Some("X-Amz-Signature"));
            let canonical = CanonicalRequest {
                method: fx.method.as_str(),
                raw_path: black_box(&fx.raw_path),
                query: &query,
                headers: &empty,
                host: HOST,
                signed_headers,
                payload: UNSIGNED_PAYLOAD,
            };
            black_box(canonical.hash())
        })
    });

    // The same canonical request's length, so the floor hashes what verification hashes.
    let canonical_len = {
        let query = CanonicalQuery::from_raw(&fx.raw_query, Some("X-Amz-Signature"));
        CanonicalRequest {
            method: fx.method.as_str(),
            raw_path: &fx.raw_path,
            query: &query,
            headers: &empty,
            host: HOST,
            signed_headers,
            payload: UNSIGNED_PAYLOAD,
        }
        .to_text()
        .len()
    };
    println!("canonical request: {canonical_len} bytes");
    let canonical = vec![b'a'; canonical_len];
    // `AWS4-HMAC-SHA256\n<date>\n<yyyymmdd>/<region>/s3/aws4_request\n<hex hash>`.
    let mut sts = format!("AWS4-HMAC-SHA256\n20240610T061320Z\n20240610/{REGION}/s3/aws4_request\n").into_bytes();
    let hex_at = sts.len();
    sts.resize(hex_at + 64, b'0');
    let key = [7u8; 32];
    c.bench_function("floor/sha256+hmac", |b| {
        b.iter(|| {
            let hash = Sha256::digest(black_box(&canonical));
            let _ = hex::encode_to_slice(hash, &mut sts[hex_at..]);
            black_box(hmac(black_box(&key), &sts))
        })
    });
}

criterion_group!(verify, benches);
criterion_main!(verify);
