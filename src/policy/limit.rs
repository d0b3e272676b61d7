//! The second line behind declared sizes: a body that counts bytes as they stream and
//! refuses the request (no object upstream) the moment it passes its limit.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::auth::body::BodyVerdict;
use crate::response::BoxError;

use super::rules::too_large;

/// Counts bytes; more than `max` is `EntityTooLarge`.
pub struct LimitBody<B> {
    inner: B,
    max: u64,
    seen: u64,
    verdict: BodyVerdict,
    failed: bool,
}

impl<B> LimitBody<B> {
    /// Wraps `inner` with a limit of `max` bytes.
    pub fn new(inner: B, max: u64, verdict: BodyVerdict) -> Self {
        LimitBody {
            inner,
            max,
            seen: 0,
            verdict,
            failed: false,
        }
    }
}

impl<B> Body for LimitBody<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.seen += d.len() as u64;
                    if self.seen > self.max {
                        self.failed = true;
                        let e = too_large(self.seen, self.max);
                        return Poll::Ready(Some(Err(self.verdict.refuse(e))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
