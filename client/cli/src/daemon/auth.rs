//! Who may make the publisher spend its operator's WAL.
//!
//! A publisher is [`Publisher::Open`] (anyone who reaches it stores, for loopback and trusted
//! networks), [`Publisher::Off`] (an aggregator only: `PUT` answers 403), or
//! [`Publisher::Authenticated`] with JSON Web Tokens, as Walrus's authenticated publisher:
//!
//! - The token comes as `Authorization: Bearer <jwt>`, signed with the operator's key under
//!   the configured algorithm (HS256 by default; a token naming another algorithm is refused,
//!   so `none` or an HMAC made with a public key never passes).
//! - Claims: `exp` (required, seconds since the Unix epoch), `jti` (required, unique: a token
//!   stores once; the replay cache keeps each `jti` until its `exp`, holds at most
//!   [`JwtOptions::cache_size`] entries and refuses stores when full rather than forget), and
//!   optionally `iat` (with [`JwtOptions::max_age`], a token older than that is refused),
//!   `epochs` or `max_epochs` (exact or most epochs), `size` or `max_size` (exact or most body
//!   bytes), `send_object_to` (the token stores only for a request that sends the new blob
//!   object to this address). `epochs` with `max_epochs`, or `size` with `max_size`, is
//!   refused.
//! - A missing, malformed, badly signed or expired token is `401`; a token whose claims the
//!   request exceeds, or a replayed `jti`, is `403`. Both are decided before the body is read,
//!   so a refused request costs its sender an upload and the operator nothing. A body larger
//!   than the token allows is cut off while it is read (`413`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode, header};
use floe_ledger_types::Address;
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;

use super::ApiError;

/// Who may store through the publisher.
#[derive(Debug, Clone, Default)]
pub enum Publisher {
    /// Anyone who can reach the daemon.
    #[default]
    Open,
    /// Nobody: the daemon is an aggregator only.
    Off,
    /// Holders of a valid, unused token.
    Authenticated(std::sync::Arc<JwtAuth>),
}

/// How tokens are checked.
#[derive(Debug, Clone)]
pub struct JwtOptions {
    /// The algorithm tokens must be signed with.
    pub algorithm: Algorithm,
    /// A token issued (`iat`) longer ago than this is refused; `None` checks `exp` only.
    pub max_age: Option<Duration>,
    /// Most `jti`s remembered at once (stores are refused while the cache is full).
    pub cache_size: usize,
}

impl Default for JwtOptions {
    fn default() -> Self {
        JwtOptions {
            algorithm: Algorithm::HS256,
            max_age: None,
            cache_size: 100_000,
        }
    }
}

/// The claims of a publisher token.
#[derive(Debug, Clone, Deserialize)]
struct Claims {
    exp: u64,
    jti: String,
    iat: Option<u64>,
    epochs: Option<u32>,
    max_epochs: Option<u32>,
    size: Option<u64>,
    max_size: Option<u64>,
    send_object_to: Option<String>,
}

/// What a token allows one store to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Most body bytes.
    pub max_size: Option<u64>,
    /// Exact body bytes.
    pub size: Option<u64>,
}

/// The checker of publisher tokens, with its replay cache.
pub struct JwtAuth {
    key: DecodingKey,
    options: JwtOptions,
    /// `jti` → `exp` of the tokens used.
    used: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuth")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JwtKeyError {
    /// A `0x…` secret that is not hex.
    #[error("the secret starts with 0x but is not hex: {0}")]
    Hex(String),
    /// An asymmetric key that does not parse.
    #[error("the key does not parse for {algorithm:?}: {reason}")]
    Key {
        /// The algorithm.
        algorithm: Algorithm,
        /// Why.
        reason: String,
    },
}

impl JwtAuth {
    /// A checker for `secret`: for HMAC algorithms the secret itself (`0x…` is read as hex,
    /// like Walrus's), for EdDSA the 32-byte public key in hex, for RSA and EC the DER public
    /// key in hex.
    pub fn new(secret: &str, options: JwtOptions) -> Result<JwtAuth, JwtKeyError> {
        use Algorithm::*;
        let bytes = match secret.strip_prefix("0x") {
            Some(hex) => decode_hex(hex).ok_or_else(|| JwtKeyError::Hex(hex.to_owned()))?,
            None => secret.as_bytes().to_vec(),
        };
        let key = match options.algorithm {
            HS256 | HS384 | HS512 => DecodingKey::from_secret(&bytes),
            EdDSA => {
                if bytes.len() != 32 {
                    return Err(JwtKeyError::Key {
                        algorithm: EdDSA,
                        reason: "an Ed25519 public key is 32 bytes (0x and 64 hex digits)".into(),
                    });
                }
                DecodingKey::from_ed_der(&bytes)
            }
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => DecodingKey::from_rsa_der(&bytes),
            ES256 | ES384 => DecodingKey::from_ec_der(&bytes),
        };
        Ok(JwtAuth {
            key,
            options,
            used: Mutex::new(HashMap::new()),
        })
    }

