//! Every way a pre-signed request can be wrong is refused with S3's status and error code,
//! before anything reaches the upstream; error bodies carry no secret.
//!
//! Valid URLs come from the independent `aws-sigv4` oracle and are then tampered with as
//! raw text, so each refusal is of a request that differs from a valid one in one way.

mod common;

use std::time::{Duration, SystemTime};

use aws_sigv4::sign::v4::generate_signing_key;

use common::{
    encode_key, now_plus, Harness, Options, Reply, SignedUrl, BUCKET, CLIENT_SECRET, OTHER_BUCKET, REGION, VHOST_DOMAIN,
};

const KEY: &str = "docs/report.txt";
const CONTENTS: &str = "quarterly numbers";

/// A harness holding `KEY`, stored through a valid pre-signed PUT (which also proves the
/// path the refusals take is otherwise open).
async fn harness_with_object(options: Options) -> Harness {
    let h = Harness::start_with(options).await;
    let put = h.send("PUT", &h.presign("PUT", KEY).sign(), &[], CONTENTS).await;
    assert_eq!(put.status, 200, "{}", put.text());
    h
}

/// A valid URL is accepted and reaches the upstream: the control for each refusal.
async fn assert_accepted(h: &Harness, method: &str, url: &SignedUrl) {
    let before = h.seen_count();
    let reply = h.send(method, url, &[], "").await;
    assert!(
        reply.status.is_success(),
        "{method} {}: {} {}",
        url.path_and_query,
        reply.status,
        reply.text()
    );
    assert_eq!(h.seen_count(), before + 1);
}

fn assert_signature_mismatch_details(reply: &Reply) {
    let sts = reply.element("StringToSign").expect("StringToSign");
    assert!(sts.starts_with("AWS4-HMAC-SHA256\n"), "{sts}");
    assert!(sts.contains(&format!("/{REGION}/s3/aws4_request\n")), "{sts}");
    assert!(reply.element("CanonicalRequest").is_some(), "{}", reply.text());
}

/// The signature's last hex digit changed.
fn flip_signature(url: &SignedUrl) -> SignedUrl {
    let sig = url.param("X-Amz-Signature").expect("signature").to_owned();
    let last = if sig.ends_with('0') { "1" } else { "0" };
    url.with_param("X-Amz-Signature", &format!("{}{last}", &sig[..sig.len() - 1]))
}

#[tokio::test]
async fn tampered_signature() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("GET", KEY).sign();
    assert_accepted(&h, "GET", &url).await;
    let reply = h
        .expect_refusal("GET", &flip_signature(&url), &[], "", 403, "SignatureDoesNotMatch")
        .await;
    assert_signature_mismatch_details(&reply);
    let canonical = reply.element("CanonicalRequest").unwrap();
    assert!(
        canonical.starts_with(&format!("GET\n/{BUCKET}/{}\n", encode_key(KEY))),
        "{canonical}"
    );
    assert!(canonical.ends_with("\nhost\nUNSIGNED-PAYLOAD"), "{canonical}");

    // Not hex, wrong length: still a mismatch, never a different code.
    for bad in ["", "zz", "00"] {
        h.expect_refusal(
            "GET",
            &url.with_param("X-Amz-Signature", bad),
            &[],
            "",
            403,
            "SignatureDoesNotMatch",
        )
        .await;
    }
}

#[tokio::test]
async fn tampered_key() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("GET", KEY).sign();
    for path in [
        format!("/{BUCKET}/docs/other.txt"),
        format!("/{BUCKET}/docs/report.txt2"),
        format!("/{BUCKET}/docs//report.txt"),
        format!("/{BUCKET}/docs/../docs/report.txt"),
        format!("/{BUCKET}/docs/REPORT.txt"),
    ] {
        h.expect_refusal("GET", &url.with_path(&path), &[], "", 403, "SignatureDoesNotMatch")
            .await;
    }
}

#[tokio::test]
async fn tampered_bucket() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("GET", KEY).sign();
    h.expect_refusal(
        "GET",
        &url.with_path(&format!("/{OTHER_BUCKET}/{KEY}")),
        &[],
        "",
        403,
        "SignatureDoesNotMatch",
    )
    .await;

    // Virtual-hosted: the bucket is in the signed Host.
    let url = h.presign_vhost("GET", BUCKET, KEY).sign();
    assert_accepted(&h, "GET", &url).await;
    let other_host = format!("{OTHER_BUCKET}.{VHOST_DOMAIN}:{}", h.port());
    h.expect_refusal(
        "GET",
        &url.with_host(&other_host),
        &[],
        "",
        403,
        "SignatureDoesNotMatch",
    )
    .await;
}

