//! One error type for the app, mapped to HTTP in one place. Browsers get an HTML page, API
//! clients the JSON `{"error", "detail"}` (chosen in `http::negotiate`); internal causes are kept
//! as `source` errors and logged with their chain, never shown.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::db::DbError;
use crate::oidc::OidcError;
use crate::templates::ErrorPage;
use crate::tokens::TokenError;

/// A cause of any kind, kept for the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The JSON face of every error; one type, so the OpenAPI schema is the shape sent.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": "invalid_token", "detail": "your access token is invalid"}))]
pub struct ErrorBody {
    /// A short, stable code to branch on (`invalid_token`, `rate_limited`, …).
    pub error: &'static str,
    /// A message for people; it may change.
    pub detail: String,
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request itself is wrong; the message is shown to the person.
    #[error("{0}")]
    BadRequest(String),
    /// Signing in failed; the message is shown, the cause (if any) logged.
    #[error("{message}")]
    LoginFailed {
        status: StatusCode,
        message: &'static str,
        #[source]
        cause: Option<BoxError>,
    },
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
    Unavailable {
        message: &'static str,
        #[source]
        cause: BoxError,
    },
    /// A bug or an unexpected failure; the cause is logged.
    #[error("something went wrong on our side")]
    Internal(#[source] BoxError),
}

impl AppError {
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        AppError::Internal(cause.into())
    }

    /// A sign-in refused with a 400 and a message for the person, nothing more to log.
    pub fn login_failed(message: &'static str) -> Self {
        AppError::LoginFailed { status: StatusCode::BAD_REQUEST, message, cause: None }
    }

    /// The same with another status.
    pub fn with_status(mut self, new: StatusCode) -> Self {
        if let AppError::LoginFailed { status, .. } | AppError::Rejected { status, .. } = &mut self {
            *status = new;
        }
        self
    }

    /// The same with a cause for the log.
    pub fn caused_by(mut self, why: impl Into<BoxError>) -> Self {
        if let AppError::LoginFailed { cause, .. } = &mut self {
            *cause = Some(why.into());
        }
        self
    }

    pub fn rejected(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Rejected { status, code, message: message.into() }
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
            // The sign-in refusals of the policy and of a disabled account.
            AppError::Rejected { code: "account_disabled" | "account_not_allowed" | "email_not_verified", .. } => {
                "We couldn't sign you in"
            }
            AppError::Unauthenticated { .. } => "Please sign in",
            AppError::Forbidden(_) => "Not allowed",
            AppError::Rejected { .. } | AppError::BadRequest(_) => "That request didn't work",
            AppError::NotFound => "Page not found",
            AppError::Unavailable { .. } => "Temporarily unavailable",
            AppError::Internal(_) => "Something went wrong",
        }
    }

    fn log(&self) {
        match self {
            AppError::Internal(cause) => log::error!("internal error: {}", chain(cause.as_ref())),
            AppError::Unavailable { cause, .. } => log::warn!("dependency unavailable: {}", chain(cause.as_ref())),
            AppError::LoginFailed { message, cause: Some(cause), .. } => {
                log::warn!("login failed ({message}): {}", chain(cause.as_ref()))
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
        response.json(ErrorBody { error: self.code(), detail: self.to_string() })
    }
}

/// An error and its causes on one line, for logs. Causes can quote what a client sent (a
/// token's `aud`, a provider's error text): control characters are escaped, so nobody can end
/// the line and forge another.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut next = Some(e);
    while let Some(error) = next {
        if !out.is_empty() {
            out.push_str(": ");
        }
        push_escaped(&mut out, &error.to_string());
        next = error.source();
    }
    out
}

/// Appends `text` with every control character as a Rust escape (`\n`, `\u{1b}`).
pub fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

impl From<OidcError> for AppError {
    fn from(e: OidcError) -> Self {
        let (status, message) = match &e {
            OidcError::ProviderUnavailable { .. } => {
                return AppError::Unavailable {
                    message: "the sign-in provider is not answering; please try again in a moment",
                    cause: Box::new(e),
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
            OidcError::MalformedTokenResponse(_) | OidcError::UserInfoRefused(_) => (
                StatusCode::BAD_REQUEST,
                "the sign-in provider's answer could not be used; please tell the site's administrator",
            ),
            OidcError::UserInfoMismatch(_) | OidcError::InvalidUserInfo(_) => {
                (StatusCode::UNAUTHORIZED, "the profile from the sign-in provider could not be verified")
            }
        };
        AppError::LoginFailed { status, message, cause: Some(Box::new(e)) }
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(_) => AppError::Unavailable {
                message: "the database is unavailable; please try again shortly",
                cause: Box::new(e),
            },
            other => AppError::Internal(Box::new(other)),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::LoginFailed { status, .. } | AppError::Rejected { status, .. } => *status,
            AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The HTML face: a redirect to login for the unauthenticated, a friendly page otherwise.
    /// actix calls this once per failed request, so this is where the cause is logged.
    fn error_response(&self) -> HttpResponse {
        self.log();
        if let AppError::Unauthenticated { next, .. } = self {
            let location =
                format!("/login?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>());
            return HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish();
        }
        let page = ErrorPage { title: self.title(), message: self.to_string(), status: self.status_code().as_u16() };
        match page.render() {
            Ok(html) => HttpResponse::build(self.status_code()).content_type("text/html; charset=utf-8").body(html),
            Err(e) => {
                log::error!("cannot render the error page: {e}");
                HttpResponse::build(self.status_code()).body(self.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_cause_cannot_start_a_log_line_of_its_own() {
        let forged = "aud x\n[2026-12-01T00:00:00Z INFO  request] status=200\r\u{1b}[2K";
        let e = Outer(std::io::Error::other(forged));
        let line = chain(&e);
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(!line.contains('\r') && !line.contains('\u{1b}'), "{line}");
        assert!(line.starts_with("outer: aud x\\n[2026"), "{line}");
        assert!(line.ends_with("\\r\\u{1b}[2K"), "{line}");
    }
}
