//! Hostile HTTP: requests no well-behaved client sends, written byte for byte over a raw
//! TCP connection to the gateway in front of the observed s3s-fs store.
//!
//! Each is answered safely: refused with a 4xx (by hyper's parser or by the gateway), or
//! the connection closed; never a panic, never a second request smuggled through, never
//! anything sent anywhere but the configured upstream, never an injected response header.
//! After each, the gateway still serves an ordinary request.

mod common;

use std::time::Duration;

use common::{
    encode_key, raw_head, Harness, Options, Presign, RawConn, RawError, RawResponse, SignedUrl, BUCKET, OTHER_BUCKET,
    VHOST_DOMAIN,
};

const KEY: &str = "docs/report.txt";
const CONTENTS: &str = "quarterly numbers";
/// The longest any exchange here may take.
const BOUND: Duration = Duration::from_secs(10);

async fn harness_with_object(options: Options) -> Harness {
    let h = Harness::start_with(options).await;
    let put = h.send("PUT", &h.presign("PUT", KEY).sign(), &[], CONTENTS).await;
    assert_eq!(put.status, 200, "{}", put.text());
    h
}

/// Writes `raw` on a fresh connection and reads one answer.
async fn exchange(h: &Harness, raw: &[u8]) -> Result<RawResponse, RawError> {
    let mut conn = RawConn::connect(h.addr).await;
    // A server may refuse and close before it has read everything: not an error here.
    let _ = conn.send(raw).await;
    conn.read_response(BOUND, false).await
}

/// `raw` is refused with one of `statuses`, or the connection is closed without an
/// answer; nothing reaches the upstream. Returns the answer, if any.
async fn assert_refused(h: &Harness, case: &str, raw: &[u8], statuses: &[u16]) -> Option<RawResponse> {
    let before = h.seen_count();
    let answer = exchange(h, raw).await;
    let seen = h.seen();
    assert_eq!(
        seen.len(),
        before,
        "{case}: the upstream received {:?}",
        &seen[before..]
    );
    match answer {
        Ok(resp) => {
            assert!(
                statuses.contains(&resp.status),
                "{case}: expected one of {statuses:?}, got {}\n{}",
                resp.head,
                resp.text()
            );
            Some(resp)
        }
        Err(RawError::Closed(_) | RawError::Io(_)) => None,
        Err(RawError::TimedOut) => panic!("{case}: neither answered nor closed within {BOUND:?}"),
    }
}

/// An ordinary pre-signed GET still works.
async fn assert_still_serves(h: &Harness, case: &str) {
    let get = h.send("GET", &h.presign("GET", KEY).sign(), &[], "").await;
    assert_eq!(get.status, 200, "{case}: the next request failed: {}", get.text());
    assert_eq!(get.text(), CONTENTS, "{case}");
}

