//! The canonical request and string to sign of Signature Version 4, as S3 builds them
//! ("Create a canonical request for Signature Version 4"; "Signature Calculations for the
//! Authorization Header"; "Authenticating Requests: Using Query Parameters").
//!
//! S3 differs from other services in two ways that matter here: the path is URI-encoded
//! once and never normalised (`.`, `..` and `//` are part of the key), and the payload
//! line is often a marker (`UNSIGNED-PAYLOAD`, `STREAMING-…`) rather than a hash.
//!
//! Everything is written into a [`Sink`]: on the hot path the sink is the SHA-256 hasher
//! itself, so no canonical string is ever allocated; only when a signature fails do we
//! write the same bytes into a buffer for the `SignatureDoesNotMatch` body.

use http::HeaderMap;
use sha2::{Digest, Sha256};
use smallvec::SmallVec;

use super::encode::{decode_into, encode_into, DecodeBuf, PATH, QUERY_COMPONENT};

/// The algorithm name of SigV4 with HMAC-SHA256.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Payload line for a body that is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty string, hex.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Where canonical bytes go.
pub trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// The canonical query string: every parameter (but the signature) with name and value
/// S3-encoded, sorted by encoded name then value, joined `name=value&…`; a parameter with
/// no `=` counts as an empty value. Kept in one stack arena so building it allocates
/// nothing for ordinary URLs.
#[derive(Default)]
pub struct CanonicalQuery {
    bytes: SmallVec<[u8; 1024]>,
    /// (name start, name end, value end): the value starts at name end.
    pairs: SmallVec<[(u32, u32, u32); 16]>,
}

