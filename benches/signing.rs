//! The cost of the verification paths besides pre-signed URLs (those are in `verify.rs`).
//!
//! * `header/get`: `Authenticator::authenticate` of a GetObject signed in the
//!   `Authorization` header as an SDK signs it (`aws-sigv4`, the independent oracle:
//!   host, `x-amz-date`, `x-amz-content-sha256` and the SDK's own headers), key cached.
//! * `chunked/signed-1MiB`: `AwsChunkedBody` decoding and verifying a 1 MiB body sent as
//!   16 signed 64 KiB chunks plus the final one (17 chained HMACs and the SHA-256 of every
//!   byte), fed in 32 KiB frames that ignore the chunk boundaries, as a socket delivers
//!   them. Reported as throughput.
//! * `chunked/floor-sha256-1MiB`: SHA-256 of the same 1 MiB, the crypto no chunk verifier
//!   can skip; `signed-1MiB` over this is the decoder's overhead.
//! * `post/parse`, `post/check_fields`, `post/verify_form`: a browser POST policy as
//!   `guestpass presign --post` issues it (bucket, key, size range, a content-type family,
//!   the signing fields): decoding it, checking a form against it, and verifying its
//!   signature (`verify_form` decodes the policy too, as the gateway does).
//!
//! Before criterion runs, the heap operations per call of each path, and of one warm
//! pre-signed verification, are counted with the counting allocator and printed.
//!
//! `cargo bench --bench signing -- --warm-up-time 1 --measurement-time 2` is enough for a
//! quick reading.

mod common;

use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use http_body::{Body, Frame};
use http_body_util::StreamBody;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use guestpass::auth::body::BodyVerdict;
use guestpass::auth::credentials::{Credential, CredentialStore};
use guestpass::auth::post_policy::PostPolicy;
use guestpass::auth::sigv4::canonical::EMPTY_SHA256;
use guestpass::auth::sigv4::chunked::{AwsChunkedBody, ChunkMode};
use guestpass::auth::sigv4::key::SigningKey;
use guestpass::auth::sigv4::sign::{presign_url, PresignRequest};
use guestpass::auth::{AuthSettings, Authenticator, ChunkSigning, RequestView};
use guestpass::response::BoxError;
use guestpass::secret::Secret;

use common::heap_ops_per_call;

#[global_allocator]
static GLOBAL: common::CountingAllocator = common::CountingAllocator;

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const REGION: &str = "us-east-1";
const HOST: &str = "s3.us-east-1.amazonaws.com";
/// 2024-06-10T06:13:20Z: every fixture is signed then and verified a minute later.
const SIGNED_AT: u64 = 1_718_000_000;

fn authenticator() -> Authenticator {
    Authenticator::new(
        AuthSettings {
            max_expires_secs: 604_800,
            clock_skew: Duration::from_secs(900),
            mismatch_details: true,
            sigv2: false,
        },
        CredentialStore::new(REGION, vec![Credential::new(ACCESS_KEY, vec![Secret::new(SECRET)])]),
    )
}

fn signed_at() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(SIGNED_AT as i64).expect("time")
}

fn now() -> OffsetDateTime {
    signed_at() + time::Duration::seconds(60)
}

/// A header-signed GetObject, as the Rust SDK sends one.
struct HeaderFixture {
    auth: Authenticator,
    raw_path: String,
    headers: HeaderMap,
}

impl HeaderFixture {
    fn new() -> HeaderFixture {
        use aws_credential_types::Credentials;
        use aws_sigv4::http_request::{
            sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
            UriPathNormalizationMode,
        };
        use aws_sigv4::sign::v4::SigningParams;

        let raw_path = "/media-archive/users/4711/albums/2024%20summer/IMG_0042.jpg".to_owned();
        let url = format!("https://{HOST}{raw_path}?x-id=GetObject");
        let sdk_headers = [
            ("host", HOST),
            ("amz-sdk-invocation-id", "8e5c2f2a-3b1d-4c1e-9f0a-6d2b7c4e1a90"),
            ("amz-sdk-request", "attempt=1; max=3"),
            (
                "x-amz-user-agent",
                "aws-sdk-rust/1.3.0 api/s3/1.40.0 os/linux lang/rust/1.95.0",
            ),
            ("user-agent", "aws-sdk-rust/1.3.0 os/linux lang/rust/1.95.0"),
        ];
        let identity = Credentials::new(ACCESS_KEY, SECRET, None, None, "bench").into();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name("s3")
            .time(SystemTime::UNIX_EPOCH + Duration::from_secs(SIGNED_AT))
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let signable = SignableRequest::new("GET", url.clone(), sdk_headers.into_iter(), SignableBody::Bytes(b""))
            .expect("signable request");
        let (instructions, _) = sign(signable, &params).expect("the oracle signs").into_parts();
        let mut req = http::Request::builder().uri(url).body(()).expect("request");
        for (name, value) in sdk_headers {
            req.headers_mut()
                .insert(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        instructions.apply_to_request_http1x(&mut req);
        let headers = req.headers().clone();
        HeaderFixture {
            auth: authenticator(),
            raw_path,
            headers,
        }
    }

    fn view(&self) -> RequestView<'_> {
        RequestView {
            method: &Method::GET,
            raw_path: &self.raw_path,
            raw_query: Some("x-id=GetObject"),
            headers: &self.headers,
            host: HOST,
            now: now(),
        }
    }

    fn verify(&self) {
        let id = self
            .auth
            .authenticate(&self.view())
            .expect("the header fixture verifies");
        black_box(id);
    }
}

/// A pre-signed GET (the `verify.rs` request) for the allocation report.
struct PresignedFixture {
    auth: Authenticator,
    raw_path: String,
    raw_query: String,
    headers: HeaderMap,
}

impl PresignedFixture {
    fn new() -> PresignedFixture {
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
                now: signed_at(),
            },
        );
        let target = &url[url.find(HOST).expect("host in URL") + HOST.len()..];
        let (raw_path, raw_query) = target.split_once('?').expect("query");
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
        headers.insert(http::header::USER_AGENT, HeaderValue::from_static("curl/8.5.0"));
        PresignedFixture {
            auth: authenticator(),
            raw_path: raw_path.to_owned(),
            raw_query: raw_query.to_owned(),
            headers,
        }
    }

    fn verify(&self) {
        let id = self
            .auth
            .authenticate(&RequestView {
                method: &Method::GET,
                raw_path: &self.raw_path,
                raw_query: Some(&self.raw_query),
                headers: &self.headers,
                host: HOST,
                now: now(),
            })
            .expect("the pre-signed fixture verifies");
        black_box(id);
    }
}

