//! Every way an S3 client signs, end to end through the gateway to a real upstream:
//! SigV4 `Authorization` headers, payload hashes checked while streaming, aws-chunked
//! uploads (signed chunks, signed and unsigned trailers), and SigV2 query and header
//! authentication; and each way such a request can be wrong is refused with S3's status
//! and code.
//!
//! Header signatures come from the independent `aws-sigv4` oracle. Chunk and trailer
//! signatures are computed here from the formula of "Signature Calculations for the
//! Authorization Header: Transferring Payload in Multiple Chunks", chained from the seed
//! signature the oracle produced; SigV2 signatures from the StringToSign of "Signing and
//! Authenticating REST Requests".
//!
//! Refusals decided from the head of a request assert that the upstream saw nothing.
//! Refusals of a body (payload hash, chunk signature, framing, trailer checksum) can only
//! be decided once the upstream request has started: those assert instead that no object
//! exists upstream afterwards.

mod common;

use std::time::SystemTime;

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};

use common::{
    encode_query, now_plus, sha256_hex, Harness, Options, PatternBody, Payload, Reply, SignedRequest, BUCKET,
    CLIENT_KEY_ID, CLIENT_SECRET, REGION,
};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// The chunk size of the aws-chunked uploads (what the SDKs use).
const CHUNK: usize = 64 * 1024;
/// The size of the aws-chunked uploads: three full chunks and a partial one.
const CHUNKED_LEN: usize = 200 * 1024;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn crc32_b64(data: &[u8]) -> String {
    b64(&crc32fast::hash(data).to_be_bytes())
}

fn assert_status(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.text());
}

/// The signature in a request's `Authorization` header with its last hex digit changed.
fn flip_signature(signed: &SignedRequest) -> SignedRequest {
    let auth = signed.header("authorization").expect("authorization").to_owned();
    let last = if auth.ends_with('0') { "1" } else { "0" };
    signed.with_header("authorization", &format!("{}{last}", &auth[..auth.len() - 1]))
}

// ---------------------------------------------------------------------------------------
// SigV4 Authorization header

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_signed_object_operations() {
    let h = Harness::start().await;
    let key = "notes/header signed.txt";
    let body = b"signed in the Authorization header".to_vec();

    let put = h
        .sign_headers("PUT", BUCKET, key, Payload::Bytes(body.clone()))
        .header("content-type", "text/plain")
        .header("x-amz-meta-origin", "header-test")
        .sign();
    let reply = h.send_signed(&put, body.clone()).await;
    assert_status(&reply, 200, "PUT");
    let seen = h.last_seen();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.decoded_path(), format!("/{BUCKET}/{key}"));
    // The upstream got the gateway's signature over the same payload hash, not the client's.
    let upstream_auth = seen.headers["authorization"].to_str().unwrap();
    assert!(
        upstream_auth.contains("Credential=UPSTREAMSTOREKEY/"),
        "{upstream_auth}"
    );
    assert_eq!(seen.headers["x-amz-content-sha256"], sha256_hex(&body).as_str());
    assert_eq!(seen.headers["x-amz-meta-origin"], "header-test");
    h.assert_object(BUCKET, key, &body).await;

    let get = h.sign_headers("GET", BUCKET, key, Payload::Bytes(Vec::new())).sign();
    let reply = h.send_signed(&get, "").await;
    assert_status(&reply, 200, "GET");
    assert_eq!(reply.body.as_ref(), &body[..]);
    assert_eq!(reply.header("x-amz-meta-origin").as_deref(), Some("header-test"));

    let head = h.sign_headers("HEAD", BUCKET, key, Payload::Unsigned).sign();
    let reply = h.send_signed(&head, "").await;
    assert_status(&reply, 200, "HEAD");
    assert_eq!(reply.header("content-length"), Some(body.len().to_string()));
    assert_eq!(reply.header("content-type").as_deref(), Some("text/plain"));

    let list = h
        .sign_headers("GET", BUCKET, "", Payload::Bytes(Vec::new()))
        .query("list-type", "2")
        .query("prefix", "notes/")
        .sign();
    let reply = h.send_signed(&list, "").await;
    assert_status(&reply, 200, "ListObjectsV2");
    assert!(reply.text().contains("<ListBucketResult"), "{}", reply.text());
    assert_eq!(reply.element("Key").as_deref(), Some(key), "{}", reply.text());
    assert_eq!(h.last_seen().query_param("list-type").as_deref(), Some("2"));
    assert_eq!(h.last_seen().query_param("prefix").as_deref(), Some("notes/"));

    let delete = h.sign_headers("DELETE", BUCKET, key, Payload::Bytes(Vec::new())).sign();
    let reply = h.send_signed(&delete, "").await;
    assert_status(&reply, 204, "DELETE");
    h.assert_no_object(BUCKET, key).await;

    // UNSIGNED-PAYLOAD is a valid header signing too.
    let put = h.sign_headers("PUT", BUCKET, "unsigned.bin", Payload::Unsigned).sign();
    assert_status(&h.send_signed(&put, "anything").await, 200, "unsigned PUT");
    h.assert_object(BUCKET, "unsigned.bin", b"anything").await;
}

