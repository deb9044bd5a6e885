//! `SameOrigin`: an extractor for state-changing posts that refuses cross-site requests (CSRF).

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use crate::error::AppError;
use crate::state::AppState;

/// Present only when the request comes from one of this site's own pages.
pub struct SameOrigin;

/// True unless the request comes from another site's page. Browsers say so in
/// `Sec-Fetch-Site`; for clients that do not send it, `Origin` must be ours when present. With
/// our `Referrer-Policy: no-referrer`, Chromium sends `Origin: null` even on same-origin posts,
/// which is why `Sec-Fetch-Site` decides first.
fn is_same_origin(req: &HttpRequest, public_origin: &str) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    header("origin").is_none_or(|origin| origin == public_origin)
}

impl FromRequest for SameOrigin {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ours = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|state| is_same_origin(req, &state.settings.site.public_origin));
        std::future::ready(if ours {
            Ok(SameOrigin)
        } else {
            Err(AppError::Forbidden("this can only be done from this site's own pages"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_same_origin;
    use actix_web::test::TestRequest;

    #[test]
    fn fetch_metadata_decides_first_then_the_origin() {
        let ours = "https://login.example";
        let check = |headers: &[(&str, &str)]| {
            let req = headers.iter().fold(TestRequest::post(), |r, h| r.insert_header(*h)).to_http_request();
            is_same_origin(&req, ours)
        };
        assert!(check(&[("sec-fetch-site", "same-origin"), ("origin", "null")]));
        assert!(check(&[("sec-fetch-site", "none")]));
        assert!(!check(&[("sec-fetch-site", "cross-site"), ("origin", ours)]));
        assert!(!check(&[("sec-fetch-site", "same-site")]));
        assert!(check(&[("origin", ours)]));
        assert!(!check(&[("origin", "https://evil.example")]));
        assert!(check(&[]), "clients without either header (curl) are not browsers under attack");
    }
}
