//! Lingering close. When hyper closes a connection whose client is still sending (an
//! upload refused before its body was read), closing the socket with unread bytes makes
//! the kernel send a reset, and the client loses the answer it was about to read. This IO
//! wrapper closes gracefully instead: it sends FIN, then reads and discards what the
//! client still sends, for a bounded time, before the socket is dropped.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};
use tokio::time::Sleep;

/// How long a closing connection keeps reading what the client still sends.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes read away while lingering.
const LINGER_BYTES: usize = 16 << 20;

/// An IO that lingers on shutdown.
pub struct LingerIo<T> {
    inner: T,
    state: Option<Lingering>,
}

struct Lingering {
    deadline: Pin<Box<Sleep>>,
    discarded: usize,
    fin_sent: bool,
}

impl<T> LingerIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        LingerIo { inner, state: None }
    }
}

impl<T: Read + Unpin> Read for LingerIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: Read + Write + Unpin> Write for LingerIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let state = this.state.get_or_insert_with(|| Lingering {
            deadline: Box::pin(tokio::time::sleep(LINGER)),
            discarded: 0,
            fin_sent: false,
        });
        if !state.fin_sent {
            match Pin::new(&mut this.inner).poll_shutdown(cx) {
                Poll::Ready(Ok(())) => state.fin_sent = true,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let mut scratch = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
        loop {
            if state.deadline.as_mut().poll(cx).is_ready() || state.discarded > LINGER_BYTES {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::uninit(&mut scratch);
            match Pin::new(&mut this.inner).poll_read(cx, buf.unfilled()) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => state.discarded += buf.filled().len(),
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
}