#[tokio::test]
async fn tampered_header_signature() {
    let h = Harness::start().await;
    let body = b"original".to_vec();
    let put = h
        .sign_headers("PUT", BUCKET, "t.txt", Payload::Bytes(body.clone()))
        .header("x-amz-meta-note", "signed value")
        .sign();

    let reply = h
        .expect_refusal(
            "PUT",
            &put.url(),
            &flip_signature(&put).header_refs(),
            body.clone(),
            403,
            "SignatureDoesNotMatch",
        )
        .await;
    let sts = reply.element("StringToSign").expect("StringToSign");
    assert!(
        sts.starts_with(&format!("AWS4-HMAC-SHA256\n{}\n", put.amz_date)),
        "{sts}"
    );

    // A signed header changed after signing.
    let changed = put.with_header("x-amz-meta-note", "other value");
    h.expect_refusal(
        "PUT",
        &put.url(),
        &changed.header_refs(),
        body.clone(),
        403,
        "SignatureDoesNotMatch",
    )
    .await;
    // Another key in the path.
    let url = put.url().with_path(&format!("/{BUCKET}/u.txt"));
    h.expect_refusal(
        "PUT",
        &url,
        &put.header_refs(),
        body.clone(),
        403,
        "SignatureDoesNotMatch",
    )
    .await;
    // Signed by the right key id with the wrong secret.
    let wrong = h
        .sign_headers("PUT", BUCKET, "t.txt", Payload::Bytes(body.clone()))
        .credentials(CLIENT_KEY_ID, "not-the-client-secret")
        .sign();
    h.expect_refusal(
        "PUT",
        &wrong.url(),
        &wrong.header_refs(),
        body.clone(),
        403,
        "SignatureDoesNotMatch",
    )
    .await;

    // The untampered request is the control.
    assert_status(&h.send_signed(&put, body).await, 200, "control PUT");
}

#[tokio::test]
async fn header_credential_problems() {
    let h = Harness::start().await;
    // An x-amz-* header the signature does not cover.
    let put = h.sign_headers("PUT", BUCKET, "c.txt", Payload::Unsigned).sign();
    let unsigned = put.with_header("x-amz-meta-added", "later");
    let reply = h
        .expect_refusal("PUT", &put.url(), &unsigned.header_refs(), "x", 403, "AccessDenied")
        .await;
    assert_eq!(reply.element("HeadersNotSigned").as_deref(), Some("x-amz-meta-added"));
    // An unsigned copy source would turn the PUT into a copy of anything upstream.
    let copy = put.with_header("x-amz-copy-source", &format!("/{BUCKET}/other.txt"));
    h.expect_refusal("PUT", &put.url(), &copy.header_refs(), "", 403, "AccessDenied")
        .await;

    // Another region.
    let mut other = h.sign_headers("PUT", BUCKET, "c.txt", Payload::Unsigned);
    other.region = "eu-west-1".to_owned();
    let other = other.sign();
    let reply = h
        .expect_refusal(
            "PUT",
            &other.url(),
            &other.header_refs(),
            "x",
            400,
            "AuthorizationHeaderMalformed",
        )
        .await;
    assert_eq!(reply.element("Region").as_deref(), Some(REGION));

    // An access key the gateway does not know.
    let unknown = h
        .sign_headers("PUT", BUCKET, "c.txt", Payload::Unsigned)
        .credentials("NOSUCHKEYID", CLIENT_SECRET)
        .sign();
    h.expect_refusal(
        "PUT",
        &unknown.url(),
        &unknown.header_refs(),
        "x",
        403,
        "InvalidAccessKeyId",
    )
    .await;

    // Garbage in the header.
    for bad in [
        "AWS4-HMAC-SHA256 Credential=GUESTCLIENTKEY",
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
    ] {
        let malformed = put.with_header("authorization", bad);
        h.expect_refusal(
            "PUT",
            &put.url(),
            &malformed.header_refs(),
            "x",
            400,
            "AuthorizationHeaderMalformed",
        )
        .await;
    }
    h.assert_no_object(BUCKET, "c.txt").await;
}

