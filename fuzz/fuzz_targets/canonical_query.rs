//! `CanonicalQuery::from_raw`: the canonical query string of SigV4.
#![no_main]

use guestpass::auth::sigv4::canonical::CanonicalQuery;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let q = CanonicalQuery::from_raw(&raw, Some("X-Amz-Signature"));
    let text = q.to_query_string();
    // Canonical text is plain ASCII of the unreserved set, `%XX`, `=` and `&`.
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'%' | b'=' | b'&')),
        "{text}"
    );
    // Canonicalising twice changes nothing.
    let all = CanonicalQuery::from_raw(&raw, None).to_query_string();
    assert_eq!(CanonicalQuery::from_raw(&all, None).to_query_string(), all);
});
