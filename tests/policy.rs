//! May this identity do this? Key scopes, upload rules, restrictions signed into a URL,
//! and CORS, end to end through the gateway in front of a real upstream.
//!
//! Every refusal is decided before the upstream is contacted, so each one asserts its
//! status, its S3 code, and that the upstream received nothing.

mod common;

use std::time::SystemTime;

use guestpass::auth::sigv4::sign::{presign_url, PresignRequest};
use guestpass::secret::Secret;

use common::{xml_element, Harness, HeaderSign, Options, Payload, Reply, SignedUrl, BUCKET, OTHER_BUCKET, REGION};

/// A key restricted by `[[credentials.scopes]]`.
const SCOPED_KEY_ID: &str = "SCOPEDTEAMKEY";
const SCOPED_SECRET: &str = "scoped-secret-Zr5tK8wQ";

const SCOPES: &str = r#"
[[credentials]]
access_key_id = "SCOPEDTEAMKEY"
secret_access_key = "scoped-secret-Zr5tK8wQ"

[[credentials.scopes]]
bucket = "guest-bucket"
prefix = "team/"
actions = ["read", "write", "list", "delete"]

[[credentials.scopes]]
bucket = "guest-bucket"
prefix = "shared/"
actions = ["read"]

[[credentials.scopes]]
bucket = "other-bucket"
actions = ["read"]
"#;

const RULES: &str = r#"
[[rules]]
bucket = "guest-bucket"
prefix = "avatars/"
max_size = "4KiB"
min_size = 16
content_types = ["image/*"]

[[rules]]
bucket = "guest-bucket"
prefix = "docs/"
require_content_type = true
max_size = "1MiB"
max_part_size = "1KiB"
max_parts = 3
"#;

const APP_ORIGIN: &str = "https://app.example.com";

const CORS: &str = r#"
[[cors]]
bucket = "guest-bucket"
allowed_origins = ["https://app.example.com"]
allowed_methods = ["GET", "PUT"]
allowed_headers = ["content-type"]
expose_headers = ["ETag"]
max_age = "1h"
"#;

fn assert_status(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.text());
}

/// A gateway with the scoped key, holding objects the scoped key reads or must not read.
async fn scoped_harness() -> Harness {
    let h = Harness::start_with(Options {
        credentials_toml: SCOPES.to_owned(),
        ..Options::default()
    })
    .await;
    for (bucket, key, body) in [
        (BUCKET, "shared/readme.txt", "shared notes"),
        (BUCKET, "private/secret.txt", "not for the team"),
        (BUCKET, "teamwork.txt", "not under team/"),
        (OTHER_BUCKET, "catalog.txt", "readable catalog"),
    ] {
        let put = h.presign_in("PUT", bucket, key).sign();
        assert_status(&h.send("PUT", &put, &[], body).await, 200, key);
    }
    h
}

fn scoped(h: &Harness, method: &str, bucket: &str, key: &str) -> common::Presign {
    h.presign_in(method, bucket, key)
        .credentials(SCOPED_KEY_ID, SCOPED_SECRET)
}

fn scoped_header(h: &Harness, method: &str, bucket: &str, key: &str, payload: Payload) -> HeaderSign {
    h.sign_headers(method, bucket, key, payload)
        .credentials(SCOPED_KEY_ID, SCOPED_SECRET)
}