#[tokio::test]
async fn tampered_method() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("GET", KEY).sign();
    let reply = h
        .expect_refusal("PUT", &url, &[], "overwritten", 403, "SignatureDoesNotMatch")
        .await;
    let canonical = reply.element("CanonicalRequest").unwrap();
    assert!(canonical.starts_with("PUT\n"), "{canonical}");
    h.expect_refusal("DELETE", &url, &[], "", 403, "SignatureDoesNotMatch")
        .await;
    h.expect_refusal("POST", &url, &[], "", 403, "SignatureDoesNotMatch")
        .await;

    // The object is untouched.
    let get = h.send("GET", &url, &[], "").await;
    assert_eq!(get.status, 200);
    assert_eq!(get.text(), CONTENTS);
}

#[tokio::test]
async fn tampered_query() {
    let h = harness_with_object(Options::default()).await;
    let url = h
        .presign("GET", KEY)
        .query("response-content-type", "text/plain")
        .sign();
    assert_accepted(&h, "GET", &url).await;

    // A signed value changed.
    h.expect_refusal(
        "GET",
        &url.with_param("response-content-type", "text%2Fhtml"),
        &[],
        "",
        403,
        "SignatureDoesNotMatch",
    )
    .await;
    // An unsigned parameter added.
    for extra in [
        "response-content-disposition=attachment",
        "versionId=1",
        "x-amz-acl=public-read",
    ] {
        h.expect_refusal("GET", &url.with_extra(extra), &[], "", 403, "SignatureDoesNotMatch")
            .await;
    }
    // A signed parameter removed.
    h.expect_refusal(
        "GET",
        &url.without_param("response-content-type"),
        &[],
        "",
        403,
        "SignatureDoesNotMatch",
    )
    .await;
    // A signed authentication parameter changed: X-Amz-Date one second off, still valid.
    let date = url.param("X-Amz-Date").unwrap().to_owned();
    let seconds: u32 = date[13..15].parse().unwrap();
    let other = if seconds < 59 { seconds + 1 } else { seconds - 1 };
    let shifted = format!("{}{other:02}Z", &date[..13]);
    h.expect_refusal(
        "GET",
        &url.with_param("X-Amz-Date", &shifted),
        &[],
        "",
        403,
        "SignatureDoesNotMatch",
    )
    .await;
}

#[tokio::test]
async fn expired() {
    let h = harness_with_object(Options::default()).await;
    let url = h
        .presign("GET", KEY)
        .at(now_plus(-2 * 3600))
        .expires_in(Duration::from_secs(3600))
        .sign();
    let reply = h.expect_refusal("GET", &url, &[], "", 403, "AccessDenied").await;
    assert_eq!(reply.message().as_deref(), Some("Request has expired"));
    assert!(reply.element("Expires").is_some(), "{}", reply.text());
    assert!(reply.element("ServerTime").is_some(), "{}", reply.text());
}

#[tokio::test]
async fn not_yet_valid() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("GET", KEY).at(now_plus(20 * 60)).sign();
    let reply = h.expect_refusal("GET", &url, &[], "", 403, "AccessDenied").await;
    assert_eq!(reply.message().as_deref(), Some("Request is not yet valid"));
}

#[tokio::test]
async fn expires_out_of_range() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("GET", KEY).sign();
    // The changed X-Amz-Expires also breaks the signature: the range check must come first.
    for expires in ["0", "-1", "604801", "abc", ""] {
        h.expect_refusal(
            "GET",
            &url.with_param("X-Amz-Expires", expires),
            &[],
            "",
            400,
            "AuthorizationQueryParametersError",
        )
        .await;
    }
}

#[tokio::test]
async fn wrong_region() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("GET", KEY).region("eu-west-1").sign();
    let reply = h
        .expect_refusal("GET", &url, &[], "", 400, "AuthorizationQueryParametersError")
        .await;
    assert_eq!(reply.element("Region").as_deref(), Some(REGION));
}

#[tokio::test]
async fn wrong_service() {
    let h = harness_with_object(Options::default()).await;
    for service in ["iam", "execute-api"] {
        let url = h.presign("GET", KEY).service(service).sign();
        h.expect_refusal("GET", &url, &[], "", 400, "AuthorizationQueryParametersError")
            .await;
    }
}

