//! actix's own extractor errors (query strings, JSON bodies) as our precise 4xx answers.

use actix_web::error::JsonPayloadError;
use actix_web::http::StatusCode;

use crate::error::AppError;

/// A query string that does not fit the route: 400.
pub fn bad_query(err: impl std::fmt::Display) -> actix_web::Error {
    malformed(err).into()
}

/// A query string that does not parse.
pub fn malformed(err: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(format!("the request is malformed: {err}"))
}

/// JSON bodies: syntax errors are 400, a missing or mistyped field 422, the wrong content type
/// 415, an oversized body 413.
pub fn bad_json(err: JsonPayloadError) -> actix_web::Error {
    use JsonPayloadError as E;
    let error = match &err {
        E::Deserialize(e) if e.is_data() => AppError::rejected(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("the request body is incomplete: {e}"),
        ),
        E::Deserialize(e) => AppError::rejected(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            format!("the request body is not valid JSON: {e}"),
        ),
        E::ContentType => AppError::rejected(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ),
        E::Overflow { .. } | E::OverflowKnownLength { .. } => {
            AppError::rejected(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the request body is too large")
        }
        other => AppError::rejected(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            format!("the request body could not be read: {other}"),
        ),
    };
    error.into()
}