fn request_line(method: &str, url: &SignedUrl) -> String {
    format!("{method} {} HTTP/1.1\r\nHost: {}\r\n", url.path_and_query, url.host)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_with_transfer_encoding_smuggles_nothing() {
    let h = harness_with_object(Options::default()).await;
    // A front end that frames by Content-Length sees one PUT whose body ends with a GET;
    // one that frames by chunks sees an empty PUT, then the GET as a second request.
    let put = h.presign("PUT", "smuggle/carrier").sign();
    let inner_key = "smuggle/inner";
    let inner = h.presign("GET", inner_key).sign();
    let smuggled = format!("{}\r\n", request_line("GET", &inner));
    for te_first in [false, true] {
        let case = if te_first { "TE then CL" } else { "CL then TE" };
        let body = format!("0\r\n\r\n{smuggled}");
        let (a, b) = (
            format!("Content-Length: {}\r\n", body.len()),
            "Transfer-Encoding: chunked\r\n".to_owned(),
        );
        let framing = if te_first { format!("{b}{a}") } else { format!("{a}{b}") };
        let raw = format!("{}{framing}\r\n{body}", request_line("PUT", &put));
        let before = h.seen_count();
        let mut conn = RawConn::connect(h.addr).await;
        let _ = conn.send(raw.as_bytes()).await;
        let first = conn.read_response(BOUND, false).await;
        eprintln!(
            "{case}: first answer {:?}",
            first.as_ref().map(|r| (r.status, r.code()))
        );
        // Whatever the first answer, there is no second one: the connection ends.
        match conn.read_response(Duration::from_secs(3), false).await {
            Err(RawError::Closed(rest)) => assert!(rest.is_empty(), "{case}: trailing bytes {rest:?}"),
            Err(RawError::Io(_)) => {}
            other => panic!("{case}: a second answer on the same connection: {other:?}"),
        }
        let seen = h.seen();
        assert!(
            !seen[before..].iter().any(|s| s.decoded_path().contains(inner_key)),
            "{case}: the smuggled request reached the upstream: {:?}",
            &seen[before..]
        );
        match first {
            Ok(resp) => {
                // Refused outright, or taken as one chunked (empty) PUT per RFC 9112 6.3,
                // never with the Content-Length passed on beside a different body.
                assert!(matches!(resp.status, 200 | 400 | 411 | 501), "{case}: {}", resp.head);
                for s in &seen[before..] {
                    let cl = s.headers.get("content-length").and_then(|v| v.to_str().ok());
                    assert!(
                        cl.is_none_or(|v| v == "0"),
                        "{case}: forwarded Content-Length {cl:?} with a chunked body"
                    );
                }
            }
            Err(RawError::Closed(_) | RawError::Io(_)) => {}
            Err(RawError::TimedOut) => panic!("{case}: no answer and no close"),
        }
    }
    assert_still_serves(&h, "CL+TE").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_content_lengths_are_400() {
    let h = harness_with_object(Options::default()).await;
    let put = h.presign("PUT", "smuggle/cl").sign();
    for (case, framing) in [
        (
            "two different Content-Length lines",
            "Content-Length: 5\r\nContent-Length: 6\r\n",
        ),
        ("a Content-Length list", "Content-Length: 5, 6\r\n"),
        ("a signed Content-Length", "Content-Length: +5\r\n"),
        ("a negative Content-Length", "Content-Length: -1\r\n"),
        (
            "a Content-Length past u64",
            "Content-Length: 99999999999999999999999\r\n",
        ),
        (
            "a Transfer-Encoding not ending in chunked",
            "Transfer-Encoding: chunked, gzip\r\n",
        ),
        ("an unknown Transfer-Encoding", "Transfer-Encoding: xchunked\r\n"),
        ("a space before the colon", "Transfer-Encoding : chunked\r\n"),
    ] {
        let raw = format!("{}{framing}\r\nhello!", request_line("PUT", &put));
        let answer = assert_refused(&h, case, raw.as_bytes(), &[400, 501]).await;
        eprintln!("{case}: {:?}", answer.map(|r| r.status));
    }
    assert!(!h.object_file(BUCKET, "smuggle/cl").exists());
    assert_still_serves(&h, "conflicting lengths").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_are_431_or_closed() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("GET", KEY).sign();
    // One header past the 64 KiB default of [server] max_header_bytes.
    let big = "a".repeat(70 * 1024);
    let raw = format!("{}X-Big: {big}\r\n\r\n", request_line("GET", &url));
    assert_refused(&h, "one huge header", raw.as_bytes(), &[431]).await;
    // Many small headers, past hyper's count limit.
    let mut raw = request_line("GET", &url);
    for i in 0..200 {
        raw.push_str(&format!("X-H{i}: v\r\n"));
    }
    raw.push_str("\r\n");
    assert_refused(&h, "200 headers", raw.as_bytes(), &[431]).await;
    // A request line past the head limit.
    let raw = format!(
        "GET /{BUCKET}/{} HTTP/1.1\r\nHost: {}\r\n\r\n",
        "k".repeat(80 * 1024),
        url.host
    );
    assert_refused(&h, "huge request line", raw.as_bytes(), &[414, 431]).await;
    assert_still_serves(&h, "oversized heads").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_400() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("GET", KEY).sign();
    let ok_line = request_line("GET", &url);
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        ("not HTTP", b"GARBAGE\r\n\r\n".to_vec(), &[400]),
        (
            "NUL in the target",
            b"GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            &[400],
        ),
        (
            "double space",
            format!("GET  {} HTTP/1.1\r\n\r\n", url.path_and_query).into_bytes(),
            &[400],
        ),
        (
            "unknown version",
            format!("GET {} HTTP/7.1\r\n\r\n", url.path_and_query).into_bytes(),
            &[400, 505],
        ),
        (
            "space in a header name",
            format!("{ok_line}Bad Header: v\r\n\r\n").into_bytes(),
            &[400],
        ),
        (
            "header without a colon",
            format!("{ok_line}NoColon\r\n\r\n").into_bytes(),
            &[400],
        ),
        (
            "obsolete line folding",
            format!("{ok_line}X-A: a\r\n folded\r\n\r\n").into_bytes(),
            &[400],
        ),
        (
            "bare CR in a value",
            format!("{ok_line}X-A: a\rb\r\n\r\n").into_bytes(),
            &[400],
        ),
        (
            "NUL in a value",
            format!("{ok_line}X-A: a\0b\r\n\r\n").into_bytes(),
            &[400],
        ),
        (
            "bare LF line ends with junk",
            b"GET / HTTP/1.1\nHost: x\n\x01\n\n".to_vec(),
            &[400],
        ),
        ("asterisk form", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), &[400]),
        (
            "authority form",
            b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n".to_vec(),
            &[400, 405],
        ),
        (
            "unknown method",
            format!("BREW {} HTTP/1.1\r\nHost: {}\r\n\r\n", url.path_and_query, url.host).into_bytes(),
            &[405],
        ),
        (
            "HTTP/1.0 without Host",
            format!("GET {} HTTP/1.0\r\n\r\n", url.path_and_query).into_bytes(),
            &[400],
        ),
        (
            "HTTP/1.1 without Host",
            format!("GET {} HTTP/1.1\r\n\r\n", url.path_and_query).into_bytes(),
            &[400],
        ),
        (
            "a non-UTF-8 Host",
            [
                format!("GET {} HTTP/1.1\r\nHost: ", url.path_and_query).as_bytes(),
                b"\xff\r\n\r\n",
            ]
            .concat(),
            &[400],
        ),
        (
            "a relative path",
            format!(
                "GET {}{} HTTP/1.1\r\nHost: {}\r\n\r\n",
                "x", url.path_and_query, url.host
            )
            .into_bytes(),
            &[400],
        ),
    ];
    for (case, raw, statuses) in cases {
        let answer = assert_refused(&h, case, &raw, statuses).await;
        if let Some(resp) = &answer {
            // The gateway's own refusals are S3 errors; hyper's parse errors have no body.
            if !resp.body.is_empty() {
                assert!(resp.code().is_some(), "{case}: {}", resp.text());
            }
        }
        eprintln!("{case}: {:?}", answer.map(|r| (r.status, r.code())));
    }
    assert_still_serves(&h, "malformed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_form_uris_go_nowhere_but_the_upstream() {
    let h = harness_with_object(Options::default()).await;
    // Signed for the gateway's own authority, sent naming another host: the gateway
    // verifies against the authority given (the URI's, RFC 9112 3.2.2), so it fails.
    let url = h.presign("GET", KEY).sign();
    let raw = format!(
        "GET http://evil.example{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        url.path_and_query, url.host
    );
    let resp = assert_refused(&h, "absolute form, other host", raw.as_bytes(), &[403])
        .await
        .expect("an answer");
    assert_eq!(resp.code().as_deref(), Some("SignatureDoesNotMatch"), "{}", resp.text());

    // Signed for evil.example and sent in absolute form: it verifies, and goes to the
    // configured upstream, which is the only place requests ever go.
    let evil = Presign::new(
        "GET",
        "evil.example".to_owned(),
        format!("/{BUCKET}/{}", encode_key(KEY)),
    )
    .sign();
    let raw = format!(
        "GET http://evil.example{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        evil.path_and_query, url.host
    );
    let before = h.seen_count();
    let resp = exchange(&h, raw.as_bytes()).await.expect("an answer");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.text(), CONTENTS);
    let seen = h.seen();
    assert_eq!(seen.len(), before + 1);
    let upstream_host = seen[before].headers.get("host").and_then(|v| v.to_str().ok());
    assert!(
        upstream_host.is_some_and(|v| v.starts_with("127.0.0.1:")),
        "the upstream was asked for host {upstream_host:?}"
    );

    // The Host header of an absolute-form request is not what is verified either.
    let raw = format!(
        "GET http://{}{} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        url.host, url.path_and_query
    );
    let resp = exchange(&h, raw.as_bytes()).await.expect("an answer");
    assert_eq!(resp.status, 200, "{}", resp.text());

    // Userinfo and other schemes in the target are refused.
    for (case, target) in [
        ("userinfo", format!("http://user:pw@evil.example{}", url.path_and_query)),
        ("https scheme", format!("https://evil.example{}", url.path_and_query)),
        ("ftp scheme", format!("ftp://evil.example{}", url.path_and_query)),
    ] {
        let raw = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            url.host
        );
        let answer = assert_refused(&h, case, raw.as_bytes(), &[400, 403]).await;
        eprintln!("{case}: {:?}", answer.map(|r| (r.status, r.code())));
    }
    assert_still_serves(&h, "absolute form").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_headers_for_other_domains_do_not_verify() {
    let h = harness_with_object(Options::default()).await;
    // A virtual-hosted URL moved to a domain the gateway does not serve.
    let vhost = h.presign_vhost("GET", BUCKET, KEY).sign();
    let moved = vhost.with_host(&format!("{BUCKET}.evil.example:{}", h.port()));
    h.expect_refusal("GET", &moved, &[], "", 403, "SignatureDoesNotMatch")
        .await;
    // A path-style URL sent with another Host.
    let url = h.presign("GET", KEY).sign();
    h.expect_refusal(
        "GET",
        &url.with_host("evil.example"),
        &[],
        "",
        403,
        "SignatureDoesNotMatch",
    )
    .await;
    // The bucket in a Host under the served domain, with the path naming another.
    let other = h.presign_vhost("GET", OTHER_BUCKET, KEY).sign();
    h.expect_refusal(
        "GET",
        &other.with_host(&format!("{BUCKET}.{VHOST_DOMAIN}:{}", h.port())),
        &[],
        "",
        403,
        "SignatureDoesNotMatch",
    )
    .await;

    assert_still_serves(&h, "other hosts").await;
}

