//! `Config::parse` and `Config::validate`: the TOML configuration.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use guestpass::config::Config;
use guestpass::secret::Secret;
use libfuzzer_sys::fuzz_target;

/// validate() reads secret files: point every `*_file` at one harmless file, so the
/// fuzzer cannot make it read /dev/zero or stdin, and the read still happens.
fn secret_file() -> PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::temp_dir().join("guestpass-fuzz-config-secret");
        std::fs::write(&path, "a-secret-from-a-file\n").expect("write the secret file");
        path
    })
    .clone()
}

const MARKER: &str = "secret-marker-7Zq2";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains(MARKER) {
        return;
    }
    let Ok(mut config) = Config::parse(text) else {
        return;
    };
    for c in &mut config.credentials {
        if c.secret_access_key_file.is_some() {
            c.secret_access_key_file = Some(secret_file());
        }
    }
    if config.upstream.secret_access_key_file.is_some() {
        config.upstream.secret_access_key_file = Some(secret_file());
    }
    // Literal secrets become a marker the input cannot contain, so a leak is unambiguous.
    for c in &mut config.credentials {
        if c.secret_access_key.is_some() {
            c.secret_access_key = Some(Secret::new(MARKER));
        }
    }
    if config.upstream.secret_access_key.is_some() {
        config.upstream.secret_access_key = Some(Secret::new(MARKER));
    }
    let verdict = config.validate();
    let _ = config.public_url();
    // Secrets never reach Debug output or the problem list.
    let shown = format!("{config:?} {verdict:?}");
    assert!(!shown.contains(MARKER), "a secret reached Debug or a problem message");
});
