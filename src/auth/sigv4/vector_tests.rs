//! The AWS Signature Version 4 test vectors in `testdata/sigv4` (see its README for where
//! each suite comes from), checked against our canonicalisation and signing code.
//!
//! One test per suite walks its folder (or JSON list): a new vector is a new folder or
//! entry, not new code. Each test collects every mismatch before failing, so one run
//! shows all broken vectors at once.
//!
//! The two generic suites (`aws-c-auth/v4`, `aws-sig-v4-test-suite`) are written for
//! services that normalise the path (remove `.`/`..` segments and empty segments). S3 never
//! does: `/a//b/../c` names that exact key. A vector whose path changes under normalisation
//! therefore expects non-S3 behaviour; we still check everything else in it by letting the
//! test normalise the path before handing it to our (S3) code, and each test asserts the
//! exact list of such vectors so a parsing slip cannot quietly turn them all into skips.

use std::fs;
use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::canonical::{write_string_to_sign, CanonicalQuery, CanonicalRequest, CredentialScopeRef};
use super::key::SigningKey;
use crate::auth::credentials::{Credential, CredentialStore};
use crate::auth::{AuthScheme, AuthSettings, Authenticator, RequestView};
use crate::response::S3ErrorCode;
use crate::secret::Secret;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sigv4");

/// The `aws-c-auth` cases whose `normalize: true` path changes under normalisation.
const AWS_C_AUTH_NORMALISED: &[&str] = &[
    "get-relative-normalized",
    "get-relative-relative-normalized",
    "get-slash-dot-slash-normalized",
    "get-slash-normalized",
    "get-slash-pointless-dot-normalized",
    "get-slashes-normalized",
];

/// The classic-suite cases whose path changes under normalisation (all of
/// `normalize-path/` but `get-space`, whose path has nothing to normalise).
const CLASSIC_NORMALISED: &[&str] = &[
    "normalize-path/get-relative",
    "normalize-path/get-relative-relative",
    "normalize-path/get-slash",
    "normalize-path/get-slash-dot-slash",
    "normalize-path/get-slash-pointless-dot",
    "normalize-path/get-slashes",
];

/// The classic suite's fixed parameters (its README; there is no per-case context).
const CLASSIC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const CLASSIC_ACCESS_KEY: &str = "AKIDEXAMPLE";
const CLASSIC_REGION: &str = "us-east-1";
const CLASSIC_SERVICE: &str = "service";
const CLASSIC_DATE: &str = "20150830T123600Z";

/// How a header line that starts with white space is read. The two generic suites
/// disagree, so each test says which its files mean. Neither reading reaches the gateway:
/// HTTP/1.1 parsers (httparse, under hyper) refuse obs-fold in requests, and HTTP/2 has none.
#[derive(Clone, Copy)]
enum Fold {
    /// RFC 7230 obs-fold: the line continues the previous value, joined by a space
    /// (`aws-c-auth`: `my-header1:value1 value2 value3`).
    Space,
    /// The line is one more value of the previous header (the classic suite, whose
    /// canonical request is `my-header1:value1,value2,value3`).
    NewValue,
}

/// An HTTP/1.1 request as the vector files spell it.
struct RawRequest {
    method: String,
    path: String,
    /// Without the `?`; empty when there is none.
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl RawRequest {
    /// Parses `METHOD target HTTP/1.1`, header lines (repeated names are appended in
    /// order; continuation lines as `fold` says), a blank line, and the body.
    fn parse(text: &str, fold: Fold) -> RawRequest {
        let (head, body) = text.split_once("\n\n").unwrap_or((text.trim_end_matches('\n'), ""));
        let mut lines = head.lines();
        let request_line = lines.next().expect("request line");
        // The target may hold spaces (`get-space`): the method ends at the first space,
        // the version starts after the last.
        let (method, rest) = request_line.split_once(' ').expect("method");
        let (target, _version) = rest.rsplit_once(' ').expect("HTTP version");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));

        let mut fields: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let (name, value) = fields.last_mut().expect("continuation after a header");
                match fold {
                    Fold::Space => {
                        value.push(' ');
                        value.push_str(line);
                    }
                    Fold::NewValue => {
                        let name = name.clone();
                        fields.push((name, line.to_owned()));
                    }
                }
            } else {
                let (name, value) = line.split_once(':').expect("header line");
                fields.push((name.to_owned(), value.to_owned()));
            }
        }
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(&value).expect("header value"),
            );
        }
        RawRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .expect("ASCII header")
    }
}

