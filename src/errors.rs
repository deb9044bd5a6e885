//! One error type for the app, mapped to HTTP in one place. Browsers get an HTML page, API
//! clients the JSON `{"error", "detail"}`; internal causes are logged, never shown.

use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::oidc::OidcError;
use crate::templates::ErrorPage;
use crate::tokens::TokenError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request itself is wrong; the message is shown to the person.
    #[error("{0}")]
    BadRequest(String),
    /// Signing in failed; the message is shown, the cause (if any) logged.
    #[error("{message}")]
    LoginFailed { status: StatusCode, message: &'static str, cause: Option<String> },
    /// No valid access token. Browsers are sent to log in and come back to `next`.
    #[error("{}", reason.map_or("sign in to continue", |r| if r == TokenError::Expired { "your session has expired" } else { "your access token is invalid" }))]
    Unauthenticated { next: String, reason: Option<TokenError> },
    #[error("{0}")]
    Forbidden(&'static str),
    /// A precise client error for API clients: status, stable code, message.
    #[error("{message}")]
    Rejected { status: StatusCode, code: &'static str, message: String },
    #[error("this page does not exist")]
    NotFound,
    /// A dependency (database, provider) is down; the cause is logged.
    #[error("{message}")]
    Unavailable { message: &'static str, cause: String },
    /// A bug or an unexpected failure; the cause is logged.
    #[error("something went wrong on our side")]
    Internal(String),
}

impl AppError {
    pub fn internal(cause: impl Into<String>) -> Self {
        AppError::Internal(cause.into())
    }

    pub fn database_unavailable(cause: impl std::fmt::Display) -> Self {
        AppError::Unavailable {
            message: "the database is unavailable; please try again shortly",
            cause: cause.to_string(),
        }
    }

    pub fn login_failed(message: &'static str, cause: impl Into<String>) -> Self {
        AppError::LoginFailed { status: StatusCode::BAD_REQUEST, message, cause: Some(cause.into()) }
    }

    /// A short, stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::LoginFailed { status, .. } if *status == StatusCode::FORBIDDEN => "access_denied",
            AppError::LoginFailed { status, .. } if *status == StatusCode::UNAUTHORIZED => "invalid_token",
            AppError::LoginFailed { .. } => "login_failed",
            AppError::Unauthenticated { reason: Some(TokenError::Expired), .. } => "token_expired",
            AppError::Unauthenticated { reason: Some(TokenError::Invalid), .. } => "invalid_token",
            AppError::Unauthenticated { reason: None, .. } => "not_authenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::Rejected { code, .. } => code,
            AppError::NotFound => "not_found",
            AppError::Unavailable { .. } => "service_unavailable",
            AppError::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            AppError::LoginFailed { .. } => "We couldn't sign you in",
            AppError::Unauthenticated { .. } => "Please sign in",
            AppError::Forbidden(_) => "Not allowed",
            AppError::Rejected { .. } => "That request didn't work",
            AppError::NotFound => "Page not found",
            AppError::Unavailable { .. } => "Temporarily unavailable",
            AppError::Internal(_) => "Something went wrong",
            AppError::BadRequest(_) => "That request didn't work",
        }
    }

    fn log(&self) {
        match self {
            AppError::Internal(cause) => log::error!("internal error: {cause}"),
            AppError::Unavailable { cause, .. } => log::warn!("dependency unavailable: {cause}"),
            AppError::LoginFailed { message, cause: Some(cause), .. } => {
                log::warn!("login failed ({message}): {cause}")
            }
            _ => {}
        }
    }

    /// The JSON face of the error, for API clients.
    pub fn json_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let AppError::Unauthenticated { reason, .. } = self {
            let challenge = match reason {
                None => "Bearer".to_owned(),
                Some(r) => format!("Bearer error=\"invalid_token\", error_description=\"{r}\""),
            };
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        response.json(serde_json::json!({ "error": self.code(), "detail": self.to_string() }))
    }
}

impl From<OidcError> for AppError {
    fn from(e: OidcError) -> Self {
        let cause = Some(e.to_string());
        let (status, message) = match e {
            OidcError::ProviderUnavailable(cause) => {
                return AppError::Unavailable {
                    message: "the sign-in provider is not answering; please try again in a moment",
                    cause,
                }
            }
            OidcError::CodeRejected(_) => (
                StatusCode::BAD_REQUEST,
                "the sign-in provider did not accept this sign-in; it may have been used already or taken too long",
            ),
            OidcError::InvalidIdToken(_) => {
                (StatusCode::UNAUTHORIZED, "the identity token from the sign-in provider could not be verified")
            }
            OidcError::ExpiredIdToken => {
                (StatusCode::UNAUTHORIZED, "the identity token from the sign-in provider has expired")
            }
            OidcError::WrongIssuerInResponse(_) => {
                (StatusCode::BAD_REQUEST, "the sign-in response came from an unexpected provider")
            }
        };
        AppError::LoginFailed { status, message, cause }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::LoginFailed { status, .. } => *status,
            AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Rejected { status, .. } => *status,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The HTML face: a redirect to login for the unauthenticated, a friendly page otherwise.
    fn error_response(&self) -> HttpResponse {
        self.log();
        if let AppError::Unauthenticated { next, .. } = self {
            let location =
                format!("/login?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>());
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish();
        }
        let page = ErrorPage { title: self.title(), message: self.to_string(), status: self.status_code().as_u16() };
        match page.render() {
            Ok(html) => HttpResponse::build(self.status_code())
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(html),
            Err(e) => {
                log::error!("cannot render the error page: {e}");
                HttpResponse::build(self.status_code()).body(self.to_string())
            }
        }
    }
}

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

/// Turns actix's own extractor errors (bad query strings) into our 400.
pub fn bad_input(err: impl std::fmt::Display) -> actix_web::Error {
    AppError::BadRequest(format!("the request is malformed: {err}")).into()
}

impl AppError {
    pub fn rejected(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Rejected { status, code, message: message.into() }
    }
}

/// JSON bodies: syntax errors are 400, a missing or mistyped field 422, the wrong content type
/// 415, an oversized body 413.
pub fn bad_json(err: actix_web::error::JsonPayloadError) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
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

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => AppError::database_unavailable(info.message()),
            other => AppError::internal(format!("database error: {other}")),
        }
    }
}