/// RFC 9112 3.2: "A server MUST respond with a 400 (Bad Request) status code to any
/// HTTP/1.1 request message that lacks a Host header field and to any request message
/// that contains more than one Host header field line or a Host header field with an
/// invalid field value." hyper leaves this to the application, so the gateway checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_or_invalid_host_headers_are_400() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("GET", KEY).sign();
    for (first, second) in [
        (url.host.clone(), Some("evil.example".to_owned())),
        ("evil.example".to_owned(), Some(url.host.clone())),
        (url.host.clone(), Some(url.host.clone())),
        ("a b".to_owned(), None),
        (format!("{}/x", url.host), None),
    ] {
        let case = format!("Host {first:?} then {second:?}");
        let second = second.map_or(String::new(), |s| format!("Host: {s}\r\n"));
        let raw = format!(
            "GET {} HTTP/1.1\r\nHost: {first}\r\n{second}Connection: close\r\n\r\n",
            url.path_and_query
        );
        assert_refused(&h, &case, raw.as_bytes(), &[400]).await;
    }
    assert_still_serves(&h, "duplicate hosts").await;
}

/// A URL signed for `key` (in the canonical spelling every SDK sends) with its path
/// respelled as `raw_key`.
fn respelled(h: &Harness, method: &str, key: &str, raw_key: &str) -> SignedUrl {
    h.presign(method, key).sign().with_path(&format!("/{BUCKET}/{raw_key}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_dots_and_slashes_are_the_key_they_decode_to() {
    let h = harness_with_object(Options::default()).await;
    // The key is the path decoded once, and the signature covers that key (decoded,
    // then S3-encoded, as s3s and MinIO verify): `%2F` and `/`, `%2e` and `.` are two
    // spellings of one key, and neither reaches another key. Nothing is resolved.
    for (raw_key, key) in [
        ("enc%2Fslash", "enc/slash"),
        ("dots/%2e%2e/inner", "dots/../inner"),
        ("dots/%2E%2E%2Finner2", "dots/../inner2"),
        ("dots/%2e/inner3", "dots/./inner3"),
        ("%2e%2e%2F%2e%2e%2Fescape", "../../escape"),
    ] {
        let url = respelled(&h, "GET", key, raw_key);
        let before = h.seen_count();
        let reply = h.send("GET", &url, &[], "").await;
        assert!(
            reply.status == 404 || reply.status == 400,
            "{raw_key}: {} {}",
            reply.status,
            reply.text()
        );
        let seen = h.seen();
        assert_eq!(seen.len(), before + 1, "{raw_key}");
        assert_eq!(seen[before].decoded_path(), format!("/{BUCKET}/{key}"), "{raw_key}");
        // Respelled into another key, the signature fails.
        let other = format!("{raw_key}x");
        h.expect_refusal(
            "GET",
            &respelled(&h, "GET", key, &other),
            &[],
            "",
            403,
            "SignatureDoesNotMatch",
        )
        .await;
    }
    let put = h
        .send("PUT", &respelled(&h, "PUT", "enc/slash", "enc%2Fslash"), &[], "via %2F")
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    h.assert_object(BUCKET, "enc/slash", b"via %2F").await;

    // Double encoding is decoded once: `%252e` is the three characters `%2e` of the key.
    let key = "%2e%2e%2fescape";
    let put = h.send("PUT", &h.presign("PUT", key).sign(), &[], "literal").await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(h.last_seen().decoded_path(), format!("/{BUCKET}/{key}"));
    assert!(h.object_file(BUCKET, key).is_file());
    assert!(!h.data_dir.join("escape").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_refuses_encoded_dot_segments() {
    let h = harness_with_object(Options {
        embedded: true,
        ..Options::default()
    })
    .await;
    for (raw_key, key) in [
        ("%2e%2e/other-bucket/x", "../other-bucket/x"),
        ("%2E%2E%2Fother-bucket%2Fx", "../other-bucket/x"),
        ("a/%2e%2e/%2e%2e/x", "a/../../x"),
        ("a%2F..%2F..%2Fx", "a/../../x"),
        ("a/%2e/b", "a/./b"),
        ("a%2F%2Fb", "a//b"),
    ] {
        let url = respelled(&h, "PUT", key, raw_key);
        let reply = h
            .expect_refusal("PUT", &url, &[], "escaped", 400, "InvalidArgument")
            .await;
        assert!(
            reply.text().contains("<ArgumentName>key</ArgumentName>"),
            "{raw_key}: {}",
            reply.text()
        );
    }
    assert!(!h.data_dir.join(OTHER_BUCKET).join("x").exists());
    assert!(!h.data_dir.join("x").exists());
    assert!(!h.data_dir.join(BUCKET).join("a/b").exists());
    // Double-encoded dots are literal characters, safe in a file name.
    let put = h.send("PUT", &h.presign("PUT", "%2e%2e").sign(), &[], "literal").await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert!(h.data_dir.join(BUCKET).join("%2e%2e").is_file());
    assert_still_serves(&h, "embedded dots").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_overrides_inject_no_header() {
    let h = harness_with_object(Options::default()).await;
    for (param, value) in [
        ("response-content-disposition", "attachment\r\nX-Injected: yes"),
        ("response-content-disposition", "attachment\nX-Injected: yes"),
        ("response-content-disposition", "attachment\rX-Injected: yes"),
        ("response-content-type", "text/html\r\nSet-Cookie: session=stolen"),
        ("response-cache-control", "no-cache\r\n\r\n<script>alert(1)</script>"),
        ("response-expires", "0\r\nX-Injected: yes"),
        ("response-content-language", "en\u{0}X-Injected: yes"),
    ] {
        let case = format!("{param}={value:?}");
        let url = h.presign("GET", KEY).query(param, value).sign();
        let before = h.seen_count();
        let resp = exchange(&h, &raw_head("GET", &url.path_and_query, &url.host, &[]))
            .await
            .unwrap_or_else(|e| panic!("{case}: no answer: {e:?}"));
        let head = resp.head.to_ascii_lowercase();
        assert!(
            !head.contains("x-injected") && !head.contains("set-cookie") && !head.contains("<script>"),
            "{case}: injected into the head:\n{}",
            resp.head
        );
        for line in resp.head.split("\r\n").skip(1) {
            assert!(line.contains(':'), "{case}: a header line without a name: {line:?}");
        }
        assert!(
            resp.status == 200 || resp.status == 400,
            "{case}: {}\n{}",
            resp.head,
            resp.text()
        );
        if resp.status == 200 {
            assert_eq!(resp.text(), CONTENTS, "{case}");
        }
        // The gateway passes the override on percent-encoded, so the upstream request
        // line carries it whole; the store then refuses it (s3s-fs: 400).
        let seen = h.seen();
        assert_eq!(seen.len(), before + 1, "{case}");
        assert_eq!(seen[before].query_param(param).as_deref(), Some(value), "{case}");
        eprintln!("{case}: {} {:?}", resp.status, resp.code());
    }
    assert_still_serves(&h, "response overrides").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_past_max_url_length_is_414() {
    let h = harness_with_object(Options::default()).await;
    // Signed (the length, not the signature, is what is refused) and past 8192 bytes.
    let url = h.presign("GET", KEY).query("x-pad", &"p".repeat(9000)).sign();
    assert!(url.path_and_query.len() > 8192);
    let reply = h.expect_refusal("GET", &url, &[], "", 414, "UriTooLong").await;
    assert!(reply.text().contains("<MaxLength>8192</MaxLength>"), "{}", reply.text());
    // Just under the limit is served.
    let pad = 8192 - h.presign("GET", KEY).query("x-pad", "").sign().path_and_query.len() - 16;
    let url = h.presign("GET", KEY).query("x-pad", &"p".repeat(pad)).sign();
    assert!(url.path_and_query.len() <= 8192, "{}", url.path_and_query.len());
    let get = h.send("GET", &url, &[], "").await;
    assert_eq!(get.status, 200, "{}", get.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_never_reads_its_body_or_says_continue() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("PUT", "continue/k").sign();
    let bad = url.with_param("X-Amz-Signature", &"0".repeat(64));
    let raw = format!(
        "{}Content-Length: 1048576\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        request_line("PUT", &bad)
    );
    let before = h.seen_count();
    let mut conn = RawConn::connect(h.addr).await;
    conn.send(raw.as_bytes()).await.expect("sent");
    let resp = conn
        .read_response(BOUND, false)
        .await
        .expect("an answer without the body");
    assert_eq!(resp.status, 403, "{}\n{}", resp.head, resp.text());
    assert_eq!(resp.code().as_deref(), Some("SignatureDoesNotMatch"));
    assert_eq!(h.seen_count(), before);
    assert!(!h.object_file(BUCKET, "continue/k").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order_and_each_verified() {
    let h = harness_with_object(Options::default()).await;
    let good = h.presign("GET", KEY).sign();
    let unsigned = format!("GET /{BUCKET}/{KEY} HTTP/1.1\r\nHost: {}\r\n\r\n", good.host);
    let raw = format!(
        "{}\r\n{unsigned}{}Connection: close\r\n\r\n",
        request_line("GET", &good),
        request_line("GET", &good)
    );
    let before = h.seen_count();
    let mut conn = RawConn::connect(h.addr).await;
    conn.send(raw.as_bytes()).await.expect("sent");
    let statuses: Vec<u16> = [
        conn.read_response(BOUND, false).await,
        conn.read_response(BOUND, false).await,
        conn.read_response(BOUND, false).await,
    ]
    .into_iter()
    .map(|r| r.expect("an answer").status)
    .collect();
    assert_eq!(statuses, [200, 403, 200]);
    assert_eq!(h.seen_count(), before + 2);
    assert!(conn.closes_within(BOUND).await);
}