/// The components of an `Authorization: AWS4-HMAC-SHA256 …` value.
struct Authorization {
    credential: String,
    signed_headers: String,
    signature: String,
}

impl Authorization {
    fn parse(value: &str) -> Authorization {
        let rest = value
            .strip_prefix("AWS4-HMAC-SHA256 ")
            .expect("AWS4-HMAC-SHA256 authorization");
        let component = |name: &str| {
            rest.split(',')
                .map(|p| p.trim())
                .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
                .unwrap_or_else(|| panic!("no {name} in {value}"))
                .to_owned()
        };
        Authorization {
            credential: component("Credential"),
            signed_headers: component("SignedHeaders"),
            signature: component("Signature"),
        }
    }
}

/// Everything our code needs to sign one vector.
struct Signable<'a> {
    method: &'a str,
    raw_path: &'a str,
    raw_query: &'a str,
    headers: &'a HeaderMap,
    host: &'a str,
    signed_headers: &'a str,
    payload: &'a str,
    amz_date: &'a str,
    region: &'a str,
    service: &'a str,
    secret: &'a str,
}

/// What the vector says comes out.
struct Expected {
    canonical_request: String,
    string_to_sign: String,
    signature: String,
}

/// Our canonical request, string to sign and signature for `s`.
fn sign(s: &Signable<'_>) -> Expected {
    let query = CanonicalQuery::from_raw(s.raw_query, Some("X-Amz-Signature"));
    let canonical = CanonicalRequest {
        method: s.method,
        raw_path: s.raw_path,
        query: &query,
        headers: s.headers,
        host: s.host,
        signed_headers: s.signed_headers,
        payload: s.payload,
    };
    let scope = CredentialScopeRef {
        date: &s.amz_date[..8],
        region: s.region,
        service: s.service,
    };
    // `hash()` streams into the hasher; `to_text()` into a buffer. Both are compared
    // (through the string to sign and directly), so neither path can drift.
    let hash = canonical.hash();
    let mut sts = Vec::new();
    write_string_to_sign(s.amz_date, &scope, &hash, &mut sts);
    let key = SigningKey::derive(&Secret::new(s.secret), scope.date, s.region, s.service);
    let mut mac = key.mac();
    write_string_to_sign(s.amz_date, &scope, &hash, &mut mac);
    Expected {
        canonical_request: canonical.to_text(),
        string_to_sign: String::from_utf8(sts).expect("ASCII string to sign"),
        signature: hex::encode(mac.finish()),
    }
}

/// Compares ours with the vector's; a mismatch adds one failure naming every difference.
fn compare(name: &str, ours: &Expected, want: &Expected, failures: &mut Vec<String>) {
    let mut diffs = String::new();
    for (what, o, w) in [
        ("canonical request", &ours.canonical_request, &want.canonical_request),
        ("string to sign", &ours.string_to_sign, &want.string_to_sign),
        ("signature", &ours.signature, &want.signature),
    ] {
        if o != w {
            diffs.push_str(&format!("{name}: {what}\n--- ours\n{o}\n--- expected\n{w}\n"));
        }
    }
    if !diffs.is_empty() {
        failures.push(diffs);
    }
}