impl CanonicalQuery {
    /// Builds the canonical query from the raw query as sent (percent-encoded, `+` as
    /// space). A parameter whose raw name equals `exclude` is left out (the signature).
    pub fn from_raw(raw: &str, exclude: Option<&str>) -> Self {
        let mut q = CanonicalQuery::default();
        let mut buf = DecodeBuf::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            decode_into(name.as_bytes(), true, &mut buf);
            // Compared decoded, as the parser that found the signature compared it.
            if exclude.is_some_and(|x| x.as_bytes() == &buf[..]) {
                continue;
            }
            let start = q.bytes.len() as u32;
            encode_into(&buf, QUERY_COMPONENT, &mut q.bytes);
            let mid = q.bytes.len() as u32;
            decode_into(value.as_bytes(), true, &mut buf);
            encode_into(&buf, QUERY_COMPONENT, &mut q.bytes);
            q.pairs.push((start, mid, q.bytes.len() as u32));
        }
        q.sort();
        q
    }

    /// Builds the canonical query from decoded names and values (for requests the
    /// gateway signs itself).
    pub fn from_decoded<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut q = CanonicalQuery::default();
        for (name, value) in params {
            let start = q.bytes.len() as u32;
            encode_into(name.as_bytes(), QUERY_COMPONENT, &mut q.bytes);
            let mid = q.bytes.len() as u32;
            encode_into(value.as_bytes(), QUERY_COMPONENT, &mut q.bytes);
            q.pairs.push((start, mid, q.bytes.len() as u32));
        }
        q.sort();
        q
    }

    fn sort(&mut self) {
        let bytes = &self.bytes;
        let name = |p: &(u32, u32, u32)| &bytes[p.0 as usize..p.1 as usize];
        let value = |p: &(u32, u32, u32)| &bytes[p.1 as usize..p.2 as usize];
        self.pairs
            .sort_unstable_by(|a, b| name(a).cmp(name(b)).then_with(|| value(a).cmp(value(b))));
    }

    /// Writes `name=value&name=value…`.
    pub fn write_to(&self, sink: &mut impl Sink) {
        for (i, &(s, m, e)) in self.pairs.iter().enumerate() {
            if i > 0 {
                sink.put(b"&");
            }
            sink.put(&self.bytes[s as usize..m as usize]);
            sink.put(b"=");
            sink.put(&self.bytes[m as usize..e as usize]);
        }
    }

    /// The canonical query as a string (also the query the gateway sends upstream).
    pub fn to_query_string(&self) -> String {
        let mut out = Vec::with_capacity(self.bytes.len() + self.pairs.len() * 2);
        self.write_to(&mut out);
        // Every byte written is ASCII: encoded output or `=`/`&`.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// Writes the canonical URI of `raw_path` (the path as sent, still percent-encoded):
/// decoded, then S3-encoded once. Never normalised.
pub fn write_canonical_uri(raw_path: &str, sink: &mut impl Sink) {
    let mut buf = DecodeBuf::new();
    decode_into(raw_path.as_bytes(), false, &mut buf);
    if buf.is_empty() {
        sink.put(b"/");
        return;
    }
    let mut out: SmallVec<[u8; 512]> = SmallVec::new();
    encode_into(&buf, PATH, &mut out);
    sink.put(&out);
}

/// Writes one canonical header value: every value of the header, trimmed, runs of spaces
/// folded to one, joined by commas.
fn write_header_values(headers: &HeaderMap, name: &str, sink: &mut impl Sink) {
    for (i, value) in headers.get_all(name).iter().enumerate() {
        if i > 0 {
            sink.put(b",");
        }
        write_trimmed(value.as_bytes(), sink);
    }
}

fn write_trimmed(value: &[u8], sink: &mut impl Sink) {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = value.iter().position(|b| !is_ws(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !is_ws(b)).map_or(start, |p| p + 1);
    let mut run_start = start;
    let mut i = start;
    while i < end {
        if is_ws(&value[i]) {
            sink.put(&value[run_start..i]);
            sink.put(b" ");
            while i < end && is_ws(&value[i]) {
                i += 1;
            }
            run_start = i;
        } else {
            i += 1;
        }
    }
    sink.put(&value[run_start..end]);
}

/// What a canonical request is made of.
pub struct CanonicalRequest<'a> {
    /// HTTP method as sent.
    pub method: &'a str,
    /// Path as sent, percent-encoded.
    pub raw_path: &'a str,
    /// Canonical query (built by the caller so it can exclude the signature).
    pub query: &'a CanonicalQuery,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The host as the client addressed it (Host header, or `:authority` in HTTP/2).
    pub host: &'a str,
    /// The `SignedHeaders` list, `;`-separated, lower-case.
    pub signed_headers: &'a str,
    /// The payload line: a hex SHA-256 or a marker such as `UNSIGNED-PAYLOAD`.
    pub payload: &'a str,
}

impl CanonicalRequest<'_> {
    /// Writes the canonical request.
    pub fn write_to(&self, sink: &mut impl Sink) {
        sink.put(self.method.as_bytes());
        sink.put(b"\n");
        write_canonical_uri(self.raw_path, sink);
        sink.put(b"\n");
        self.query.write_to(sink);
        sink.put(b"\n");
        for name in self.signed_headers.split(';') {
            sink.put(name.as_bytes());
            sink.put(b":");
            if name.eq_ignore_ascii_case("host") {
                write_trimmed(self.host.as_bytes(), sink);
            } else {
                write_header_values(self.headers, name, sink);
            }
            sink.put(b"\n");
        }
        sink.put(b"\n");
        sink.put(self.signed_headers.as_bytes());
        sink.put(b"\n");
        sink.put(self.payload.as_bytes());
    }

    /// SHA-256 of the canonical request.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        self.write_to(&mut h);
        h.finalize().into()
    }

    /// The canonical request as text (for error bodies and tests).
    pub fn to_text(&self) -> String {
        let mut out = Vec::with_capacity(512);
        self.write_to(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Writes `AWS4-HMAC-SHA256\n<amz-date>\n<scope>\n<hex(hash)>`.
pub fn write_string_to_sign(
    amz_date: &str,
    scope: &CredentialScopeRef<'_>,
    canonical_hash: &[u8; 32],
    sink: &mut impl Sink,
) {
    sink.put(ALGORITHM.as_bytes());
    sink.put(b"\n");
    sink.put(amz_date.as_bytes());
    sink.put(b"\n");
    scope.write_to(sink);
    sink.put(b"\n");
    let mut hex = [0u8; 64];
    // hex::encode_to_slice fails only when the output is not twice the input.
    let _ = hex::encode_to_slice(canonical_hash, &mut hex);
    sink.put(&hex);
}

/// `<date>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, Copy)]
pub struct CredentialScopeRef<'a> {
    /// `yyyymmdd`.
    pub date: &'a str,
    /// Region, such as `us-east-1`.
    pub region: &'a str,
    /// Service, `s3` for the gateway.
    pub service: &'a str,
}

impl CredentialScopeRef<'_> {
    /// Writes the scope.
    pub fn write_to(&self, sink: &mut impl Sink) {
        sink.put(self.date.as_bytes());
        sink.put(b"/");
        sink.put(self.region.as_bytes());
        sink.put(b"/");
        sink.put(self.service.as_bytes());
        sink.put(b"/aws4_request");
    }
}

impl std::fmt::Display for CredentialScopeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn query_sorted_by_encoded_name_then_value() {
        let q = CanonicalQuery::from_raw("b=2&a=z&a=y&c&X-Amz-Signature=abc&%41=1", Some("X-Amz-Signature"));
        assert_eq!(q.to_query_string(), "A=1&a=y&a=z&b=2&c=");
    }

    #[test]
    fn path_never_normalised() {
        assert_eq!(text(|s| write_canonical_uri("/b/../a//c/./d", s)), "/b/../a//c/./d");
        assert_eq!(text(|s| write_canonical_uri("", s)), "/");
        assert_eq!(text(|s| write_canonical_uri("/a%20b+c", s)), "/a%20b%2Bc");
    }

    #[test]
    fn header_values_trimmed_and_folded() {
        assert_eq!(text(|s| write_trimmed(b"  a   b \t c  ", s)), "a b c");
        assert_eq!(text(|s| write_trimmed(b"", s)), "");
        assert_eq!(text(|s| write_trimmed(b"   ", s)), "");
    }
}