// ---------------------------------------------------------------------------------------
// Key scopes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_key_may_do_what_it_is_granted() {
    let h = scoped_harness().await;

    let put = scoped(&h, "PUT", BUCKET, "team/plan.txt").sign();
    assert_status(&h.send("PUT", &put, &[], "the plan").await, 200, "PUT in prefix");
    let get = scoped(&h, "GET", BUCKET, "team/plan.txt").sign();
    let reply = h.send("GET", &get, &[], "").await;
    assert_status(&reply, 200, "GET in prefix");
    assert_eq!(reply.text(), "the plan");
    let head = scoped(&h, "HEAD", BUCKET, "team/plan.txt").sign();
    assert_status(&h.send("HEAD", &head, &[], "").await, 200, "HEAD in prefix");

    let list = scoped(&h, "GET", BUCKET, "")
        .query("list-type", "2")
        .query("prefix", "team/")
        .sign();
    let reply = h.send("GET", &list, &[], "").await;
    assert_status(&reply, 200, "list in prefix");
    assert_eq!(reply.element("Key").as_deref(), Some("team/plan.txt"));

    // Header auth is scoped the same way.
    let list = scoped_header(&h, "GET", BUCKET, "", Payload::Bytes(Vec::new()))
        .query("list-type", "2")
        .query("prefix", "team/pl")
        .sign();
    assert_status(&h.send_signed(&list, "").await, 200, "header-signed list in prefix");

    let shared = scoped(&h, "GET", BUCKET, "shared/readme.txt").sign();
    assert_status(&h.send("GET", &shared, &[], "").await, 200, "read-only prefix");
    let other = scoped(&h, "GET", OTHER_BUCKET, "catalog.txt").sign();
    assert_status(&h.send("GET", &other, &[], "").await, 200, "read-only bucket");

    // A copy from a readable source into a writable key.
    let copy = scoped(&h, "PUT", BUCKET, "team/readme-copy.txt")
        .header("x-amz-copy-source", &format!("/{BUCKET}/shared/readme.txt"))
        .sign();
    let reply = h
        .send(
            "PUT",
            &copy,
            &[("x-amz-copy-source", &format!("/{BUCKET}/shared/readme.txt"))],
            "",
        )
        .await;
    assert_status(&reply, 200, "copy from a readable source");
    h.assert_object(BUCKET, "team/readme-copy.txt", b"shared notes").await;

    let delete = scoped(&h, "DELETE", BUCKET, "team/plan.txt").sign();
    assert_status(&h.send("DELETE", &delete, &[], "").await, 204, "DELETE in prefix");
    h.assert_no_object(BUCKET, "team/plan.txt").await;

    // ListBuckets shows only the buckets the key has a grant on.
    std::fs::create_dir_all(h.data_dir.join("hidden-bucket")).unwrap();
    let all = h.send("GET", &h.presign_in("GET", "", "").sign(), &[], "").await;
    assert_status(&all, 200, "ListBuckets, unrestricted key");
    assert!(all.text().contains("<Name>hidden-bucket</Name>"), "{}", all.text());
    let mine = scoped(&h, "GET", "", "").sign();
    let reply = h.send("GET", &mine, &[], "").await;
    assert_status(&reply, 200, "ListBuckets, scoped key");
    let text = reply.text();
    assert!(text.contains(&format!("<Name>{BUCKET}</Name>")), "{text}");
    assert!(text.contains(&format!("<Name>{OTHER_BUCKET}</Name>")), "{text}");
    assert!(!text.contains("hidden-bucket"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_key_refusals() {
    let h = scoped_harness().await;
    let denied = |method: &'static str, url: SignedUrl, headers: Vec<(&'static str, String)>, body: &'static str| {
        let h = &h;
        async move {
            let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            h.expect_refusal(method, &url, &refs, body, 403, "AccessDenied").await;
        }
    };

    // Read outside the prefix; a key that merely starts with the prefix's letters.
    denied(
        "GET",
        scoped(&h, "GET", BUCKET, "private/secret.txt").sign(),
        vec![],
        "",
    )
    .await;
    denied("GET", scoped(&h, "GET", BUCKET, "teamwork.txt").sign(), vec![], "").await;
    denied(
        "HEAD",
        scoped(&h, "HEAD", BUCKET, "private/secret.txt").sign(),
        vec![],
        "",
    )
    .await;
    // Write where only read is granted, and in a read-only bucket.
    denied("PUT", scoped(&h, "PUT", BUCKET, "shared/new.txt").sign(), vec![], "x").await;
    denied("PUT", scoped(&h, "PUT", OTHER_BUCKET, "new.txt").sign(), vec![], "x").await;
    // Delete without delete.
    denied(
        "DELETE",
        scoped(&h, "DELETE", BUCKET, "shared/readme.txt").sign(),
        vec![],
        "",
    )
    .await;
    denied(
        "DELETE",
        scoped(&h, "DELETE", OTHER_BUCKET, "catalog.txt").sign(),
        vec![],
        "",
    )
    .await;
    // List with a prefix outside the grant, with none, and where no list is granted.
    for prefix in ["shared/", "private/", "", "team"] {
        let mut p = scoped(&h, "GET", BUCKET, "").query("list-type", "2");
        if !prefix.is_empty() {
            p = p.query("prefix", prefix);
        }
        denied("GET", p.sign(), vec![], "").await;
    }
    denied(
        "GET",
        scoped(&h, "GET", OTHER_BUCKET, "").query("list-type", "2").sign(),
        vec![],
        "",
    )
    .await;

    // DeleteObjects names its keys in the body: only a whole-bucket delete grant covers it,
    // even when every key named is under the granted prefix.
    let body = "<Delete><Object><Key>team/plan.txt</Key></Object></Delete>";
    let delete_objects = scoped_header(&h, "POST", BUCKET, "", Payload::Bytes(body.as_bytes().to_vec()))
        .query("delete", "")
        .sign();
    h.expect_refusal(
        "POST",
        &delete_objects.url(),
        &delete_objects.header_refs(),
        body,
        403,
        "AccessDenied",
    )
    .await;

    // A copy from a source the key cannot read, into a key it can write.
    for source in [
        format!("/{BUCKET}/private/secret.txt"),
        format!("{BUCKET}/private/secret.txt"),
        format!("/{BUCKET}/teamwork.txt?versionId=1"),
    ] {
        let copy = scoped(&h, "PUT", BUCKET, "team/stolen.txt")
            .header("x-amz-copy-source", &source)
            .sign();
        denied("PUT", copy, vec![("x-amz-copy-source", source.clone())], "").await;
    }
    h.assert_no_object(BUCKET, "team/stolen.txt").await;

    // Bucket-level changes are admin.
    denied("PUT", scoped(&h, "PUT", "new-bucket", "").sign(), vec![], "").await;
    denied("PUT", scoped(&h, "PUT", BUCKET, "").sign(), vec![], "").await;
    denied("DELETE", scoped(&h, "DELETE", OTHER_BUCKET, "").sign(), vec![], "").await;
    let create = scoped_header(&h, "PUT", "new-bucket", "", Payload::Bytes(Vec::new())).sign();
    h.expect_refusal("PUT", &create.url(), &create.header_refs(), "", 403, "AccessDenied")
        .await;
    assert!(!h.data_dir.join("new-bucket").exists());

    // The control: DeleteObjects by a key with a whole-bucket grant (the unrestricted one).
    let body = "<Delete><Object><Key>teamwork.txt</Key></Object></Delete>";
    let delete_objects = h
        .sign_headers("POST", BUCKET, "", Payload::Bytes(body.as_bytes().to_vec()))
        .query("delete", "")
        .sign();
    let reply = h.send_signed(&delete_objects, body).await;
    assert_status(&reply, 200, "DeleteObjects with a whole-bucket grant");
    assert!(reply.text().contains("<Deleted>"), "{}", reply.text());
    h.assert_no_object(BUCKET, "teamwork.txt").await;

    // Everything the scoped key may not touch is still there.
    h.assert_object(BUCKET, "shared/readme.txt", b"shared notes").await;
    h.assert_object(OTHER_BUCKET, "catalog.txt", b"readable catalog").await;
}

