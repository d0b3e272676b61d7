//! Bodies that verify what the signature promised about them, as they stream.
//!
//! The rule for all of them: the end of the body is held back until every check has
//! passed. The upstream is told the exact length up front, so if a check fails the last
//! bytes never arrive, the upstream request is aborted, and no object is committed. The
//! reason is left in a [`BodyVerdict`] so the client gets S3's error, not a generic 502.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use sha2::{Digest, Sha256};

use crate::response::{BoxError, GatewayError, S3ErrorCode};

/// Why a streamed body was refused, shared between the body and the request handler.
#[derive(Clone, Default)]
pub struct BodyVerdict(Arc<Mutex<Option<GatewayError>>>);

impl std::fmt::Debug for BodyVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyVerdict")
    }
}

/// The error a refusing body yields to its reader (the upstream client), which aborts.
#[derive(Debug, thiserror::Error)]
#[error("request body refused: {0}")]
pub struct BodyRefused(pub &'static str);

impl BodyVerdict {
    /// Records `err` (the first one wins) and returns the error to yield.
    pub fn refuse(&self, err: GatewayError) -> BoxError {
        let code = err.code().as_str();
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(err);
        }
        Box::new(BodyRefused(code))
    }

    /// The recorded refusal, if any.
    pub fn take(&self) -> Option<GatewayError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// A check run over a body as it streams, decided at its end.
pub trait StreamCheck {
    /// Sees the next bytes.
    fn update(&mut self, data: &[u8]);
    /// The verdict once the body has ended: `Some` refuses it.
    fn finish(&mut self) -> Option<GatewayError>;
}

/// Passes a body through its check, holding back the last frame until the check has
/// passed at the end of the body; on failure the held frame is never released and the
/// body fails, with the reason recorded in the verdict.
pub struct CheckedBody<B, C> {
    inner: B,
    check: C,
    held: Option<Bytes>,
    verdict: BodyVerdict,
    finished: bool,
}

impl<B, C> CheckedBody<B, C> {
    /// Wraps `inner` with `check`.
    pub fn new(inner: B, check: C, verdict: BodyVerdict) -> Self {
        CheckedBody {
            inner,
            check,
            held: None,
            verdict,
            finished: false,
        }
    }
}

impl<B, C> Body for CheckedBody<B, C>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
    C: StreamCheck + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.finished {
                return Poll::Ready(this.held.take().map(|b| Ok(Frame::data(b))));
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else { continue };
                    if data.is_empty() {
                        continue;
                    }
                    this.check.update(&data);
                    if let Some(prev) = this.held.replace(data) {
                        return Poll::Ready(Some(Ok(Frame::data(prev))));
                    }
                }
                Poll::Ready(None) => {
                    this.finished = true;
                    if let Some(err) = this.check.finish() {
                        this.held = None;
                        return Poll::Ready(Some(Err(this.verdict.refuse(err))));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished && self.held.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        if let Some(h) = &self.held {
            let n = h.len() as u64;
            hint.set_lower(hint.lower() + n);
            if let Some(upper) = hint.upper() {
                hint.set_upper(upper + n);
            }
        }
        hint
    }
}

/// The SHA-256 the client signed (`x-amz-content-sha256`); a mismatch is
/// `XAmzContentSHA256Mismatch`.
pub struct Sha256Check {
    hasher: Sha256,
    expected: [u8; 32],
}

impl Sha256Check {
    /// Expects `expected_hex` (64 hex digits, checked when the signature was parsed).
    pub fn new(expected_hex: &str) -> Self {
        let mut expected = [0u8; 32];
        // A malformed value never matches.
        let _ = hex::decode_to_slice(expected_hex, &mut expected);
        Sha256Check {
            hasher: Sha256::new(),
            expected,
        }
    }
}

impl StreamCheck for Sha256Check {
    fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    fn finish(&mut self) -> Option<GatewayError> {
        let computed: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        (computed != self.expected).then(|| {
            GatewayError::auth(
                S3ErrorCode::XAmzContentSHA256Mismatch,
                S3ErrorCode::XAmzContentSHA256Mismatch.default_message(),
            )
            .with_detail("ClientComputedContentSHA256", hex::encode(self.expected))
            .with_detail("S3ComputedContentSHA256", hex::encode(computed))
        })
    }
}

/// A body checked against its signed SHA-256.
pub type VerifySha256<B> = CheckedBody<B, Sha256Check>;

/// Wraps `inner` so it must hash to `expected_hex`.
pub fn verify_sha256<B>(inner: B, expected_hex: &str, verdict: BodyVerdict) -> VerifySha256<B> {
    CheckedBody::new(inner, Sha256Check::new(expected_hex), verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    fn body(chunks: &[&'static [u8]]) -> impl Body<Data = Bytes, Error = BoxError> + Unpin {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> =
            chunks.iter().map(|c| Ok(Frame::data(Bytes::from_static(c)))).collect();
        StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn passes_a_matching_body_whole() {
        let hash = hex::encode(Sha256::digest(b"hello world"));
        let v = BodyVerdict::default();
        let out = verify_sha256(body(&[b"hello", b" ", b"world"]), &hash, v.clone())
            .collect()
            .await
            .unwrap();
        assert_eq!(out.to_bytes(), "hello world");
        assert!(v.take().is_none());
    }

    #[tokio::test]
    async fn holds_back_the_end_of_a_mismatching_body() {
        let hash = hex::encode(Sha256::digest(b"hello world"));
        let v = BodyVerdict::default();
        let mut b = verify_sha256(body(&[b"hello", b" ", b"wOrld"]), &hash, v.clone());
        let mut seen = Vec::new();
        let mut failed = false;
        while let Some(frame) = b.frame().await {
            match frame {
                Ok(f) => seen.extend_from_slice(&f.into_data().unwrap()),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed);
        assert_eq!(seen, b"hello ", "the last frame must never be released");
        assert_eq!(v.take().unwrap().code(), S3ErrorCode::XAmzContentSHA256Mismatch);
    }
}

/// What the client's integrity headers promise about the body it sends.
#[derive(Debug, Default)]
pub struct Digests {
    md5: Option<[u8; 16]>,
    checksum: Option<(crate::auth::checksum::ChecksumAlgorithm, String)>,
}

impl Digests {
    /// Reads `Content-MD5` and, when `flexible` (a PutObject or UploadPart body), the one
    /// `x-amz-checksum-*` header. Malformed values are `InvalidDigest`; several flexible
    /// checksums at once are `InvalidRequest`, as in S3.
    pub fn from_headers(headers: &http::HeaderMap, flexible: bool) -> Result<Digests, GatewayError> {
        use crate::auth::checksum::ChecksumAlgorithm;
        use base64::Engine;
        let mut d = Digests::default();
        if let Some(v) = headers.get("content-md5") {
            let mut md5 = [0u8; 16];
            let ok = v.to_str().ok().is_some_and(|v| {
                matches!(
                    base64::engine::general_purpose::STANDARD.decode_slice(v.trim().as_bytes(), &mut md5),
                    Ok(16)
                )
            });
            if !ok {
                return Err(GatewayError::client(
                    S3ErrorCode::InvalidDigest,
                    "The Content-MD5 you specified is not valid.",
                ));
            }
            d.md5 = Some(md5);
        }
        if flexible {
            for (name, value) in headers {
                let Some(alg) = ChecksumAlgorithm::from_trailer_name(name.as_str()) else {
                    continue;
                };
                if d.checksum.is_some() {
                    return Err(GatewayError::client(
                        S3ErrorCode::InvalidRequest,
                        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                    ));
                }
                let value = value.to_str().unwrap_or("").trim().to_owned();
                if base64::engine::general_purpose::STANDARD.decode(&value).is_err() {
                    return Err(GatewayError::client(
                        S3ErrorCode::InvalidRequest,
                        format!("Value for {} header is invalid.", alg.header_name()),
                    ));
                }
                d.checksum = Some((alg, value));
            }
        }
        Ok(d)
    }

    /// Whether there is anything to check.
    pub fn is_empty(&self) -> bool {
        self.md5.is_none() && self.checksum.is_none()
    }
}

/// The Content-MD5 and flexible checksum of a body as it streams; a mismatch is
/// `BadDigest`. Checked here rather than left to the upstream, because a store may commit
/// the object before it checks (s3s-fs does).
pub struct DigestCheck {
    md5: Option<(md5::Md5, [u8; 16])>,
    checksum: Option<(
        crate::auth::checksum::Checksum,
        crate::auth::checksum::ChecksumAlgorithm,
        String,
    )>,
}

impl DigestCheck {
    /// Checks what `digests` promise.
    pub fn new(digests: Digests) -> Self {
        use md5::Digest as _;
        DigestCheck {
            md5: digests.md5.map(|m| (md5::Md5::new(), m)),
            checksum: digests
                .checksum
                .map(|(alg, v)| (crate::auth::checksum::Checksum::new(alg), alg, v)),
        }
    }
}

impl StreamCheck for DigestCheck {
    fn update(&mut self, data: &[u8]) {
        use md5::Digest as _;
        if let Some((h, _)) = &mut self.md5 {
            h.update(data);
        }
        if let Some((sum, _, _)) = &mut self.checksum {
            sum.update(data);
        }
    }

    fn finish(&mut self) -> Option<GatewayError> {
        use md5::Digest as _;
        if let Some((h, expected)) = self.md5.take() {
            let got: [u8; 16] = h.finalize().into();
            if got != expected {
                return Some(GatewayError::client(
                    S3ErrorCode::BadDigest,
                    "The Content-MD5 you specified did not match what we received.",
                ));
            }
        }
        if let Some((sum, alg, expected)) = self.checksum.take() {
            if sum.finish_base64() != expected {
                return Some(GatewayError::client(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        alg.label()
                    ),
                ));
            }
        }
        None
    }
}

/// A body checked against its Content-MD5 and flexible checksum.
pub type VerifyDigests<B> = CheckedBody<B, DigestCheck>;

/// Reads a body that should be (nearly) empty through its checks before anything is sent
/// upstream. An upstream request of length 0 never reads its body, so the checks would
/// otherwise never run. Returns the bytes it yielded (at most `limit`).
pub async fn preread(
    mut body: crate::response::GatewayBody,
    verdict: &BodyVerdict,
    limit: usize,
) -> Result<Bytes, GatewayError> {
    use http_body_util::BodyExt;
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Some(d) = f.data_ref() {
                    out.extend_from_slice(d);
                    if out.len() > limit {
                        return Err(GatewayError::client(
                            S3ErrorCode::IncompleteBody,
                            "The request body is longer than its declared length.",
                        ));
                    }
                }
            }
            Err(_) => {
                return Err(verdict.take().unwrap_or_else(|| {
                    GatewayError::client(S3ErrorCode::IncompleteBody, "The request body could not be read.")
                }))
            }
        }
    }
    Ok(out.freeze())
}
