//! `PresignedParams::parse`: the SigV4 query parameters of a pre-signed URL.
#![no_main]

use guestpass::auth::sigv4::presigned::PresignedParams;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw_query = String::from_utf8_lossy(data);
    if let Ok(params) = PresignedParams::parse(&raw_query) {
        // The Debug form is what reaches logs; it redacts the signature.
        let shown = format!("{params:?}");
        assert!(shown.ends_with("signature: None }") || shown.ends_with("signature: Some(\"<redacted>\") }"));
    }
});