    /// Checks the request's token against `epochs` asked, the recipient of the new blob object
    /// (`send_object_to`: a token naming one stores only for it) and the body's declared
    /// length, and uses it up. What the token allows of the body is returned (the body is read under it).
    pub fn admit(
        &self,
        headers: &HeaderMap,
        epochs: u32,
        send_object_to: Option<Address>,
    ) -> Result<Grant, ApiError> {
        let unauthorized =
            |reason: &'static str, m: String| ApiError::new(StatusCode::UNAUTHORIZED, reason, m);
        let forbidden =
            |reason: &'static str, m: String| ApiError::new(StatusCode::FORBIDDEN, reason, m);
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                unauthorized(
                    "MISSING_TOKEN",
                    "this publisher stores only with `Authorization: Bearer <jwt>`".into(),
                )
            })?;
        let mut validation = Validation::new(self.options.algorithm);
        validation.set_required_spec_claims(&["exp"]);
        validation.leeway = 0;
        // Walrus's publisher tokens name no audience; one that does is not refused for it.
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Claims>(token.trim(), &self.key, &validation)
            .map_err(|e| unauthorized("INVALID_TOKEN", format!("the token is refused: {e}")))?
            .claims;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if let Some(max_age) = self.options.max_age {
            let Some(iat) = claims.iat else {
                return Err(unauthorized(
                    "INVALID_TOKEN",
                    "the token has no `iat`, and this publisher limits token age".into(),
                ));
            };
            if now.saturating_sub(iat) > max_age.as_secs() {
                return Err(unauthorized(
                    "INVALID_TOKEN",
                    format!("the token was issued more than {max_age:?} ago"),
                ));
            }
        }
        if claims.epochs.is_some() && claims.max_epochs.is_some()
            || claims.size.is_some() && claims.max_size.is_some()
        {
            return Err(unauthorized(
                "INVALID_TOKEN",
                "the token sets both an exact and a maximum value for epochs or size".into(),
            ));
        }
        if claims.epochs.is_some_and(|e| e != epochs)
            || claims.max_epochs.is_some_and(|m| epochs > m)
        {
            return Err(forbidden(
                "TOKEN_EPOCHS_EXCEEDED",
                format!(
                    "{epochs} epochs asked; the token allows {}",
                    claims
                        .epochs
                        .map(|e| format!("exactly {e}"))
                        .or(claims.max_epochs.map(|m| format!("at most {m}")))
                        .unwrap_or_default()
                ),
            ));
        }
        if let Some(claim) = &claims.send_object_to {
            let recipient = claim.parse::<Address>().map_err(|e| {
                unauthorized(
                    "INVALID_TOKEN",
                    format!("the token's send_object_to {claim:?} is not an address: {e}"),
                )
            })?;
            if send_object_to != Some(recipient) {
                return Err(forbidden(
                    "TOKEN_RECIPIENT_MISMATCH",
                    format!(
                        "the token stores only for send_object_to={recipient}, the request has {}",
                        send_object_to.map_or("none".to_owned(), |a| a.to_string())
                    ),
                ));
            }
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let grant = Grant {
            max_size: claims.max_size,
            size: claims.size,
        };
        if let Some(len) = declared
            && (grant.max_size.is_some_and(|m| len > m) || grant.size.is_some_and(|s| len != s))
        {
            return Err(forbidden(
                "TOKEN_SIZE_EXCEEDED",
                format!("a body of {len} bytes is more than the token allows"),
            ));
        }
        self.use_jti(&claims.jti, claims.exp, now)?;
        Ok(grant)
    }

    /// Records `jti` as used until `exp`; refuses a replay, and refuses when the cache is full
    /// of unexpired tokens.
    fn use_jti(&self, jti: &str, exp: u64, now: u64) -> Result<(), ApiError> {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.contains_key(jti) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "TOKEN_REPLAYED",
                "this token was already used; a token stores once".to_owned(),
            ));
        }
        if used.len() >= self.options.cache_size {
            used.retain(|_, e| *e > now);
        }
        if used.len() >= self.options.cache_size {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "TOKEN_CACHE_FULL",
                "too many unexpired tokens were used; retry later".to_owned(),
            ));
        }
        used.insert(jti.to_owned(), exp);
        Ok(())
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &str = "publisher-secret";

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn token(claims: &serde_json::Value) -> String {
        encode(
            &Header::default(),
            claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    fn headers(token: &str, len: Option<u64>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        if let Some(len) = len {
            h.insert(header::CONTENT_LENGTH, len.into());
        }
        h
    }

    fn reason(r: Result<Grant, ApiError>) -> String {
        r.unwrap_err().reason.to_owned()
    }

    #[test]
    fn tokens_are_checked_and_used_once() {
        let auth = JwtAuth::new(SECRET, JwtOptions::default()).unwrap();
        let good = token(&json!({"exp": now() + 60, "jti": "a", "max_epochs": 3, "max_size": 100}));
        assert_eq!(
            auth.admit(&headers(&good, Some(100)), 3, None).unwrap(),
            Grant {
                max_size: Some(100),
                size: None
            }
        );
        assert_eq!(
            reason(auth.admit(&headers(&good, Some(1)), 1, None)),
            "TOKEN_REPLAYED"
        );
        assert_eq!(
            reason(auth.admit(&HeaderMap::new(), 1, None)),
            "MISSING_TOKEN"
        );
        let over = token(&json!({"exp": now() + 60, "jti": "b", "max_epochs": 3}));
        assert_eq!(
            reason(auth.admit(&headers(&over, None), 4, None)),
            "TOKEN_EPOCHS_EXCEEDED"
        );
        let big = token(&json!({"exp": now() + 60, "jti": "c", "max_size": 10}));
        assert_eq!(
            reason(auth.admit(&headers(&big, Some(11)), 1, None)),
            "TOKEN_SIZE_EXCEEDED"
        );
        let expired = token(&json!({"exp": now() - 1, "jti": "d"}));
        assert_eq!(
            reason(auth.admit(&headers(&expired, None), 1, None)),
            "INVALID_TOKEN"
        );
        let both = token(&json!({"exp": now() + 60, "jti": "e", "size": 1, "max_size": 2}));
        assert_eq!(
            reason(auth.admit(&headers(&both, None), 1, None)),
            "INVALID_TOKEN"
        );
        let other_key = encode(
            &Header::default(),
            &json!({"exp": now() + 60, "jti": "f"}),
            &EncodingKey::from_secret(b"another"),
        )
        .unwrap();
        assert_eq!(
            reason(auth.admit(&headers(&other_key, None), 1, None)),
            "INVALID_TOKEN"
        );
        // Another algorithm than the configured one is refused.
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &json!({"exp": now() + 60, "jti": "g"}),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            reason(auth.admit(&headers(&hs512, None), 1, None)),
            "INVALID_TOKEN"
        );
        let with_aud = token(&json!({"exp": now() + 60, "jti": "h", "aud": "a publisher"}));
        auth.admit(&headers(&with_aud, None), 1, None).unwrap();
        let no_jti = token(&json!({"exp": now() + 60}));
        assert_eq!(
            reason(auth.admit(&headers(&no_jti, None), 1, None)),
            "INVALID_TOKEN"
        );
    }

    #[test]
    fn a_recipient_claim_binds_the_request() {
        let auth = JwtAuth::new(SECRET, JwtOptions::default()).unwrap();
        let to: Address = "ab".repeat(32).parse().unwrap();
        let other: Address = "cd".repeat(32).parse().unwrap();
        let bound =
            token(&json!({"exp": now() + 60, "jti": "r", "send_object_to": format!("0x{to}")}));
        assert_eq!(
            reason(auth.admit(&headers(&bound, None), 1, None)),
            "TOKEN_RECIPIENT_MISMATCH"
        );
        assert_eq!(
            reason(auth.admit(&headers(&bound, None), 1, Some(other))),
            "TOKEN_RECIPIENT_MISMATCH"
        );
        // Refusals do not use the token up; the matching request does.
        auth.admit(&headers(&bound, None), 1, Some(to)).unwrap();
        assert_eq!(
            reason(auth.admit(&headers(&bound, None), 1, Some(to))),
            "TOKEN_REPLAYED"
        );
        // A token without the claim stores for any recipient.
        let free = token(&json!({"exp": now() + 60, "jti": "s"}));
        auth.admit(&headers(&free, None), 1, Some(other)).unwrap();
        let garbled = token(&json!({"exp": now() + 60, "jti": "t", "send_object_to": "0x01"}));
        assert_eq!(
            reason(auth.admit(&headers(&garbled, None), 1, Some(to))),
            "INVALID_TOKEN"
        );
    }

    #[test]
    fn token_age_and_cache_bounds() {
        let auth = JwtAuth::new(
            "0x7075626c6973686572",
            JwtOptions {
                max_age: Some(Duration::from_secs(60)),
                cache_size: 1,
                ..JwtOptions::default()
            },
        )
        .unwrap();
        let sign = |claims| {
            encode(
                &Header::default(),
                &claims,
                &EncodingKey::from_secret(b"publisher"),
            )
            .unwrap()
        };
        let old = sign(json!({"exp": now() + 600, "jti": "a", "iat": now() - 120}));
        assert_eq!(
            reason(auth.admit(&headers(&old, None), 1, None)),
            "INVALID_TOKEN"
        );
        let fresh = sign(json!({"exp": now() + 600, "jti": "b", "iat": now()}));
        auth.admit(&headers(&fresh, None), 1, None).unwrap();
        // The one cache entry is taken until its token expires.
        let next = sign(json!({"exp": now() + 600, "jti": "c", "iat": now()}));
        assert_eq!(
            reason(auth.admit(&headers(&next, None), 1, None)),
            "TOKEN_CACHE_FULL"
        );
        assert!(JwtAuth::new("0xzz", JwtOptions::default()).is_err());
    }
}
