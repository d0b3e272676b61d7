//! `PostPolicy::parse` and `check_fields`: the POST policy document and its conditions.
//!
//! Input: the policy JSON (the harness base64-encodes it, so the fuzzer works on JSON);
//! an input starting with `#` is passed on as the base64 text itself.
#![no_main]

use base64::Engine;
use guestpass::auth::post_policy::{check_length, Condition, PostPolicy};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fuzz_target!(|data: &[u8]| {
    let policy_b64 = match data.strip_prefix(b"#") {
        Some(raw) => String::from_utf8_lossy(raw).into_owned(),
        None => base64::engine::general_purpose::STANDARD.encode(data),
    };
    let Ok(policy) = PostPolicy::parse(&policy_b64) else {
        return;
    };
    // A form that meets every condition it can (the first value named for a field wins).
    let mut fields: Vec<(String, String)> = Vec::new();
    for c in &policy.conditions {
        let _ = c.to_string();
        let (field, value) = match c {
            Condition::Eq { field, value } => (field, value.clone()),
            Condition::StartsWith { field, prefix } => (field, format!("{prefix}x")),
            Condition::ContentLengthRange { min, max } => {
                assert!(min <= max);
                assert!(check_length(Some((*min, *max)), *min).is_ok());
                assert!(check_length(Some((*min, *max)), *max).is_ok());
                continue;
            }
        };
        assert_eq!(field, &field.to_ascii_lowercase(), "field names are lower-cased");
        if field != "bucket" && !fields.iter().any(|(n, _)| n == field) {
            fields.push((field.clone(), value));
        }
    }
    if let Some(before) = policy.expiration.checked_sub(time::Duration::seconds(1)) {
        let _ = policy.check_fields(&fields, "bucket", before);
    }
    // After expiry nothing passes.
    if let Some(after) = policy.expiration.checked_add(time::Duration::seconds(1)) {
        assert!(policy.check_fields(&fields, "bucket", after).is_err());
    }
    let _ = policy.check_fields(&fields, "bucket", OffsetDateTime::UNIX_EPOCH);
    if let Some((min, max)) = policy.length_range() {
        if max < u64::MAX {
            assert!(check_length(Some((min, max)), max + 1).is_err());
        }
    }
});
