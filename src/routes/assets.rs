//! Static assets compiled into the binary.

use actix_web::http::header;
use actix_web::HttpResponse;

use crate::templates::STYLESHEET;

/// `GET /assets/app.css`: served from the binary, so the CSP can forbid inline styles.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}
