//! Browser POST uploads (multipart/form-data with a signed policy), end to end through the
//! gateway to a real upstream that has no POST support: the file arrives there as a PUT.
//!
//! Forms are written out here byte by byte, and their policies signed here: SigV4 with the
//! HMAC chain of "Browser-Based Uploads Using POST (AWS Signature Version 4)" (the signing
//! key from `aws-sigv4`), SigV2 as base64 HMAC-SHA1 of the base64 policy.
//!
//! A form is judged from the fields before its file; every refusal that can be decided
//! there (signature, policy, content-length-range, scopes, rules) asserts that the upstream
//! received nothing. A form whose layout only proves wrong while the file streams (a field
//! after the file, a truncated body) asserts instead that no object exists afterwards.

mod common;

use std::time::{Duration, SystemTime};

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use common::{
    amz_date, Harness, Options, PatternBody, Reply, SignedUrl, BUCKET, CLIENT_KEY_ID, CLIENT_SECRET, OTHER_BUCKET,
    REGION,
};

const BOUNDARY: &str = "----guestpassFormBoundary7MA4YWxkTrZu0gW";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn assert_status(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.text());
}

/// ISO 8601 with milliseconds, as boto3 writes a policy's expiration.
fn iso8601(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap()
}

/// A form field list, in order.
type Fields = Vec<(String, String)>;

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
}

/// What a SigV4 POST form is made of.
struct PostV4 {
    time: SystemTime,
    access_key_id: String,
    secret: String,
    expiration: SystemTime,
    /// Conditions besides the bucket and the signing fields.
    conditions: Vec<Value>,
    /// Whether the policy binds x-amz-algorithm, x-amz-credential and x-amz-date.
    bind_signing_fields: bool,
}

impl PostV4 {
    fn new(conditions: Vec<Value>) -> PostV4 {
        PostV4 {
            time: SystemTime::now(),
            access_key_id: CLIENT_KEY_ID.to_owned(),
            secret: CLIENT_SECRET.to_owned(),
            expiration: SystemTime::now() + Duration::from_secs(3600),
            conditions,
            bind_signing_fields: true,
        }
    }

    fn credential(&self) -> String {
        format!(
            "{}/{}/{REGION}/s3/aws4_request",
            self.access_key_id,
            &amz_date(self.time)[..8]
        )
    }

    fn policy_json(&self) -> String {
        let mut conditions = vec![json!({ "bucket": BUCKET })];
        conditions.extend(self.conditions.iter().cloned());
        if self.bind_signing_fields {
            conditions.push(json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }));
            conditions.push(json!({ "x-amz-credential": self.credential() }));
            conditions.push(json!({ "x-amz-date": amz_date(self.time) }));
        }
        json!({ "expiration": iso8601(self.expiration), "conditions": conditions }).to_string()
    }

    /// The signing fields for the policy document `policy_json` (which need not be this
    /// one's: malformed documents are signed too).
    fn sign_json(&self, policy_json: &str) -> Fields {
        let policy = b64(policy_json.as_bytes());
        let key = generate_signing_key(&self.secret, self.time, REGION, "s3");
        let signature = calculate_signature(key, policy.as_bytes());
        fields(&[
            ("Policy", &policy),
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", &self.credential()),
            ("X-Amz-Date", &amz_date(self.time)),
            ("X-Amz-Signature", &signature),
        ])
    }

    /// `form` fields followed by the signed policy's fields.
    fn fields(&self, form: &[(&str, &str)]) -> Fields {
        let mut out = fields(form);
        out.extend(self.sign_json(&self.policy_json()));
        out
    }
}