#[tokio::test]
async fn unknown_access_key() {
    let h = harness_with_object(Options::default()).await;
    let url = h
        .presign("GET", KEY)
        .credentials("NOSUCHKEYATALL", "some-secret-nobody-has")
        .sign();
    let reply = h.expect_refusal("GET", &url, &[], "", 403, "InvalidAccessKeyId").await;
    assert!(reply.element("StringToSign").is_none(), "{}", reply.text());

    // The right key id with the wrong secret is a mismatch, not an unknown key.
    let url = h
        .presign("GET", KEY)
        .credentials(common::CLIENT_KEY_ID, "not-the-client-secret")
        .sign();
    h.expect_refusal("GET", &url, &[], "", 403, "SignatureDoesNotMatch")
        .await;
}

#[tokio::test]
async fn duplicated_auth_parameter() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("GET", KEY).sign();
    for name in ["X-Amz-Signature", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires"] {
        let value = url.param(name).unwrap().to_owned();
        h.expect_refusal(
            "GET",
            &url.with_extra(&format!("{name}={value}")),
            &[],
            "",
            400,
            "AuthorizationQueryParametersError",
        )
        .await;
    }
    // A second spelling of the same parameter counts as a duplicate too.
    let value = url.param("X-Amz-Signature").unwrap().to_owned();
    h.expect_refusal(
        "GET",
        &url.with_extra(&format!("x-amz-signature={value}")),
        &[],
        "",
        400,
        "AuthorizationQueryParametersError",
    )
    .await;
}

#[tokio::test]
async fn unsigned_amz_headers_on_put() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("PUT", KEY).sign();
    for header in [("x-amz-copy-source", "guest-bucket/other"), ("x-amz-meta-foo", "bar")] {
        let reply = h
            .expect_refusal("PUT", &url, &[header], "replaced", 403, "AccessDenied")
            .await;
        assert_eq!(
            reply.message().as_deref(),
            Some("There were headers present in the request which were not signed")
        );
        assert_eq!(
            reply.element("HeadersNotSigned").as_deref(),
            Some(header.0),
            "{}",
            reply.text()
        );
    }

    // Signed, the same header is accepted and reaches the upstream.
    let signed = h.presign("PUT", KEY).header("x-amz-meta-foo", "bar").sign();
    let put = h.send("PUT", &signed, &[("x-amz-meta-foo", "bar")], "replaced").await;
    assert_eq!(put.status, 200, "{}", put.text());
    let seen = h.last_seen();
    assert_eq!(
        seen.headers.get("x-amz-meta-foo").map(|v| v.as_bytes()),
        Some(&b"bar"[..])
    );
}

#[tokio::test]
async fn no_authentication() {
    let h = harness_with_object(Options::default()).await;
    let host = format!("127.0.0.1:{}", h.port());
    let bare = SignedUrl {
        host: host.clone(),
        path_and_query: format!("/{BUCKET}/{}", encode_key(KEY)),
    };
    h.expect_refusal("GET", &bare, &[], "", 403, "AccessDenied").await;
    h.expect_refusal("PUT", &bare, &[], "anonymous", 403, "AccessDenied")
        .await;
    let vhost = SignedUrl {
        host: format!("{BUCKET}.{VHOST_DOMAIN}:{}", h.port()),
        path_and_query: format!("/{}", encode_key(KEY)),
    };
    h.expect_refusal("GET", &vhost, &[], "", 403, "AccessDenied").await;
    // A URL with the signature stripped is not anonymous: the rest still names a signer.
    let url = h.presign("GET", KEY).sign();
    h.expect_refusal(
        "GET",
        &url.without_param("X-Amz-Signature"),
        &[],
        "",
        400,
        "AuthorizationQueryParametersError",
    )
    .await;
}

#[tokio::test]
async fn query_auth_with_authorization_header() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("GET", KEY).sign();
    let date = url.param("X-Amz-Date").unwrap();
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{}/{REGION}/s3/aws4_request, SignedHeaders=host, Signature={}",
        common::CLIENT_KEY_ID,
        &date[..8],
        "0".repeat(64)
    );
    h.expect_refusal(
        "GET",
        &url,
        &[("authorization", authorization.as_str())],
        "",
        400,
        "InvalidArgument",
    )
    .await;
}