#[tokio::test]
async fn header_and_query_auth_together() {
    let h = Harness::start().await;
    let header_signed = h
        .sign_headers("GET", BUCKET, "x.txt", Payload::Bytes(Vec::new()))
        .sign();
    let presigned = h.presign("GET", "x.txt").sign();
    let reply = h
        .expect_refusal(
            "GET",
            &presigned,
            &header_signed.header_refs(),
            "",
            400,
            "InvalidArgument",
        )
        .await;
    assert!(
        reply.message().unwrap_or_default().contains("Only one auth mechanism"),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn skewed_request_time() {
    let h = Harness::start().await;
    for offset in [-20 * 60, 20 * 60] {
        let put = h
            .sign_headers("PUT", BUCKET, "skewed.txt", Payload::Bytes(b"late".to_vec()))
            .at(now_plus(offset))
            .sign();
        let reply = h
            .expect_refusal(
                "PUT",
                &put.url(),
                &put.header_refs(),
                "late",
                403,
                "RequestTimeTooSkewed",
            )
            .await;
        assert_eq!(
            reply.element("MaxAllowedSkewMilliseconds").as_deref(),
            Some("900000"),
            "{}",
            reply.text()
        );
        assert!(reply.element("RequestTime").is_some(), "{}", reply.text());
        assert!(reply.element("ServerTime").is_some(), "{}", reply.text());
    }
    // Within the skew is fine.
    let put = h
        .sign_headers("PUT", BUCKET, "skewed.txt", Payload::Bytes(b"late".to_vec()))
        .at(now_plus(-10 * 60))
        .sign();
    assert_status(&h.send_signed(&put, "late").await, 200, "PUT signed 10 minutes ago");
}

#[tokio::test]
async fn missing_content_sha256() {
    let h = Harness::start().await;
    let put = h
        .sign_headers("PUT", BUCKET, "m.txt", Payload::Bytes(b"body".to_vec()))
        .without_content_sha256()
        .sign();
    assert!(put.header("x-amz-content-sha256").is_none());
    let reply = h
        .expect_refusal("PUT", &put.url(), &put.header_refs(), "body", 400, "InvalidRequest")
        .await;
    assert!(
        reply.message().unwrap_or_default().contains("x-amz-content-sha256"),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn wrong_payload_hash_leaves_no_object() {
    let h = Harness::start().await;
    let signed_for = b"the body that was signed".to_vec();
    let sent = b"the body that was sent!!".to_vec();
    assert_eq!(signed_for.len(), sent.len());

    // The upstream request starts before the last byte can be judged; what matters is
    // that it never completes: no object afterwards.
    let put = h
        .sign_headers("PUT", BUCKET, "hash.txt", Payload::Bytes(signed_for.clone()))
        .sign();
    let reply = h.send_signed(&put, sent.clone()).await;
    assert_status(&reply, 400, "mismatching body");
    assert_eq!(
        reply.code().as_deref(),
        Some("XAmzContentSHA256Mismatch"),
        "{}",
        reply.text()
    );
    assert_eq!(
        reply.element("ClientComputedContentSHA256"),
        Some(sha256_hex(&signed_for))
    );
    assert_eq!(reply.element("S3ComputedContentSHA256"), Some(sha256_hex(&sent)));
    h.assert_no_object(BUCKET, "hash.txt").await;

    // A larger body streamed in many frames, and over an existing object: the old one stays.
    let old = b"the old contents".to_vec();
    let put_old = h
        .sign_headers("PUT", BUCKET, "big.bin", Payload::Bytes(old.clone()))
        .sign();
    assert_status(&h.send_signed(&put_old, old.clone()).await, 200, "PUT old");
    let len = 3 << 20;
    let mut expected = PatternBody::chunk(0, len);
    expected[len - 1] ^= 1;
    let put = h
        .sign_headers("PUT", BUCKET, "big.bin", Payload::Precomputed(sha256_hex(&expected)))
        .sign();
    let (body, _) = PatternBody::new(len as u64);
    let mut headers = put.headers.clone();
    headers.push(("content-length".to_owned(), len.to_string()));
    let resp = h.send_streaming("PUT", &put.url(), &headers, body.boxed()).await;
    let reply = Reply::read(resp).await;
    assert_status(&reply, 400, "mismatching streamed body");
    assert_eq!(
        reply.code().as_deref(),
        Some("XAmzContentSHA256Mismatch"),
        "{}",
        reply.text()
    );
    h.assert_object(BUCKET, "big.bin", &old).await;
}

// ---------------------------------------------------------------------------------------
// aws-chunked

/// Signs the chunks of an aws-chunked body, chained from the seed signature.
struct ChunkSigner {
    key: Vec<u8>,
    amz_date: String,
    scope: String,
    previous: String,
}

impl ChunkSigner {
    fn new(signed: &SignedRequest, time: SystemTime) -> ChunkSigner {
        ChunkSigner {
            key: generate_signing_key(CLIENT_SECRET, time, REGION, "s3")
                .as_ref()
                .to_vec(),
            amz_date: signed.amz_date.clone(),
            scope: signed.scope.clone(),
            previous: signed.signature.clone(),
        }
    }

    fn chunk(&mut self, data: &[u8]) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            sha256_hex(data)
        );
        self.previous = calculate_signature(&self.key, sts.as_bytes());
        self.previous.clone()
    }

    fn trailer(&mut self, canonical_trailers: &str) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            sha256_hex(canonical_trailers.as_bytes())
        );
        calculate_signature(&self.key, sts.as_bytes())
    }
}

/// An aws-chunked body with signed chunks of `CHUNK` bytes and the final empty chunk;
/// with `trailer`, a signed CRC32 trailer. Returns the body and where each chunk's data
/// starts in it.
fn signed_chunked_body(signer: &mut ChunkSigner, data: &[u8], trailer: bool) -> (Vec<u8>, Vec<usize>) {
    let mut body = Vec::with_capacity(data.len() + 1024);
    let mut starts = Vec::new();
    for chunk in data.chunks(CHUNK).chain(std::iter::once(&[][..])) {
        let sig = signer.chunk(chunk);
        body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes());
        starts.push(body.len());
        if !chunk.is_empty() || !trailer {
            body.extend_from_slice(chunk);
            body.extend_from_slice(b"\r\n");
        }
    }
    if trailer {
        let line = format!("x-amz-checksum-crc32:{}", crc32_b64(data));
        let sig = signer.trailer(&format!("{line}\n"));
        body.extend_from_slice(format!("{line}\r\nx-amz-trailer-signature:{sig}\r\n\r\n").as_bytes());
    }
    (body, starts)
}

