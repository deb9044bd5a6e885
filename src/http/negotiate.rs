//! Content negotiation for errors: API clients get JSON, browsers a page, whatever produced the
//! error (a handler, an extractor or the rate limiter).

use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::error::AppError;

/// True when the client wants JSON: API paths, or an `Accept` that asks for JSON and not HTML.
pub fn wants_json(req: &HttpRequest) -> bool {
    if req.path().starts_with("/api/") {
        return true;
    }
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

/// The response to send instead: `AppError`s as JSON for clients that want JSON, and the rate
/// limiter's JSON 429 as a page for browsers. The CORS headers of the original are kept, so a
/// page on an allowed origin can read the error.
pub fn replacement<B>(response: &ServiceResponse<B>, json: bool) -> Option<HttpResponse> {
    let mut replacement = if json {
        response.response().error().and_then(|e| e.as_error::<AppError>()).map(AppError::json_response)?
    } else if response.status() == StatusCode::TOO_MANY_REQUESTS {
        let page = AppError::rejected(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many sign-in attempts from your address; please wait a moment and try again",
        );
        let mut html = page.error_response();
        if let Some(retry) = response.headers().get(header::RETRY_AFTER) {
            html.headers_mut().insert(header::RETRY_AFTER, retry.clone());
        }
        html
    } else {
        return None;
    };
    let cors = response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-") || *name == header::VARY);
    for (name, value) in cors {
        replacement.headers_mut().append(name.clone(), value.clone());
    }
    Some(replacement)
}
