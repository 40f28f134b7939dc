//! How a refused gRPC request is answered (feature `http`): gRPC clients read the outcome of a
//! call from `grpc-status` and `grpc-message`, not from the HTTP status, so a refusal is a
//! "trailers-only" response: HTTP 200, `content-type: application/grpc`, no body, the status
//! in the headers (gRPC over HTTP/2, PROTOCOL-HTTP2.md).
//!
//! ```
//! use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
//! use jwtkit_verify::Refusal;
//! use jwtkit_verify::grpc::{self, GrpcStatus};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc+proto"));
//! assert!(grpc::is_grpc(&headers));
//!
//! let refusal = Refusal::MissingToken;
//! assert_eq!(refusal.grpc_status(), GrpcStatus::Unauthenticated);
//! let json = Response::builder().status(refusal.status()).body("{}".to_owned())?;
//! let answer = grpc::trailers_only(json, refusal.grpc_status(), "missing_token: send a token");
//! assert_eq!(answer.status(), StatusCode::OK);
//! assert_eq!(answer.headers()["grpc-status"], "16");
//! assert_eq!(answer.headers()["grpc-message"], "missing_token: send a token");
//! assert!(answer.body().is_empty());
//! # Ok::<(), http::Error>(())
//! ```

use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};

/// The `grpc-status` header (and trailer).
pub const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// The `grpc-message` header (and trailer): percent-encoded text ([`encode_message`]).
pub const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// The gRPC status codes a refusal or a proxy's own error answers with (gRPC's
/// `doc/statuscodes.md`); `OK` is never a refusal, so it is not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrpcStatus {
    /// 1: the caller went away or gave up.
    Cancelled,
    /// 2: an error the other codes do not describe.
    Unknown,
    /// 3: the request itself is unusable, whatever the server's state.
    InvalidArgument,
    /// 4: no answer in time.
    DeadlineExceeded,
    /// 5: the thing asked for does not exist.
    NotFound,
    /// 7: the caller is known and may not do this.
    PermissionDenied,
    /// 8: a size or rate limit was exceeded.
    ResourceExhausted,
    /// 12: the method is not served here.
    Unimplemented,
    /// 13: the server broke an invariant of its own.
    Internal,
    /// 14: try again later (a dependency is down or unreachable).
    Unavailable,
    /// 16: no valid credentials.
    Unauthenticated,
}

impl GrpcStatus {
    /// The numeric code, as `grpc-status` carries it.
    pub fn code(self) -> u8 {
        match self {
            Self::Cancelled => 1,
            Self::Unknown => 2,
            Self::InvalidArgument => 3,
            Self::DeadlineExceeded => 4,
            Self::NotFound => 5,
            Self::PermissionDenied => 7,
            Self::ResourceExhausted => 8,
            Self::Unimplemented => 12,
            Self::Internal => 13,
            Self::Unavailable => 14,
            Self::Unauthenticated => 16,
        }
    }

    /// The code gRPC's HTTP-to-gRPC mapping gives an HTTP status (for an HTTP answer that has
    /// no better-known cause): 400 `INTERNAL`, 401 `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`,
    /// 404 `UNIMPLEMENTED`, 429, 502, 503, 504 `UNAVAILABLE`, anything else `UNKNOWN`.
    pub fn from_http(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => Self::Internal,
            401 => Self::Unauthenticated,
            403 => Self::PermissionDenied,
            404 => Self::Unimplemented,
            429 | 502 | 503 | 504 => Self::Unavailable,
            _ => Self::Unknown,
        }
    }
}

/// True when the request is a gRPC call: its `content-type` is `application/grpc`, alone or
/// followed by `+format` or `;parameters` (ASCII case ignored).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let value = value.as_bytes();
    value.len() >= GRPC.len()
        && value[..GRPC.len()].eq_ignore_ascii_case(GRPC)
        && matches!(value.get(GRPC.len()), None | Some(b'+' | b';'))
}

/// `text` as a `grpc-message` value: every byte outside printable ASCII (0x20-0x7E), and `%`
/// itself, written as `%XX` (UTF-8 bytes, upper-case hex), as the gRPC protocol asks.
pub fn encode_message(text: &str) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(byte);
        } else {
            out.extend_from_slice(&[
                b'%',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 15)],
            ]);
        }
    }
    // Only printable ASCII is left, always a valid header value.
    HeaderValue::from_bytes(&out).unwrap_or(HeaderValue::from_static(""))
}

/// `response` (an HTTP refusal) rewritten as a trailers-only gRPC answer: HTTP 200,
/// `content-type: application/grpc`, `grpc-status`, `grpc-message` ([`encode_message`]) and an
/// empty body. Its other headers stay (`WWW-Authenticate`, `Retry-After`); those describing the
/// old body go.
pub fn trailers_only<B: Default>(
    response: Response<B>,
    status: GrpcStatus,
    message: &str,
) -> Response<B> {
    let (mut parts, _) = response.into_parts();
    parts.status = StatusCode::OK;
    for name in [
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::TRANSFER_ENCODING,
    ] {
        parts.headers.remove(name);
    }
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    parts
        .headers
        .insert(GRPC_STATUS, HeaderValue::from(u16::from(status.code())));
    parts.headers.insert(GRPC_MESSAGE, encode_message(message));
    Response::from_parts(parts, B::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn grpc_content_types_are_recognised_and_look_alikes_are_not() {
        for value in [
            "application/grpc",
            "Application/GRPC+proto",
            "application/grpc;charset=x",
            "application/grpc-web+nope",
        ] {
            let expected = !value.contains("-web");
            assert_eq!(is_grpc(&with_type(value)), expected, "{value}");
        }
        for value in [
            "application/grpcx",
            "application/json",
            "text/plain",
            "application/gr",
        ] {
            assert!(!is_grpc(&with_type(value)), "{value}");
        }
        assert!(!is_grpc(&HeaderMap::new()));
    }

    #[test]
    fn messages_are_percent_encoded_as_the_protocol_asks() {
        assert_eq!(encode_message("plain text: ok"), "plain text: ok");
        assert_eq!(encode_message("100% sure"), "100%25 sure");
        assert_eq!(encode_message("line\nbreak"), "line%0Abreak");
        assert_eq!(encode_message("café"), "caf%C3%A9");
    }

    #[test]
    fn a_refusal_becomes_a_trailers_only_200_keeping_its_challenge() {
        let refused = Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, "2")
            .header(header::WWW_AUTHENTICATE, "Bearer")
            .body("{}".to_owned())
            .unwrap();
        let answer = trailers_only(refused, GrpcStatus::Unauthenticated, "no token");
        assert_eq!(answer.status(), StatusCode::OK);
        let headers = answer.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "application/grpc");
        assert_eq!(headers[GRPC_STATUS], "16");
        assert_eq!(headers[GRPC_MESSAGE], "no token");
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
        assert!(!headers.contains_key(header::CONTENT_LENGTH));
        assert!(answer.body().is_empty());
    }

    #[test]
    fn http_statuses_map_as_grpc_documents() {
        for (http, grpc) in [
            (400, 13),
            (401, 16),
            (403, 7),
            (404, 12),
            (429, 14),
            (502, 14),
            (503, 14),
            (504, 14),
            (409, 2),
        ] {
            let status = StatusCode::from_u16(http).unwrap();
            assert_eq!(GrpcStatus::from_http(status).code(), grpc, "{http}");
        }
    }
}
