//! Pre-signed URLs minted by the independent `aws-sigv4` oracle open the gateway, and what
//! they carry reaches the real upstream exactly: object round trips in both addressing
//! styles, keys S3 keeps literally, a 256 MiB body streamed byte-exact, response header
//! overrides, and signing times within the allowed clock skew.

mod common;

use std::time::Duration;

use common::{
    hash_body, now_plus, Harness, PatternBody, Presign, Reply, Seen, SignedUrl, BUCKET, CLIENT_KEY_ID, UPSTREAM_KEY_ID,
};
use http_body_util::BodyExt;
use sha2::Digest;

#[derive(Debug, Clone, Copy)]
enum Style {
    Path,
    VirtualHosted,
}

fn presign(h: &Harness, style: Style, method: &str, key: &str) -> Presign {
    match style {
        Style::Path => h.presign(method, key),
        Style::VirtualHosted => h.presign_vhost(method, BUCKET, key),
    }
}

fn url(h: &Harness, style: Style, method: &str, key: &str) -> SignedUrl {
    presign(h, style, method, key).sign()
}

/// The upstream got this request with the gateway's own credentials, for `key` as is,
/// and none of the client's authentication.
fn assert_forwarded(seen: &Seen, method: &str, key: &str) {
    assert_eq!(seen.method.as_str(), method, "{seen:?}");
    assert_eq!(seen.decoded_path(), format!("/{BUCKET}/{key}"), "{seen:?}");
    let authorization = seen
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        authorization.contains(&format!("Credential={UPSTREAM_KEY_ID}/")),
        "upstream request not signed with the upstream key: {seen:?}"
    );
    let query = seen.query.as_deref().unwrap_or_default();
    assert!(
        !query.contains("X-Amz-") && !query.contains(CLIENT_KEY_ID),
        "client authentication reached the upstream: {seen:?}"
    );
}

fn assert_ok(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.text());
}

