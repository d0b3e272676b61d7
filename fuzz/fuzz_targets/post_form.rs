//! A browser POST upload as the service reads it: `read_form` (multipart, streamed),
//! `verify_post_form` (SigV4 / SigV2 policy signature), `check_fields`, and the file part
//! as a body of the derived exact length.
//!
//! Input: first line the Content-Type (`multipart/form-data; boundary=…`), second line the
//! Content-Length (empty: the real length; `-`: none), then the body.
#![no_main]

use std::sync::OnceLock;

use guestpass::auth::body::BodyVerdict;
use guestpass::auth::post_policy::check_length;
use guestpass::auth::post_policy::form::read_form;
use guestpass::auth::Authenticator;
use guestpass_fuzz::{authenticator, drain, ready, Drained, Frames, DEFAULT_NOW};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fn auth() -> &'static Authenticator {
    static AUTH: OnceLock<Authenticator> = OnceLock::new();
    AUTH.get_or_init(authenticator)
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let (Some(ct), Some(len), Some(body)) = (lines.next(), lines.next(), lines.next()) else {
        return;
    };
    let Ok(content_type) = std::str::from_utf8(ct) else {
        return;
    };
    let content_length = match len {
        b"" => Some(body.len() as u64),
        b"-" => None,
        n => match std::str::from_utf8(n).ok().and_then(|n| n.parse().ok()) {
            Some(n) => Some(n),
            None => return,
        },
    };
    let frames = Frames::split(body, &[61, 7, 250]);
    let Ok(form) = ready(read_form(frames.boxed(), content_type, content_length)) else {
        return;
    };
    assert!(form
        .fields
        .iter()
        .all(|(n, _)| *n == n.to_ascii_lowercase() && n != "file"));
    let now = OffsetDateTime::from_unix_timestamp(DEFAULT_NOW).expect("in range");
    let checked = match auth().verify_post_form(&form.fields, now) {
        Ok((_, policy)) => {
            let mut fields = form.fields.clone();
            if let Some(key) = fields.iter_mut().find(|(n, _)| n == "key") {
                key.1 = key.1.replace("${filename}", &form.file_name);
            }
            policy.check_fields(&fields, "examplebucket", now).is_ok()
                && form
                    .file_len
                    .is_some_and(|len| check_length(policy.length_range(), len).is_ok())
        }
        Err(e) => {
            if std::env::var_os("FUZZ_DEBUG").is_some() {
                eprintln!("refused: {:?} {}", e.code(), e.message());
            }
            let _ = e.to_xml("fuzz");
            false
        }
    };
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!(
            "form read; signature and policy pass: {checked}; file length {:?}",
            form.file_len
        );
    }
    let Some(len) = form.file_len else {
        return;
    };
    let verdict = BodyVerdict::default();
    if let Drained::Complete(out) = drain(form.into_file_body(len, verdict.clone())) {
        assert_eq!(
            out.len() as u64,
            len,
            "a file body that ends yields exactly its derived length"
        );
        assert!(verdict.take().is_none());
    }
});