fn fail_on(failures: Vec<String>, checked: usize) {
    assert!(
        failures.is_empty(),
        "{} of {checked} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The sub-folders of `dir`, sorted.
fn folders(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// The path as a normalising (non-S3) service signs it: RFC 3986 dot-segment removal,
/// and empty segments dropped. A trailing slash (or trailing `.`/`..`) is kept.
fn normalised(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    let mut out = format!("/{}", segments.join("/"));
    if trailing && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// The query parameters of `raw`, percent-decoded (`+` as space).
fn query_params(raw: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8()
            .expect("UTF-8 query")
            .into_owned()
    };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(n), decode(v))
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} parameter"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Context {
    credentials: ContextCredentials,
    expiration_in_seconds: u64,
    normalize: bool,
    region: String,
    service: String,
    /// Whether the signer added `x-amz-content-sha256` (header mode).
    sign_body: bool,
    timestamp: String,
    /// The session token is added to the request after signing.
    #[serde(default)]
    omit_session_token: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextCredentials {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
}

/// `aws-c-auth/v4`: every case in both modes, the `Authorization` header (`header-*`)
/// and the pre-signed URL (`query-*`). The service is `service`, not `s3`, so the payload
/// line is always the SHA-256 of the body.
#[test]
fn aws_c_auth_v4_vectors() {
    let root = Path::new(VECTORS).join("aws-c-auth/v4");
    let mut failures = Vec::new();
    let mut normalised_cases = Vec::new();
    let mut checked = 0;
    for dir in folders(&root) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let ctx: Context = serde_json::from_str(&read(dir.join("context.json")))
            .unwrap_or_else(|e| panic!("{name}/context.json: {e}"));
        let request = RawRequest::parse(&read(dir.join("request.txt")), Fold::Space);
        let amz_date = ctx.timestamp.replace(['-', ':'], "");
        let path = if ctx.normalize && normalised(&request.path) != request.path {
            normalised_cases.push(name.clone());
            normalised(&request.path)
        } else {
            request.path.clone()
        };
        let payload = sha256_hex(&request.body);
        let credential = |date: &str| {
            format!(
                "{}/{}/{}/{}/aws4_request",
                ctx.credentials.access_key_id,
                &date[..8],
                ctx.region,
                ctx.service
            )
        };
        let expected = |mode: &str| Expected {
            canonical_request: read(dir.join(format!("{mode}-canonical-request.txt"))),
            string_to_sign: read(dir.join(format!("{mode}-string-to-sign.txt"))),
            signature: read(dir.join(format!("{mode}-signature.txt"))),
        };

        // Header mode: the signed request carries x-amz-date (and x-amz-content-sha256 or
        // the session token when the case has them); SignedHeaders says which count.
        let signed = RawRequest::parse(&read(dir.join("header-signed-request.txt")), Fold::Space);
        let auth = Authorization::parse(signed.header("authorization"));
        let want = expected("header");
        assert_eq!(auth.signature, want.signature, "{name}: header-signed-request");
        assert_eq!(auth.credential, credential(&amz_date), "{name}: credential");
        assert_eq!(signed.header("x-amz-date"), amz_date, "{name}: x-amz-date");
        assert_eq!(
            signed.headers.contains_key("x-amz-content-sha256"),
            ctx.sign_body,
            "{name}: sign_body"
        );
        let ours = sign(&Signable {
            method: &signed.method,
            raw_path: &path,
            raw_query: &signed.query,
            headers: &signed.headers,
            host: signed.header("host"),
            signed_headers: &auth.signed_headers,
            payload: &payload,
            amz_date: &amz_date,
            region: &ctx.region,
            service: &ctx.service,
            secret: &ctx.credentials.secret_access_key,
        });
        compare(&format!("{name} (header)"), &ours, &want, &mut failures);
        checked += 1;

        // Query mode: the query the client sends is the signed request's; its own
        // parameters must be the unsigned request's, in order.
        let signed = RawRequest::parse(&read(dir.join("query-signed-request.txt")), Fold::Space);
        let params = query_params(&signed.query);
        let want = expected("query");
        assert_eq!(param(&params, "X-Amz-Signature"), want.signature, "{name}");
        assert_eq!(param(&params, "X-Amz-Date"), amz_date, "{name}");
        assert_eq!(param(&params, "X-Amz-Credential"), credential(&amz_date), "{name}");
        assert_eq!(
            param(&params, "X-Amz-Expires"),
            ctx.expiration_in_seconds.to_string(),
            "{name}"
        );
        let own: Vec<_> = params
            .iter()
            .filter(|(n, _)| !n.starts_with("X-Amz-"))
            .cloned()
            .collect();
        assert_eq!(own, query_params(&request.query), "{name}: query parameters");
        let token = params.iter().find(|(n, _)| n == "X-Amz-Security-Token");
        assert_eq!(
            token.map(|(_, v)| v.as_str()),
            ctx.credentials.token.as_deref(),
            "{name}: X-Amz-Security-Token"
        );
        // `omit_session_token`: the signer added the token after signing, so it is not
        // part of the canonical query. (S3 requires the token signed; the gateway takes
        // none at all. This only reproduces what the signer signed.)
        let raw_query = if ctx.omit_session_token {
            signed
                .query
                .split('&')
                .filter(|p| !p.starts_with("X-Amz-Security-Token="))
                .collect::<Vec<_>>()
                .join("&")
        } else {
            signed.query.clone()
        };
        let ours = sign(&Signable {
            method: &request.method,
            raw_path: &path,
            raw_query: &raw_query,
            headers: &request.headers,
            host: request.header("host"),
            signed_headers: param(&params, "X-Amz-SignedHeaders"),
            payload: &payload,
            amz_date: &amz_date,
            region: &ctx.region,
            service: &ctx.service,
            secret: &ctx.credentials.secret_access_key,
        });
        compare(&format!("{name} (query)"), &ours, &want, &mut failures);
        checked += 1;
    }
    assert_eq!(normalised_cases, AWS_C_AUTH_NORMALISED);
    assert!(checked >= 76, "only {checked} vectors found under {root:?}");
    fail_on(failures, checked);
}

/// `aws-sig-v4-test-suite`: header vectors (`.req` → `.creq`, `.sts`, `.authz`). A case is
/// a folder holding `<folder name>.req`; grouping folders (`normalize-path`,
/// `post-sts-token`) are walked into. The suite normalises every path (see the module
/// docs for what that means for S3).
#[test]
fn aws_sig_v4_test_suite_vectors() {
    let root = Path::new(VECTORS).join("aws-sig-v4-test-suite");
    let mut failures = Vec::new();
    let mut normalised_cases = Vec::new();
    let mut checked = 0;
    let mut pending = folders(&root);
    while let Some(dir) = pending.pop() {
        let base = dir.file_name().unwrap().to_string_lossy().into_owned();
        let file = |ext: &str| dir.join(format!("{base}.{ext}"));
        if !file("req").exists() {
            pending.extend(folders(&dir));
            continue;
        }
        let name = dir.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        let request = RawRequest::parse(&read(file("req")), Fold::NewValue);
        let auth = Authorization::parse(&read(file("authz")));
        let want = Expected {
            canonical_request: read(file("creq")),
            string_to_sign: read(file("sts")),
            signature: auth.signature.clone(),
        };
        assert_eq!(
            auth.credential,
            format!(
                "{CLASSIC_ACCESS_KEY}/{}/{CLASSIC_REGION}/{CLASSIC_SERVICE}/aws4_request",
                &CLASSIC_DATE[..8]
            ),
            "{name}: credential"
        );
        assert_eq!(request.header("x-amz-date"), CLASSIC_DATE, "{name}");
        let path = normalised(&request.path);
        if path != request.path {
            normalised_cases.push(name.clone());
        }
        let ours = sign(&Signable {
            method: &request.method,
            raw_path: &path,
            raw_query: &request.query,
            headers: &request.headers,
            host: request.header("host"),
            signed_headers: &auth.signed_headers,
            payload: &sha256_hex(&request.body),
            amz_date: CLASSIC_DATE,
            region: CLASSIC_REGION,
            service: CLASSIC_SERVICE,
            secret: CLASSIC_SECRET,
        });
        compare(&name, &ours, &want, &mut failures);
        checked += 1;
    }
    normalised_cases.sort();
    assert_eq!(normalised_cases, CLASSIC_NORMALISED);
    assert!(checked >= 31, "only {checked} vectors found under {root:?}");
    fail_on(failures, checked);
}

fn s3_docs_vectors() -> Vec<Value> {
    let path = Path::new(VECTORS).join("s3-docs/s3_docs_vectors.json");
    serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no string field {name}", v["name"].as_str().unwrap_or("?")))
}

/// `s3-docs`: the header-signed examples of the S3 API Reference (and the seed request
/// of its aws-chunked example), through `CanonicalRequest` with the headers as given.
/// These are S3 vectors: the payload line is `x-amz-content-sha256`.
#[test]
fn s3_docs_header_vectors() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for v in s3_docs_vectors() {
        if !matches!(field(&v, "kind"), "sigv4-header" | "sigv4-streaming") {
            continue;
        }
        let name = field(&v, "name");
        let mut headers = HeaderMap::new();
        for (n, value) in v["headers"].as_object().expect("headers") {
            headers.append(
                HeaderName::from_bytes(n.as_bytes()).expect("header name"),
                HeaderValue::from_str(value.as_str().expect("header value")).expect("value"),
            );
        }
        let header = |n: &str| headers.get(n).expect(n).to_str().expect("ASCII");
        // The docs sign every header of these requests; where the Authorization header is
        // printed, its SignedHeaders is the list.
        let signed_headers = match v["authorization"].as_str() {
            Some(a) => {
                let auth = Authorization::parse(a);
                assert_eq!(auth.signature, field(&v, "expected_signature"), "{name}");
                auth.signed_headers
            }
            None => {
                let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
                names.sort_unstable();
                names.join(";")
            }
        };
        let payload = header("x-amz-content-sha256");
        if let (Some(body), false) = (v["body"].as_str(), payload.starts_with("STREAMING-")) {
            assert_eq!(payload, sha256_hex(body.as_bytes()), "{name}: body hash");
        }
        let ours = sign(&Signable {
            method: field(&v, "method"),
            raw_path: field(&v, "canonical_uri"),
            raw_query: v["canonical_query"].as_str().unwrap_or(""),
            headers: &headers,
            host: header("host"),
            signed_headers: &signed_headers,
            payload,
            amz_date: header("x-amz-date"),
            region: field(&v, "region"),
            service: field(&v, "service"),
            secret: field(&v, "secret_key"),
        });
        let want = Expected {
            canonical_request: field(&v, "canonical_request").to_owned(),
            string_to_sign: field(&v, "string_to_sign").to_owned(),
            signature: field(&v, "expected_signature").to_owned(),
        };
        compare(name, &ours, &want, &mut failures);
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} s3-docs header vectors");
    fail_on(failures, checked);
}

