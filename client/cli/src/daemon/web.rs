//! What makes the daemon's answers safe and cheap to serve to browsers and caches.
//!
//! Rules, applied to every response by [`web_headers`]:
//! - `X-Content-Type-Options: nosniff`, so that a browser never guesses a type the daemon did
//!   not send.
//! - CORS for reads: with [`DaemonOptions::cors_allow_origin`] set (default `*`), `GET` and
//!   `HEAD` answers carry `Access-Control-Allow-Origin` and expose the range and caching
//!   headers; an `OPTIONS` preflight is answered `204` for `GET`/`HEAD` (never for `PUT`: a
//!   web page cannot make the publisher spend its operator's WAL).
//! - Active content is sandboxed: an answer whose `Content-Type` a browser would run
//!   (`text/html`, XHTML, SVG, XML) carries `Content-Security-Policy: sandbox`, so a stored
//!   page cannot run script with the daemon's origin (stored XSS), unless the operator sets
//!   [`DaemonOptions::allow_active_content`].
//!
//! Caching: content addressed by blob id never changes, so a successful read
//! of `/v1/blobs/{id}` is `public, max-age=31536000, immutable` (with the blob id as `ETag`);
//! a read by object id is `public, max-age=60` (the object may be deleted or expire); errors
//! carry `no-store`, so that a "not certified yet" is not remembered.
//!
//! [`DaemonOptions::cors_allow_origin`]: super::DaemonOptions::cors_allow_origin
//! [`DaemonOptions::allow_active_content`]: super::DaemonOptions::allow_active_content

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::State;

/// `Cache-Control` of reads addressed by blob id.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of reads addressed by blob object id.
pub const BY_OBJECT: &str = "public, max-age=60";
/// `Cache-Control` of errors.
pub const NO_STORE: &str = "no-store";

/// Headers a browser script may read from a cross-origin answer.
const EXPOSED: &str = "content-length, content-range, content-type, etag, accept-ranges";

/// Errors are not cached: an answer that is not a success gets `no-store`, whatever its
/// handler set.
fn no_store_unless_success(headers: &mut HeaderMap, status: StatusCode) {
    if !status.is_success() {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    }
}

/// Whether a browser would run content of this type (HTML, XHTML, SVG, XML).
pub fn is_active(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html" | "application/xhtml+xml" | "image/svg+xml" | "text/xml" | "application/xml"
    ) || essence.ends_with("+xml") && essence.starts_with("application/")
}

/// The middleware applying the module's rules.
pub(crate) async fn web_headers(
    AxState(state): AxState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let origin = state.options.cors_allow_origin.clone();
    let is_preflight = method == Method::OPTIONS
        && request.headers().contains_key(header::ORIGIN)
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        return preflight(request.headers(), origin.as_deref());
    }
    let mut response = next.run(request).await;
    let status = response.status();
    let headers = response.headers_mut();
    no_store_unless_success(headers, status);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(origin) = origin
        && (method == Method::GET || method == Method::HEAD)
        && let Ok(value) = HeaderValue::from_str(&origin)
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
        if origin != "*" {
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
    }
    let active = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_active);
    if active && !state.options.allow_active_content {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox"),
        );
    }
    response
}

/// The answer to a CORS preflight: reads are allowed from the configured origin, nothing else.
fn preflight(request: &HeaderMap, origin: Option<&str>) -> Response {
    let asked = request
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let allowed = matches!(asked, "GET" | "HEAD");
    let mut response = (StatusCode::NO_CONTENT, Body::empty()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let (true, Some(origin)) = (allowed, origin)
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("range, if-none-match"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_types() {
        for t in [
            "text/html",
            "TEXT/HTML; charset=utf-8",
            "image/svg+xml",
            "application/xhtml+xml",
            "application/rss+xml",
            "text/xml",
        ] {
            assert!(is_active(t), "{t}");
        }
        for t in [
            "text/plain",
            "image/png",
            "application/json",
            "application/octet-stream",
            "",
        ] {
            assert!(!is_active(t), "{t}");
        }
    }

    #[test]
    fn errors_are_not_cached() {
        let mut h = HeaderMap::new();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
        no_store_unless_success(&mut h, StatusCode::PARTIAL_CONTENT);
        assert_eq!(h[header::CACHE_CONTROL], IMMUTABLE);
        no_store_unless_success(&mut h, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(h[header::CACHE_CONTROL], NO_STORE);
        let mut h = HeaderMap::new();
        no_store_unless_success(&mut h, StatusCode::NOT_FOUND);
        assert_eq!(h[header::CACHE_CONTROL], NO_STORE);
    }
}