// ---------------------------------------------------------------------------------------
// Upload rules

async fn rules_harness() -> Harness {
    Harness::start_with(Options {
        policy_toml: RULES.to_owned(),
        ..Options::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_rules_on_put() {
    let h = rules_harness().await;
    let image = vec![0x89u8; 1000];

    // Positive: inside every limit.
    let put = h.presign("PUT", "avatars/me.png").sign();
    let reply = h
        .send("PUT", &put, &[("content-type", "image/png")], image.clone())
        .await;
    assert_status(&reply, 200, "PUT within the rule");
    h.assert_object(BUCKET, "avatars/me.png", &image).await;
    let put = h.presign("PUT", "avatars/edge.png").sign();
    let edge = vec![1u8; 4096];
    assert_status(
        &h.send("PUT", &put, &[("content-type", "image/webp")], edge.clone())
            .await,
        200,
        "PUT of exactly max_size",
    );
    h.assert_object(BUCKET, "avatars/edge.png", &edge).await;

    let url = h.presign("PUT", "avatars/refused.png").sign();
    let reply = h
        .expect_refusal(
            "PUT",
            &url,
            &[("content-type", "image/png")],
            vec![0u8; 4097],
            400,
            "EntityTooLarge",
        )
        .await;
    assert_eq!(reply.element("ProposedSize").as_deref(), Some("4097"));
    assert_eq!(reply.element("MaxSizeAllowed").as_deref(), Some("4096"));
    let reply = h
        .expect_refusal(
            "PUT",
            &url,
            &[("content-type", "image/png")],
            vec![0u8; 15],
            400,
            "EntityTooSmall",
        )
        .await;
    assert_eq!(reply.element("MinSizeAllowed").as_deref(), Some("16"));
    h.expect_refusal(
        "PUT",
        &url,
        &[("content-type", "text/html")],
        image.clone(),
        403,
        "AccessDenied",
    )
    .await;
    h.expect_refusal(
        "PUT",
        &url,
        &[("content-type", "imagex/png")],
        image.clone(),
        403,
        "AccessDenied",
    )
    .await;
    // A type list implies the type is required.
    h.expect_refusal("PUT", &url, &[], image.clone(), 403, "AccessDenied")
        .await;
    h.assert_no_object(BUCKET, "avatars/refused.png").await;

    // require_content_type without a list.
    let url = h.presign("PUT", "docs/readme.md").sign();
    h.expect_refusal("PUT", &url, &[], "# docs", 403, "AccessDenied").await;
    assert_status(
        &h.send("PUT", &url, &[("content-type", "text/markdown")], "# docs")
            .await,
        200,
        "PUT with a Content-Type",
    );

    // Header auth: the same rules; aws-chunked uploads are judged by their decoded length
    // before the upstream sees a byte.
    let chunked = h
        .sign_headers(
            "PUT",
            BUCKET,
            "avatars/chunked.png",
            Payload::Precomputed("STREAMING-AWS4-HMAC-SHA256-PAYLOAD".to_owned()),
        )
        .header("content-encoding", "aws-chunked")
        .header("content-type", "image/png")
        .header("x-amz-decoded-content-length", "5000")
        .sign();
    h.expect_refusal(
        "PUT",
        &chunked.url(),
        &chunked.header_refs(),
        "0;chunk-signature=00\r\n\r\n",
        400,
        "EntityTooLarge",
    )
    .await;

    // A copy cannot be judged by size or type: refused into keys with rules.
    let copy = h
        .presign("PUT", "avatars/copied.png")
        .header("x-amz-copy-source", &format!("/{BUCKET}/avatars/me.png"))
        .sign();
    h.expect_refusal(
        "PUT",
        &copy,
        &[("x-amz-copy-source", &format!("/{BUCKET}/avatars/me.png"))],
        "",
        403,
        "AccessDenied",
    )
    .await;

    // Keys outside every rule are not limited.
    let free = h.presign("PUT", "free/anything.bin").sign();
    assert_status(&h.send("PUT", &free, &[], vec![0u8; 8192]).await, 200, "unruled key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_rules_need_a_declared_length() {
    use http_body_util::BodyExt;
    let h = rules_harness().await;
    let url = h.presign("PUT", "avatars/streamed.png").sign();
    // No Content-Length (Transfer-Encoding: chunked): the size cannot be judged up front.
    let frames: Vec<Result<http_body::Frame<bytes::Bytes>, Box<dyn std::error::Error + Send + Sync>>> =
        vec![Ok(http_body::Frame::data(bytes::Bytes::from(vec![1u8; 100])))];
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames)).boxed();
    let before = h.seen_count();
    let resp = h
        .send_streaming(
            "PUT",
            &url,
            &[("content-type".to_owned(), "image/png".to_owned())],
            body,
        )
        .await;
    let reply = Reply::read(resp).await;
    assert_status(&reply, 411, "PUT without Content-Length");
    assert_eq!(
        reply.code().as_deref(),
        Some("MissingContentLength"),
        "{}",
        reply.text()
    );
    assert_eq!(h.seen_count(), before, "the upstream was contacted");
    h.assert_no_object(BUCKET, "avatars/streamed.png").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_rules_on_multipart() {
    let h = rules_harness().await;
    let key = "docs/manual.pdf";

    // CreateMultipartUpload fixes the Content-Type, so the rule's type check applies.
    let create = h.presign("POST", key).query("uploads", "").sign();
    h.expect_refusal("POST", &create, &[], "", 403, "AccessDenied").await;
    let reply = h
        .send("POST", &create, &[("content-type", "application/pdf")], "")
        .await;
    assert_status(&reply, 200, "CreateMultipartUpload");
    let upload_id = reply.element("UploadId").expect("UploadId");

    let part = |n: &str| {
        h.presign("PUT", key)
            .query("partNumber", n)
            .query("uploadId", &upload_id)
            .sign()
    };
    let reply = h
        .expect_refusal("PUT", &part("1"), &[], vec![7u8; 1025], 400, "EntityTooLarge")
        .await;
    assert_eq!(reply.element("MaxSizeAllowed").as_deref(), Some("1024"));
    let reply = h
        .expect_refusal("PUT", &part("4"), &[], vec![7u8; 10], 400, "InvalidArgument")
        .await;
    assert!(
        reply.message().unwrap_or_default().contains("Part number"),
        "{}",
        reply.text()
    );

    let data = vec![7u8; 1024];
    let reply = h.send("PUT", &part("1"), &[], data.clone()).await;
    assert_status(&reply, 200, "UploadPart within the rule");
    let etag = reply.header("etag").expect("ETag");
    let complete = h.presign("POST", key).query("uploadId", &upload_id).sign();
    let body = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let reply = h.send("POST", &complete, &[], body).await;
    assert_status(&reply, 200, "CompleteMultipartUpload");
    h.assert_object(BUCKET, key, &data).await;
}

// ---------------------------------------------------------------------------------------
// Restrictions signed into a URL

/// No `x-guestpass-*` parameter reached the upstream.
fn assert_restrictions_stripped(h: &Harness) {
    let seen = h.last_seen();
    let query = seen.query.clone().unwrap_or_default().to_ascii_lowercase();
    assert!(!query.contains("x-guestpass"), "upstream query: {query}");
    for name in seen.headers.keys() {
        assert!(!name.as_str().contains("guestpass"), "upstream header {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_size_and_type_restrictions() {
    let h = Harness::start().await;
    let url = h
        .presign("PUT", "uploads/photo.png")
        .query("x-guestpass-max-size", "1KiB")
        .query("x-guestpass-min-size", "10")
        .query("x-guestpass-content-type", "image/*")
        .sign();

    let photo = vec![0xffu8; 1024];
    let reply = h
        .send("PUT", &url, &[("content-type", "image/png")], photo.clone())
        .await;
    assert_status(&reply, 200, "PUT within the restrictions");
    assert_restrictions_stripped(&h);
    h.assert_object(BUCKET, "uploads/photo.png", &photo).await;

    let refused = h
        .presign("PUT", "uploads/refused.png")
        .query("x-guestpass-max-size", "1KiB")
        .query("x-guestpass-min-size", "10")
        .query("x-guestpass-content-type", "image/*")
        .sign();
    let reply = h
        .expect_refusal(
            "PUT",
            &refused,
            &[("content-type", "image/png")],
            vec![0u8; 1025],
            400,
            "EntityTooLarge",
        )
        .await;
    assert_eq!(reply.element("MaxSizeAllowed").as_deref(), Some("1024"));
    h.expect_refusal(
        "PUT",
        &refused,
        &[("content-type", "image/png")],
        vec![0u8; 9],
        400,
        "EntityTooSmall",
    )
    .await;
    h.expect_refusal(
        "PUT",
        &refused,
        &[("content-type", "application/pdf")],
        vec![0u8; 100],
        403,
        "AccessDenied",
    )
    .await;
    h.expect_refusal("PUT", &refused, &[], vec![0u8; 100], 403, "AccessDenied")
        .await;
    h.assert_no_object(BUCKET, "uploads/refused.png").await;

    // An exact type, and a list of them.
    let exact = h
        .presign("PUT", "uploads/doc")
        .query("x-guestpass-content-type", "application/pdf,text/plain")
        .sign();
    assert_status(
        &h.send("PUT", &exact, &[("content-type", "text/plain; charset=utf-8")], "hi")
            .await,
        200,
        "listed exact type",
    );
    h.expect_refusal(
        "PUT",
        &exact,
        &[("content-type", "text/html")],
        "hi",
        403,
        "AccessDenied",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restrictions_in_a_header_signed_query() {
    let h = Harness::start().await;
    // The query of a header-signed request is signed too: restrictions there hold.
    let sign = |key: &str| {
        h.sign_headers("PUT", BUCKET, key, Payload::Unsigned)
            .query("x-guestpass-max-size", "64")
            .query("x-guestpass-content-type", "text/plain")
            .header("content-type", "text/plain")
            .sign()
    };
    let put = sign("header/small.txt");
    assert_status(&h.send_signed(&put, vec![b'a'; 64]).await, 200, "within");
    assert_restrictions_stripped(&h);
    h.assert_object(BUCKET, "header/small.txt", &[b'a'; 64]).await;
    let put = sign("header/large.txt");
    h.expect_refusal(
        "PUT",
        &put.url(),
        &put.header_refs(),
        vec![b'a'; 65],
        400,
        "EntityTooLarge",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_restrictions_are_tamper_proof() {
    let h = Harness::start().await;
    let url = h
        .presign("PUT", "uploads/a.png")
        .query("x-guestpass-max-size", "1KiB")
        .query("x-guestpass-content-type", "image/png")
        .sign();
    let headers = [("content-type", "image/png")];

    // Removed, loosened, or added after signing.
    for tampered in [
        url.without_param("x-guestpass-max-size"),
        url.without_param("x-guestpass-content-type"),
        url.with_param("x-guestpass-max-size", "1GiB"),
        url.with_param("x-guestpass-content-type", "image%2F%2A"),
        url.with_extra("x-guestpass-ip=0.0.0.0%2F0"),
    ] {
        h.expect_refusal("PUT", &tampered, &headers, vec![0u8; 100], 403, "SignatureDoesNotMatch")
            .await;
    }
    let plain = h.presign("PUT", "uploads/b.png").sign();
    h.expect_refusal(
        "PUT",
        &plain.with_extra("x-guestpass-max-size=1GiB"),
        &headers,
        vec![0u8; 100],
        403,
        "SignatureDoesNotMatch",
    )
    .await;

    // Signed, but unknown to the gateway: refused, never ignored.
    let unknown = h.presign("PUT", "uploads/c.png").query("x-guestpass-foo", "bar").sign();
    let reply = h
        .expect_refusal("PUT", &unknown, &headers, vec![0u8; 100], 400, "InvalidArgument")
        .await;
    assert_eq!(reply.element("ArgumentName").as_deref(), Some("x-guestpass-foo"));
    // Signed twice.
    let twice = h
        .presign("PUT", "uploads/c.png")
        .query("x-guestpass-max-size", "1KiB")
        .query("x-guestpass-max-size", "1GiB")
        .sign();
    h.expect_refusal("PUT", &twice, &headers, vec![0u8; 100], 400, "InvalidArgument")
        .await;
    // Signed, known, but not a valid value.
    for (name, value) in [
        ("x-guestpass-max-size", "lots"),
        ("x-guestpass-ip", "not-a-range"),
        ("x-guestpass-content-type", ","),
    ] {
        let bad = h.presign("PUT", "uploads/d.png").query(name, value).sign();
        h.expect_refusal("PUT", &bad, &headers, vec![0u8; 100], 400, "InvalidArgument")
            .await;
    }

    // The untampered URL is the control.
    assert_status(
        &h.send("PUT", &url, &headers, vec![0u8; 100]).await,
        200,
        "untampered URL",
    );
    assert_restrictions_stripped(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_ip_restriction() {
    let h = Harness::start().await;
    let put = h.presign("PUT", "ip/x.txt").sign();
    assert_status(&h.send("PUT", &put, &[], "x").await, 200, "seed");

    let elsewhere = h
        .presign("GET", "ip/x.txt")
        .query("x-guestpass-ip", "203.0.113.0/24")
        .sign();
    h.expect_refusal("GET", &elsewhere, &[], "", 403, "AccessDenied").await;
    // Without trusted proxies, a client-address header is the client's word and ignored.
    h.expect_refusal(
        "GET",
        &elsewhere,
        &[("x-forwarded-for", "203.0.113.9")],
        "",
        403,
        "AccessDenied",
    )
    .await;

    for range in ["127.0.0.0/8", "127.0.0.1", "10.0.0.0/8,127.0.0.1/32"] {
        let here = h.presign("GET", "ip/x.txt").query("x-guestpass-ip", range).sign();
        let reply = h.send("GET", &here, &[], "").await;
        assert_status(&reply, 200, range);
        assert_eq!(reply.text(), "x");
        assert_restrictions_stripped(&h);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_ip_restriction_behind_a_trusted_proxy() {
    let h = Harness::start_with(Options {
        server_toml: "trusted_proxies = [\"127.0.0.1/32\"]\nclient_ip_header = \"x-forwarded-for\"".to_owned(),
        ..Options::default()
    })
    .await;
    let put = h.presign("PUT", "ip/y.txt").sign();
    assert_status(&h.send("PUT", &put, &[], "y").await, 200, "seed");
    let url = h
        .presign("GET", "ip/y.txt")
        .query("x-guestpass-ip", "203.0.113.0/24")
        .sign();

    let reply = h.send("GET", &url, &[("x-forwarded-for", "203.0.113.9")], "").await;
    assert_status(&reply, 200, "client in range behind the proxy");
    assert_restrictions_stripped(&h);
    // The right-most address not a trusted proxy is the client: a spoofed left part is ignored.
    h.expect_refusal(
        "GET",
        &url,
        &[("x-forwarded-for", "203.0.113.9, 198.51.100.4")],
        "",
        403,
        "AccessDenied",
    )
    .await;
    // No header: the proxy itself is the client.
    h.expect_refusal("GET", &url, &[], "", 403, "AccessDenied").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restrictions_from_the_gateway_presigner() {
    let h = Harness::start().await;
    let base = format!("http://127.0.0.1:{}", h.port());
    let presign = |key: &str, extra: &[(&str, &str)]| {
        let path = format!("/{BUCKET}/{key}");
        let url = presign_url(
            common::CLIENT_KEY_ID,
            &Secret::new(common::CLIENT_SECRET),
            REGION,
            &PresignRequest {
                method: "PUT",
                base_url: &base,
                path: &path,
                extra_query: extra,
                expires_secs: 600,
                now: time::OffsetDateTime::from(SystemTime::now()),
            },
        );
        let path_and_query = url.strip_prefix(&base).expect("URL on the gateway").to_owned();
        SignedUrl {
            host: format!("127.0.0.1:{}", h.port()),
            path_and_query,
        }
    };
    let restrictions = [
        ("x-guestpass-max-size", "2KiB"),
        ("x-guestpass-content-type", "image/*"),
        ("x-guestpass-ip", "127.0.0.0/8"),
    ];
    let url = presign("presigner/a.png", &restrictions);
    let body = vec![3u8; 2048];
    assert_status(
        &h.send("PUT", &url, &[("content-type", "image/gif")], body.clone())
            .await,
        200,
        "gateway-presigned PUT",
    );
    assert_restrictions_stripped(&h);
    h.assert_object(BUCKET, "presigner/a.png", &body).await;

    let url = presign("presigner/b.png", &restrictions);
    h.expect_refusal(
        "PUT",
        &url,
        &[("content-type", "image/gif")],
        vec![3u8; 2049],
        400,
        "EntityTooLarge",
    )
    .await;
    h.expect_refusal(
        "PUT",
        &url,
        &[("content-type", "text/plain")],
        vec![3u8; 10],
        403,
        "AccessDenied",
    )
    .await;
    h.expect_refusal(
        "PUT",
        &url.without_param("x-guestpass-max-size"),
        &[("content-type", "image/gif")],
        vec![3u8; 10],
        403,
        "SignatureDoesNotMatch",
    )
    .await;
    let far = presign("presigner/c.png", &[("x-guestpass-ip", "198.51.100.0/24")]);
    h.expect_refusal("PUT", &far, &[], vec![3u8; 10], 403, "AccessDenied")
        .await;
}

// ---------------------------------------------------------------------------------------
// CORS

async fn cors_harness() -> Harness {
    Harness::start_with(Options {
        policy_toml: CORS.to_owned(),
        ..Options::default()
    })
    .await
}

fn unsigned(h: &Harness, bucket: &str, key: &str) -> SignedUrl {
    SignedUrl {
        host: format!("127.0.0.1:{}", h.port()),
        path_and_query: format!("/{bucket}/{key}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight() {
    let h = cors_harness().await;
    let url = unsigned(&h, BUCKET, "uploads/photo.png");

    let reply = h
        .send(
            "OPTIONS",
            &url,
            &[
                ("origin", APP_ORIGIN),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "Content-Type"),
            ],
            "",
        )
        .await;
    assert_status(&reply, 200, "allowed preflight");
    assert_eq!(reply.header("access-control-allow-origin").as_deref(), Some(APP_ORIGIN));
    let methods = reply.header("access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("PUT") && methods.contains("GET"), "{methods}");
    assert_eq!(
        reply.header("access-control-allow-headers").as_deref(),
        Some("content-type")
    );
    assert_eq!(reply.header("access-control-expose-headers").as_deref(), Some("ETag"));
    assert_eq!(reply.header("access-control-max-age").as_deref(), Some("3600"));
    assert_eq!(h.seen_count(), 0, "a preflight reached the upstream");

    for headers in [
        // Origin not allowed.
        vec![
            ("origin", "https://evil.example.com"),
            ("access-control-request-method", "PUT"),
        ],
        // Method not allowed.
        vec![("origin", APP_ORIGIN), ("access-control-request-method", "DELETE")],
        // Request header not allowed.
        vec![
            ("origin", APP_ORIGIN),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type, x-custom"),
        ],
    ] {
        h.expect_refusal("OPTIONS", &url, &headers, "", 403, "AccessForbidden")
            .await;
    }
    h.expect_refusal(
        "OPTIONS",
        &url,
        &[("access-control-request-method", "PUT")],
        "",
        400,
        "BadRequest",
    )
    .await;
    // A bucket with no CORS rules.
    h.expect_refusal(
        "OPTIONS",
        &unsigned(&h, OTHER_BUCKET, "x"),
        &[("origin", APP_ORIGIN), ("access-control-request-method", "GET")],
        "",
        403,
        "AccessForbidden",
    )
    .await;
    assert_eq!(h.seen_count(), 0, "a preflight reached the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_headers_on_real_responses() {
    let h = cors_harness().await;
    let put = h.presign("PUT", "cors/a.txt").sign();
    let reply = h.send("PUT", &put, &[("origin", APP_ORIGIN)], "hello").await;
    assert_status(&reply, 200, "PUT with Origin");
    assert_eq!(reply.header("access-control-allow-origin").as_deref(), Some(APP_ORIGIN));
    assert!(reply.header("etag").is_some());

    let get = h.presign("GET", "cors/a.txt").sign();
    let reply = h.send("GET", &get, &[("origin", APP_ORIGIN)], "").await;
    assert_status(&reply, 200, "GET with Origin");
    assert_eq!(reply.header("access-control-allow-origin").as_deref(), Some(APP_ORIGIN));
    assert_eq!(reply.header("access-control-expose-headers").as_deref(), Some("ETag"));
    let vary = reply.header("vary").unwrap_or_default();
    assert!(vary.contains("Origin"), "{vary}");
    // The Origin header itself never goes upstream.
    assert!(h.last_seen().headers.get("origin").is_none());

    // An origin no rule allows gets no CORS headers (the browser then refuses to expose it).
    let reply = h.send("GET", &get, &[("origin", "https://evil.example.com")], "").await;
    assert_status(&reply, 200, "GET with another Origin");
    assert!(reply.header("access-control-allow-origin").is_none());

    // Without Origin, no CORS headers.
    let reply = h.send("GET", &get, &[], "").await;
    assert!(reply.header("access-control-allow-origin").is_none());

    // Other buckets have none.
    let other = h.presign_in("PUT", OTHER_BUCKET, "x").sign();
    let reply = h.send("PUT", &other, &[("origin", APP_ORIGIN)], "x").await;
    assert_status(&reply, 200, "PUT to a bucket without CORS");
    assert!(reply.header("access-control-allow-origin").is_none());

    // A refusal a browser must be able to read carries them too.
    let expired = h.presign("GET", "cors/a.txt").at(common::now_plus(-7200)).sign();
    let reply = h
        .expect_refusal("GET", &expired, &[("origin", APP_ORIGIN)], "", 403, "AccessDenied")
        .await;
    assert_eq!(reply.header("access-control-allow-origin").as_deref(), Some(APP_ORIGIN));
    assert!(xml_element(&reply.text(), "Code").is_some());
}

/// A rule's `max_size` bounds the object, whichever way it is uploaded. Today only each
/// part is capped (`max_part_size` defaults to `max_size`) and the part count
/// (`max_parts`, default 10000), so a multipart upload can assemble an object of up to
/// 10000 x max_size under a rule that allows max_size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_total_is_bounded_by_max_size() {
    let h = Harness::start_with(Options {
        policy_toml: "[[rules]]\nbucket = \"guest-bucket\"\nprefix = \"big/\"\nmax_size = \"6MiB\"\n".to_owned(),
        ..Options::default()
    })
    .await;
    let key = "big/assembled.bin";
    let create = h.presign("POST", key).query("uploads", "").sign();
    let reply = h.send("POST", &create, &[], "").await;
    assert_status(&reply, 200, "CreateMultipartUpload");
    let upload_id = reply.element("UploadId").expect("UploadId");
    // Two parts of 5 MiB: each within max_size and above S3's minimum part size.
    let mut parts = String::new();
    for n in 1..=2 {
        let url = h
            .presign("PUT", key)
            .query("partNumber", &n.to_string())
            .query("uploadId", &upload_id)
            .sign();
        let reply = h.send("PUT", &url, &[], vec![1u8; 5 << 20]).await;
        if reply.status != 200 {
            // Refusing the part that takes the total over max_size is one correct answer.
            assert_eq!(reply.code().as_deref(), Some("EntityTooLarge"), "{}", reply.text());
            break;
        }
        let etag = reply.header("etag").expect("ETag");
        parts.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"));
    }
    let complete = h.presign("POST", key).query("uploadId", &upload_id).sign();
    let body = format!("<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>");
    let _ = h.send("POST", &complete, &[], body).await;
    let stored = std::fs::metadata(h.object_file(BUCKET, key)).map(|m| m.len());
    assert!(
        stored.as_ref().map_or(true, |len| *len <= 6 << 20),
        "an object of {stored:?} bytes was assembled under a 6 MiB max_size rule"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_byte_counter_is_the_second_line() {
    let h = rules_harness().await;
    // A signed x-amz-decoded-content-length on a plain (not aws-chunked) body is the size
    // the rule is judged by; the body then may not stream more than it declared.
    let put = h
        .sign_headers("PUT", BUCKET, "avatars/understated.png", Payload::Unsigned)
        .header("x-amz-decoded-content-length", "100")
        .header("content-type", "image/png")
        .sign();
    let reply = h.send_signed(&put, vec![1u8; 3000]).await;
    assert_status(&reply, 400, "body longer than declared");
    assert_eq!(reply.code().as_deref(), Some("EntityTooLarge"), "{}", reply.text());
    h.assert_no_object(BUCKET, "avatars/understated.png").await;
}