/// A multipart/form-data body: `fields`, then the file part.
fn form_body(fields: &Fields, file_name: &str, file_type: Option<&str>, file: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(file.len() + 4096);
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n")
            .as_bytes(),
    );
    if let Some(t) = file_type {
        body.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn bucket_url(h: &Harness, bucket: &str) -> SignedUrl {
    SignedUrl {
        host: format!("127.0.0.1:{}", h.port()),
        path_and_query: format!("/{bucket}"),
    }
}

const FORM_TYPE: &str = "multipart/form-data; boundary=----guestpassFormBoundary7MA4YWxkTrZu0gW";

async fn post(h: &Harness, bucket: &str, body: Vec<u8>) -> Reply {
    h.send("POST", &bucket_url(h, bucket), &[("content-type", FORM_TYPE)], body)
        .await
}

/// Posts a form the gateway must refuse before the upstream sees anything.
async fn refused(h: &Harness, bucket: &str, body: Vec<u8>, status: u16, code: &str) -> Reply {
    h.expect_refusal(
        "POST",
        &bucket_url(h, bucket),
        &[("content-type", FORM_TYPE)],
        body,
        status,
        code,
    )
    .await
}

/// Posts a form whose file part fails while it streams: the upstream PUT has started, so
/// what is asserted is that no object exists afterwards.
async fn refused_while_streaming(h: &Harness, body: Vec<u8>, key: &str) -> Reply {
    let reply = post(h, BUCKET, body).await;
    assert_status(&reply, 400, key);
    assert_eq!(
        reply.code().as_deref(),
        Some("MalformedPOSTRequest"),
        "{}",
        reply.text()
    );
    h.assert_no_object(BUCKET, key).await;
    reply
}

fn uploads_policy() -> PostV4 {
    PostV4::new(vec![
        json!(["starts-with", "$key", "uploads/"]),
        json!(["starts-with", "$Content-Type", ""]),
    ])
}

// ---------------------------------------------------------------------------------------
// Accepted forms and S3's answers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_upload_is_stored_byte_exact() {
    let h = Harness::start().await;
    let file = PatternBody::chunk(0, 300 * 1024 + 7);
    let form = uploads_policy().fields(&[("key", "uploads/report.bin"), ("Content-Type", "application/pdf")]);
    let reply = post(
        &h,
        BUCKET,
        form_body(&form, "report.pdf", Some("application/pdf"), &file),
    )
    .await;
    assert_status(&reply, 204, "default answer");
    assert!(reply.body.is_empty());
    let etag = reply.header("etag").expect("ETag");
    let location = reply.header("location").expect("Location");
    assert!(
        location.ends_with(&format!("/{BUCKET}/uploads/report.bin")),
        "{location}"
    );

    // The upstream got a plain PUT of the file's exact length.
    let seen = h.last_seen();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.decoded_path(), format!("/{BUCKET}/uploads/report.bin"));
    assert_eq!(seen.headers["content-length"], file.len().to_string().as_str());
    assert_eq!(seen.headers["content-type"], "application/pdf");
    h.assert_object(BUCKET, "uploads/report.bin", &file).await;
    let head = h
        .send("HEAD", &h.presign("HEAD", "uploads/report.bin").sign(), &[], "")
        .await;
    assert_eq!(head.header("etag").as_deref(), Some(etag.as_str()));
    assert_eq!(head.header("content-type").as_deref(), Some("application/pdf"));
}

#[tokio::test]
async fn success_action_status() {
    let h = Harness::start().await;
    let mut policy = uploads_policy();
    policy
        .conditions
        .push(json!(["starts-with", "$success_action_status", ""]));

    let form = policy.fields(&[("key", "uploads/201.txt"), ("success_action_status", "201")]);
    let reply = post(&h, BUCKET, form_body(&form, "a.txt", Some("text/plain"), b"created")).await;
    assert_status(&reply, 201, "success_action_status 201");
    assert!(reply.text().contains("<PostResponse>"), "{}", reply.text());
    assert_eq!(reply.element("Bucket").as_deref(), Some(BUCKET));
    assert_eq!(reply.element("Key").as_deref(), Some("uploads/201.txt"));
    let etag = reply.element("ETag").expect("ETag");
    assert_eq!(reply.header("etag"), Some(etag.clone()));
    assert!(reply
        .element("Location")
        .unwrap_or_default()
        .ends_with(&format!("/{BUCKET}/uploads/201.txt")));
    h.assert_object(BUCKET, "uploads/201.txt", b"created").await;

    let form = policy.fields(&[("key", "uploads/200.txt"), ("success_action_status", "200")]);
    let reply = post(&h, BUCKET, form_body(&form, "a.txt", None, b"ok")).await;
    assert_status(&reply, 200, "success_action_status 200");
    assert!(reply.body.is_empty(), "{}", reply.text());
    h.assert_object(BUCKET, "uploads/200.txt", b"ok").await;

    // Anything else is the default, 204.
    let form = policy.fields(&[("key", "uploads/204.txt"), ("success_action_status", "299")]);
    let reply = post(&h, BUCKET, form_body(&form, "a.txt", None, b"none")).await;
    assert_status(&reply, 204, "success_action_status 299");
    h.assert_object(BUCKET, "uploads/204.txt", b"none").await;
}

