//! Error responses: JSON `{"error", "detail", "timestamp"}` as the FastAPI proxy answered.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jwtkit_verify::VerifyError;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// An error answered to the caller. `error` is a short stable code, `detail` a sentence.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (`expired`, `upstream_unreachable`, ...).
    pub error: &'static str,
    /// What happened and what to do.
    pub detail: String,
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error,
            detail: detail.into(),
        }
    }

    /// 401 for a missing token.
    pub fn missing_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "send Authorization: Bearer <token>",
        )
    }

    /// 401 (or 503 when the issuer's keys are unavailable) for a rejected token.
    pub fn token(err: &VerifyError) -> Self {
        match err {
            VerifyError::JwksUnavailable { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                err.code(),
                "the token issuer's keys cannot be fetched right now; retry later",
            ),
            _ => Self::new(StatusCode::UNAUTHORIZED, err.code(), err.to_string()),
        }
    }

    /// 403 for a valid caller without the right.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 400 for a request the proxy cannot use.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 413 for a request body over `limits.max_body_bytes`.
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {limit} bytes (limits.max_body_bytes)"),
        )
    }
}

/// RFC 3339 UTC timestamp of now.
pub fn timestamp() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.error, "detail": self.detail, "timestamp": timestamp()});
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: no error attribute when no credentials were sent.
            let challenge = if self.error == "missing_token" {
                "Bearer".to_owned()
            } else {
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    self.error
                )
            };
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response.extensions_mut().insert(ErrorCode(self.error));
        response
    }
}

/// Marks a response as an error with this code (for metrics).
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);
