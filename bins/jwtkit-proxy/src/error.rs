//! Error responses: JSON `{"error", "detail", "timestamp"}` as the FastAPI proxy answered, or,
//! to a gRPC call, a trailers-only gRPC answer with the kind's gRPC status ([`in_grpc_form`]).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jwtkit_verify::grpc::{self, GrpcStatus};
use jwtkit_verify::{Denied, Refusal, VerifyError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What went wrong, as the caller sees it: each kind has one HTTP status and one stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400 `bad_request`: a request the proxy cannot use.
    BadRequest,
    /// 400 `invalid_path`: a path spelling upstreams could read differently.
    InvalidPath,
    /// 400 `body_incomplete`: the caller's body ended before it was complete.
    BodyIncomplete,
    /// 401 `missing_token`, 401 with the validator's code (`expired`, `bad_signature`, ...) or
    /// 503 `jwks_unavailable`, with the RFC 6750 challenge: as `jwtkit_verify` maps them.
    Token(Refusal),
    /// 403 `forbidden`: a valid caller without the right.
    Forbidden,
    /// 403 `insufficient_scope`: a valid caller whose claims or scopes do not meet the route's
    /// `require_claims` / `require_scopes` (the answer of [`Denied`], RFC 6750 §3.1).
    InsufficientScope,
    /// 404 `not_found`: no route, or the upstream has no such resource.
    NotFound,
    /// 405 `method_not_allowed`.
    MethodNotAllowed,
    /// 413 `body_too_large`: over `limits.max_body_bytes`.
    BodyTooLarge,
    /// 415 `unsupported_media_type`.
    UnsupportedMediaType,
    /// 431 `headers_too_large`: over `limits.max_header_bytes`.
    HeadersTooLarge,
    /// 500 `mint_failed`: the proxy could not sign a token.
    MintFailed,
    /// 502 `upstream_error`: the upstream answered something the proxy cannot pass on.
    UpstreamError,
    /// 502 `upstream_unreachable`.
    UpstreamUnreachable,
    /// 502 `upstream_rejected_credentials`: the upstream refused the proxy's own credential.
    UpstreamRejectedCredentials,
    /// The upstream's own client-error status, `upstream_rejected` (Camunda error JSON).
    UpstreamRejected(StatusCode),
    /// 504 `upstream_timeout`.
    UpstreamTimeout,
}

impl ErrorKind {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::InvalidPath | Self::BodyIncomplete => StatusCode::BAD_REQUEST,
            Self::Token(refusal) => refusal.status(),
            Self::Forbidden | Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::MintFailed => StatusCode::INTERNAL_SERVER_ERROR,
            Self::UpstreamError | Self::UpstreamUnreachable | Self::UpstreamRejectedCredentials => {
                StatusCode::BAD_GATEWAY
            }
            Self::UpstreamRejected(status) => status,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The `grpc-status` of the answer to a gRPC call (gRPC's `doc/statuscodes.md`): what the
    /// caller should do, as for the HTTP status.
    pub fn grpc_status(self) -> GrpcStatus {
        match self {
            Self::BadRequest | Self::InvalidPath | Self::UnsupportedMediaType => {
                GrpcStatus::InvalidArgument
            }
            Self::BodyIncomplete => GrpcStatus::Cancelled,
            Self::Token(refusal) => refusal.grpc_status(),
            Self::Forbidden | Self::InsufficientScope => GrpcStatus::PermissionDenied,
            // No route, or not served: for gRPC an unknown service or method.
            Self::NotFound | Self::MethodNotAllowed => GrpcStatus::Unimplemented,
            Self::BodyTooLarge | Self::HeadersTooLarge => GrpcStatus::ResourceExhausted,
            // The proxy's own credential or key is wrong: nothing the caller can fix.
            Self::MintFailed | Self::UpstreamRejectedCredentials => GrpcStatus::Internal,
            Self::UpstreamError | Self::UpstreamUnreachable => GrpcStatus::Unavailable,
            Self::UpstreamRejected(status) => GrpcStatus::from_http(status),
            Self::UpstreamTimeout => GrpcStatus::DeadlineExceeded,
        }
    }

    /// The stable code of the JSON body's `error` field and of the metrics.
    pub fn code(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::InvalidPath => "invalid_path",
            Self::BodyIncomplete => "body_incomplete",
            Self::Token(refusal) => refusal.code(),
            Self::Forbidden => "forbidden",
            Self::InsufficientScope => Denied::CODE,
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::BodyTooLarge => "body_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::HeadersTooLarge => "headers_too_large",
            Self::MintFailed => "mint_failed",
            Self::UpstreamError => "upstream_error",
            Self::UpstreamUnreachable => "upstream_unreachable",
            Self::UpstreamRejectedCredentials => "upstream_rejected_credentials",
            Self::UpstreamRejected(_) => "upstream_rejected",
            Self::UpstreamTimeout => "upstream_timeout",
        }
    }
}