#[tokio::test]
async fn success_action_redirect() {
    let h = Harness::start().await;
    let mut policy = uploads_policy();
    policy.conditions.push(json!([
        "starts-with",
        "$success_action_redirect",
        "https://app.example.com/"
    ]));
    let form = policy.fields(&[
        ("key", "uploads/redirect me.txt"),
        ("success_action_redirect", "https://app.example.com/done?from=form"),
    ]);
    let reply = post(&h, BUCKET, form_body(&form, "a.txt", None, b"redirected")).await;
    assert_status(&reply, 303, "success_action_redirect");
    let location = reply.header("location").expect("Location");
    assert!(
        location.starts_with("https://app.example.com/done?from=form&"),
        "{location}"
    );
    assert!(location.contains(&format!("bucket={BUCKET}")), "{location}");
    assert!(location.contains("key=uploads%2Fredirect%20me.txt"), "{location}");
    let etag = h
        .send("HEAD", &h.presign("HEAD", "uploads/redirect me.txt").sign(), &[], "")
        .await
        .header("etag")
        .expect("ETag");
    assert!(
        location.contains(&format!("etag={}", common::encode_query(&etag))),
        "{location} lacks {etag}"
    );
    h.assert_object(BUCKET, "uploads/redirect me.txt", b"redirected").await;
}

#[tokio::test]
async fn filename_is_substituted_into_the_key() {
    let h = Harness::start().await;
    let form = uploads_policy().fields(&[("key", "uploads/${filename}")]);
    let reply = post(
        &h,
        BUCKET,
        form_body(&form, "holiday photo.jpg", Some("image/jpeg"), b"jpeg"),
    )
    .await;
    assert_status(&reply, 204, "${filename}");
    assert_eq!(
        h.last_seen().decoded_path(),
        format!("/{BUCKET}/uploads/holiday photo.jpg")
    );
    h.assert_object(BUCKET, "uploads/holiday photo.jpg", b"jpeg").await;
    // Without a Content-Type field, the file part's type is the object's.
    let head = h
        .send("HEAD", &h.presign("HEAD", "uploads/holiday photo.jpg").sign(), &[], "")
        .await;
    assert_eq!(head.header("content-type").as_deref(), Some("image/jpeg"));

    // The policy is checked against the substituted key.
    let form = uploads_policy().fields(&[("key", "${filename}")]);
    let reply = refused(
        &h,
        BUCKET,
        form_body(&form, "a.jpg", None, b"jpeg"),
        403,
        "AccessDenied",
    )
    .await;
    assert!(reply.message().unwrap_or_default().contains("$key"), "{}", reply.text());
}

#[tokio::test]
async fn exempt_and_case_insensitive_fields() {
    let h = Harness::start().await;
    let mut policy = uploads_policy();
    policy.conditions.push(json!({ "acl": "private" }));
    policy
        .conditions
        .push(json!(["starts-with", "$x-amz-meta-owner", "team-"]));
    let form = policy.fields(&[
        ("KEY", "uploads/meta.txt"),
        ("ACL", "private"),
        ("X-Amz-Meta-Owner", "team-blue"),
        ("x-ignore-tracking", "anything"),
        ("Content-Type", "text/plain"),
    ]);
    let reply = post(&h, BUCKET, form_body(&form, "m.txt", None, b"meta")).await;
    assert_status(&reply, 204, "mixed-case fields");
    let seen = h.last_seen();
    assert_eq!(seen.headers["x-amz-meta-owner"], "team-blue");
    assert_eq!(seen.headers["x-amz-acl"], "private");
    assert!(seen.headers.get("x-ignore-tracking").is_none());
    h.assert_object(BUCKET, "uploads/meta.txt", b"meta").await;
}

// ---------------------------------------------------------------------------------------
// Each condition, failed