/// Chunk signing as "Transferring Payload in Multiple Chunks" defines it: each chunk's
/// signature is the HMAC of a string to sign that chains the previous signature.
fn chunk_signature(signing: &ChunkSigning, prev: &[u8; 32], data: &[u8]) -> [u8; 32] {
    let sts = format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
        signing.amz_date,
        signing.scope,
        hex::encode(prev),
        hex::encode(Sha256::digest(data)),
    );
    signing.key.sign(sts.as_bytes())
}

/// A signed aws-chunked upload: what the decoder needs, and the encoded body in frames.
struct ChunkedFixture {
    signing: ChunkSigning,
    decoded_len: u64,
    frames: Vec<Bytes>,
}

impl ChunkedFixture {
    /// `total` bytes in `chunk`-byte signed chunks, delivered in `frame`-byte frames.
    fn new(total: usize, chunk: usize, frame: usize) -> ChunkedFixture {
        let date = "20240610";
        let signing = ChunkSigning {
            key: SigningKey::derive(&Secret::new(SECRET), date, REGION, "s3"),
            seed: [0x5e; 32],
            amz_date: "20240610T061320Z".to_owned(),
            scope: format!("{date}/{REGION}/s3/aws4_request"),
        };

        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        let mut body = Vec::with_capacity(total + 128 * (total / chunk + 2));
        let mut prev = signing.seed;
        for piece in data.chunks(chunk).chain(std::iter::once(&[][..])) {
            let sig = chunk_signature(&signing, &prev, piece);
            body.extend_from_slice(format!("{:x};chunk-signature={}\r\n", piece.len(), hex::encode(sig)).as_bytes());
            body.extend_from_slice(piece);
            body.extend_from_slice(b"\r\n");
            prev = sig;
        }
        let frames = body.chunks(frame).map(Bytes::copy_from_slice).collect();
        ChunkedFixture {
            signing,
            decoded_len: total as u64,
            frames,
        }
    }

    /// Decodes the whole body; returns the bytes passed on.
    fn decode(&self) -> u64 {
        let inner = StreamBody::new(futures_util::stream::iter(
            self.frames
                .iter()
                .map(|f| Ok::<_, BoxError>(Frame::data(f.clone())))
                .collect::<Vec<_>>(),
        ));
        let verdict = BodyVerdict::default();
        let mut body = AwsChunkedBody::new(
            inner,
            ChunkMode::Signed {
                signing: self.signing.clone(),
                trailer: false,
            },
            self.decoded_len,
            None,
            verdict.clone(),
        );
        // Every frame of the inner stream is ready, so polling never parks.
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = 0u64;
        loop {
            match Pin::new(&mut body).poll_frame(&mut cx) {
                Poll::Ready(Some(Ok(frame))) => out += frame.into_data().map_or(0, |d| d.len() as u64),
                Poll::Ready(Some(Err(e))) => panic!("the chunked fixture is refused: {e} ({:?})", verdict.take()),
                Poll::Ready(None) => break,
                Poll::Pending => unreachable!("an in-memory body is always ready"),
            }
        }
        assert!(verdict.take().is_none());
        out
    }
}

/// A browser POST form as `guestpass presign --post` issues it, after the file's name
/// has been put into the key.
struct PostFixture {
    auth: Authenticator,
    fields: Vec<(String, String)>,
    policy_b64: String,
}

