//! `GET /api/openapi.json`: the OpenAPI 3.1 document of every JSON route, derived from the
//! handlers' `#[utoipa::path]` and their body types. The answers the edge and the extractors
//! give any route (size limits, malformed queries and bodies, bugs) are added here, once,
//! because they are true of every route rather than of one handler.

mod responses;

use actix_web::web::{Bytes, Data};
use actix_web::HttpResponse;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref};
use utoipa::OpenApi;

pub use responses::{Identity, NotAllowed, RateLimited, Unauthenticated, Unavailable};

use crate::config::CookieSettings;
use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Doorman",
        description = "Sign-in with OpenID Connect, kept with cookies or JWTs; the JSON routes. Errors are `{\"error\": <code>, \"detail\": <message>}`: JSON on `/api/` paths and for `Accept: application/json`, an HTML page for browsers elsewhere."
    ),
    paths(
        super::api::id_token_login,
        super::api::refresh,
        super::api::jwks,
        super::chat::chat,
        super::gateway::verify,
        super::gateway::forward,
        super::login::login,
        super::health::healthz,
        super::health::readyz,
        serve,
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "api", description = "Sign-in and token refresh for single-page and mobile apps"),
        (name = "tokens", description = "Keys to verify the access tokens elsewhere"),
        (name = "pages", description = "Browser routes that also answer JSON"),
        (name = "gateway", description = "Questions from a reverse proxy about one request (nginx, Caddy, Traefik)"),
        (name = "health", description = "For load balancers and orchestrators"),
        (name = "meta", description = "This document"),
    )
)]
struct ApiDoc;

/// The document for these cookie settings (they name the access cookie).
pub fn document(cookies: CookieSettings) -> Document {
    let mut doc = ApiDoc::openapi();
    for item in doc.paths.paths.values_mut() {
        for operation in [item.get.as_mut(), item.post.as_mut()].into_iter().flatten() {
            add_edge_answers(operation);
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.responses.extend(responses::all().into_iter().map(|(name, response)| (name.to_owned(), response)));
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("JWT")
        .description(Some("The `access` token of a sign-in or refresh answer"))
        .build();
    components.security_schemes.insert("bearer".to_owned(), SecurityScheme::Http(bearer));
    let access = crate::cookies::names(cookies).access;
    let cookie = ApiKeyValue::with_description(access, "The access cookie a browser sign-in sets (HttpOnly)");
    components.security_schemes.insert("access_cookie".to_owned(), SecurityScheme::ApiKey(ApiKey::Cookie(cookie)));
    doc
}

/// What no handler says because no handler decides it: the edge refuses oversized requests
/// before routing, the query and JSON extractors' errors (startup's `QueryConfig` and
/// `JsonConfig`) answer for every handler that takes one, and any handler can fail with a bug.
/// A status the handler already documents is left as it wrote it.
fn add_edge_answers(operation: &mut Operation) {
    let has_query = operation.parameters.iter().flatten().any(|p| p.parameter_in == ParameterIn::Query);
    let mut answers = vec![("414", "UriTooLong"), ("431", "HeadersTooLarge"), ("500", "Internal")];
    if has_query {
        answers.push(("400", "BadRequest"));
    }
    if operation.request_body.is_some() {
        answers.extend([("400", "BadRequest"), ("413", "BodyTooLarge"), ("415", "NotJson"), ("422", "InvalidField")]);
    }
    for (status, name) in answers {
        operation.responses.responses.entry(status.to_owned()).or_insert_with(|| Ref::from_response_name(name).into());
    }
}

/// The document as served, serialised once at start-up.
#[derive(Clone)]
pub struct ApiDocument(Bytes);

impl ApiDocument {
    pub fn new(cookies: CookieSettings) -> Self {
        let json = serde_json::to_vec(&document(cookies)).expect("an OpenAPI document always serialises");
        ApiDocument(Bytes::from(json))
    }
}

/// `GET /api/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    summary = "This OpenAPI 3.1 document",
    responses((status = 200, description = "The document of every JSON route", body = Object)),
)]
pub async fn serve(doc: Data<ApiDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .body(doc.0.clone())
}