#[tokio::test]
async fn failed_conditions() {
    let h = Harness::start().await;
    let file = b"should never be stored".to_vec();
    let mut policy = uploads_policy();
    policy.conditions.push(json!(["eq", "$acl", "private"]));
    let message = |reply: &Reply| reply.message().unwrap_or_default();

    // eq mismatch.
    let form = policy.fields(&[("key", "uploads/a.txt"), ("acl", "public-read")]);
    let reply = refused(&h, BUCKET, form_body(&form, "a", None, &file), 403, "AccessDenied").await;
    assert_eq!(
        message(&reply),
        "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$acl\", \"private\"]"
    );
    // A field the eq names, missing.
    let form = policy.fields(&[("key", "uploads/a.txt")]);
    refused(&h, BUCKET, form_body(&form, "a", None, &file), 403, "AccessDenied").await;

    // starts-with on the key.
    let form = policy.fields(&[("key", "other/a.txt"), ("acl", "private")]);
    let reply = refused(&h, BUCKET, form_body(&form, "a", None, &file), 403, "AccessDenied").await;
    assert_eq!(
        message(&reply),
        "Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$key\", \"uploads/\"]"
    );

    // The bucket the form is posted to is a condition too.
    let form = policy.fields(&[("key", "uploads/a.txt"), ("acl", "private")]);
    let reply = refused(
        &h,
        OTHER_BUCKET,
        form_body(&form, "a", None, &file),
        403,
        "AccessDenied",
    )
    .await;
    assert!(message(&reply).contains("$bucket"), "{}", reply.text());

    // A Content-Type starts-with holds only if every comma-separated item matches.
    let images = PostV4::new(vec![
        json!(["starts-with", "$key", "uploads/"]),
        json!(["starts-with", "$Content-Type", "image/"]),
    ]);
    let form = images.fields(&[("key", "uploads/a.png"), ("Content-Type", "image/png, text/html")]);
    let reply = refused(&h, BUCKET, form_body(&form, "a", None, &file), 403, "AccessDenied").await;
    assert!(message(&reply).contains("$content-type"), "{}", reply.text());
    let form = images.fields(&[("key", "uploads/a.png"), ("Content-Type", "text/html")]);
    refused(&h, BUCKET, form_body(&form, "a", None, &file), 403, "AccessDenied").await;
    let form = images.fields(&[("key", "uploads/ab.png"), ("Content-Type", "image/png, image/webp")]);
    assert_status(
        &post(&h, BUCKET, form_body(&form, "a", None, b"two images")).await,
        204,
        "every item matches",
    );

    // A field no condition covers.
    let form = policy.fields(&[
        ("key", "uploads/a.txt"),
        ("acl", "private"),
        ("x-amz-meta-tag", "sneaky"),
    ]);
    let reply = refused(&h, BUCKET, form_body(&form, "a", None, &file), 403, "AccessDenied").await;
    assert_eq!(
        message(&reply),
        "Invalid according to Policy: Extra input fields: x-amz-meta-tag"
    );
    // The signing fields must be bound by the policy too.
    let mut unbound = uploads_policy();
    unbound.bind_signing_fields = false;
    let form = unbound.fields(&[("key", "uploads/a.txt")]);
    let reply = refused(&h, BUCKET, form_body(&form, "a", None, &file), 403, "AccessDenied").await;
    let m = message(&reply);
    assert!(
        m.starts_with("Invalid according to Policy: Extra input fields: "),
        "{m}"
    );
    for name in ["x-amz-algorithm", "x-amz-credential", "x-amz-date"] {
        assert!(m.contains(name), "{m}");
    }

    // Expired.
    let mut expired = uploads_policy();
    expired.expiration = SystemTime::now() - Duration::from_secs(60);
    let form = expired.fields(&[("key", "uploads/a.txt")]);
    let reply = refused(&h, BUCKET, form_body(&form, "a", None, &file), 403, "AccessDenied").await;
    assert_eq!(message(&reply), "Invalid according to Policy: Policy expired.");

    h.assert_no_object(BUCKET, "uploads/a.txt").await;
}

