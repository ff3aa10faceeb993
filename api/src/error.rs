//! Docker's error classes and the one place that turns them into HTTP.
//!
//! moby maps errdefs classes to status codes in one function
//! (`api/server/httpstatus`); Shoal does the same here. Every router returns
//! [`ApiError`], which writes `{"message": ...}` with the matching status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// One variant per moby errdefs class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: bad JSON, bad filter, invalid name or reference.
    InvalidParameter,
    /// 401: registry credentials rejected.
    Unauthorized,
    /// 403: an operation that is never allowed.
    Forbidden,
    /// 404: no such object, unknown path.
    NotFound,
    /// 409: name in use, object in use, wrong state.
    Conflict,
    /// 304: start of a running container, stop of a stopped one. No body.
    NotModified,
    /// 503: no swarm, not a manager, no quorum.
    Unavailable,
    /// 501: endpoint Shoal does not provide.
    NotImplemented,
    /// 500: everything else.
    Internal,
}

impl ErrorKind {
    /// The HTTP status moby uses for this class.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidParameter => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::NotModified => StatusCode::NOT_MODIFIED,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error as the Engine API reports it: a class and Docker's message text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Which errdefs class; decides the status code.
    pub kind: ErrorKind,
    /// The text users see, in Docker's wording where the CLI shows it.
    pub message: String,
}

/// Result alias used by every backend trait.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    /// 400.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    /// 304.
    pub fn not_modified() -> Self {
        Self::new(ErrorKind::NotModified, "")
    }
    /// 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// 501.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotImplemented, message)
    }
    /// 503.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
}

/// Writes the status and `{"message": ...}`. The error also rides along in
/// the response extensions so the request middleware can log it once, with
/// the request's span (5xx at error, 4xx at debug).
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        let mut resp = if status == StatusCode::NOT_MODIFIED {
            status.into_response()
        } else {
            let body = serde_json::json!({ "message": self.message });
            (status, axum::Json(body)).into_response()
        };
        resp.extensions_mut().insert(self);
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_moby() {
        assert_eq!(ErrorKind::InvalidParameter.status(), 400);
        assert_eq!(ErrorKind::NotFound.status(), 404);
        assert_eq!(ErrorKind::Conflict.status(), 409);
        assert_eq!(ErrorKind::NotModified.status(), 304);
        assert_eq!(ErrorKind::Unavailable.status(), 503);
    }

    #[tokio::test]
    async fn body_is_docker_json_and_304_is_empty() {
        let resp = ApiError::conflict("name in use").into_response();
        assert_eq!(resp.status(), 409);
        assert_eq!(resp.headers()["content-type"], "application/json");
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], br#"{"message":"name in use"}"#);
        let resp = ApiError::not_modified().into_response();
        assert_eq!(resp.status(), 304);
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
        assert!(body.is_empty());
    }
}
