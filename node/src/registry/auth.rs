//! Registry credentials and the `WWW-Authenticate` dance.
//!
//! A registry answers 401 with `Basic realm=...` (htpasswd) or
//! `Bearer realm=...,service=...,scope=...`; for the latter a token is
//! fetched from the realm, with the user's credentials as basic auth when
//! there are any (anonymous otherwise), and sent as `Bearer <token>`.

use base64::Engine as _;
use serde::Deserialize;

use super::{RegistryError, RegistryResult};

/// Credentials as the CLI sends them (`X-Registry-Auth`, `POST /auth`).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Credentials {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: String,
    /// `base64(user:password)`, the form in config.json.
    #[serde(default)]
    pub auth: String,
    /// The registry these are for.
    #[serde(default, rename = "serveraddress")]
    pub server_address: String,
    /// An OAuth refresh token from an earlier login.
    #[serde(default, rename = "identitytoken")]
    pub identity_token: String,
    /// A bearer token to send as is.
    #[serde(default, rename = "registrytoken")]
    pub registry_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never log secrets.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("server_address", &self.server_address)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Decodes an `X-Registry-Auth` header: base64url (padded or not, and
    /// tolerating standard base64) of the JSON credentials. An empty
    /// document (`{}`) means anonymous.
    pub fn from_header(header: &str) -> RegistryResult<Option<Credentials>> {
        let raw = header.trim();
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(raw)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw))
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw))
            .map_err(|_| RegistryError::Config("invalid X-Registry-Auth header".to_owned()))?;
        let creds: Credentials = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::Config(format!("invalid X-Registry-Auth header: {e}")))?;
        creds.check_supported()?;
        Ok(creds.normalised())
    }

    /// Refuses what Shoal cannot use yet rather than pulling anonymously:
    /// an OAuth identity token without a password.
    pub fn check_supported(&self) -> RegistryResult<()> {
        if !self.identity_token.is_empty() && self.password.is_empty() && self.auth.is_empty() {
            return Err(RegistryError::Config(
                "Shoal does not support registry identity tokens yet; log in with a password"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// Fills user/password from `auth`; None when nothing is set.
    pub fn normalised(mut self) -> Option<Credentials> {
        if self.username.is_empty()
            && !self.auth.is_empty()
            && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(self.auth.trim())
            && let Ok(text) = String::from_utf8(raw)
            && let Some((u, p)) = text.split_once(':')
        {
            self.username = u.to_owned();
            self.password = p.to_owned();
        }
        let empty = self.username.is_empty()
            && self.password.is_empty()
            && self.identity_token.is_empty()
            && self.registry_token.is_empty();
        (!empty).then_some(self)
    }

    /// `Basic base64(user:password)`.
    pub(super) fn basic_header(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Challenge {
    /// htpasswd-style basic auth.
    Basic,
    /// Token server.
    Bearer {
        /// Token endpoint URL.
        realm: String,
        /// `service` parameter.
        service: Option<String>,
    },
}

/// Parses the first challenge of a `WWW-Authenticate` value.
pub(super) fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, params) = value.split_once(' ').unwrap_or((value, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => {
            let params = parse_params(params);
            let get = |k: &str| {
                params
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.clone())
            };
            Some(Challenge::Bearer {
                realm: get("realm")?,
                service: get("service"),
            })
        }
        _ => None,
    }
}

/// `k="v", k2=v2` with quoted commas kept.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                val.push(*c);
                chars.next();
            }
        }
        out.push((key.trim().to_owned(), val.trim().to_owned()));
    }
    out
}

/// A token server's answer.
#[derive(Debug, Deserialize)]
pub(super) struct TokenResponse {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: String,
}

impl TokenResponse {
    pub fn bearer(&self) -> Option<&str> {
        [self.token.as_str(), self.access_token.as_str()]
            .into_iter()
            .find(|t| !t.is_empty())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        assert_eq!(
            parse_challenge(r#"Basic realm="basic-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn header_credentials_decode() {
        let json = r#"{"username":"u","password":"p","serveraddress":"127.0.0.1:5000"}"#;
        let h = base64::engine::general_purpose::URL_SAFE.encode(json);
        let c = Credentials::from_header(&h).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
        let h = base64::engine::general_purpose::URL_SAFE.encode("{}");
        assert!(Credentials::from_header(&h).unwrap().is_none());
        let auth = base64::engine::general_purpose::STANDARD.encode("a:b:c");
        let json = format!(r#"{{"auth":"{auth}"}}"#);
        let h = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        let c = Credentials::from_header(&h).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("a", "b:c"));
        assert!(Credentials::from_header("!!!").is_err());
        let h = base64::engine::general_purpose::URL_SAFE.encode(r#"{"identitytoken":"t"}"#);
        assert!(Credentials::from_header(&h).is_err());
    }
}