/// `s3-docs`: the pre-signed example of the S3 API Reference through the whole
/// `Authenticator`: valid for exactly its lifetime, and a one-character change of the
/// signature answers `SignatureDoesNotMatch` with the documented canonical request and
/// string to sign.
#[test]
fn s3_docs_presigned_vectors() {
    let mut checked = 0;
    for v in s3_docs_vectors() {
        if field(&v, "kind") != "sigv4-query" {
            continue;
        }
        let name = field(&v, "name");
        let access_key = field(&v, "access_key");
        let auth = Authenticator::new(
            AuthSettings {
                max_expires_secs: 604_800,
                clock_skew: std::time::Duration::from_secs(900),
                mismatch_details: true,
                sigv2: true,
            },
            CredentialStore::new(
                field(&v, "region"),
                vec![Credential::new(access_key, vec![Secret::new(field(&v, "secret_key"))])],
            ),
        );
        let url = field(&v, "url");
        let (host, target) = url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('/'))
            .expect("absolute URL");
        let (path, query) = target.split_once('?').expect("query");
        let path = format!("/{path}");
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_str(host).unwrap());
        let method = Method::from_bytes(field(&v, "method").as_bytes()).unwrap();
        let at = |s: &str| OffsetDateTime::parse(s, &Rfc3339).expect("RFC 3339 time");
        let valid_from = at(field(&v, "valid_from"));
        let valid_until = at(field(&v, "valid_until"));
        let base = RequestView {
            method: &method,
            raw_path: &path,
            raw_query: Some(query),
            headers: &headers,
            host,
            now: valid_from,
        };

        for now in [valid_from, valid_until] {
            let id = auth
                .authenticate(&RequestView { now, ..base })
                .unwrap_or_else(|e| panic!("{name} at {now}: {e:?}"));
            assert_eq!(&*id.access_key_id, access_key, "{name}");
            assert_eq!(id.scheme, AuthScheme::PresignedV4, "{name}");
        }

        let signature = param(&query_params(query), "X-Amz-Signature").to_owned();
        assert_eq!(signature, field(&v, "expected_signature"), "{name}");
        let last = signature.chars().last().unwrap();
        let flipped_char = if last == '0' { '1' } else { '0' };
        let flipped_sig = format!("{}{flipped_char}", &signature[..signature.len() - 1]);
        let flipped = query.replace(
            &format!("X-Amz-Signature={signature}"),
            &format!("X-Amz-Signature={flipped_sig}"),
        );
        assert_ne!(flipped, query);
        let e = auth
            .authenticate(&RequestView {
                raw_query: Some(&flipped),
                ..base
            })
            .expect_err("flipped signature");
        assert_eq!(e.code(), S3ErrorCode::SignatureDoesNotMatch, "{name}");
        assert_eq!(
            e.detail("CanonicalRequest"),
            Some(field(&v, "canonical_request")),
            "{name}"
        );
        assert_eq!(e.detail("StringToSign"), Some(field(&v, "string_to_sign")), "{name}");
        assert_eq!(e.detail("SignatureProvided"), Some(flipped_sig.as_str()), "{name}");

        let e = auth
            .authenticate(&RequestView {
                now: valid_until + time::Duration::seconds(1),
                ..base
            })
            .expect_err("expired");
        assert_eq!(e.code(), S3ErrorCode::AccessDenied, "{name}");
        assert_eq!(e.message(), "Request has expired", "{name}");
        checked += 1;
    }
    assert!(checked >= 1, "no s3-docs pre-signed vectors");
}

#[test]
fn vector_path_normalisation_reference() {
    // The reference normaliser that decides which generic vectors are non-S3 behaviour.
    for (raw, want) in [
        ("/", "/"),
        ("//", "/"),
        ("/./", "/"),
        ("/example/..", "/"),
        ("/example1/example2/../..", "/"),
        ("/./example", "/example"),
        ("//example//", "/example/"),
        ("/example space/", "/example space/"),
        ("/a/b/../c/.", "/a/c/"),
    ] {
        assert_eq!(normalised(raw), want, "{raw}");
    }
}
