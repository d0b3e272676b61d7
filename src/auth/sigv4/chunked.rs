//! aws-chunked uploads ("Signature Calculations for the Authorization Header: Transferring
//! Payload in Multiple Chunks", and "… Including Trailing Headers").
//!
//! The body arrives as `hex-size[;chunk-signature=sig]\r\n<data>\r\n` chunks, a final
//! zero-size chunk, and for the `-TRAILER` forms trailing headers (checksums and, when
//! signed, `x-amz-trailer-signature`). This decoder checks each chunk signature as it
//! arrives (chained from the seed signature, compared in constant time), the trailer
//! signature, the trailing checksum, and that the decoded length equals
//! `x-amz-decoded-content-length`; it passes only the plain bytes on. As with every
//! verifying body, the end is held back until all checks pass.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::body::BodyVerdict;
use crate::auth::ChunkSigning;
use crate::response::{BoxError, GatewayError, S3ErrorCode};

use super::canonical::EMPTY_SHA256;

/// Longest chunk header or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Most trailer bytes accepted.
const MAX_TRAILERS: usize = 16 * 1024;

use crate::auth::checksum::Checksum;
pub use crate::auth::checksum::ChecksumAlgorithm;

/// How the chunks are authenticated.
pub enum ChunkMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`.
    Signed {
        /// Key, seed, date and scope.
        signing: ChunkSigning,
        /// Whether signed trailers follow.
        trailer: bool,
    },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    UnsignedTrailer,
}

enum State {
    Header,
    Data { remaining: u64 },
    DataEnd,
    Trailers,
    Done,
}

/// Decodes and verifies an aws-chunked body.
pub struct AwsChunkedBody<B> {
    inner: B,
    mode: ChunkMode,
    buf: BytesMut,
    state: State,
    expected_sig: Option<[u8; 32]>,
    prev_sig: [u8; 32],
    chunk_hash: Sha256,
    checksum: Option<(ChecksumAlgorithm, Checksum)>,
    trailers: Vec<u8>,
    decoded: u64,
    declared: u64,
    held: Option<Bytes>,
    ready: Option<Bytes>,
    verdict: BodyVerdict,
    inner_done: bool,
    failed: bool,
}

fn err(code: S3ErrorCode, message: &'static str) -> GatewayError {
    GatewayError::auth(code, message)
}

impl<B> AwsChunkedBody<B> {
    /// Wraps `inner`. `declared` is `x-amz-decoded-content-length`; `checksum` the
    /// algorithm named by `x-amz-trailer`, if any.
    pub fn new(
        inner: B,
        mode: ChunkMode,
        declared: u64,
        checksum: Option<ChecksumAlgorithm>,
        verdict: BodyVerdict,
    ) -> Self {
        let prev_sig = match &mode {
            ChunkMode::Signed { signing, .. } => signing.seed,
            ChunkMode::UnsignedTrailer => [0; 32],
        };
        AwsChunkedBody {
            inner,
            mode,
            buf: BytesMut::new(),
            state: State::Header,
            expected_sig: None,
            prev_sig,
            chunk_hash: Sha256::new(),
            checksum: checksum.map(|a| (a, Checksum::new(a))),
            trailers: Vec::new(),
            decoded: 0,
            declared,
            held: None,
            ready: None,
            verdict,
            inner_done: false,
            failed: false,
        }
    }

    fn signed(&self) -> bool {
        matches!(self.mode, ChunkMode::Signed { .. })
    }

    fn has_trailer(&self) -> bool {
        matches!(
            self.mode,
            ChunkMode::Signed { trailer: true, .. } | ChunkMode::UnsignedTrailer
        )
    }

    fn take_line(&mut self) -> Result<Option<BytesMut>, GatewayError> {
        let window = &self.buf[..self.buf.len().min(MAX_LINE + 2)];
        match window.windows(2).position(|w| w == b"\r\n") {
            Some(pos) if pos <= MAX_LINE => {
                let line = self.buf.split_to(pos);
                self.buf.advance(2);
                Ok(Some(line))
            }
            Some(_) => Err(err(
                S3ErrorCode::InvalidRequest,
                "An aws-chunked header line is too long.",
            )),
            None if self.buf.len() > MAX_LINE => Err(err(
                S3ErrorCode::InvalidRequest,
                "An aws-chunked header line is too long.",
            )),
            None => Ok(None),
        }
    }

    fn parse_header(&mut self, line: &[u8]) -> Result<u64, GatewayError> {
        let malformed = || err(S3ErrorCode::InvalidRequest, "Malformed aws-chunked chunk header.");
        let line = std::str::from_utf8(line).map_err(|_| malformed())?;
        let (size, ext) = match line.split_once(';') {
            Some((s, e)) => (s, Some(e)),
            None => (line, None),
        };
        if size.is_empty() || size.len() > 16 {
            return Err(malformed());
        }
        let size = u64::from_str_radix(size, 16).map_err(|_| malformed())?;
        if self.signed() {
            let sig = ext
                .and_then(|e| e.strip_prefix("chunk-signature="))
                .ok_or_else(malformed)?;
            let mut bytes = [0u8; 32];
            if sig.len() != 64 || hex::decode_to_slice(sig, &mut bytes).is_err() {
                return Err(malformed());
            }
            self.expected_sig = Some(bytes);
        } else if ext.is_some() {
            return Err(malformed());
        }
        Ok(size)
    }

    /// Verifies the chunk just read against the chained signature.
    fn verify_chunk(&mut self) -> Result<(), GatewayError> {
        let ChunkMode::Signed { signing, .. } = &self.mode else {
            return Ok(());
        };
        let chunk_hash: [u8; 32] = std::mem::take(&mut self.chunk_hash).finalize().into();
        let mut mac = signing.key.mac();
        use super::canonical::Sink;
        mac.put(b"AWS4-HMAC-SHA256-PAYLOAD\n");
        mac.put(signing.amz_date.as_bytes());
        mac.put(b"\n");
        mac.put(signing.scope.as_bytes());
        mac.put(b"\n");
        mac.put(hex::encode(self.prev_sig).as_bytes());
        mac.put(b"\n");
        mac.put(EMPTY_SHA256.as_bytes());
        mac.put(b"\n");
        mac.put(hex::encode(chunk_hash).as_bytes());
        let computed = mac.finish();
        let expected = self.expected_sig.take().unwrap_or([0; 32]);
        if !bool::from(computed.ct_eq(&expected)) {
            return Err(err(
                S3ErrorCode::SignatureDoesNotMatch,
                "The request signature we calculated does not match the signature you provided (aws-chunked chunk signature).",
            ));
        }
        self.prev_sig = computed;
        Ok(())
    }

    fn finish_trailers(&mut self) -> Result<(), GatewayError> {
        let text = std::str::from_utf8(&self.trailers)
            .map_err(|_| err(S3ErrorCode::InvalidRequest, "Malformed aws-chunked trailer."))?
            .to_owned();
        let mut canonical = String::new();
        let mut trailer_sig = None;
        let mut checksum_value = None;
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| err(S3ErrorCode::InvalidRequest, "Malformed aws-chunked trailer."))?;
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            if name == "x-amz-trailer-signature" {
                trailer_sig = Some(value.to_owned());
                continue;
            }
            if let Some((alg, _)) = &self.checksum {
                if name == alg.header_name() {
                    checksum_value = Some(value.to_owned());
                }
            }
            canonical.push_str(&name);
            canonical.push(':');
            canonical.push_str(value);
            canonical.push('\n');
        }
        if let ChunkMode::Signed { signing, trailer: true } = &self.mode {
            let mut expected = [0u8; 32];
            let sig = trailer_sig
                .ok_or_else(|| err(S3ErrorCode::SignatureDoesNotMatch, "The trailer signature is missing."))?;
            if sig.len() != 64 || hex::decode_to_slice(&sig, &mut expected).is_err() {
                return Err(err(
                    S3ErrorCode::SignatureDoesNotMatch,
                    "The trailer signature is malformed.",
                ));
            }
            let mut mac = signing.key.mac();
            use super::canonical::Sink;
            mac.put(b"AWS4-HMAC-SHA256-TRAILER\n");
            mac.put(signing.amz_date.as_bytes());
            mac.put(b"\n");
            mac.put(signing.scope.as_bytes());
            mac.put(b"\n");
            mac.put(hex::encode(self.prev_sig).as_bytes());
            mac.put(b"\n");
            mac.put(hex::encode(Sha256::digest(canonical.as_bytes())).as_bytes());
            if !bool::from(mac.finish().ct_eq(&expected)) {
                return Err(err(
                    S3ErrorCode::SignatureDoesNotMatch,
                    "The request signature we calculated does not match the signature you provided (aws-chunked trailer signature).",
                ));
            }
        }
        if let Some((alg, sum)) = self.checksum.take() {
            let given = checksum_value.ok_or_else(|| {
                err(
                    S3ErrorCode::InvalidRequest,
                    "The checksum named in x-amz-trailer is missing from the trailer.",
                )
            })?;
            let computed = sum.finish_base64();
            if given != computed {
                return Err(GatewayError::auth(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        alg.label()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Advances the parser over buffered input; may set `ready` to decoded bytes.
    fn step(&mut self) -> Result<bool, GatewayError> {
        match self.state {
            State::Header => {
                let Some(line) = self.take_line()? else {
                    return Ok(false);
                };
                let size = self.parse_header(&line)?;
                if size == 0 {
                    self.verify_chunk()?;
                    self.state = State::Trailers;
                } else {
                    if self.decoded.checked_add(size).is_none_or(|end| end > self.declared) {
                        return Err(err(
                            S3ErrorCode::IncompleteBody,
                            "The aws-chunked body is longer than x-amz-decoded-content-length.",
                        ));
                    }
                    self.state = State::Data { remaining: size };
                }
                Ok(true)
            }
            State::Data { remaining } => {
                if self.buf.is_empty() {
                    return Ok(false);
                }
                let n = remaining.min(self.buf.len() as u64) as usize;
                let data = self.buf.split_to(n).freeze();
                if self.signed() {
                    self.chunk_hash.update(&data);
                }
                if let Some((_, sum)) = &mut self.checksum {
                    sum.update(&data);
                }
                self.decoded += n as u64;
                self.state = if remaining == n as u64 {
                    State::DataEnd
                } else {
                    State::Data {
                        remaining: remaining - n as u64,
                    }
                };
                self.ready = Some(data);
                Ok(true)
            }
            State::DataEnd => {
                if self.buf.len() < 2 {
                    return Ok(false);
                }
                if &self.buf[..2] != b"\r\n" {
                    return Err(err(
                        S3ErrorCode::InvalidRequest,
                        "Malformed aws-chunked body: chunk data is not followed by CRLF.",
                    ));
                }
                self.buf.advance(2);
                self.verify_chunk()?;
                self.state = State::Header;
                Ok(true)
            }
            State::Trailers => {
                if !self.has_trailer() {
                    // A final chunk with no trailers ends with an empty line; some clients
                    // end the stream right after the final chunk header.
                    if self.buf.len() >= 2 && &self.buf[..2] == b"\r\n" {
                        self.buf.advance(2);
                    } else if !(self.inner_done && self.buf.is_empty()) {
                        return if self.buf.len() >= 2 {
                            Err(err(
                                S3ErrorCode::InvalidRequest,
                                "Malformed aws-chunked body after the final chunk.",
                            ))
                        } else {
                            Ok(false)
                        };
                    }
                    self.state = State::Done;
                    return Ok(true);
                }
                let Some(line) = self.take_line()? else {
                    return Ok(false);
                };
                if line.is_empty() {
                    self.finish_trailers()?;
                    self.state = State::Done;
                } else {
                    if self.trailers.len() + line.len() > MAX_TRAILERS {
                        return Err(err(
                            S3ErrorCode::InvalidRequest,
                            "The aws-chunked trailer is too large.",
                        ));
                    }
                    self.trailers.extend_from_slice(&line);
                    self.trailers.extend_from_slice(b"\r\n");
                }
                Ok(true)
            }
            State::Done => {
                if !self.buf.is_empty() {
                    return Err(err(
                        S3ErrorCode::InvalidRequest,
                        "Unexpected data after the final aws-chunked chunk.",
                    ));
                }
                Ok(false)
            }
        }
    }
}

impl<B> Body for AwsChunkedBody<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        let fail = |this: &mut Self, e: GatewayError| {
            this.failed = true;
            this.held = None;
            this.buf.clear();
            Poll::Ready(Some(Err(this.verdict.refuse(e))))
        };
        loop {
            // Parse what is buffered.
            loop {
                match this.step() {
                    Err(e) => return fail(this, e),
                    Ok(false) => break,
                    Ok(true) => {
                        if let Some(data) = this.ready.take() {
                            if let Some(prev) = this.held.replace(data) {
                                return Poll::Ready(Some(Ok(Frame::data(prev))));
                            }
                        }
                    }
                }
            }
            if matches!(this.state, State::Done) && this.buf.is_empty() {
                if this.decoded != this.declared {
                    let e = err(
                        S3ErrorCode::IncompleteBody,
                        "The decoded aws-chunked body is shorter than x-amz-decoded-content-length.",
                    );
                    return fail(this, e);
                }
                return Poll::Ready(this.held.take().map(|b| Ok(Frame::data(b))));
            }
            if this.inner_done {
                let e = err(
                    S3ErrorCode::IncompleteBody,
                    "The aws-chunked body ended before its final chunk.",
                );
                return fail(this, e);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.buf.extend_from_slice(&data);
                    }
                }
                Poll::Ready(None) => this.inner_done = true,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed
    }

    fn size_hint(&self) -> SizeHint {
        if self.failed {
            return SizeHint::with_exact(0);
        }
        SizeHint::with_exact(
            self.declared.saturating_sub(self.decoded) + self.held.as_ref().map_or(0, |h| h.len() as u64),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::credentials::{Credential, CredentialStore};
    use crate::auth::{AuthSettings, Authenticator, RequestView};
    use crate::secret::Secret;
    use base64::Engine;
    use http_body_util::{BodyExt, StreamBody};

    const SEED_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    const CHUNK_SIGS: [&str; 3] = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ];

    fn doc_authenticator() -> Authenticator {
        Authenticator::new(
            AuthSettings {
                max_expires_secs: 604_800,
                clock_skew: std::time::Duration::from_secs(900),
                mismatch_details: true,
                sigv2: true,
            },
            CredentialStore::new(
                "us-east-1",
                vec![Credential::new(
                    "AKIAIOSFODNN7EXAMPLE",
                    vec![Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")],
                )],
            ),
        )
    }

    /// The S3 documentation's aws-chunked example: seed signature from the header, three
    /// chained chunk signatures.
    fn doc_signing() -> ChunkSigning {
        let mut h = http::HeaderMap::new();
        for (k, v) in [
            ("content-encoding", "aws-chunked"),
            ("content-length", "66824"),
            ("host", "s3.amazonaws.com"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-decoded-content-length", "66560"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("authorization", SEED_AUTH),
        ] {
            h.insert(http::HeaderName::from_static(k), v.parse().unwrap());
        }
        let auth = doc_authenticator();
        let id = auth
            .authenticate(&RequestView {
                method: &http::Method::PUT,
                raw_path: "/examplebucket/chunkObject.txt",
                raw_query: None,
                headers: &h,
                host: "s3.amazonaws.com",
                now: super::super::date::AmzDate::parse("20130524T000500Z").unwrap().time(),
            })
            .expect("the documented seed signature verifies");
        id.chunk_signing.expect("streaming identity carries chunk signing")
    }

    fn doc_body() -> Vec<u8> {
        let mut body = Vec::new();
        for (size, sig) in [65536usize, 1024, 0].iter().zip(CHUNK_SIGS) {
            body.extend_from_slice(format!("{size:x};chunk-signature={sig}\r\n").as_bytes());
            body.extend(std::iter::repeat_n(b'a', *size));
            body.extend_from_slice(b"\r\n");
        }
        body
    }

    fn stream(body: Vec<u8>, piece: usize) -> impl Body<Data = Bytes, Error = BoxError> + Unpin {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> = body
            .chunks(piece)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        StreamBody::new(futures_util::stream::iter(frames))
    }

    async fn decode(
        mode: ChunkMode,
        body: Vec<u8>,
        piece: usize,
        declared: u64,
        sum: Option<ChecksumAlgorithm>,
    ) -> (Vec<u8>, Option<GatewayError>) {
        let verdict = BodyVerdict::default();
        let mut b = AwsChunkedBody::new(stream(body, piece), mode, declared, sum, verdict.clone());
        let mut out = Vec::new();
        while let Some(f) = b.frame().await {
            match f {
                Ok(f) => out.extend_from_slice(&f.into_data().unwrap()),
                Err(_) => break,
            }
        }
        (out, verdict.take())
    }

    #[tokio::test]
    async fn documented_example_decodes_in_any_framing() {
        for piece in [1, 7, 8192, 100_000] {
            let mode = ChunkMode::Signed {
                signing: doc_signing(),
                trailer: false,
            };
            let (out, verdict) = decode(mode, doc_body(), piece, 66560, None).await;
            assert!(verdict.is_none(), "piece {piece}: {verdict:?}");
            assert_eq!(out.len(), 66560);
            assert!(out.iter().all(|&b| b == b'a'));
        }
    }

    #[tokio::test]
    async fn a_flipped_byte_in_chunk_two_never_completes() {
        let mut body = doc_body();
        let chunk2 = body.len() - 90 - 1024 + 10;
        body[chunk2] = b'b';
        let mode = ChunkMode::Signed {
            signing: doc_signing(),
            trailer: false,
        };
        let (out, verdict) = decode(mode, body, 8192, 66560, None).await;
        assert_eq!(verdict.unwrap().code(), S3ErrorCode::SignatureDoesNotMatch);
        assert!(out.len() < 66560);
    }

    #[tokio::test]
    async fn truncated_and_overlong_streams_are_refused() {
        let body = doc_body();
        let cut = body[..body.len() - 100].to_vec();
        let mode = ChunkMode::Signed {
            signing: doc_signing(),
            trailer: false,
        };
        let (_, verdict) = decode(mode, cut, 8192, 66560, None).await;
        assert_eq!(verdict.unwrap().code(), S3ErrorCode::IncompleteBody);
        let mode = ChunkMode::Signed {
            signing: doc_signing(),
            trailer: false,
        };
        let (out, verdict) = decode(mode, doc_body(), 8192, 66000, None).await;
        assert_eq!(verdict.unwrap().code(), S3ErrorCode::IncompleteBody);
        assert!(out.len() < 66000);
    }

    fn unsigned_trailer_body(data: &[u8], trailer: &str) -> Vec<u8> {
        let mut body = Vec::new();
        for c in data.chunks(10) {
            body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            body.extend_from_slice(c);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("0\r\n{trailer}\r\n\r\n").as_bytes());
        body
    }

    #[tokio::test]
    async fn unsigned_trailer_checksums() {
        let data = b"hello world, this is a trailing checksum test";
        let crc = base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(data).to_be_bytes());
        let crc32c = base64::engine::general_purpose::STANDARD.encode(crc32c::crc32c(data).to_be_bytes());
        let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(data));
        for (alg, trailer) in [
            (ChecksumAlgorithm::Crc32, format!("x-amz-checksum-crc32:{crc}")),
            (ChecksumAlgorithm::Crc32c, format!("x-amz-checksum-crc32c:{crc32c}")),
            (ChecksumAlgorithm::Sha256, format!("x-amz-checksum-sha256:{sha}")),
        ] {
            let (out, verdict) = decode(
                ChunkMode::UnsignedTrailer,
                unsigned_trailer_body(data, &trailer),
                5,
                data.len() as u64,
                Some(alg),
            )
            .await;
            assert!(verdict.is_none(), "{alg:?}: {verdict:?}");
            assert_eq!(out, data);
        }
        let (out, verdict) = decode(
            ChunkMode::UnsignedTrailer,
            unsigned_trailer_body(data, "x-amz-checksum-crc32:AAAAAA=="),
            5,
            data.len() as u64,
            Some(ChecksumAlgorithm::Crc32),
        )
        .await;
        assert_eq!(verdict.unwrap().code(), S3ErrorCode::BadDigest);
        assert!(out.len() < data.len());
    }
}
