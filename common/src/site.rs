//! Sites: a directory published as a website, recorded on the ledger.
//!
//! A site's files are stored as quilt patches; the ledger keeps a [`SiteRecord`] that maps each
//! path to its patch ([`SiteResource`]: patch id, content type, size, content hash and extra
//! headers), plus routes (a pattern served by a resource, e.g. an SPA fallback `/*` →
//! `/index.html`), redirects and a custom 404 page. Changes travel as [`SiteChanges`], so an
//! update is one small transaction whatever the site's size.
//!
//! **Paths** ([`normalize_path`]) start with `/`, are percent-decoded, and have no empty, `.` or
//! `..` segment, no backslash and no control character; a path longer than [`MAX_PATH_LEN`]
//! is refused. A request path is normalized the same way before it is looked up, so nothing
//! outside the record can be named.
//!
//! **Resolution** ([`SiteRecord::resolve`]), in order: an exact redirect; the resource at the
//! path; for a path ending in `/` or naming a directory, its `index.html`; the route with the
//! longest matching pattern (exact, or a prefix ending in `*`); the 404 page with status 404.
//!
//! **Names** ([`validate_name`]) are hostname labels: 1 to [`MAX_NAME_LEN`] characters of
//! `a-z`, `0-9` and `-`, not starting or ending with `-`. A site id appears in a hostname as its
//! 50-character base36 form ([`site_label`]), longer than any name, so the two never collide.
//!
//! BCS layout of a record: the fields in declaration order, maps as sorted sequences of
//! (key, value); pinned by the conformance vectors in `common/tests/site.rs`.

mod resolve;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use self::resolve::Resolved;
use crate::hash::Digest;
use crate::ids::ObjectId;
use crate::quilt::QuiltPatchId;

/// Longest path, in bytes.
pub const MAX_PATH_LEN: usize = 1024;
/// Most resources in a site.
pub const MAX_RESOURCES: usize = 10_000;
/// Most routes, and most redirects.
pub const MAX_RULES: usize = 256;
/// Most headers of a resource, or of the site.
pub const MAX_HEADERS: usize = 32;
/// Longest header name or value, in bytes.
pub const MAX_HEADER_LEN: usize = 1024;
/// Longest content type, in bytes.
pub const MAX_CONTENT_TYPE_LEN: usize = 255;
/// Longest name.
pub const MAX_NAME_LEN: usize = 40;

/// One file of a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteResource {
    /// The quilt patch holding its bytes.
    pub patch: QuiltPatchId,
    /// Its `Content-Type`.
    pub content_type: String,
    /// Its length in bytes.
    pub size: u64,
    /// BLAKE3 of its bytes: the strong `ETag`, and how an update finds unchanged files.
    pub hash: Digest,
    /// Extra response headers (e.g. `Cache-Control`).
    pub headers: BTreeMap<String, String>,
}

/// A redirect's target and status (301, 302, 303, 307 or 308).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// Where to: a site path, or an absolute `http(s)://` URL.
    pub to: String,
    /// The HTTP status.
    pub status: u16,
}

/// A site, as the ledger records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRecord {
    /// Path → file.
    pub resources: BTreeMap<String, SiteResource>,
    /// Pattern (a path, or a prefix ending in `*`) → the path of the resource that serves it.
    pub routes: BTreeMap<String, String>,
    /// Path → redirect.
    pub redirects: BTreeMap<String, Redirect>,
    /// The resource served, with status 404, for paths that resolve to nothing.
    pub not_found: Option<String>,
    /// Headers added to every response of the site (a resource's own headers win).
    pub headers: BTreeMap<String, String>,
}

/// A change to a [`SiteRecord`]: resources put and removed, and the rules replaced when given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteChanges {
    /// Resources added or replaced.
    pub put: BTreeMap<String, SiteResource>,
    /// Paths removed.
    pub remove: BTreeSet<String>,
    /// New routes, if they change.
    pub routes: Option<BTreeMap<String, String>>,
    /// New redirects, if they change.
    pub redirects: Option<BTreeMap<String, Redirect>>,
    /// New 404 page, if it changes (`Some(None)` removes it).
    pub not_found: Option<Option<String>>,
    /// New site headers, if they change.
    pub headers: Option<BTreeMap<String, String>>,
}