async fn round_trip(h: &Harness, style: Style, key: &str) {
    let body = format!("contents of {key:?}, {style:?}").into_bytes();

    let put = h
        .send(
            "PUT",
            &url(h, style, "PUT", key),
            &[("content-type", "text/plain")],
            body.clone(),
        )
        .await;
    assert_ok(&put, 200, "PUT");
    assert_forwarded(&h.last_seen(), "PUT", key);

    let get = h.send("GET", &url(h, style, "GET", key), &[], "").await;
    assert_ok(&get, 200, "GET");
    assert_eq!(get.body, body);
    assert_forwarded(&h.last_seen(), "GET", key);

    let head = h.send("HEAD", &url(h, style, "HEAD", key), &[], "").await;
    assert_ok(&head, 200, "HEAD");
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), Some(body.len().to_string()), "{head:?}");
    assert_forwarded(&h.last_seen(), "HEAD", key);

    let range = h
        .send("GET", &url(h, style, "GET", key), &[("range", "bytes=3-10")], "")
        .await;
    assert_ok(&range, 206, "Range GET");
    assert_eq!(range.body, body[3..=10]);
    assert_eq!(
        range.header("content-range"),
        Some(format!("bytes 3-10/{}", body.len()))
    );
    assert_forwarded(&h.last_seen(), "GET", key);

    let delete = h.send("DELETE", &url(h, style, "DELETE", key), &[], "").await;
    assert_ok(&delete, 204, "DELETE");
    assert_forwarded(&h.last_seen(), "DELETE", key);

    let gone = h.send("GET", &url(h, style, "GET", key), &[], "").await;
    assert_ok(&gone, 404, "GET after DELETE");
    assert_eq!(gone.code().as_deref(), Some("NoSuchKey"), "{}", gone.text());
    assert_forwarded(&h.last_seen(), "GET", key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_round_trip_path_style() {
    let h = Harness::start().await;
    round_trip(&h, Style::Path, "docs/hello.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_round_trip_virtual_hosted() {
    let h = Harness::start().await;
    round_trip(&h, Style::VirtualHosted, "docs/hello.txt").await;
}

/// Keys S3 keeps literally: the upstream must receive exactly the key that was signed,
/// percent-decoded once, with `..` and `//` untouched.
const LITERAL_KEYS: &[&str] = &[
    "with space.txt",
    "ünï cødé/文件.txt",
    "a+b.txt",
    "100%.txt",
    "()!*'.txt",
    "a/../b",
    "a//b",
    "tilde~under_score-dash.dot",
];

async fn keys_reach_upstream_literally(style: Style) {
    let h = Harness::start().await;
    for key in LITERAL_KEYS {
        let body = format!("key {key}");
        let put = h.send("PUT", &url(&h, style, "PUT", key), &[], body.clone()).await;
        assert_ok(&put, 200, &format!("PUT {key:?}"));
        assert_forwarded(&h.last_seen(), "PUT", key);

        let get = h.send("GET", &url(&h, style, "GET", key), &[], "").await;
        assert_ok(&get, 200, &format!("GET {key:?}"));
        assert_eq!(get.text(), body, "{key:?}");
        assert_forwarded(&h.last_seen(), "GET", key);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_reach_upstream_literally_path_style() {
    keys_reach_upstream_literally(Style::Path).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_reach_upstream_literally_virtual_hosted() {
    keys_reach_upstream_literally(Style::VirtualHosted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_object_streams_byte_exact() {
    const LEN: u64 = 256 << 20;
    let h = Harness::start().await;
    let key = "big/256MiB.bin";

    let (body, sent_hash) = PatternBody::new(LEN);
    let resp = h
        .send_streaming(
            "PUT",
            &h.presign("PUT", key).sign(),
            &[("content-length".to_owned(), LEN.to_string())],
            body.boxed(),
        )
        .await;
    let put = Reply::read(resp).await;
    assert_ok(&put, 200, "PUT 256 MiB");
    assert_forwarded(&h.last_seen(), "PUT", key);
    let sent: [u8; 32] = sent_hash.lock().unwrap().clone().finalize().into();

    let resp = h
        .send_streaming("GET", &h.presign("GET", key).sign(), &[], common::full(""))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("content-length").and_then(|v| v.to_str().ok()),
        Some(LEN.to_string().as_str())
    );
    let (len, received) = hash_body(resp.into_body()).await;
    assert_eq!(len, LEN);
    assert_eq!(hex::encode(received), hex::encode(sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_content_disposition_override() {
    let h = Harness::start().await;
    let key = "report.pdf";
    let put = h.send("PUT", &h.presign("PUT", key).sign(), &[], "%PDF-1.7").await;
    assert_ok(&put, 200, "PUT");

    let disposition = "attachment; filename=\"quarterly report.pdf\"";
    let get_url = h
        .presign("GET", key)
        .query("response-content-disposition", disposition)
        .sign();
    let get = h.send("GET", &get_url, &[], "").await;
    assert_ok(&get, 200, "GET with response-content-disposition");
    let seen = h.last_seen();
    assert_forwarded(&seen, "GET", key);
    assert_eq!(
        seen.query_param("response-content-disposition").as_deref(),
        Some(disposition),
        "the override did not reach the upstream: {seen:?}"
    );
    assert_eq!(
        get.header("content-disposition").as_deref(),
        Some(disposition),
        "{get:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_ten_minutes_ahead_is_within_clock_skew() {
    let h = Harness::start().await;
    let key = "future.txt";
    let put = h
        .send(
            "PUT",
            &h.presign("PUT", key).at(now_plus(600)).sign(),
            &[],
            "from the near future",
        )
        .await;
    assert_ok(&put, 200, "PUT signed 10 min ahead");

    for expires in [1, 60, 604_800] {
        let get = h
            .send(
                "GET",
                &h.presign("GET", key)
                    .at(now_plus(600))
                    .expires_in(Duration::from_secs(expires))
                    .sign(),
                &[],
                "",
            )
            .await;
        assert_ok(&get, 200, &format!("GET signed 10 min ahead, expires {expires}"));
        assert_eq!(get.text(), "from the near future");
        assert_forwarded(&h.last_seen(), "GET", key);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_payload_accepts_only_its_body() {
    let h = Harness::start().await;
    let key = "pinned.txt";
    let body = "exactly these bytes";
    let hash = hex::encode(sha2::Sha256::digest(body));
    let put_url = h.presign("PUT", key).pinned_payload(&hash).sign();

    let wrong = h.send("PUT", &put_url, &[], "other bytes").await;
    assert_eq!(wrong.status, 400, "{}", wrong.text());
    assert_eq!(
        wrong.code().as_deref(),
        Some("XAmzContentSHA256Mismatch"),
        "{}",
        wrong.text()
    );
    let get = h.send("GET", &h.presign("GET", key).sign(), &[], "").await;
    assert_eq!(get.status, 404, "a body that did not match was stored");

    let put = h.send("PUT", &put_url, &[], body).await;
    assert_ok(&put, 200, "PUT with the pinned body");
    let seen = h.last_seen();
    assert_forwarded(&seen, "PUT", key);
    assert_eq!(
        seen.headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()),
        Some(hash.as_str()),
        "the upstream request is not pinned to the signed hash"
    );
    let get = h.send("GET", &h.presign("GET", key).sign(), &[], "").await;
    assert_eq!(get.text(), body);
}
