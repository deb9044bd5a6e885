//! Answers several operations share, as response components. Errors are negotiated by the
//! edge whatever failed, so each has a JSON face (`ErrorBody`) and a page for browsers.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{PartialSchema, ToResponse, ToSchema};

use crate::error::ErrorBody;

/// JSON for `/api/` paths and for `Accept: application/json` (without `text/html`); an HTML
/// page otherwise.
fn negotiated(description: &str, code: &str) -> ResponseBuilder {
    let json = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
        .example(Some(serde_json::json!({ "error": code, "detail": description })))
        .build();
    ResponseBuilder::new()
        .description(format!("{description} (`{code}`)"))
        .content("application/json", json)
        .content("text/html", ContentBuilder::new().schema(Some(String::schema())).build())
}

fn header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new().schema(String::schema()).description(Some(description)).build()
}

/// Declares a unit type whose `ToResponse` is the response that `$build` makes.
macro_rules! component {
    ($(#[$doc:meta])* $name:ident => $build:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), $build.build().into())
            }
        }
    };
}

/// Declares negotiated errors, each with its code, and `all`, every component of this file
/// for the document's `components`.
macro_rules! errors {
    ($($name:ident: $code:literal, $description:literal;)*) => {
        $(component!($name => negotiated($description, $code));)*
        pub fn all() -> Vec<(&'static str, RefOr<Response>)> {
            vec![$($name::response(),)* RateLimited::response(), Identity::response(), Unauthenticated::response()]
        }
    };
}

errors! {
    BadRequest: "bad_request", "The query string does not fit the route, or the JSON body is malformed (`malformed_body`)";
    BodyTooLarge: "body_too_large", "The body is larger than 64 KiB";
    NotJson: "unsupported_media_type", "The body is not sent as `application/json`";
    InvalidField: "invalid_field", "A field of the body is missing or has the wrong type";
    UriTooLong: "uri_too_long", "The request target is longer than 8 KiB";
    HeadersTooLarge: "headers_too_large", "A header is longer than 8 KiB, or all of them together longer than 32 KiB";
    NotAllowed: "not_allowed", "Signed in, but the route's `allowed_emails` and `allowed_domains` refuse this account";
    Unavailable: "service_unavailable", "A dependency (the database, the sign-in provider) is not answering";
    Internal: "internal_error", "A bug or an unexpected failure; the cause is logged";
}

component!(
    /// The rate limit of the sign-in routes.
    RateLimited => negotiated("Too many requests from this address", "rate_limited")
        .header("Retry-After", header("Seconds until the next request is let through"))
);

component!(
    /// The gateway's yes: who is calling, in headers a proxy copies to the protected app.
    Identity => ResponseBuilder::new()
        .description("Signed in and allowed; no body")
        .header("X-Auth-Request-User", header("The user's id (a UUID)"))
        .header("X-Auth-Request-Email", header("The user's email, when the provider gave one"))
        .header("X-Auth-Request-Jwt", header("A JWT for the protected app (with JWT_PRIVATE_KEY_FILE)"))
);

component!(
    /// The gateway's no for a caller who is not signed in; a proxy turns it into a login.
    Unauthenticated => ResponseBuilder::new()
        .description("Nobody is signed in (no valid token or session); no body")
        .header("WWW-Authenticate", header("`Bearer`"))
);
