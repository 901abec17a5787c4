//! Connections: a TCP listener whose connections give up on a client that stops reading.
//!
//! A streamed body holds a read slot and a share of the read buffer until it has been written
//! ([`floe_client::blobs::BlobClient::stream`]). A client that stops reading would hold them for
//! as long as TCP keeps the connection open, which can be hours. So every write to a client
//! (and flush, and shutdown) that makes no progress for the stall timeout fails with
//! `TimedOut`: the HTTP server drops the connection, and with it the body, the slot and the
//! buffers. A slow client that keeps reading is never cut: only a write that is stuck counts,
//! and the timer restarts whenever the socket takes bytes. Idle keep-alive connections write
//! nothing and are left to the server's own idle handling.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// A [`TcpListener`] whose connections time out writes that make no progress
/// ([module docs](self)).
pub struct StallGuardedListener {
    inner: TcpListener,
    stall: Duration,
}

impl StallGuardedListener {
    /// Wraps `inner`; a write stuck for `stall` fails.
    pub fn new(inner: TcpListener, stall: Duration) -> Self {
        StallGuardedListener { inner, stall }
    }
}

impl Listener for StallGuardedListener {
    type Io = StallGuarded<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The TCP listener's own accept retries on errors such as too many open files.
        let (io, addr) = Listener::accept(&mut self.inner).await;
        (StallGuarded::new(io, self.stall), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The client's address, as handlers see it (`ConnectInfo<ClientAddr>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, StallGuardedListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, StallGuardedListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// An IO whose writes fail with `TimedOut` after `stall` without progress.
pub struct StallGuarded<T> {
    inner: T,
    stall: Duration,
    /// Armed when a write returned `Pending`; cleared when one makes progress.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<T> StallGuarded<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, stall: Duration) -> Self {
        StallGuarded {
            inner,
            stall,
            deadline: None,
        }
    }

    /// Passes a ready result through (disarming the timer); on `Pending`, arms the timer and
    /// fails once it fires.
    fn guard<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if poll.is_ready() {
            self.deadline = None;
            return poll;
        }
        let stall = self.stall;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        ready!(deadline.as_mut().poll(cx));
        self.deadline = None;
        tracing::debug!(
            stall_ms = stall.as_millis() as u64,
            "client stopped reading: dropping the connection"
        );
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the client read nothing for {} s", stall.as_secs()),
        )))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuarded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.guard(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    #[tokio::test(start_paused = true)]
    async fn a_stuck_write_times_out_and_progress_resets_the_timer() {
        // A pipe with room for 8 bytes that nobody reads.
        let (a, mut b) = tokio::io::duplex(8);
        let mut guarded = StallGuarded::new(a, Duration::from_secs(5));
        guarded.write_all(b"12345678").await.unwrap();
        // The reader takes 4 bytes within the timeout: the next write progresses.
        let mut buf = [0u8; 4];
        let writer = async {
            guarded.write_all(b"abcd").await.unwrap();
            // Now nobody reads: the next write is stuck and fails after 5 s.
            let e = guarded.write_all(b"efgh").await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        };
        let reader = async {
            tokio::time::sleep(Duration::from_secs(4)).await;
            tokio::io::AsyncReadExt::read_exact(&mut b, &mut buf)
                .await
                .unwrap();
        };
        let started = tokio::time::Instant::now();
        tokio::join!(writer, reader);
        // 4 s until the reader made room, then 5 s of a stuck write.
        assert_eq!(started.elapsed().as_secs(), 9);
    }
}
