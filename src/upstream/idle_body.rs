//! A body that fails when no frame arrives for a while: an upstream that stops sending a
//! response body, or a client that stops sending its upload, would otherwise hold a
//! connection on each side for ever.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::auth::body::BodyVerdict;
use crate::response::{BoxError, GatewayError};

/// Fails with `on_idle` when `inner` yields nothing for `idle`.
pub struct IdleTimeoutBody<B> {
    inner: B,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    on_idle: Option<(GatewayError, Option<BodyVerdict>)>,
}

#[derive(Debug, thiserror::Error)]
#[error("body idle for longer than {0:?}")]
struct Idle(Duration);

impl<B> IdleTimeoutBody<B> {
    /// Wraps `inner`; when it stalls, `error` is recorded in `verdict` (if any) and the
    /// body fails.
    pub fn new(inner: B, idle: Duration, error: GatewayError, verdict: Option<BodyVerdict>) -> Self {
        IdleTimeoutBody {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            on_idle: Some((error, verdict)),
        }
    }
}

impl<B> Body for IdleTimeoutBody<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                let next = Instant::now() + this.idle;
                this.deadline.as_mut().reset(next);
                Poll::Ready(r)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => match this.on_idle.take() {
                    Some((err, Some(verdict))) => Poll::Ready(Some(Err(verdict.refuse(err)))),
                    Some((_, None)) | None => Poll::Ready(Some(Err(Box::new(Idle(this.idle))))),
                },
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
