//! `Addressing::resolve`: bucket and key from Host and path. Input: `host\npath`.
#![no_main]

use guestpass::addressing::{is_valid_bucket_name, Addressing, MAX_KEY_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (host, path) = text.split_once('\n').unwrap_or(("localhost:8080", &text));
    let addressing = Addressing::new(vec!["s3.example.com".into(), "localhost".into()]);
    if let Ok(target) = addressing.resolve(host, path) {
        if let Some(bucket) = &target.bucket {
            assert!(is_valid_bucket_name(bucket), "{bucket:?}");
        }
        if let Some(key) = &target.key {
            assert!(target.bucket.is_some());
            assert!(!key.is_empty() && key.len() <= MAX_KEY_BYTES);
        }
    }
});
