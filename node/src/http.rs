//! The node's HTTP endpoint: `GET /health` (JSON), `GET /metrics` (OpenMetrics text, which
//! Prometheus scrapes) and the operator routes of [`admin`] (`POST /admin/checkpoint`), which
//! answer loopback peers only.

pub mod admin;

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::core::NodeCore;
use crate::protocol::HealthResponse;

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpHealth {
    /// The node's configured name.
    pub name: String,
    /// `"ok"`.
    pub status: String,
    /// The disk is too full to take new data (writes are refused with `storage_full`; reads
    /// go on).
    #[serde(default)]
    pub storage_full: bool,
    /// The node's view.
    #[serde(flatten)]
    pub health: HealthResponse,
}

struct Ctx {
    core: Arc<NodeCore>,
    name: String,
}

async fn health(State(ctx): State<Arc<Ctx>>) -> Json<HttpHealth> {
    Json(HttpHealth {
        name: ctx.name.clone(),
        status: "ok".into(),
        storage_full: ctx.core.storage().space().full,
        health: ctx.core.health(),
    })
}

async fn metrics(State(ctx): State<Arc<Ctx>>) -> impl IntoResponse {
    let text = ctx.core.metrics().render(&ctx.core.gauges());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

/// Serves `/health`, `/metrics` and the [`admin`] routes on `listener` until `cancel` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    core: Arc<NodeCore>,
    name: String,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let admin = admin::router(core.storage().clone());
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(Arc::new(Ctx { core, name }))
        .merge(admin);
    // The admin routes check the peer's address.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
}