/// Why a site record, a path or a name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    /// A path that is not a clean absolute path.
    #[error("bad path {path:?}: {reason}")]
    BadPath {
        /// The path (truncated).
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// Over a limit.
    #[error("too many {what}: {got}, at most {max}")]
    TooMany {
        /// What.
        what: &'static str,
        /// How many.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// A header that cannot be sent.
    #[error("bad header {name:?}: {reason}")]
    BadHeader {
        /// Its name (truncated).
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A content type that cannot be sent.
    #[error("bad content type of {path}: {reason}")]
    BadContentType {
        /// The resource.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// A route or the 404 page names a path that is not a resource.
    #[error("{what} {from} names {target}, which is not a file of the site")]
    UnknownTarget {
        /// `route` or `404 page`.
        what: &'static str,
        /// The route's pattern.
        from: String,
        /// The missing path.
        target: String,
    },
    /// A redirect status other than 301, 302, 303, 307 and 308.
    #[error("redirect {from} has status {status}; use 301, 302, 303, 307 or 308")]
    BadStatus {
        /// The redirect.
        from: String,
        /// Its status.
        status: u16,
    },
    /// Redirects that lead back to where they started.
    #[error("redirects loop: {0}")]
    RedirectLoop(String),
    /// A name that is not a hostname label.
    #[error("bad name {name:?}: {reason}")]
    BadName {
        /// The name (truncated).
        name: String,
        /// Why.
        reason: &'static str,
    },
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Percent-decodes and checks a path (module docs); returns it with its trailing `/` kept.
pub fn normalize_path(raw: &str) -> Result<String, SiteError> {
    let bad = |reason| SiteError::BadPath {
        path: clip(raw),
        reason,
    };
    if raw.len() > 3 * MAX_PATH_LEN {
        return Err(bad("too long"));
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad("bad percent escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let path = String::from_utf8(out).map_err(|_| bad("not UTF-8"))?;
    if path.len() > MAX_PATH_LEN {
        return Err(bad("too long"));
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(bad("does not start with /"));
    };
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return Err(bad("control character or backslash"));
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    for (n, s) in segments.iter().enumerate() {
        match *s {
            "" if n == last => {}
            "" => return Err(bad("empty segment")),
            "." | ".." => return Err(bad("dot segment")),
            _ => {}
        }
    }
    Ok(path)
}

fn check_path(path: &str) -> Result<(), SiteError> {
    if normalize_path(path)? != path || path.contains('%') {
        return Err(SiteError::BadPath {
            path: clip(path),
            reason: "not in normal form",
        });
    }
    Ok(())
}

fn check_headers(headers: &BTreeMap<String, String>) -> Result<(), SiteError> {
    if headers.len() > MAX_HEADERS {
        return Err(SiteError::TooMany {
            what: "headers",
            got: headers.len(),
            max: MAX_HEADERS,
        });
    }
    for (name, value) in headers {
        let bad = |reason| SiteError::BadHeader {
            name: clip(name),
            reason,
        };
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || name.len() > MAX_HEADER_LEN || !name.chars().all(token) {
            return Err(bad("not an HTTP header name"));
        }
        if value.len() > MAX_HEADER_LEN || value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(bad("value too long or with control characters"));
        }
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "content-length" | "content-range" | "transfer-encoding" | "connection" | "etag"
        ) {
            return Err(bad("set by the portal"));
        }
    }
    Ok(())
}

fn too_many(what: &'static str, got: usize, max: usize) -> Result<(), SiteError> {
    if got > max {
        Err(SiteError::TooMany { what, got, max })
    } else {
        Ok(())
    }
}

impl SiteRecord {
    /// Checks every rule of the module docs: paths, limits, headers, targets, statuses and
    /// redirect loops.
    pub fn validate(&self) -> Result<(), SiteError> {
        too_many("files", self.resources.len(), MAX_RESOURCES)?;
        too_many("routes", self.routes.len(), MAX_RULES)?;
        too_many("redirects", self.redirects.len(), MAX_RULES)?;
        check_headers(&self.headers)?;
        for (path, r) in &self.resources {
            check_path(path)?;
            check_headers(&r.headers)?;
            let ct = &r.content_type;
            if ct.is_empty() || ct.len() > MAX_CONTENT_TYPE_LEN || ct.chars().any(char::is_control)
            {
                return Err(SiteError::BadContentType {
                    path: clip(path),
                    reason: "empty, too long or with control characters",
                });
            }
        }
        for (pattern, target) in &self.routes {
            check_path(pattern.strip_suffix('*').unwrap_or(pattern))?;
            if !self.resources.contains_key(target) {
                return Err(SiteError::UnknownTarget {
                    what: "route",
                    from: clip(pattern),
                    target: clip(target),
                });
            }
        }
        if let Some(page) = &self.not_found
            && !self.resources.contains_key(page)
        {
            return Err(SiteError::UnknownTarget {
                what: "404 page",
                from: String::new(),
                target: clip(page),
            });
        }
        for (from, r) in &self.redirects {
            check_path(from)?;
            if ![301, 302, 303, 307, 308].contains(&r.status) {
                return Err(SiteError::BadStatus {
                    from: clip(from),
                    status: r.status,
                });
            }
            let external = r.to.starts_with("https://") || r.to.starts_with("http://");
            if !external {
                check_path(&r.to)?;
            }
            if r.to.len() > MAX_PATH_LEN || r.to.chars().any(char::is_control) {
                return Err(SiteError::BadPath {
                    path: clip(&r.to),
                    reason: "bad redirect target",
                });
            }
        }
        self.check_redirect_loops()
    }

    /// Follows every redirect chain; one that comes back to a path it passed is a loop.
    fn check_redirect_loops(&self) -> Result<(), SiteError> {
        for start in self.redirects.keys() {
            let mut seen = BTreeSet::new();
            let mut at = start.as_str();
            while let Some(r) = self.redirects.get(at) {
                if !seen.insert(at) {
                    let chain: Vec<&str> = seen.iter().copied().collect();
                    return Err(SiteError::RedirectLoop(clip(&chain.join(" → "))));
                }
                at = &r.to;
            }
        }
        Ok(())
    }

    /// Applies `changes` (the result is not validated: call [`SiteRecord::validate`]).
    pub fn apply(&mut self, changes: &SiteChanges) {
        for path in &changes.remove {
            self.resources.remove(path);
        }
        for (path, r) in &changes.put {
            self.resources.insert(path.clone(), r.clone());
        }
        if let Some(routes) = &changes.routes {
            self.routes = routes.clone();
        }
        if let Some(redirects) = &changes.redirects {
            self.redirects = redirects.clone();
        }
        if let Some(page) = &changes.not_found {
            self.not_found = page.clone();
        }
        if let Some(headers) = &changes.headers {
            self.headers = headers.clone();
        }
    }

    /// Total bytes of the site's files.
    pub fn total_size(&self) -> u64 {
        self.resources.values().map(|r| r.size).sum()
    }
}

/// Checks that `name` can be claimed (module docs).
pub fn validate_name(name: &str) -> Result<(), SiteError> {
    let bad = |reason| SiteError::BadName {
        name: clip(name),
        reason,
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(bad("must have 1 to 40 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(bad("only a-z, 0-9 and - are allowed in a hostname label"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(bad("may not start or end with -"));
    }
    Ok(())
}

/// Digits of [`site_label`].
const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
/// Length of [`site_label`]: `⌈256 / log2 36⌉`.
pub const SITE_LABEL_LEN: usize = 50;

/// A site id as a hostname label: its 32 bytes as a big-endian number in base 36, 50 digits.
pub fn site_label(id: &ObjectId) -> String {
    let mut n = id.0.to_vec();
    let mut digits = Vec::with_capacity(SITE_LABEL_LEN);
    for _ in 0..SITE_LABEL_LEN {
        let mut rem = 0u32;
        for b in n.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 36) as u8;
            rem = cur % 36;
        }
        digits.push(BASE36[rem as usize]);
    }
    digits.reverse();
    String::from_utf8(digits).expect("ascii")
}

/// The site id of a [`site_label`] (`None` if `label` is not one).
pub fn parse_site_label(label: &str) -> Option<ObjectId> {
    if label.len() != SITE_LABEL_LEN {
        return None;
    }
    let mut n = [0u8; 32];
    for c in label.bytes() {
        let d = BASE36.iter().position(|x| *x == c)? as u32;
        let mut carry = d;
        for b in n.iter_mut().rev() {
            let cur = u32::from(*b) * 36 + carry;
            *b = cur as u8;
            carry = cur >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(ObjectId(n))
}
