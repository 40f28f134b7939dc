//! Talking to the engine: a planned call is sent with the proxy's credentials, and the
//! engine's answer becomes the caller's, with the FastAPI proxy's status codes.

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::plan::{EngineCall, Operation};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind};
use crate::upstream::Upstream;

/// Sends `call` to the engine and answers the caller: [`call_engine`], then [`answer`].
pub async fn respond(
    engine: &Upstream,
    caller: &Caller,
    operation: &Operation,
    call: EngineCall,
) -> Result<Response, ApiError> {
    let (status, value) = call_engine(engine, caller, call).await?;
    answer(operation, status, value)
}

/// Sends `call` to the engine for `caller`: the answer's status and JSON body. The engine's 4xx
/// are returned as errors with its own message (Camunda's `{"type": ..., "message": ...}`).
pub async fn call_engine(
    engine: &Upstream,
    caller: &Caller,
    call: EngineCall,
) -> Result<(StatusCode, Value), ApiError> {
    let EngineCall {
        method,
        path,
        query,
        body,
    } = call;
    let query = (!query.is_empty()).then(|| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&query)
            .finish()
    });
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let body = match &body {
        Some(value) => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    let response = engine
        .send(caller, method, (&path, query.as_deref()), headers, body)
        .await?;
    let status = response.status();
    let bytes = match tokio::time::timeout(engine.timeout(), response.into_body().collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(_)) => return Err(engine.unreachable_error()),
        Err(_) => return Err(engine.timeout_error()),
    };
    let value: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    if status.is_client_error() {
        // Camunda's error JSON: {"type": "...", "message": "..."}.
        let message = value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .to_owned();
        let kind = if status == StatusCode::NOT_FOUND {
            ErrorKind::NotFound
        } else {
            ErrorKind::UpstreamRejected(status)
        };
        return Err(ApiError::new(kind, message));
    }
    Ok((status, value))
}

/// The caller's answer for an engine success.
pub fn answer(
    operation: &Operation,
    status: StatusCode,
    value: Value,
) -> Result<Response, ApiError> {
    if !status.is_success() {
        // A redirect or informational answer cannot be followed through the facade.
        return Err(ApiError::new(
            ErrorKind::UpstreamError,
            format!("the engine answered {status}"),
        ));
    }
    Ok(match operation {
        Operation::StartProcess(_) if status == StatusCode::OK => {
            (StatusCode::CREATED, Json(value)).into_response()
        }
        Operation::CompleteTask(_) if status == StatusCode::NO_CONTENT || value.is_null() => {
            (StatusCode::OK, Json(json!({}))).into_response()
        }
        _ if status == StatusCode::NO_CONTENT => StatusCode::NO_CONTENT.into_response(),
        _ => (status, Json(value)).into_response(),
    })
}