#[tokio::test]
async fn head_refusal_has_status_and_no_body() {
    let h = harness_with_object(Options::default()).await;
    let url = h.presign("HEAD", KEY).sign();
    assert_accepted(&h, "HEAD", &url).await;
    for (url, status) in [
        (flip_signature(&url), 403),
        (url.with_param("X-Amz-Expires", "0"), 400),
        (h.presign("HEAD", KEY).at(now_plus(-7200)).sign(), 403),
    ] {
        let reply = h.expect_refusal("HEAD", &url, &[], "", status, "").await;
        assert!(reply.body.is_empty(), "{reply:?}");
    }
}

#[tokio::test]
async fn mismatch_details_can_be_turned_off() {
    let h = harness_with_object(Options {
        mismatch_details: false,
        ..Options::default()
    })
    .await;
    let url = h.presign("GET", KEY).sign();
    let reply = h
        .expect_refusal("GET", &flip_signature(&url), &[], "", 403, "SignatureDoesNotMatch")
        .await;
    for hidden in [
        "StringToSign",
        "StringToSignBytes",
        "CanonicalRequest",
        "CanonicalRequestBytes",
        "SignatureProvided",
    ] {
        assert!(reply.element(hidden).is_none(), "{hidden}: {}", reply.text());
    }
}

#[tokio::test]
async fn mismatch_body_reveals_nothing_that_signs() {
    // `expect_refusal` checks every refusal for both secrets. A mismatch body must also not
    // carry the signing key or the signature the gateway expected: either would let anyone
    // turn one refused request into a valid one.
    let h = harness_with_object(Options::default()).await;
    let at = SystemTime::now();
    let url = h.presign("GET", KEY).at(at).sign();
    let forged_path = format!("/{BUCKET}/docs/secret-plans.txt");
    let would_be_valid = h.presign("GET", "docs/secret-plans.txt").at(at).sign();
    assert_eq!(would_be_valid.path(), forged_path);
    let expected = would_be_valid.param("X-Amz-Signature").unwrap().to_owned();

    let reply = h
        .expect_refusal(
            "GET",
            &url.with_path(&forged_path),
            &[],
            "",
            403,
            "SignatureDoesNotMatch",
        )
        .await;
    assert_signature_mismatch_details(&reply);
    let body = reply.text();
    assert!(!body.contains(&expected), "expected signature leaked: {body}");
    let signing_key = generate_signing_key(CLIENT_SECRET, at, REGION, "s3");
    let signing_key = hex::encode(signing_key.as_ref());
    assert!(!body.contains(&signing_key), "signing key leaked: {body}");
    assert!(!body.to_ascii_lowercase().contains(&signing_key));
}

#[tokio::test]
async fn embedded_store_refuses_dot_segments() {
    let h = Harness::start_with(Options {
        embedded: true,
        ..Options::default()
    })
    .await;
    // Control: an ordinary key is stored where expected.
    let ok = h.send("PUT", &h.presign("PUT", "fine.txt").sign(), &[], "fine").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(h.data_dir.join(BUCKET).join("fine.txt").is_file());

    for (key, would_land_at) in [
        ("../other-bucket/x".to_owned(), h.data_dir.join(OTHER_BUCKET).join("x")),
        ("a/./b".to_owned(), h.data_dir.join(BUCKET).join("a/b")),
        ("a/../../x".to_owned(), h.data_dir.join("x")),
    ] {
        let url = h.presign("PUT", &key).sign();
        let reply = h
            .expect_refusal("PUT", &url, &[], "escaped", 400, "InvalidArgument")
            .await;
        assert!(
            reply.text().contains("<ArgumentName>key</ArgumentName>"),
            "{}",
            reply.text()
        );
        assert!(
            !would_land_at.exists(),
            "{key:?} was written to {}",
            would_land_at.display()
        );
    }
}

#[tokio::test]
async fn embedded_store_refuses_absolute_keys() {
    // s3s-fs joins the key onto the bucket folder; a key that starts with `/` replaces the
    // bucket folder, and is accepted if it names a path under the data folder: another
    // bucket. The request must be refused like a `..` key.
    let h = Harness::start_with(Options {
        embedded: true,
        ..Options::default()
    })
    .await;
    let root = h.data_dir.canonicalize().expect("data dir");
    let target = root.join(OTHER_BUCKET).join("x");
    let key = target.to_str().expect("UTF-8 path").to_owned();
    assert!(key.starts_with('/'), "{key}");
    let url = h.presign("PUT", &key).sign();
    assert!(url.path().starts_with(&format!("/{BUCKET}//")), "{url:?}");
    h.expect_refusal("PUT", &url, &[], "escaped", 400, "InvalidArgument")
        .await;
    assert!(!target.exists(), "{key:?} was written to another bucket");
}
