//! API version negotiation: `/vX.Y` prefixes, minimum and maximum versions.
//!
//! dockerd routes every endpoint both as `/vX.Y/path` and `/path`; an
//! unversioned request is served at the newest version. The middleware
//! strips the prefix, checks the range and stores the [`ApiVersion`] in the
//! request extensions, where handlers read it (some shapes and content types
//! differ by version).

use std::fmt;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;

/// The newest API version Shoal speaks (what `/version` reports).
pub const MAX_API_VERSION: &str = "1.50";
/// The oldest API version Shoal accepts.
pub const MIN_API_VERSION: &str = "1.24";
/// The `Server` header. The Docker CLI and SDKs only look at the
/// `Docker/` prefix, so keep dockerd's form and say who we are in the suffix.
pub const SERVER_HEADER: &str = "Docker/28.2.2-shoal (linux)";

/// A parsed `major.minor` API version, ordered numerically (1.9 < 1.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Always 1 in practice.
    pub major: u32,
    /// The part that moves.
    pub minor: u32,
}

impl ApiVersion {
    /// [`MAX_API_VERSION`], the version of unversioned requests.
    pub const MAX: ApiVersion = ApiVersion {
        major: 1,
        minor: 50,
    };
    /// [`MIN_API_VERSION`].
    pub const MIN: ApiVersion = ApiVersion {
        major: 1,
        minor: 24,
    };

    /// A version literal.
    pub const fn new(major: u32, minor: u32) -> Self {
        ApiVersion { major, minor }
    }

    /// Parses `X.Y` (or `X`). Like moby's `versions.compare`, a missing or
    /// non-numeric component counts as 0 and extra components are ignored,
    /// but the string must be made of digits and dots (the route regex).
    pub fn parse(s: &str) -> Option<ApiVersion> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        let mut parts = s.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let major = parts.next().unwrap_or(0);
        let minor = parts.next().unwrap_or(0);
        Some(ApiVersion { major, minor })
    }

    /// Checks the supported range, with dockerd's messages (400).
    pub fn check_supported(raw: &str, v: ApiVersion) -> Result<(), ApiError> {
        if v > ApiVersion::MAX {
            return Err(ApiError::invalid(format!(
                "client version {raw} is too new. Maximum supported API version is {MAX_API_VERSION}"
            )));
        }
        if v < ApiVersion::MIN {
            return Err(ApiError::invalid(format!(
                "client version {raw} is too old. Minimum supported API version is \
                 {MIN_API_VERSION}, please upgrade your client to a newer version"
            )));
        }
        Ok(())
    }

    /// True when this request speaks at least `major.minor`.
    pub fn at_least(self, major: u32, minor: u32) -> bool {
        self >= ApiVersion::new(major, minor)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Splits a `/vX.Y/rest` path into the raw version and `/rest`.
///
/// Returns `None` for unversioned paths, including `/vfoo/...` which dockerd
/// does not treat as a version either (it then answers 404).
pub fn split_version_prefix(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v")?;
    let end = rest.find('/')?;
    let (raw, tail) = rest.split_at(end);
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    Some((raw, tail))
}

/// Handlers extract the request's version; without the middleware (unit
/// tests of a bare router) it is the newest.
impl<S: Send + Sync> FromRequestParts<S> for ApiVersion {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ApiVersion>()
            .copied()
            .unwrap_or(ApiVersion::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_numerically() {
        let v19 = ApiVersion::parse("1.9").unwrap();
        let v110 = ApiVersion::parse("1.10").unwrap();
        assert!(v19 < v110);
        assert_eq!(ApiVersion::parse("1.50"), Some(ApiVersion::MAX));
        assert_eq!(ApiVersion::parse("2"), Some(ApiVersion::new(2, 0)));
        assert_eq!(ApiVersion::parse("1.x"), None);
        assert_eq!(ApiVersion::parse(""), None);
        assert_eq!(ApiVersion::MAX.to_string(), MAX_API_VERSION);
        assert_eq!(ApiVersion::MIN.to_string(), MIN_API_VERSION);
    }

    #[test]
    fn range_check_uses_dockerd_messages() {
        let too_new = ApiVersion::check_supported("1.99", ApiVersion::parse("1.99").unwrap());
        assert_eq!(
            too_new.unwrap_err().message,
            "client version 1.99 is too new. Maximum supported API version is 1.50"
        );
        let too_old = ApiVersion::check_supported("1.12", ApiVersion::parse("1.12").unwrap());
        assert_eq!(
            too_old.unwrap_err().message,
            "client version 1.12 is too old. Minimum supported API version is 1.24, please \
             upgrade your client to a newer version"
        );
        assert!(ApiVersion::check_supported("1.41", ApiVersion::new(1, 41)).is_ok());
        assert!(ApiVersion::check_supported("1.24", ApiVersion::MIN).is_ok());
    }

    #[test]
    fn prefix_split() {
        assert_eq!(
            split_version_prefix("/v1.43/containers/json"),
            Some(("1.43", "/containers/json"))
        );
        assert_eq!(split_version_prefix("/containers/json"), None);
        assert_eq!(split_version_prefix("/v1.43"), None);
        assert_eq!(split_version_prefix("/volumes/x"), None);
        assert_eq!(split_version_prefix("/vx/_ping"), None);
    }
}