/// An error answered to the caller: its kind and a sentence saying what happened and what to do.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Status and stable code.
    pub kind: ErrorKind,
    /// What happened and what to do.
    pub detail: String,
    /// The `WWW-Authenticate` value when the kind does not imply it (a denial's required scopes).
    challenge: Option<HeaderValue>,
}

impl ApiError {
    /// Builds an error.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            challenge: None,
        }
    }

    /// 403 `insufficient_scope` for a token the route's rules refuse: the detail names the
    /// rule (never the caller's claims), the challenge the scopes the rules require.
    pub fn denied(denied: &Denied) -> Self {
        Self {
            kind: ErrorKind::InsufficientScope,
            detail: denied.rule().to_owned(),
            challenge: Some(denied.challenge()),
        }
    }

    /// 401 for a missing token.
    pub fn missing_token() -> Self {
        Self::new(
            ErrorKind::Token(Refusal::MissingToken),
            "send Authorization: Bearer <token>",
        )
    }

    /// 401 (or 503 when the issuer's keys are unavailable) for a rejected token.
    pub fn token(err: &VerifyError) -> Self {
        let refusal = Refusal::of(err);
        let detail = match refusal {
            Refusal::KeysUnavailable => {
                "the token issuer's keys cannot be fetched right now; retry later".to_owned()
            }
            _ => err.to_string(),
        };
        Self::new(ErrorKind::Token(refusal), detail)
    }

    /// 403 for a valid caller without the right.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, detail)
    }

    /// 400 for a request the proxy cannot use.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, detail)
    }

    /// 413 for a request body over `limits.max_body_bytes`.
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            ErrorKind::BodyTooLarge,
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
        let status = self.kind.status();
        let code = self.kind.code();
        let body =
            serde_json::json!({"error": code, "detail": self.detail, "timestamp": timestamp()});
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        let challenge = match self.kind {
            _ if self.challenge.is_some() => self.challenge,
            ErrorKind::Token(refusal) => refusal.challenge(),
            // Another 401 (an upstream refusing the caller's passed-through token) challenges
            // like a token the proxy refused, under its own code.
            _ if status == StatusCode::UNAUTHORIZED => Refusal::InvalidToken(code).challenge(),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response.extensions_mut().insert(self.kind);
        response.extensions_mut().insert(Detail(self.detail));
        response
    }
}

/// The detail of the proxy's own error answer, for its gRPC form.
#[derive(Clone)]
struct Detail(String);

/// `response` as gRPC clients read it when it is the proxy's own error answer ([`ApiError`])
/// and the request was a gRPC call (`is_grpc`): HTTP 200, `grpc-status` of its [`ErrorKind`],
/// `grpc-message` `<code>: <detail>`, the challenge kept. An upstream's answer carries no
/// [`ErrorKind`] and is never changed.
pub fn in_grpc_form(mut response: Response, is_grpc: bool) -> Response {
    if !is_grpc {
        return response;
    }
    let Some(kind) = response.extensions().get::<ErrorKind>().copied() else {
        return response;
    };
    let detail = response
        .extensions_mut()
        .remove::<Detail>()
        .map(|d| d.0)
        .unwrap_or_default();
    let message = format!("{}: {detail}", kind.code());
    grpc::trailers_only(response, kind.grpc_status(), &message)
}
