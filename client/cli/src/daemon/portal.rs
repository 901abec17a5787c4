//! The site portal: `http://<name or site label>.localhost:PORT/<path>` serves a site.
//!
//! Rules:
//! - **Host.** A request whose `Host` is `<label>.localhost` (any port) is a site request;
//!   every other request goes to the daemon's API. `<label>` is a held name (resolved through
//!   its name object on the ledger) or a site's 50-character base36 label. Each site is its
//!   own origin, which is what keeps one site's scripts away from another's: site pages are
//!   therefore *not* sandboxed the way the aggregator sandboxes stored HTML.
//! - **Resolution.** The site record (from the ledger, cached for [`RECORD_TTL`]) decides
//!   ([`SiteRecord::resolve`]): a redirect (its status and `Location`), a file (200), the
//!   site's 404 page (404), or a plain 404. A path that is not clean — `..` or `.` segments,
//!   encoded or not, bad escapes, control characters — is refused with 400: nothing outside
//!   the record can be named.
//! - **Bytes.** A file is its quilt patch, read like `GET /v1/blobs/by-quilt-patch-id`: every
//!   byte is verified against the patch's blob id, so a lying storage node cannot change a
//!   byte of a site. `Range` works on the file.
//! - **Headers.** `Content-Type` from the record; the site's headers, then the file's own;
//!   `ETag` the file's BLAKE3 hash (quoted), and a matching `If-None-Match` answers 304;
//!   `Cache-Control: public, max-age=60` unless the site sets one (a path may point at new
//!   bytes after an update).
//! - **Landing page.** `GET /` on any other host lists the sites this portal has served.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State as AxState};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use floe_common::ObjectId;
use floe_common::site::{Resolved, SiteRecord, parse_site_label, site_label, validate_name};
use floe_ledger_types::{Object, name_object_id};

use super::conn::ClientAddr;
use super::{State, quilts};

/// How long a resolved site record is reused before it is read again.
pub const RECORD_TTL: Duration = Duration::from_secs(5);
/// The host suffix of site requests.
const SUFFIX: &str = ".localhost";
/// Default `Cache-Control` of site files.
const SITE_CACHE: &str = "public, max-age=60";
/// Most sites remembered (for the cache and the landing page).
const MAX_SITES: usize = 1024;

/// A resolved site: its id, and the record as of `at`.
#[derive(Clone)]
struct Cached {
    site: ObjectId,
    record: Arc<SiteRecord>,
    at: Instant,
}

/// Sites resolved by label (name or site label).
#[derive(Default)]
pub(crate) struct Portal {
    sites: Mutex<BTreeMap<String, Cached>>,
}

/// Why a site cannot be served.
enum SiteLookup {
    /// No such name or site.
    Unknown(String),
    /// The ledger could not be asked.
    Unavailable(String),
}

