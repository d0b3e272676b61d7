//! S3's URI encoding ("UriEncode" in "Create a canonical request for Signature Version 4"):
//! every byte but `A-Z a-z 0-9 - _ . ~` becomes `%XX` with upper-case hex; in the path `/`
//! stays literal. Encoding is done by `percent-encoding` through these const sets.

use percent_encoding::{percent_decode, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use smallvec::SmallVec;

/// Bytes S3 encodes in a query name or value: all but the unreserved ones.
pub const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Bytes S3 encodes in the path: as [`QUERY_COMPONENT`], but `/` separates segments.
pub const PATH: &AsciiSet = &QUERY_COMPONENT.remove(b'/');

/// A stack buffer for decoded components; spills to the heap only for long ones.
pub type DecodeBuf = SmallVec<[u8; 256]>;

/// Percent-decodes `raw` into `out`. With `plus_is_space`, a literal `+` is a space, as in
/// an `application/x-www-form-urlencoded` query; an encoded `%2B` stays a plus.
pub fn decode_into(raw: &[u8], plus_is_space: bool, out: &mut DecodeBuf) {
    out.clear();
    if plus_is_space && raw.contains(&b'+') {
        for (i, part) in raw.split(|&b| b == b'+').enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend(percent_decode(part));
        }
    } else {
        out.extend(percent_decode(raw));
    }
}

/// Appends the S3 encoding of the already-decoded `bytes` to `out`.
pub fn encode_into(bytes: &[u8], set: &'static AsciiSet, out: &mut impl Extend<u8>) {
    for chunk in percent_encode(bytes, set) {
        out.extend(chunk.bytes());
    }
}

/// The S3 encoding of decoded `bytes`, as a `String` (for URLs the gateway builds).
pub fn encode(bytes: &[u8], set: &'static AsciiSet) -> String {
    percent_encode(bytes, set).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reencode(raw: &str, plus: bool, set: &'static AsciiSet) -> String {
        let mut buf = DecodeBuf::new();
        decode_into(raw.as_bytes(), plus, &mut buf);
        encode(&buf, set)
    }

    #[test]
    fn s3_uri_encoding() {
        assert_eq!(encode(b"a b+c/d~e_f-g.h", QUERY_COMPONENT), "a%20b%2Bc%2Fd~e_f-g.h");
        assert_eq!(encode(b"/photos/a b/()!*'", PATH), "/photos/a%20b/%28%29%21%2A%27");
        assert_eq!(encode("ü".as_bytes(), PATH), "%C3%BC");
    }

    #[test]
    fn decode_then_encode_is_canonical() {
        assert_eq!(reencode("a%2fb", true, QUERY_COMPONENT), "a%2Fb");
        assert_eq!(reencode("a+b%2B", true, QUERY_COMPONENT), "a%20b%2B");
        assert_eq!(reencode("/a+b/%7e", false, PATH), "/a%2Bb/~");
        assert_eq!(reencode("/%zz", false, PATH), "/%25zz");
    }
}