/// A header signing of an aws-chunked PUT of `data_len` decoded bytes.
fn chunked_put(h: &Harness, key: &str, payload: &str, data_len: usize, time: SystemTime) -> SignedRequest {
    let mut sign = h
        .sign_headers("PUT", BUCKET, key, Payload::Precomputed(payload.to_owned()))
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", &data_len.to_string())
        .header("content-type", "application/octet-stream")
        .at(time);
    if payload != STREAMING_SIGNED {
        sign = sign.header("x-amz-trailer", "x-amz-checksum-crc32");
    }
    sign.sign()
}

/// The decoded bytes reached the upstream as a plain PUT of the decoded length.
fn assert_plain_upstream_put(h: &Harness, len: usize) {
    let seen = h.last_seen();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.headers["content-length"], len.to_string().as_str());
    assert!(seen.headers.get("content-encoding").is_none(), "{:?}", seen.headers);
    assert!(seen.headers.get("x-amz-decoded-content-length").is_none());
    assert!(seen.headers.get("x-amz-trailer").is_none());
    assert!(seen.headers.get("transfer-encoding").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_chunked_signed_upload_is_byte_exact() {
    let h = Harness::start().await;
    let data = PatternBody::chunk(0, CHUNKED_LEN);
    let time = SystemTime::now();
    let put = chunked_put(&h, "chunked/signed.bin", STREAMING_SIGNED, data.len(), time);
    let (body, starts) = signed_chunked_body(&mut ChunkSigner::new(&put, time), &data, false);
    assert_eq!(starts.len(), 5, "three full chunks, one partial, the final empty one");
    let reply = h.send_signed(&put, body).await;
    assert_status(&reply, 200, "aws-chunked PUT");
    assert_plain_upstream_put(&h, data.len());
    h.assert_object(BUCKET, "chunked/signed.bin", &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_chunked_flipped_byte_in_chunk_two() {
    let h = Harness::start().await;
    let data = PatternBody::chunk(0, CHUNKED_LEN);
    let time = SystemTime::now();
    let put = chunked_put(&h, "chunked/flipped.bin", STREAMING_SIGNED, data.len(), time);
    let (mut body, starts) = signed_chunked_body(&mut ChunkSigner::new(&put, time), &data, false);
    body[starts[1] + 1000] ^= 0x01;
    let reply = h.send_signed(&put, body).await;
    assert_status(&reply, 403, "flipped byte in chunk 2");
    assert_eq!(
        reply.code().as_deref(),
        Some("SignatureDoesNotMatch"),
        "{}",
        reply.text()
    );
    h.assert_no_object(BUCKET, "chunked/flipped.bin").await;

    // A chunk signature itself changed.
    let put = chunked_put(&h, "chunked/resigned.bin", STREAMING_SIGNED, data.len(), time);
    let (mut body, starts) = signed_chunked_body(&mut ChunkSigner::new(&put, time), &data, false);
    let sig_end = starts[2] - 3;
    body[sig_end] = if body[sig_end] == b'0' { b'1' } else { b'0' };
    let reply = h.send_signed(&put, body).await;
    assert_status(&reply, 403, "changed chunk signature");
    assert_eq!(
        reply.code().as_deref(),
        Some("SignatureDoesNotMatch"),
        "{}",
        reply.text()
    );
    h.assert_no_object(BUCKET, "chunked/resigned.bin").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_chunked_truncated_stream() {
    let h = Harness::start().await;
    let data = PatternBody::chunk(0, CHUNKED_LEN);
    let time = SystemTime::now();

    // Cut inside chunk 3, and cut right before the final empty chunk: each time the body
    // the client sends is complete as HTTP (its Content-Length holds), only the aws-chunked
    // stream inside is short.
    let cuts: [fn(&[usize]) -> usize; 2] = [|starts| starts[2] + 5000, |starts| starts[4] - 80];
    for (i, cut_at) in cuts.iter().enumerate() {
        let key = format!("chunked/truncated-{i}.bin");
        let put = chunked_put(&h, &key, STREAMING_SIGNED, data.len(), time);
        let (mut body, starts) = signed_chunked_body(&mut ChunkSigner::new(&put, time), &data, false);
        body.truncate(cut_at(&starts));
        let reply = h.send_signed(&put, body).await;
        assert_status(&reply, 400, &key);
        assert_eq!(reply.code().as_deref(), Some("IncompleteBody"), "{}", reply.text());
        h.assert_no_object(BUCKET, &key).await;
    }

    // A stream whose chunks add up to less than x-amz-decoded-content-length.
    let put = chunked_put(&h, "chunked/short.bin", STREAMING_SIGNED, data.len() + 1, time);
    let (body, _) = signed_chunked_body(&mut ChunkSigner::new(&put, time), &data, false);
    let reply = h.send_signed(&put, body).await;
    assert_status(&reply, 400, "decoded length larger than the chunks");
    assert_eq!(reply.code().as_deref(), Some("IncompleteBody"), "{}", reply.text());
    h.assert_no_object(BUCKET, "chunked/short.bin").await;
}

/// An aws-chunked body with unsigned chunks and a trailer line.
fn unsigned_chunked_body(data: &[u8], trailer_line: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(data.len() + 256);
    for chunk in data.chunks(CHUNK) {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("0\r\n{trailer_line}\r\n\r\n").as_bytes());
    body
}

/// A body sent with `Transfer-Encoding: chunked` (no Content-Length), as the JS SDK
/// streams, in pieces of 16 KiB.
fn transfer_chunked(body: Vec<u8>) -> common::TestBody {
    let frames: Vec<Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>> = body
        .chunks(16 * 1024)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    StreamBody::new(futures_util::stream::iter(frames)).boxed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_chunked_unsigned_trailer() {
    let h = Harness::start().await;
    let data = PatternBody::chunk(8, CHUNKED_LEN);
    let time = SystemTime::now();
    let sign = |key: &str| {
        h.sign_headers("PUT", BUCKET, key, Payload::StreamingUnsignedTrailer)
            .header("content-encoding", "aws-chunked")
            .header("x-amz-decoded-content-length", &data.len().to_string())
            .header("x-amz-trailer", "x-amz-checksum-crc32")
            .at(time)
            .sign()
    };

    // With Content-Length.
    let put = sign("trailer/crc.bin");
    assert_eq!(
        put.header("x-amz-content-sha256"),
        Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    );
    let body = unsigned_chunked_body(&data, &format!("x-amz-checksum-crc32:{}", crc32_b64(&data)));
    let reply = h.send_signed(&put, body.clone()).await;
    assert_status(&reply, 200, "unsigned trailer PUT");
    assert_plain_upstream_put(&h, data.len());
    h.assert_object(BUCKET, "trailer/crc.bin", &data).await;

    // With Transfer-Encoding: chunked, as the JS SDK sends a stream.
    let put = sign("trailer/te.bin");
    let resp = h
        .send_streaming("PUT", &put.url(), &put.headers, transfer_chunked(body))
        .await;
    let reply = Reply::read(resp).await;
    assert_status(&reply, 200, "unsigned trailer PUT, Transfer-Encoding: chunked");
    assert_plain_upstream_put(&h, data.len());
    h.assert_object(BUCKET, "trailer/te.bin", &data).await;

    // A wrong checksum, both ways of sending.
    let wrong = format!("x-amz-checksum-crc32:{}", crc32_b64(b"other bytes"));
    let put = sign("trailer/bad.bin");
    let reply = h.send_signed(&put, unsigned_chunked_body(&data, &wrong)).await;
    assert_status(&reply, 400, "wrong trailer checksum");
    assert_eq!(reply.code().as_deref(), Some("BadDigest"), "{}", reply.text());
    h.assert_no_object(BUCKET, "trailer/bad.bin").await;

    let put = sign("trailer/bad-te.bin");
    let resp = h
        .send_streaming(
            "PUT",
            &put.url(),
            &put.headers,
            transfer_chunked(unsigned_chunked_body(&data, &wrong)),
        )
        .await;
    let reply = Reply::read(resp).await;
    assert_status(&reply, 400, "wrong trailer checksum, Transfer-Encoding: chunked");
    assert_eq!(reply.code().as_deref(), Some("BadDigest"), "{}", reply.text());
    h.assert_no_object(BUCKET, "trailer/bad-te.bin").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_chunked_signed_trailer() {
    let h = Harness::start().await;
    let data = PatternBody::chunk(16, CHUNKED_LEN);
    let time = SystemTime::now();

    let put = chunked_put(&h, "trailer/signed.bin", STREAMING_SIGNED_TRAILER, data.len(), time);
    let (body, _) = signed_chunked_body(&mut ChunkSigner::new(&put, time), &data, true);
    let reply = h.send_signed(&put, body).await;
    assert_status(&reply, 200, "signed trailer PUT");
    assert_plain_upstream_put(&h, data.len());
    h.assert_object(BUCKET, "trailer/signed.bin", &data).await;

    // The trailer signature changed.
    let put = chunked_put(&h, "trailer/bad-sig.bin", STREAMING_SIGNED_TRAILER, data.len(), time);
    let (body, _) = signed_chunked_body(&mut ChunkSigner::new(&put, time), &data, true);
    let text = String::from_utf8_lossy(&body[body.len() - 200..]).into_owned();
    let at = body.len() - 200 + text.find("x-amz-trailer-signature:").unwrap() + 24;
    let mut tampered = body.clone();
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    let reply = h.send_signed(&put, tampered).await;
    assert_status(&reply, 403, "changed trailer signature");
    assert_eq!(
        reply.code().as_deref(),
        Some("SignatureDoesNotMatch"),
        "{}",
        reply.text()
    );
    h.assert_no_object(BUCKET, "trailer/bad-sig.bin").await;
}

// ---------------------------------------------------------------------------------------
// SigV2

/// Base64 HMAC-SHA1 of `string_to_sign`.
fn sigv2(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    b64(&mac.finalize().into_bytes())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A SigV2 pre-signed URL for `method` on `BUCKET/key`, expiring at `expires` (Unix time).
fn sigv2_url(h: &Harness, method: &str, key: &str, expires: u64) -> common::SignedUrl {
    let resource = format!("/{BUCKET}/{}", common::encode_key(key));
    let sts = format!("{method}\n\n\n{expires}\n{resource}");
    let signature = sigv2(CLIENT_SECRET, &sts);
    common::SignedUrl {
        host: format!("127.0.0.1:{}", h.port()),
        path_and_query: format!(
            "{resource}?AWSAccessKeyId={CLIENT_KEY_ID}&Expires={expires}&Signature={}",
            encode_query(&signature)
        ),
    }
}

/// The headers of a SigV2 header-signed request: `Date`, `Content-Type` when given, and
/// `Authorization: AWS id:signature`.
fn sigv2_headers(method: &str, key: &str, content_type: &str, amz: &[(&str, &str)]) -> Vec<(String, String)> {
    let date = httpdate::fmt_http_date(SystemTime::now());
    let mut canonical_amz = String::new();
    let mut sorted: Vec<&(&str, &str)> = amz.iter().collect();
    sorted.sort();
    for (n, v) in sorted {
        canonical_amz.push_str(&format!("{n}:{v}\n"));
    }
    let sts = format!(
        "{method}\n\n{content_type}\n{date}\n{canonical_amz}/{BUCKET}/{}",
        common::encode_key(key)
    );
    let mut headers = vec![
        ("date".to_owned(), date),
        (
            "authorization".to_owned(),
            format!("AWS {CLIENT_KEY_ID}:{}", sigv2(CLIENT_SECRET, &sts)),
        ),
    ];
    if !content_type.is_empty() {
        headers.push(("content-type".to_owned(), content_type.to_owned()));
    }
    for (n, v) in amz {
        headers.push(((*n).to_owned(), (*v).to_owned()));
    }
    headers
}

fn refs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn sigv2_query() {
    let h = Harness::start().await;
    let key = "v2/query object.txt";
    let put = sigv2_url(&h, "PUT", key, unix_now() + 300);
    assert_status(&h.send("PUT", &put, &[], "via SigV2").await, 200, "SigV2 PUT");
    // The upstream leg is SigV4 with the gateway's key, never the client's SigV2.
    let seen = h.last_seen();
    assert!(seen.query.is_none(), "{:?}", seen.query);
    assert!(seen.headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("AWS4-HMAC-SHA256 Credential=UPSTREAMSTOREKEY/"));

    let get = sigv2_url(&h, "GET", key, unix_now() + 300);
    let reply = h.send("GET", &get, &[], "").await;
    assert_status(&reply, 200, "SigV2 GET");
    assert_eq!(reply.text(), "via SigV2");

    let expired = sigv2_url(&h, "GET", key, unix_now() - 10);
    let reply = h.expect_refusal("GET", &expired, &[], "", 403, "AccessDenied").await;
    assert!(
        reply.message().unwrap_or_default().contains("expired"),
        "{}",
        reply.text()
    );

    let sig = get.param("Signature").unwrap().to_owned();
    let flipped = format!("{}{}", if sig.starts_with('A') { "B" } else { "A" }, &sig[1..]);
    h.expect_refusal(
        "GET",
        &get.with_param("Signature", &flipped),
        &[],
        "",
        403,
        "SignatureDoesNotMatch",
    )
    .await;
    // The key, the method and the expiry are all signed.
    h.expect_refusal(
        "GET",
        &get.with_path(&format!("/{BUCKET}/v2/other.txt")),
        &[],
        "",
        403,
        "SignatureDoesNotMatch",
    )
    .await;
    h.expect_refusal("DELETE", &get, &[], "", 403, "SignatureDoesNotMatch")
        .await;
    let later = (unix_now() + 600).to_string();
    h.expect_refusal(
        "GET",
        &get.with_param("Expires", &later),
        &[],
        "",
        403,
        "SignatureDoesNotMatch",
    )
    .await;
}

#[tokio::test]
async fn sigv2_header() {
    let h = Harness::start().await;
    let key = "v2/header.txt";
    let url = common::SignedUrl {
        host: format!("127.0.0.1:{}", h.port()),
        path_and_query: format!("/{BUCKET}/{key}"),
    };
    let put = sigv2_headers("PUT", key, "text/plain", &[("x-amz-meta-scheme", "v2")]);
    assert_status(
        &h.send("PUT", &url, &refs(&put), "header v2").await,
        200,
        "SigV2 header PUT",
    );
    assert_eq!(h.last_seen().headers["x-amz-meta-scheme"], "v2");
    let get = sigv2_headers("GET", key, "", &[]);
    let reply = h.send("GET", &url, &refs(&get), "").await;
    assert_status(&reply, 200, "SigV2 header GET");
    assert_eq!(reply.text(), "header v2");

    // Tampered: the signature, a signed x-amz-* header, the Content-Type.
    let mut flipped = put.clone();
    let auth = &mut flipped.iter_mut().find(|(n, _)| n == "authorization").unwrap().1;
    let at = auth.find(':').unwrap() + 1;
    let first = if auth[at..].starts_with('A') { "B" } else { "A" };
    auth.replace_range(at..at + 1, first);
    h.expect_refusal("PUT", &url, &refs(&flipped), "header v2", 403, "SignatureDoesNotMatch")
        .await;
    let mut changed = put.clone();
    changed.iter_mut().find(|(n, _)| n == "x-amz-meta-scheme").unwrap().1 = "v4".to_owned();
    h.expect_refusal("PUT", &url, &refs(&changed), "header v2", 403, "SignatureDoesNotMatch")
        .await;
    let mut retyped = put.clone();
    retyped.iter_mut().find(|(n, _)| n == "content-type").unwrap().1 = "text/html".to_owned();
    h.expect_refusal("PUT", &url, &refs(&retyped), "header v2", 403, "SignatureDoesNotMatch")
        .await;
    // Replayed for another key.
    h.expect_refusal(
        "PUT",
        &url.with_path(&format!("/{BUCKET}/v2/other.txt")),
        &refs(&put),
        "header v2",
        403,
        "SignatureDoesNotMatch",
    )
    .await;
    h.assert_object(BUCKET, key, b"header v2").await;
}

#[tokio::test]
async fn sigv2_variants() {
    let h = Harness::start().await;
    let key = "v2/variants.txt";
    let url = common::SignedUrl {
        host: format!("127.0.0.1:{}", h.port()),
        path_and_query: format!("/{BUCKET}/{key}"),
    };

    let put = sigv2_headers("PUT", key, "", &[]);
    assert_status(&h.send("PUT", &url, &refs(&put), "variants").await, 200, "SigV2 PUT");

    // A Date 20 minutes off.
    let old = httpdate::fmt_http_date(SystemTime::now() - std::time::Duration::from_secs(20 * 60));
    let sts = format!("GET\n\n\n{old}\n/{BUCKET}/{key}");
    let auth = format!("AWS {CLIENT_KEY_ID}:{}", sigv2(CLIENT_SECRET, &sts));
    h.expect_refusal(
        "GET",
        &url,
        &[("date", old.as_str()), ("authorization", auth.as_str())],
        "",
        403,
        "RequestTimeTooSkewed",
    )
    .await;

    // Virtual-hosted: the bucket from the Host is part of the signed resource.
    let expires = unix_now() + 300;
    let sts = format!("GET\n\n\n{expires}\n/{BUCKET}/{key}");
    let vhost = common::SignedUrl {
        host: format!("{BUCKET}.{}:{}", common::VHOST_DOMAIN, h.port()),
        path_and_query: format!(
            "/{key}?AWSAccessKeyId={CLIENT_KEY_ID}&Expires={expires}&Signature={}",
            encode_query(&sigv2(CLIENT_SECRET, &sts))
        ),
    };
    let reply = h.send("GET", &vhost, &[], "").await;
    assert_status(&reply, 200, "SigV2 virtual-hosted GET");
    assert_eq!(reply.text(), "variants");
    let other_host = format!("{}.{}:{}", common::OTHER_BUCKET, common::VHOST_DOMAIN, h.port());
    h.expect_refusal(
        "GET",
        &vhost.with_host(&other_host),
        &[],
        "",
        403,
        "SignatureDoesNotMatch",
    )
    .await;

    // A signed sub-resource: response-content-type is part of the resource.
    let sts = format!("GET\n\n\n{expires}\n/{BUCKET}/{key}?response-content-type=text/csv");
    let overridden = common::SignedUrl {
        host: format!("127.0.0.1:{}", h.port()),
        path_and_query: format!(
            "/{BUCKET}/{key}?response-content-type=text%2Fcsv&AWSAccessKeyId={CLIENT_KEY_ID}&Expires={expires}&Signature={}",
            encode_query(&sigv2(CLIENT_SECRET, &sts))
        ),
    };
    let reply = h.send("GET", &overridden, &[], "").await;
    assert_status(&reply, 200, "SigV2 with response-content-type");
    assert_eq!(reply.header("content-type").as_deref(), Some("text/csv"));
    h.expect_refusal(
        "GET",
        &overridden.with_param("response-content-type", "text%2Fhtml"),
        &[],
        "",
        403,
        "SignatureDoesNotMatch",
    )
    .await;

    // SigV2 signs no x-guestpass-* parameter, so restrictions cannot ride on it.
    let restricted = sigv2_url(&h, "PUT", "v2/restricted.txt", expires).with_extra("x-guestpass-max-size=10");
    h.expect_refusal("PUT", &restricted, &[], "0123456789abc", 400, "InvalidArgument")
        .await;
}

/// SigV2 request times come in RFC 1123 form, with `GMT` or a numeric zone: the
/// documentation's examples ("Signing and Authenticating REST Requests") use
/// `Date: Tue, 27 Mar 2007 19:36:42 +0000`, s3cmd sends `+0000`, and clients that cannot set
/// `Date` send `x-amz-date` in the same form (Time Stamp Requirement; the Date line is then
/// empty).
#[tokio::test]
async fn sigv2_header_time_formats() {
    let h = Harness::start().await;
    let key = "v2/times.txt";
    let url = common::SignedUrl {
        host: format!("127.0.0.1:{}", h.port()),
        path_and_query: format!("/{BUCKET}/{key}"),
    };
    let gmt = httpdate::fmt_http_date(SystemTime::now());
    let numeric = gmt.replace("GMT", "+0000");
    for (header, value) in [("date", &numeric), ("x-amz-date", &gmt), ("x-amz-date", &numeric)] {
        let sts = if header == "date" {
            format!("PUT\n\n\n{value}\n/{BUCKET}/{key}")
        } else {
            format!("PUT\n\n\n\nx-amz-date:{value}\n/{BUCKET}/{key}")
        };
        let auth = format!("AWS {CLIENT_KEY_ID}:{}", sigv2(CLIENT_SECRET, &sts));
        let headers = [(header, value.as_str()), ("authorization", auth.as_str())];
        let reply = h.send("PUT", &url, &headers, value.clone()).await;
        assert_status(&reply, 200, &format!("SigV2 with {header}: {value}"));
        h.assert_object(BUCKET, key, value.as_bytes()).await;
    }
}

#[tokio::test]
async fn sigv2_disabled() {
    let h = Harness::start_with(Options {
        auth_toml: "sigv2 = false".to_owned(),
        ..Options::default()
    })
    .await;
    let url = sigv2_url(&h, "GET", "v2.txt", unix_now() + 300);
    h.expect_refusal("GET", &url, &[], "", 400, "InvalidRequest").await;
    let put = sigv2_url(&h, "PUT", "v2.txt", unix_now() + 300);
    h.expect_refusal("PUT", &put, &[], "body", 400, "InvalidRequest").await;

    let plain = common::SignedUrl {
        host: format!("127.0.0.1:{}", h.port()),
        path_and_query: format!("/{BUCKET}/v2.txt"),
    };
    let get = sigv2_headers("GET", "v2.txt", "", &[]);
    h.expect_refusal("GET", &plain, &refs(&get), "", 400, "InvalidRequest")
        .await;
    let put = sigv2_headers("PUT", "v2.txt", "text/plain", &[]);
    h.expect_refusal("PUT", &plain, &refs(&put), "body", 400, "InvalidRequest")
        .await;

    // SigV4 still works on the same gateway.
    let v4 = h.presign("PUT", "v2.txt").sign();
    assert_status(&h.send("PUT", &v4, &[], "v4").await, 200, "SigV4 PUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_chunked_empty_upload() {
    let h = Harness::start().await;
    let time = SystemTime::now();
    let put = chunked_put(&h, "chunked/empty.bin", STREAMING_SIGNED, 0, time);
    let (body, starts) = signed_chunked_body(&mut ChunkSigner::new(&put, time), &[], false);
    assert_eq!(starts.len(), 1, "only the final chunk");
    let reply = h.send_signed(&put, body).await;
    assert_status(&reply, 200, "empty aws-chunked PUT");
    assert_plain_upstream_put(&h, 0);
    h.assert_object(BUCKET, "chunked/empty.bin", b"").await;
}

/// An upload that declares zero bytes is verified like any other. Today the upstream
/// request carries `Content-Length: 0`, so the upstream client never polls the verifying
/// body: the final chunk's signature, the framing and the payload hash go unchecked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_length_uploads_are_verified() {
    let h = Harness::start().await;
    let time = SystemTime::now();

    // aws-chunked, x-amz-decoded-content-length 0, a final chunk with a wrong signature.
    let put = chunked_put(&h, "zero/bad-sig.bin", STREAMING_SIGNED, 0, time);
    let body = format!("0;chunk-signature={}\r\n\r\n", "0".repeat(64));
    let reply = h.send_signed(&put, body).await;
    assert_status(&reply, 403, "empty aws-chunked PUT with a wrong final chunk signature");
    assert_eq!(
        reply.code().as_deref(),
        Some("SignatureDoesNotMatch"),
        "{}",
        reply.text()
    );
    h.assert_no_object(BUCKET, "zero/bad-sig.bin").await;

    // aws-chunked, x-amz-decoded-content-length 0, a body that is not aws-chunked at all.
    let put = chunked_put(&h, "zero/garbage.bin", STREAMING_SIGNED, 0, time);
    let reply = h.send_signed(&put, "this is not aws-chunked").await;
    assert!(
        reply.status.is_client_error(),
        "garbage body: {} {}",
        reply.status,
        reply.text()
    );
    h.assert_no_object(BUCKET, "zero/garbage.bin").await;

    // A payload hash that an empty body does not have: S3's 400, not the upstream's 500.
    let put = h
        .sign_headers("PUT", BUCKET, "zero/hash.txt", Payload::Bytes(b"abc".to_vec()))
        .sign();
    let reply = h.send_signed(&put, "").await;
    assert_status(&reply, 400, "empty body, hash of abc");
    assert_eq!(
        reply.code().as_deref(),
        Some("XAmzContentSHA256Mismatch"),
        "{}",
        reply.text()
    );
    h.assert_no_object(BUCKET, "zero/hash.txt").await;
}