#[tokio::test]
async fn content_length_range() {
    let h = Harness::start().await;
    let policy = PostV4::new(vec![
        json!(["starts-with", "$key", "uploads/"]),
        json!(["content-length-range", 10, 1024]),
    ]);
    let form = policy.fields(&[("key", "uploads/sized.bin")]);

    // Too large: refused from the form's Content-Length, before the upstream sees the file
    // (or anything).
    let reply = refused(
        &h,
        BUCKET,
        form_body(&form, "f", None, &vec![1u8; 1025]),
        400,
        "EntityTooLarge",
    )
    .await;
    assert_eq!(reply.element("MaxSizeAllowed").as_deref(), Some("1024"));
    assert_eq!(reply.element("ProposedSize").as_deref(), Some("1025"));
    let big = PatternBody::chunk(0, 2 << 20);
    refused(&h, BUCKET, form_body(&form, "f", None, &big), 400, "EntityTooLarge").await;
    let reply = refused(
        &h,
        BUCKET,
        form_body(&form, "f", None, b"123456789"),
        400,
        "EntityTooSmall",
    )
    .await;
    assert_eq!(reply.element("MinSizeAllowed").as_deref(), Some("10"));
    h.assert_no_object(BUCKET, "uploads/sized.bin").await;

    for len in [10, 1024] {
        let file = vec![2u8; len];
        assert_status(
            &post(&h, BUCKET, form_body(&form, "f", None, &file)).await,
            204,
            &format!("{len} bytes"),
        );
        h.assert_object(BUCKET, "uploads/sized.bin", &file).await;
    }
}

#[tokio::test]
async fn bad_signatures_and_keys() {
    let h = Harness::start().await;
    let policy = uploads_policy();
    let file = b"never stored".to_vec();
    let set = |form: &mut Fields, name: &str, value: &str| {
        form.iter_mut().find(|(n, _)| n == name).unwrap().1 = value.to_owned();
    };

    let mut form = policy.fields(&[("key", "uploads/sig.txt")]);
    let sig = form.iter().find(|(n, _)| n == "X-Amz-Signature").unwrap().1.clone();
    let flipped = format!("{}{}", if sig.starts_with('0') { "1" } else { "0" }, &sig[1..]);
    set(&mut form, "X-Amz-Signature", &flipped);
    refused(
        &h,
        BUCKET,
        form_body(&form, "a", None, &file),
        403,
        "SignatureDoesNotMatch",
    )
    .await;

    // The policy changed after signing (a longer expiry).
    let mut form = policy.fields(&[("key", "uploads/sig.txt")]);
    let mut later = uploads_policy();
    later.expiration = SystemTime::now() + Duration::from_secs(86400 * 30);
    set(&mut form, "Policy", &b64(later.policy_json().as_bytes()));
    refused(
        &h,
        BUCKET,
        form_body(&form, "a", None, &file),
        403,
        "SignatureDoesNotMatch",
    )
    .await;

    // Signed with another secret.
    let mut wrong = uploads_policy();
    wrong.secret = "not-the-client-secret".to_owned();
    let form = wrong.fields(&[("key", "uploads/sig.txt")]);
    refused(
        &h,
        BUCKET,
        form_body(&form, "a", None, &file),
        403,
        "SignatureDoesNotMatch",
    )
    .await;

    // An access key the gateway does not know.
    let mut unknown = uploads_policy();
    unknown.access_key_id = "NOSUCHKEYID".to_owned();
    let form = unknown.fields(&[("key", "uploads/sig.txt")]);
    let reply = refused(
        &h,
        BUCKET,
        form_body(&form, "a", None, &file),
        403,
        "InvalidAccessKeyId",
    )
    .await;
    assert_eq!(reply.element("AWSAccessKeyId").as_deref(), Some("NOSUCHKEYID"));

    // SigV4 and SigV2 fields in one form; a form that also carries an Authorization header.
    let mut both = policy.fields(&[("key", "uploads/sig.txt")]);
    both.push(("AWSAccessKeyId".to_owned(), CLIENT_KEY_ID.to_owned()));
    both.push(("signature".to_owned(), "AAAA".to_owned()));
    refused(&h, BUCKET, form_body(&both, "a", None, &file), 400, "InvalidArgument").await;
    let form = policy.fields(&[("key", "uploads/sig.txt")]);
    h.expect_refusal(
        "POST",
        &bucket_url(&h, BUCKET),
        &[
            ("content-type", FORM_TYPE),
            ("authorization", "AWS GUESTCLIENTKEY:AAAA"),
        ],
        form_body(&form, "a", None, &file),
        400,
        "InvalidArgument",
    )
    .await;

    h.assert_no_object(BUCKET, "uploads/sig.txt").await;
}

