//! API version negotiation: `/vX.Y` prefixes, minimum and maximum versions.

/// The newest API version Shoal speaks (what `/version` reports).
pub const MAX_API_VERSION: &str = "1.50";
/// The oldest API version Shoal accepts.
pub const MIN_API_VERSION: &str = "1.24";