impl Portal {
    /// The site of `label`, from the cache or the ledger.
    async fn site(&self, state: &State, label: &str) -> Result<Cached, SiteLookup> {
        if let Some(c) = self
            .lock()
            .get(label)
            .filter(|c| c.at.elapsed() < RECORD_TTL)
        {
            return Ok(c.clone());
        }
        let ledger = state.client.ledger();
        let unavailable =
            |e: floe_ledger_types::ClientError| SiteLookup::Unavailable(e.to_string());
        let site = match parse_site_label(label) {
            Some(id) => id,
            None => {
                if validate_name(label).is_err() {
                    return Err(SiteLookup::Unknown(format!("{label} is not a site name")));
                }
                let name = match ledger
                    .object(&name_object_id(label))
                    .await
                    .map_err(unavailable)?
                {
                    Some(r) => match r.object {
                        Object::Name(n) => n,
                        _ => return Err(SiteLookup::Unknown(format!("no name {label}"))),
                    },
                    None => {
                        return Err(SiteLookup::Unknown(format!(
                            "nobody holds the name {label}"
                        )));
                    }
                };
                let epoch = ledger.system().await.map_err(unavailable)?.epoch;
                if name.expires <= epoch {
                    return Err(SiteLookup::Unknown(format!("the name {label} has expired")));
                }
                name.site
                    .ok_or_else(|| SiteLookup::Unknown(format!("the name {label} names no site")))?
            }
        };
        let record = match ledger.object(&site).await.map_err(unavailable)? {
            Some(r) => match r.object {
                Object::Site(s) => s.record,
                _ => return Err(SiteLookup::Unknown(format!("{site} is not a site"))),
            },
            None => return Err(SiteLookup::Unknown(format!("no site {site}"))),
        };
        let cached = Cached {
            site,
            record: Arc::new(record),
            at: Instant::now(),
        };
        let mut sites = self.lock();
        if sites.len() >= MAX_SITES
            && !sites.contains_key(label)
            && let Some(oldest) = sites
                .iter()
                .min_by_key(|(_, c)| c.at)
                .map(|(k, _)| k.clone())
        {
            sites.remove(&oldest);
        }
        sites.insert(label.to_owned(), cached.clone());
        Ok(cached)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Cached>> {
        self.sites.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The landing page: the sites served so far.
    fn landing(&self, port: &str) -> Response {
        let mut items = String::new();
        for (label, c) in self.lock().iter() {
            let href = format!("http://{label}{SUFFIX}{port}/");
            items.push_str(&format!(
                "<li><a href=\"{href}\">{label}</a> — site <code>{}</code>, {} files</li>\n",
                site_label(&c.site),
                c.record.resources.len()
            ));
        }
        if items.is_empty() {
            items.push_str(
                "<li>None yet. Open <code>http://NAME.localhost…/</code> or \
                 <code>http://SITE-LABEL.localhost…/</code> (from <code>floe site show</code>).</li>\n",
            );
        }
        let html = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Floe portal</title></head>\n\
             <body><h1>Floe portal</h1>\n<p>Sites served here:</p>\n<ul>\n{items}</ul>\n</body></html>\n"
        );
        let mut r = (StatusCode::OK, html).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

/// The host's site label and port suffix (`:31415`), if it is a site host.
fn site_host(headers: &HeaderMap) -> (Option<String>, String) {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (name, port) = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h.to_owned(), format!(":{p}")),
        _ => (host.clone(), String::new()),
    };
    let label = name
        .strip_suffix(SUFFIX)
        .filter(|l| !l.is_empty() && !l.contains('.'))
        .map(str::to_owned);
    (label, port)
}

fn plain(status: StatusCode, text: String) -> Response {
    let mut r = (status, text).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The middleware: site hosts are served here, the landing page at `/`, the rest passes on.
pub(crate) async fn portal(
    AxState(state): AxState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let (label, port) = site_host(request.headers());
    let Some(label) = label else {
        if request.uri().path() == "/" && request.method() == Method::GET {
            return state.portal.landing(&port);
        }
        return next.run(request).await;
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "a site is read with GET or HEAD\n".into(),
        );
    }
    let ip: IpAddr = request
        .extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.0.ip());
    let site = match state.portal.site(&state, &label).await {
        Ok(s) => s,
        Err(SiteLookup::Unknown(why)) => return plain(StatusCode::NOT_FOUND, format!("{why}\n")),
        Err(SiteLookup::Unavailable(why)) => {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the ledger cannot be reached: {why}\n"),
            );
        }
    };
    serve(&state, ip, &site, request.uri().path(), request.headers()).await
}

/// Serves `path` of `site`.
async fn serve(
    state: &State,
    ip: IpAddr,
    site: &Cached,
    path: &str,
    request: &HeaderMap,
) -> Response {
    let (path, resource, status) = match site.record.resolve(path) {
        Resolved::Resource {
            path,
            resource,
            status,
        } => (path, resource, status),
        Resolved::Redirect { to, status } => {
            let mut r = plain(
                StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND),
                format!("moved to {to}\n"),
            );
            if let Ok(v) = HeaderValue::from_str(to) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return r;
        }
        Resolved::NotFound => return plain(StatusCode::NOT_FOUND, "not found\n".into()),
        Resolved::BadPath => {
            return plain(StatusCode::BAD_REQUEST, "bad path\n".into());
        }
    };
    let hash: String = resource.hash.0.iter().map(|b| format!("{b:02x}")).collect();
    let etag = format!("\"{hash}\"");
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut headers = HeaderMap::new();
    for (k, v) in site.record.headers.iter().chain(&resource.headers) {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.insert(k, v);
        }
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static(SITE_CACHE));
    if let Ok(v) = HeaderValue::from_str(&resource.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if matches && status == 200 {
        return (StatusCode::NOT_MODIFIED, headers, Body::empty()).into_response();
    }
    let patch = resource.patch;
    let mut response =
        match quilts::serve_patch(state, ip, Some(patch), patch.quilt_id, None, request).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(site = %site.site, path, error = e.reason, "site file read failed");
                return e.into_response();
            }
        };
    if status == 404 && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    let h = response.headers_mut();
    h.remove("x-quilt-patch-identifier");
    h.remove("x-quilt-patch-id");
    for (k, v) in headers {
        if let Some(k) = k {
            h.insert(k, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_hosts() {
        let host = |h: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::HOST, HeaderValue::from_str(h).unwrap());
            site_host(&m)
        };
        assert_eq!(
            host("blog.localhost:31415"),
            (Some("blog".into()), ":31415".into())
        );
        assert_eq!(host("Blog.LOCALHOST"), (Some("blog".into()), String::new()));
        assert_eq!(host("localhost:31415").0, None);
        assert_eq!(host("127.0.0.1:31415").0, None);
        assert_eq!(host("a.b.localhost").0, None);
        assert_eq!(host(".localhost").0, None);
        assert_eq!(host("evil.com").0, None);
    }
}