#[tokio::test]
async fn malformed_policies() {
    let h = Harness::start().await;
    let signer = uploads_policy();
    let exp = iso8601(SystemTime::now() + Duration::from_secs(3600));
    let key_cond = r#"["starts-with","$key","uploads/"]"#;
    for document in [
        format!(r#"{{"conditions":[{key_cond}]}}"#),
        format!(r#"{{"expiration":"{exp}"}}"#),
        format!(r#"{{"expiration":"next tuesday","conditions":[{key_cond}]}}"#),
        format!(r#"{{"expiration":"2030-13-45T00:00:00Z","conditions":[{key_cond}]}}"#),
        format!(r#"{{"Expiration":"{exp}","conditions":[{key_cond}]}}"#),
        format!(r#"{{"expiration":"{exp}","Conditions":[{key_cond}]}}"#),
        format!(r#"{{"expiration":"{exp}","conditions":[{key_cond},["content-length-range",100,10]]}}"#),
        format!(r#"{{"expiration":"{exp}","conditions":[{key_cond},["content-length-range",-1,10]]}}"#),
        format!(r#"{{"expiration":"{exp}","conditions":[{key_cond},["matches","$acl","x"]]}}"#),
        format!(r#"{{"expiration":"{exp}","conditions":[{key_cond}]"#),
        "not json at all".to_owned(),
    ] {
        let mut form = fields(&[("key", "uploads/malformed.txt")]);
        form.extend(signer.sign_json(&document));
        let reply = refused(
            &h,
            BUCKET,
            form_body(&form, "a", None, b"x"),
            400,
            "InvalidPolicyDocument",
        )
        .await;
        assert!(reply.message().is_some(), "{document}: {}", reply.text());
    }
    // Not base64.
    let mut form = fields(&[("key", "uploads/malformed.txt")]);
    form.extend(signer.sign_json("{}"));
    form.iter_mut().find(|(n, _)| n == "Policy").unwrap().1 = "%%%not base64%%%".to_owned();
    let sig = {
        let key = generate_signing_key(CLIENT_SECRET, signer.time, REGION, "s3");
        calculate_signature(key, b"%%%not base64%%%")
    };
    form.iter_mut().find(|(n, _)| n == "X-Amz-Signature").unwrap().1 = sig;
    refused(
        &h,
        BUCKET,
        form_body(&form, "a", None, b"x"),
        400,
        "InvalidPolicyDocument",
    )
    .await;
    h.assert_no_object(BUCKET, "uploads/malformed.txt").await;
}

// ---------------------------------------------------------------------------------------
// Malformed forms

#[tokio::test]
async fn field_after_the_file() {
    let h = Harness::start().await;
    let form = uploads_policy().fields(&[("key", "uploads/late-field.bin")]);
    let file = PatternBody::chunk(0, 20_000);
    let mut body = form_body(&form, "f", None, &file);
    // Replace the closing boundary with one more field and then the close.
    body.truncate(body.len() - format!("--{BOUNDARY}--\r\n").len());
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"acl\"\r\n\r\npublic-read\r\n--{BOUNDARY}--\r\n"
        )
        .as_bytes(),
    );
    refused_while_streaming(&h, body, "uploads/late-field.bin").await;
}

#[tokio::test]
async fn truncated_form() {
    let h = Harness::start().await;
    let file = PatternBody::chunk(0, 20_000);
    for (i, cut) in [100usize, 5000, BOUNDARY.len() + 4].into_iter().enumerate() {
        let key = format!("uploads/truncated-{i}.bin");
        let form = uploads_policy().fields(&[("key", &key)]);
        let mut body = form_body(&form, "f", None, &file);
        body.truncate(body.len() - cut);
        refused_while_streaming(&h, body, &key).await;
    }
    // Cut inside the fields: nothing is sent upstream at all.
    let form = uploads_policy().fields(&[("key", "uploads/cut.bin")]);
    let body = form_body(&form, "f", None, &file);
    let cut = body.len() - file.len() - 300;
    refused(&h, BUCKET, body[..cut].to_vec(), 400, "MalformedPOSTRequest").await;
}

// ---------------------------------------------------------------------------------------
// SigV2 forms

fn sigv2(secret: &str, policy_b64: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(policy_b64.as_bytes());
    b64(&mac.finalize().into_bytes())
}

fn v2_form(key: &str, secret: &str) -> Fields {
    let policy = json!({
        "expiration": iso8601(SystemTime::now() + Duration::from_secs(3600)),
        "conditions": [{ "bucket": BUCKET }, ["starts-with", "$key", "uploads/"]],
    })
    .to_string();
    let policy = b64(policy.as_bytes());
    fields(&[
        ("key", key),
        ("AWSAccessKeyId", CLIENT_KEY_ID),
        ("policy", &policy),
        ("signature", &sigv2(secret, &policy)),
    ])
}

#[tokio::test]
async fn sigv2_form() {
    let h = Harness::start().await;
    let form = v2_form("uploads/v2.txt", CLIENT_SECRET);
    assert_status(
        &post(
            &h,
            BUCKET,
            form_body(&form, "v2.txt", Some("text/plain"), b"sigv2 form"),
        )
        .await,
        204,
        "SigV2 form",
    );
    h.assert_object(BUCKET, "uploads/v2.txt", b"sigv2 form").await;

    let form = v2_form("uploads/v2-bad.txt", "not-the-client-secret");
    refused(
        &h,
        BUCKET,
        form_body(&form, "v2.txt", None, b"x"),
        403,
        "SignatureDoesNotMatch",
    )
    .await;
    let form = v2_form("elsewhere/v2.txt", CLIENT_SECRET);
    refused(&h, BUCKET, form_body(&form, "v2.txt", None, b"x"), 403, "AccessDenied").await;

    let off = Harness::start_with(Options {
        auth_toml: "sigv2 = false".to_owned(),
        ..Options::default()
    })
    .await;
    let form = v2_form("uploads/v2.txt", CLIENT_SECRET);
    refused(
        &off,
        BUCKET,
        form_body(&form, "v2.txt", None, b"x"),
        400,
        "InvalidRequest",
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// The gateway's own policy applies to forms as to PUTs

#[tokio::test]
async fn scopes_and_rules_apply_to_forms() {
    let h = Harness::start_with(Options {
        credentials_toml: r#"
[[credentials.scopes]]
bucket = "guest-bucket"
prefix = "uploads/"
actions = ["write", "read"]
"#
        .to_owned(),
        policy_toml: r#"
[[rules]]
bucket = "guest-bucket"
prefix = "uploads/avatars/"
max_size = "1KiB"
content_types = ["image/*"]
"#
        .to_owned(),
        ..Options::default()
    })
    .await;
    // A policy that allows anything: what refuses below is the gateway's own policy.
    let open = PostV4::new(vec![
        json!(["starts-with", "$key", ""]),
        json!(["starts-with", "$Content-Type", ""]),
    ]);

    let form = open.fields(&[("key", "private/x.txt")]);
    refused(&h, BUCKET, form_body(&form, "x", None, b"x"), 403, "AccessDenied").await;
    let form = open.fields(&[("key", "uploads/avatars/big.png"), ("Content-Type", "image/png")]);
    let reply = refused(
        &h,
        BUCKET,
        form_body(&form, "big.png", None, &vec![0u8; 1025]),
        400,
        "EntityTooLarge",
    )
    .await;
    assert_eq!(reply.element("MaxSizeAllowed").as_deref(), Some("1024"));
    let form = open.fields(&[("key", "uploads/avatars/page.html"), ("Content-Type", "text/html")]);
    refused(
        &h,
        BUCKET,
        form_body(&form, "page.html", None, b"<html>"),
        403,
        "AccessDenied",
    )
    .await;
    // The file part's own type counts when there is no Content-Type field.
    let form = open.fields(&[("key", "uploads/avatars/page.html")]);
    refused(
        &h,
        BUCKET,
        form_body(&form, "page.html", Some("text/html"), b"<html>"),
        403,
        "AccessDenied",
    )
    .await;

    let form = open.fields(&[("key", "uploads/avatars/ok.png"), ("Content-Type", "image/png")]);
    let image = vec![0x89u8; 1024];
    assert_status(
        &post(&h, BUCKET, form_body(&form, "ok.png", None, &image)).await,
        204,
        "within scope and rule",
    );
    h.assert_object(BUCKET, "uploads/avatars/ok.png", &image).await;
}
