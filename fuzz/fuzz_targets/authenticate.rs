//! `Authenticator::authenticate_for`: the whole dispatch (SigV4 query, SigV4 header,
//! SigV2 query and header) over a request in the text format of `guestpass_fuzz::TextRequest`,
//! in the service's order: addressing first (what it refuses never reaches auth), then
//! auth; an aws-chunked body that authenticates is then decoded as the service would.
#![no_main]

use std::sync::OnceLock;

use guestpass::addressing::Addressing;
use guestpass::auth::body::BodyVerdict;
use guestpass::auth::sigv4::chunked::{AwsChunkedBody, ChecksumAlgorithm, ChunkMode};
use guestpass::auth::{Authenticator, PayloadHash, RequestView};
use guestpass_fuzz::{
    authenticator, drain, Drained, Frames, TextRequest, DOC_ACCESS_KEY_ID, ROTATING_ACCESS_KEY_ID, VHOST_DOMAIN,
};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fn auth() -> &'static Authenticator {
    static AUTH: OnceLock<Authenticator> = OnceLock::new();
    AUTH.get_or_init(authenticator)
}

/// `FUZZ_DEBUG=1` prints each input's outcome (to check that seeds get where they should).
fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some())
}

fuzz_target!(|data: &[u8]| {
    let Some(req) = TextRequest::parse(data) else {
        return;
    };
    let Ok(method) = http::Method::from_bytes(req.method.as_bytes()) else {
        return;
    };
    let Ok(now) = OffsetDateTime::from_unix_timestamp(req.now) else {
        return;
    };
    // As in the service: a request that cannot be addressed is refused before auth.
    let target = match Addressing::new(vec![VHOST_DOMAIN.into()]).resolve(&req.host, req.raw_path) {
        Ok(target) => target,
        Err(e) => {
            let _ = e.to_xml("fuzz");
            return;
        }
    };
    let view = RequestView {
        method: &method,
        raw_path: req.raw_path,
        raw_query: req.raw_query,
        headers: &req.headers,
        host: &req.host,
        now,
    };
    let identity = match auth().authenticate_for(&view, &target) {
        Ok(identity) => identity,
        Err(e) => {
            if debug() {
                eprintln!("refused: {:?} {}", e.code(), e.message());
            }
            let _ = e.to_xml("fuzz");
            return;
        }
    };
    assert!(matches!(
        &*identity.access_key_id,
        DOC_ACCESS_KEY_ID | ROTATING_ACCESS_KEY_ID
    ));
    if !identity.payload.is_streaming() {
        if debug() {
            eprintln!("verified: {:?}", identity.scheme);
        }
        return;
    }
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
    let Some(declared) = header("x-amz-decoded-content-length").and_then(|v| v.parse::<u64>().ok()) else {
        return;
    };
    let checksum = match header("x-amz-trailer") {
        None => None,
        Some(name) => match ChecksumAlgorithm::from_trailer_name(name) {
            Some(alg) => Some(alg),
            None => return,
        },
    };
    let mode = match (&identity.payload, identity.chunk_signing.clone()) {
        (PayloadHash::StreamingSigned { trailer }, Some(signing)) => ChunkMode::Signed {
            signing,
            trailer: *trailer,
        },
        (PayloadHash::StreamingUnsignedTrailer, _) => ChunkMode::UnsignedTrailer,
        (payload, signing) => panic!(
            "streaming identity {payload:?} with chunk signing {}",
            signing.is_some()
        ),
    };
    let verdict = BodyVerdict::default();
    let body = AwsChunkedBody::new(
        Frames::split(req.body, &[97]),
        mode,
        declared,
        checksum,
        verdict.clone(),
    );
    let drained = drain(body);
    if debug() {
        eprintln!(
            "{:?}: body {}",
            identity.scheme,
            match &drained {
                Drained::Complete(out) => format!("complete, {} bytes", out.len()),
                Drained::Failed(_) => format!("refused: {:?}", verdict.take().map(|e| e.message().to_owned())),
            }
        );
    }
    if let Drained::Complete(out) = drained {
        assert_eq!(out.len() as u64, declared);
    }
});
