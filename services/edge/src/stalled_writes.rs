//! A connection whose writes must keep moving: when the client stops reading, so that a write
//! stays pending for longer than its allowance, the connection fails with `TimedOut` and is
//! closed. hyper has no write timeout of its own; without one a client that never reads would
//! hold its connection, and the row stream behind it, forever.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `inner`, failing a write that makes no progress for `allowance`.
pub struct StalledWrites<S> {
    inner: S,
    allowance: Duration,
    /// Running while a write (or flush) is pending; cleared by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> StalledWrites<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, allowance: Duration) -> Self {
        StalledWrites {
            inner,
            allowance,
            stalled: None,
        }
    }

    /// After the inner write returned `outcome`: progress clears the clock, pending starts it
    /// (or fails once it has run out).
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if outcome.is_ready() {
            self.stalled = None;
            return outcome;
        }
        let allowance = self.allowance;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + allowance)));
        ready!(stalled.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading",
        )))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StalledWrites<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StalledWrites<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, outcome)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, outcome)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[tokio::test]
    async fn a_write_the_reader_never_takes_fails_after_its_allowance() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut stream = StalledWrites::new(near, Duration::from_millis(100));
        let started = std::time::Instant::now();
        let error = tokio::time::timeout(Duration::from_secs(5), stream.write_all(&[7; 1024]))
            .await
            .expect("the stalled write fails, not hangs")
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(100));

        // A reader that keeps taking, however slowly, is never cut off.
        let (near, mut far_reader) = tokio::io::duplex(64);
        let mut stream = StalledWrites::new(near, Duration::from_millis(100));
        let reader = tokio::spawn(async move {
            let mut taken = Vec::new();
            let mut buffer = [0; 64];
            while taken.len() < 1024 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let read = far_reader.read(&mut buffer).await.unwrap();
                taken.extend_from_slice(&buffer[..read]);
            }
            taken.len()
        });
        stream.write_all(&[7; 1024]).await.unwrap();
        assert_eq!(reader.await.unwrap(), 1024);
        far.shutdown().await.unwrap();
    }
}
