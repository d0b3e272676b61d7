//! The run's pre-signed URLs, minted once before the first request: N distinct SigV4
//! query-signed URLs ("Authenticating Requests: Using Query Parameters"), a chosen share
//! of them with a corrupted signature.
//!
//! URLs are made distinct by object key and by signing time: URL `i` is for key
//! `i % keys`, signed `i / keys` seconds in the past, with its lifetime stretched by the
//! same amount so that every URL expires at the same moment. A gateway therefore cannot
//! answer a repeat from a cache of verified signatures; it verifies each one.

use http::Uri;
use time::OffsetDateTime;

use super::{LoadtestError, Options};
use crate::auth::sigv4::sign::{presign_url, PresignRequest};
use crate::config::MAX_PRESIGNED_EXPIRES_SECS;

/// One URL of the run, parsed once so a request only clones it (a reference count).
#[derive(Debug, Clone)]
pub(crate) struct PresignedTarget {
    /// The pre-signed URL.
    pub uri: Uri,
    /// Whether its signature was deliberately corrupted (a 403 is the expected answer).
    pub invalid: bool,
}

/// Mints `opts.urls` URLs on `target` (already normalised), signed at `now`.
pub(crate) fn mint(opts: &Options, target: &str, now: OffsetDateTime) -> Result<Vec<PresignedTarget>, LoadtestError> {
    let keys = opts.keys.len().max(1);
    let max_offset = (opts.urls.saturating_sub(1) / keys) as u64;
    let expires = opts.expires.as_secs();
    if expires + max_offset > MAX_PRESIGNED_EXPIRES_SECS {
        return Err(LoadtestError::Options(format!(
            "{} URLs over {keys} key(s) spread signing times over {max_offset}s, which with --expires {expires}s \
             exceeds the 7-day limit on X-Amz-Expires: use more keys, fewer URLs or a shorter --expires",
            opts.urls
        )));
    }
    let invalid_count = invalid_count(opts.urls, opts.invalid_share);
    let mut path = String::with_capacity(opts.bucket.len() + 64);
    let mut out = Vec::with_capacity(opts.urls);
    for i in 0..opts.urls {
        let key = &opts.keys[i % keys];
        let offset = (i / keys) as u64;
        path.clear();
        path.push('/');
        path.push_str(&opts.bucket);
        path.push('/');
        path.push_str(key);
        let mut url = presign_url(
            &opts.access_key_id,
            &opts.secret_access_key,
            &opts.region,
            &PresignRequest {
                method: opts.method.as_str(),
                base_url: target,
                path: &path,
                extra_query: &[],
                expires_secs: expires + offset,
                now: now - time::Duration::seconds(offset as i64),
            },
        );
        let invalid = is_invalid(i, opts.urls, invalid_count);
        if invalid {
            corrupt_signature(&mut url);
        }
        let uri = url
            .parse::<Uri>()
            .map_err(|e| LoadtestError::Options(format!("the pre-signed URL for key {key:?} is not a URI: {e}")))?;
        out.push(PresignedTarget { uri, invalid });
    }
    Ok(out)
}

/// How many of `urls` get a corrupted signature for `share` (0.0 to 1.0), rounded.
pub(crate) fn invalid_count(urls: usize, share: f64) -> usize {
    ((urls as f64) * share).round().clamp(0.0, urls as f64) as usize
}

/// Whether URL `i` is one of the `invalid` corrupted ones, spread evenly over `urls` so
/// any run of consecutive requests carries close to the chosen share.
fn is_invalid(i: usize, urls: usize, invalid: usize) -> bool {
    let (i, urls, invalid) = (i as u128, urls as u128, invalid as u128);
    (i + 1) * invalid / urls != i * invalid / urls
}

/// Changes the last hex digit of `X-Amz-Signature` (the URL's last character), which
/// keeps the URL well formed and makes the signature certainly wrong.
fn corrupt_signature(url: &mut String) {
    if let Some(last) = url.pop() {
        url.push(if last == '0' { '1' } else { '0' });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_urls_are_the_chosen_share_spread_evenly() {
        for (urls, share, expected) in [(300, 0.2, 60), (1000, 0.1, 100), (7, 0.0, 0), (7, 1.0, 7), (3, 0.5, 2)] {
            let n = invalid_count(urls, share);
            assert_eq!(n, expected, "{urls} x {share}");
            let marked: Vec<usize> = (0..urls).filter(|&i| is_invalid(i, urls, n)).collect();
            assert_eq!(marked.len(), n, "{urls} x {share}");
        }
        // 20%: one in every five, never two in a row.
        let marked: Vec<usize> = (0..20).filter(|&i| is_invalid(i, 20, 4)).collect();
        assert_eq!(marked, [4, 9, 14, 19]);
    }

    #[test]
    fn minted_urls_are_distinct_and_only_the_marked_ones_are_corrupted() {
        let opts = Options {
            urls: 50,
            keys: vec!["a.txt".into(), "b c.txt".into()],
            invalid_share: 0.1,
            ..Options::new("http://127.0.0.1:8080")
        };
        let now = time::macros::datetime!(2025-01-02 03:04:05 UTC);
        let urls = mint(&opts, "http://127.0.0.1:8080", now).unwrap();
        assert_eq!(urls.len(), 50);
        let distinct: std::collections::HashSet<String> = urls.iter().map(|u| u.uri.to_string()).collect();
        assert_eq!(distinct.len(), 50);
        assert_eq!(urls.iter().filter(|u| u.invalid).count(), 5);
        assert!(urls[1].uri.path().ends_with("/demo/b%20c.txt"), "{}", urls[1].uri);
        // URL 3 is key b, one second earlier than URL 1, living one second longer.
        let q = urls[3].uri.query().unwrap();
        assert!(q.contains("X-Amz-Date=20250102T030404Z"), "{q}");
        assert!(q.contains("X-Amz-Expires=3601"), "{q}");

        // Re-minting with no invalid share gives the same URLs except for the corrupted ones.
        let clean = mint(
            &Options {
                invalid_share: 0.0,
                ..opts
            },
            "http://127.0.0.1:8080",
            now,
        )
        .unwrap();
        for (a, b) in urls.iter().zip(&clean) {
            let (a, b) = (a.uri.to_string(), b.uri.to_string());
            if a == b {
                continue;
            }
            assert_eq!(a[..a.len() - 1], b[..b.len() - 1]);
        }
    }

    #[test]
    fn a_spread_past_seven_days_is_refused() {
        let opts = Options {
            urls: 1_000_000,
            expires: std::time::Duration::from_secs(604_000),
            ..Options::new("http://127.0.0.1:8080")
        };
        let now = OffsetDateTime::now_utc();
        assert!(matches!(
            mint(&opts, "http://127.0.0.1:8080", now),
            Err(LoadtestError::Options(_))
        ));
    }
}