impl PostFixture {
    fn new() -> PostFixture {
        use guestpass::policy::restrictions::{Restrictions, CONTENT_TYPE, MAX_SIZE};
        let config = guestpass::config::Config::embedded_default("unused".into(), "127.0.0.1:8080");
        let mut query = vec![
            (MAX_SIZE.to_owned(), "10485760".to_owned()),
            (CONTENT_TYPE.to_owned(), "image/*".to_owned()),
        ];
        let restrictions = Restrictions::extract(&mut query).expect("restrictions");
        let form = guestpass::presign::presign_post(
            &config,
            &guestpass::presign::Grant {
                method: "POST",
                bucket: "uploads",
                key: "incoming/4711/${filename}",
                expires_secs: 3600,
                access_key_id: None,
                restrictions: &restrictions,
                secret: None,
                now: signed_at(),
            },
        )
        .expect("presign_post");
        // The form reader lower-cases field names; the browser adds the file's type.
        let mut fields: Vec<(String, String)> = form
            .fields
            .into_iter()
            .map(|(n, v)| {
                let v = v.replace("${filename}", "IMG_0042.jpg");
                (n.to_ascii_lowercase(), v)
            })
            .collect();
        fields.push(("content-type".to_owned(), "image/jpeg".to_owned()));
        let policy_b64 = fields
            .iter()
            .find(|(n, _)| n == "policy")
            .map(|(_, v)| v.clone())
            .expect("policy field");
        let auth = Authenticator::new(
            AuthSettings {
                max_expires_secs: 604_800,
                clock_skew: Duration::from_secs(900),
                mismatch_details: true,
                sigv2: false,
            },
            CredentialStore::new(
                &config.auth.region,
                vec![Credential::new(
                    guestpass::config::DEMO_ACCESS_KEY_ID,
                    vec![Secret::new(guestpass::config::DEMO_SECRET_ACCESS_KEY)],
                )],
            ),
        );
        PostFixture {
            auth,
            fields,
            policy_b64,
        }
    }

    fn verify_form(&self) {
        let (id, policy) = self
            .auth
            .verify_post_form(&self.fields, now())
            .expect("the POST fixture verifies");
        black_box((id, policy));
    }

    fn check_fields(&self, policy: &PostPolicy) {
        policy
            .check_fields(black_box(&self.fields), "uploads", now())
            .expect("the form meets its policy");
    }
}

fn report_allocations(
    header: &HeaderFixture,
    presigned: &PresignedFixture,
    chunked: &ChunkedFixture,
    post: &PostFixture,
) {
    presigned.verify();
    header.verify();
    post.verify_form();
    let presigned_warm = heap_ops_per_call(1000, || presigned.verify());
    let header_warm = heap_ops_per_call(1000, || header.verify());
    let chunked_mib = heap_ops_per_call(20, || {
        black_box(chunked.decode());
    });
    let policy = PostPolicy::parse(&post.policy_b64).expect("policy parses");
    let parse = heap_ops_per_call(200, || {
        black_box(PostPolicy::parse(black_box(&post.policy_b64)).expect("parses"));
    });
    let check = heap_ops_per_call(1000, || post.check_fields(&policy));
    let form = heap_ops_per_call(200, || post.verify_form());
    println!("heap per call (warm signing-key cache):");
    println!("  pre-signed GET verification   {presigned_warm}");
    println!("  header-signed GET verification {header_warm}");
    println!(
        "  aws-chunked 1 MiB ({} frames in, 17 chunks) {chunked_mib}",
        chunked.frames.len()
    );
    println!("  POST policy parse {parse}; check_fields {check}; verify_post_form {form}");
    println!(
        "POST policy: {} bytes base64, {} conditions, {} form fields",
        post.policy_b64.len(),
        policy.conditions.len(),
        post.fields.len()
    );
}

fn benches(c: &mut Criterion) {
    let header = HeaderFixture::new();
    let presigned = PresignedFixture::new();
    let chunked = ChunkedFixture::new(1 << 20, 64 << 10, 32 << 10);
    assert_eq!(chunked.decode(), 1 << 20);
    let post = PostFixture::new();
    report_allocations(&header, &presigned, &chunked, &post);

    header.verify();
    c.bench_function("header/get", |b| b.iter(|| header.verify()));

    let mut g = c.benchmark_group("chunked");
    g.throughput(Throughput::Bytes(1 << 20));
    g.bench_function("signed-1MiB", |b| b.iter(|| black_box(chunked.decode())));
    let data: Vec<u8> = (0..1usize << 20).map(|i| (i % 251) as u8).collect();
    g.bench_function("floor-sha256-1MiB", |b| {
        b.iter(|| black_box(Sha256::digest(black_box(&data))))
    });
    g.finish();

    let policy = PostPolicy::parse(&post.policy_b64).expect("policy parses");
    let mut g = c.benchmark_group("post");
    g.bench_function("parse", |b| {
        b.iter(|| black_box(PostPolicy::parse(black_box(&post.policy_b64)).expect("parses")))
    });
    g.bench_function("check_fields", |b| b.iter(|| post.check_fields(&policy)));
    g.bench_function("verify_form", |b| b.iter(|| post.verify_form()));
    g.finish();
}

criterion_group!(signing, benches);
criterion_main!(signing);
