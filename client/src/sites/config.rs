//! `site.yaml`: a site's headers, routes, redirects and 404 page.
//!
//! ```yaml
//! # Headers of every response of the site.
//! site_headers:
//!   X-Frame-Options: DENY
//! # Headers of some files (by path).
//! headers:
//!   /index.html:
//!     Cache-Control: no-cache
//! # Patterns served by a file: a path, or a prefix ending in `*` (the longest wins).
//! routes:
//!   /app/*: /app/index.html
//! # Redirects (status 301, 302, 303, 307 or 308; 302 when not given).
//! redirects:
//!   /old.html: /new.html
//!   /docs: { to: https://example.org/docs, status: 301 }
//! # The page served with status 404 (default: /404.html when the site has one).
//! not_found: /404.html
//! ```
//!
//! Unknown keys are refused, so a typo does not silently drop a rule.

use std::collections::BTreeMap;

use floe_common::site::{Redirect, SiteRecord, SiteResource};
use serde::{Deserialize, Serialize};

use super::SiteError;

/// A redirect in `site.yaml`: a target alone, or a target and a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RedirectSpec {
    /// `/from: /to` (status 302).
    To(String),
    /// `/from: { to: /to, status: 301 }`.
    Full {
        /// Where to.
        to: String,
        /// The status (302 when not given).
        #[serde(default = "found")]
        status: u16,
    },
}

fn found() -> u16 {
    302
}

/// `site.yaml` (module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Headers of every response.
    #[serde(default)]
    pub site_headers: BTreeMap<String, String>,
    /// Headers by file path.
    #[serde(default)]
    pub headers: BTreeMap<String, BTreeMap<String, String>>,
    /// Pattern → the path of the file that serves it.
    #[serde(default)]
    pub routes: BTreeMap<String, String>,
    /// Path → redirect.
    #[serde(default)]
    pub redirects: BTreeMap<String, RedirectSpec>,
    /// The 404 page.
    #[serde(default)]
    pub not_found: Option<String>,
}

/// The default 404 page, used when it exists and `site.yaml` names none.
const DEFAULT_NOT_FOUND: &str = "/404.html";

impl SiteConfig {
    /// Parses `site.yaml` text.
    pub fn parse(text: &str) -> Result<SiteConfig, SiteError> {
        serde_yaml_ng::from_str(text).map_err(|e| SiteError::Config(e.to_string()))
    }

    /// Headers by file path.
    pub fn headers_by_path(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.headers.clone()
    }

    /// The record of `resources` under this configuration (not validated). Headers for a path
    /// that is not a file are refused here, since nothing would carry them.
    pub fn apply(
        &self,
        resources: BTreeMap<String, SiteResource>,
    ) -> Result<SiteRecord, SiteError> {
        if let Some(path) = self.headers.keys().find(|p| !resources.contains_key(*p)) {
            return Err(SiteError::Config(format!(
                "headers for {path}, which is not a file of the site"
            )));
        }
        let not_found = match &self.not_found {
            Some(p) => Some(p.clone()),
            None => resources
                .contains_key(DEFAULT_NOT_FOUND)
                .then(|| DEFAULT_NOT_FOUND.to_owned()),
        };
        let redirects = self
            .redirects
            .iter()
            .map(|(from, spec)| {
                let (to, status) = match spec {
                    RedirectSpec::To(to) => (to.clone(), found()),
                    RedirectSpec::Full { to, status } => (to.clone(), *status),
                };
                (from.clone(), Redirect { to, status })
            })
            .collect();
        Ok(SiteRecord {
            resources,
            routes: self.routes.clone(),
            redirects,
            not_found,
            headers: self.site_headers.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example_and_refuses_typos() {
        let doc = include_str!("config.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```yaml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.strip_prefix("//! ").unwrap_or("").to_owned() + "\n")
            .collect::<String>();
        let c = SiteConfig::parse(&doc).unwrap();
        assert_eq!(c.routes["/app/*"], "/app/index.html");
        assert_eq!(
            c.redirects["/old.html"],
            RedirectSpec::To("/new.html".into())
        );
        assert_eq!(
            c.redirects["/docs"],
            RedirectSpec::Full {
                to: "https://example.org/docs".into(),
                status: 301
            }
        );
        assert_eq!(c.not_found.as_deref(), Some("/404.html"));
        assert!(matches!(
            SiteConfig::parse("route:\n  /x: /y\n"),
            Err(SiteError::Config(_))
        ));
        assert!(matches!(
            SiteConfig::parse("routes: [1, 2"),
            Err(SiteError::Config(_))
        ));
    }
}
