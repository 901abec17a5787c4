//! The daemon's Prometheus metrics (`GET /metrics`, OpenMetrics text), prefixed `floe_daemon`:
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `requests_total` | `route`, `method`, `status` | answers by route template (`/v1/blobs/{blob_id}`, or `other` for unknown paths) |
//! | `response_bytes_total` | `route` | body bytes of the answers (a streamed body by its `Content-Length`) |
//! | `read_node_bytes_total` | | sliver and symbol bytes fetched from storage nodes for read bodies |
//! | `read_degraded_total` | | read bodies that fell back to decoding (a row's holder failed) |
//! | `request_seconds` | `route` | time to the response's head, as a histogram |
//! | `reads_in_flight`, `stores_in_flight` | | slots held now |

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::body::HttpBody as _;
use axum::extract::{MatchedPath, Request, State as AxState};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::State;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The daemon's metrics.
pub(crate) struct DaemonMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    bytes: Family<RouteLabels, Counter<u64, AtomicU64>>,
    seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    reads_in_flight: Gauge,
    stores_in_flight: Gauge,
    pub(crate) read_node_bytes: Counter,
    pub(crate) read_degraded: Counter,
    render: std::sync::Mutex<()>,
}

impl Default for DaemonMetrics {
    fn default() -> Self {
        let mut m = DaemonMetrics {
            registry: Registry::with_prefix("floe_daemon"),
            requests: Family::default(),
            bytes: Family::default(),
            seconds: Family::new_with_constructor(latency_histogram),
            reads_in_flight: Gauge::default(),
            stores_in_flight: Gauge::default(),
            read_node_bytes: Counter::default(),
            read_degraded: Counter::default(),
            render: std::sync::Mutex::new(()),
        };
        let r = &mut m.registry;
        r.register(
            "requests",
            "Answers by route, method and status",
            m.requests.clone(),
        );
        r.register(
            "response_bytes",
            "Body bytes answered, by route",
            m.bytes.clone(),
        );
        r.register(
            "request_seconds",
            "Time to the response's head, by route",
            m.seconds.clone(),
        );
        r.register(
            "reads_in_flight",
            "Read slots held",
            m.reads_in_flight.clone(),
        );
        r.register(
            "stores_in_flight",
            "Store slots held",
            m.stores_in_flight.clone(),
        );
        r.register(
            "read_node_bytes",
            "Sliver and symbol bytes fetched from storage nodes for read bodies",
            m.read_node_bytes.clone(),
        );
        r.register(
            "read_degraded",
            "Read bodies that fell back to decoding because a row's holder failed",
            m.read_degraded.clone(),
        );
        m
    }
}

impl DaemonMetrics {
    /// OpenMetrics text, with the slot gauges read now.
    pub(crate) fn render(&self, reads_in_flight: usize, stores_in_flight: usize) -> String {
        let _one_at_a_time = self
            .render
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.reads_in_flight
            .set(i64::try_from(reads_in_flight).unwrap_or(i64::MAX));
        self.stores_in_flight
            .set(i64::try_from(stores_in_flight).unwrap_or(i64::MAX));
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// The middleware counting every answer.
pub(crate) async fn count(
    AxState(state): AxState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let m = &state.metrics;
    m.requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            method,
            status: response.status().as_u16(),
        })
        .inc();
    let labels = RouteLabels { route };
    m.seconds
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    let len = response.body().size_hint().exact().or_else(|| {
        response
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
    });
    if let Some(len) = len {
        m.bytes.get_or_create(&labels).inc_by(len);
    }
    response
}
