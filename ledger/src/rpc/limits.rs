//! What keeps the RPC answering while someone abuses it.
//!
//! - **Connections**: at most [`RpcLimits::max_connections`] open at once; the listener stops
//!   accepting (new ones wait in the kernel's backlog) until one closes.
//! - **Requests in flight**: at most [`RpcLimits::max_in_flight`] handled at once; more are
//!   answered `503 overloaded` at once rather than queued. Each request is cut off after
//!   [`RpcLimits::request_timeout`] (`504 timeout`), which is longer than the longest wait.
//! - **Waits** (long polls: `wait_ms`, `wait=true`): at most [`RpcLimits::max_waits`] at once
//!   in total and [`RpcLimits::max_waits_per_client`] per client IP address; more are answered
//!   `429 too_many_waits` at once.
//! - **Bodies**: each route caps its body (1 MiB for one transaction, 8 MiB for a batch).
//! - **Blocking work** (RocksDB reads, state scans) runs on the blocking pool, not on the
//!   async workers that answer everyone else; an account's objects come from an owner index,
//!   a page at a time.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ApiError, MAX_WAIT};

/// The RPC's bounds (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcLimits {
    /// Most open connections.
    pub max_connections: usize,
    /// Most requests handled at once.
    pub max_in_flight: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Most waiting requests (long polls) at once.
    pub max_waits: usize,
    /// Most waiting requests of one client IP address at once.
    pub max_waits_per_client: usize,
}

impl Default for RpcLimits {
    fn default() -> Self {
        RpcLimits {
            max_connections: 4_096,
            max_in_flight: 2_048,
            request_timeout: MAX_WAIT + Duration::from_secs(10),
            max_waits: 1_024,
            max_waits_per_client: 64,
        }
    }
}

/// A TCP listener that holds at most `max` connections open.
pub struct CappedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
}

impl CappedListener {
    /// Caps `inner` at `max` open connections.
    pub fn new(inner: TcpListener, max: usize) -> Self {
        CappedListener {
            inner,
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }
}

impl Listener for CappedListener {
    type Io = CappedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        (
            CappedStream {
                stream,
                _permit: permit,
            },
            addr,
        )
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection holding its slot until it is dropped.
pub struct CappedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for CappedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CappedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The client address of a connection, for per-client limits.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<IncomingStream<'_, CappedListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, CappedListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// Counts waiting requests, in total and per client.
#[derive(Debug)]
pub(crate) struct Waits {
    max: usize,
    max_per_client: usize,
    held: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// A waiting request's slot; released on drop.
pub(crate) struct WaitSlot {
    waits: Arc<Waits>,
    client: IpAddr,
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        let mut held = self.waits.lock();
        held.0 = held.0.saturating_sub(1);
        if let Some(n) = held.1.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                held.1.remove(&self.client);
            }
        }
    }
}

impl Waits {
    pub(crate) fn new(limits: &RpcLimits) -> Arc<Self> {
        Arc::new(Waits {
            max: limits.max_waits,
            max_per_client: limits.max_waits_per_client,
            held: Mutex::new((0, HashMap::new())),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, HashMap<IpAddr, usize>)> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot for a waiting request of `client`, or a `429` when the limits are reached.
    fn acquire(self: &Arc<Self>, client: IpAddr) -> Result<WaitSlot, ApiError> {
        let mut held = self.lock();
        let of_client = held.1.get(&client).copied().unwrap_or(0);
        if held.0 >= self.max || of_client >= self.max_per_client {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_waits",
                format!(
                    "too many waiting requests ({} in total, {of_client} of this client); \
                     retry without waiting or later",
                    held.0
                ),
            ));
        }
        held.0 += 1;
        *held.1.entry(client).or_default() += 1;
        Ok(WaitSlot {
            waits: self.clone(),
            client,
        })
    }
}

/// Whether a request asks to wait (`wait_ms` > 0 or `wait=true` in its query).
fn waits(request: &Request) -> bool {
    request.uri().query().is_some_and(|q| {
        q.split('&').any(|pair| match pair.split_once('=') {
            Some(("wait_ms", v)) => v != "0",
            Some(("wait", v)) => v == "true",
            _ => false,
        })
    })
}

/// Middleware: a waiting request takes a [`WaitSlot`] for its whole life, or is refused.
pub(crate) async fn limit_waits(
    State(waits_state): State<Arc<Waits>>,
    request: Request,
    next: Next,
) -> Response {
    if !waits(&request) {
        return next.run(request).await;
    }
    let client = request
        .extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip());
    match waits_state.acquire(client) {
        Ok(slot) => {
            let response = next.run(request).await;
            drop(slot);
            response
        }
        Err(e) => e.into_response(),
    }
}

/// Maps the errors of the load-shedding and timeout layers to API errors.
pub(crate) async fn overload_error(error: tower::BoxError) -> ApiError {
    if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "the request took too long",
        )
    } else if error.is::<tower::load_shed::error::Overloaded>() {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many requests in flight; retry shortly",
        )
    } else {
        ApiError::internal(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_slots_are_capped_in_total_and_per_client() {
        let waits = Waits::new(&RpcLimits {
            max_waits: 3,
            max_waits_per_client: 2,
            ..RpcLimits::default()
        });
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let a1 = waits.acquire(a).unwrap();
        let _a2 = waits.acquire(a).unwrap();
        assert!(waits.acquire(a).is_err(), "per client");
        let b1 = waits.acquire(b).unwrap();
        assert!(waits.acquire(b).is_err(), "in total");
        drop(a1);
        let _a3 = waits.acquire(a).unwrap();
        drop(b1);
        assert_eq!(waits.lock().0, 2);
    }

    #[test]
    fn which_requests_wait() {
        let req = |uri: &str| {
            Request::builder()
                .uri(uri)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        assert!(waits(&req("/v1/blocks/5?wait_ms=100")));
        assert!(waits(&req("/v1/transactions?wait=true&timeout_ms=5")));
        assert!(!waits(&req("/v1/blocks/5?wait_ms=0")));
        assert!(!waits(&req("/v1/blocks/5")));
        assert!(!waits(&req("/v1/transactions?wait=false")));
    }
}
