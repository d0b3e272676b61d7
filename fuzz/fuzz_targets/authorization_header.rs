//! `AuthorizationV4::parse`: the SigV4 `Authorization` header.
#![no_main]

use guestpass::auth::sigv4::header::AuthorizationV4;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(auth) = AuthorizationV4::parse(value) {
        // Each component is a piece of the input, and the signature never reaches Debug.
        for part in [auth.credential, auth.signed_headers, auth.signature] {
            assert!(value.contains(part));
        }
        assert_eq!(
            format!("{auth:?}"),
            format!(
                "AuthorizationV4 {{ credential: {:?}, signed_headers: {:?}, .. }}",
                auth.credential, auth.signed_headers
            )
        );
    }
});
