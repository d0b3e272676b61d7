//! `StringToSignV2::build`: the Signature Version 2 string to sign.
//!
//! Input lines: method, date line, virtual-host bucket (empty for none), `path[?query]`,
//! then `name: value` headers.
#![no_main]

use guestpass::auth::sigv2::{sign, StringToSignV2};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or("");
    let date_line = lines.next().unwrap_or("");
    let bucket = lines.next().filter(|b| !b.is_empty());
    let target = lines.next().unwrap_or("/");
    let (raw_path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.trim_start().as_bytes()),
        ) {
            headers.append(n, v);
        }
    }
    let sts = StringToSignV2 {
        method,
        headers: &headers,
        date_line,
        vhost_bucket: bucket,
        raw_path,
        raw_query,
    }
    .build();
    assert!(sts.starts_with(method));
    let _ = sign("secret", &sts);
});
