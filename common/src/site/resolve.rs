//! Which resource answers a request path ([`SiteRecord::resolve`]; the order is in the
//! parent module's docs).

use super::{SiteRecord, SiteResource, normalize_path};

/// What a request path resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved<'a> {
    /// Serve this resource with this status (200, or 404 for the site's 404 page).
    Resource {
        /// The resource's path.
        path: &'a str,
        /// The resource.
        resource: &'a SiteResource,
        /// The HTTP status.
        status: u16,
    },
    /// Redirect.
    Redirect {
        /// The `Location`.
        to: &'a str,
        /// The status.
        status: u16,
    },
    /// Nothing, and the site has no 404 page.
    NotFound,
    /// A path that is not a clean absolute path (traversal, bad escapes): refused outright.
    BadPath,
}

impl SiteRecord {
    /// Resolves a raw request path (percent-encoded, without the query).
    pub fn resolve(&self, raw: &str) -> Resolved<'_> {
        let Ok(path) = normalize_path(raw) else {
            return Resolved::BadPath;
        };
        if let Some((_, r)) = self.redirects.get_key_value(path.as_str()) {
            return Resolved::Redirect {
                to: &r.to,
                status: r.status,
            };
        }
        let index = if path.ends_with('/') {
            format!("{path}index.html")
        } else {
            format!("{path}/index.html")
        };
        let direct = [path.as_str(), index.as_str()]
            .into_iter()
            .find_map(|p| self.resources.get_key_value(p));
        if let Some((p, resource)) = direct {
            return Resolved::Resource {
                path: p,
                resource,
                status: 200,
            };
        }
        if let Some(target) = self.route(&path)
            && let Some((p, resource)) = self.resources.get_key_value(target)
        {
            return Resolved::Resource {
                path: p,
                resource,
                status: 200,
            };
        }
        match self
            .not_found
            .as_deref()
            .and_then(|p| self.resources.get_key_value(p))
        {
            Some((p, resource)) => Resolved::Resource {
                path: p,
                resource,
                status: 404,
            },
            None => Resolved::NotFound,
        }
    }

    /// The target of the most specific route matching `path`: an exact pattern first, then
    /// the longest `prefix*` pattern.
    fn route(&self, path: &str) -> Option<&str> {
        if let Some(t) = self.routes.get(path) {
            return Some(t);
        }
        self.routes
            .iter()
            .filter_map(|(pattern, target)| {
                let prefix = pattern.strip_suffix('*')?;
                path.starts_with(prefix).then_some((prefix.len(), target))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, t)| t.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::site::{Redirect, SiteError};
    use crate::{BlobId, Digest, quilt::QuiltPatchId};

    fn res(i: u32) -> SiteResource {
        SiteResource {
            patch: QuiltPatchId {
                quilt_id: BlobId([1; 32]),
                start_symbol: i,
                end_symbol: i + 1,
            },
            content_type: "text/html".into(),
            size: 10,
            hash: Digest([i as u8; 32]),
            headers: BTreeMap::new(),
        }
    }

    fn site() -> SiteRecord {
        let mut s = SiteRecord::default();
        for (i, p) in [
            "/index.html",
            "/about.html",
            "/docs/index.html",
            "/404.html",
            "/app.html",
        ]
        .iter()
        .enumerate()
        {
            s.resources.insert((*p).into(), res(i as u32));
        }
        s.routes.insert("/app/*".into(), "/app.html".into());
        s.routes.insert("/app/admin/*".into(), "/about.html".into());
        s.redirects.insert(
            "/old".into(),
            Redirect {
                to: "/about.html".into(),
                status: 301,
            },
        );
        s.not_found = Some("/404.html".into());
        s.validate().unwrap();
        s
    }

    fn served(s: &SiteRecord, raw: &str) -> Option<(String, u16)> {
        match s.resolve(raw) {
            Resolved::Resource { path, status, .. } => Some((path.to_owned(), status)),
            _ => None,
        }
    }

    #[test]
    fn paths_indexes_routes_redirects_and_404() {
        let s = site();
        assert_eq!(served(&s, "/"), Some(("/index.html".into(), 200)));
        assert_eq!(served(&s, "/about.html"), Some(("/about.html".into(), 200)));
        assert_eq!(served(&s, "/docs"), Some(("/docs/index.html".into(), 200)));
        assert_eq!(served(&s, "/docs/"), Some(("/docs/index.html".into(), 200)));
        assert_eq!(
            served(&s, "/%61bout.html"),
            Some(("/about.html".into(), 200))
        );
        assert_eq!(served(&s, "/app/x/y"), Some(("/app.html".into(), 200)));
        assert_eq!(
            served(&s, "/app/admin/z"),
            Some(("/about.html".into(), 200))
        );
        assert_eq!(served(&s, "/nope"), Some(("/404.html".into(), 404)));
        assert_eq!(
            s.resolve("/old"),
            Resolved::Redirect {
                to: "/about.html",
                status: 301
            }
        );
        let mut bare = s;
        bare.not_found = None;
        assert_eq!(bare.resolve("/nope"), Resolved::NotFound);
    }

    #[test]
    fn adv_traversal_and_bad_escapes_are_refused() {
        let s = site();
        for raw in [
            "/../etc/passwd",
            "/docs/../index.html",
            "/%2e%2e/secret",
            "/docs/%2E%2E/index.html",
            "/a/./b",
            "/a//b",
            "/a%2f..%2fb",
            "/%zz",
            "/%",
            "relative",
            "/a\\b",
            "/a%00b",
            "/%ff%fe",
        ] {
            assert_eq!(s.resolve(raw), Resolved::BadPath, "{raw}");
        }
    }

    #[test]
    fn adv_invalid_records_are_refused() {
        let loops = |chain: &[(&str, &str)]| {
            let mut s = site();
            for (from, to) in chain {
                s.redirects.insert(
                    (*from).into(),
                    Redirect {
                        to: (*to).into(),
                        status: 302,
                    },
                );
            }
            s.validate()
        };
        assert!(matches!(
            loops(&[("/a", "/b"), ("/b", "/a")]),
            Err(SiteError::RedirectLoop(_))
        ));
        assert!(matches!(
            loops(&[("/a", "/a")]),
            Err(SiteError::RedirectLoop(_))
        ));
        assert!(loops(&[("/a", "/b"), ("/b", "/about.html")]).is_ok());
        let mut s = site();
        s.routes.insert("/*".into(), "/missing.html".into());
        assert!(matches!(s.validate(), Err(SiteError::UnknownTarget { .. })));
        let mut s = site();
        s.not_found = Some("/gone.html".into());
        assert!(matches!(s.validate(), Err(SiteError::UnknownTarget { .. })));
        let mut s = site();
        s.resources.insert("/a/../b".into(), res(9));
        assert!(matches!(s.validate(), Err(SiteError::BadPath { .. })));
        let mut s = site();
        s.resources.insert("/a%20b".into(), res(9));
        assert!(matches!(s.validate(), Err(SiteError::BadPath { .. })));
        let mut s = site();
        s.headers.insert("Bad Header".into(), "x".into());
        assert!(matches!(s.validate(), Err(SiteError::BadHeader { .. })));
        let mut s = site();
        s.headers.insert("X-Ok".into(), "a\r\nInjected: 1".into());
        assert!(matches!(s.validate(), Err(SiteError::BadHeader { .. })));
        let mut s = site();
        s.headers.insert("Content-Length".into(), "1".into());
        assert!(matches!(s.validate(), Err(SiteError::BadHeader { .. })));
        let mut s = site();
        s.redirects.get_mut("/old").unwrap().status = 200;
        assert!(matches!(s.validate(), Err(SiteError::BadStatus { .. })));
    }
}
