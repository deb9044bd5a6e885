//! Cookies decided before the handler ran (a session rolled or cleared while authenticating)
//! are queued in the request and added to whatever response the handler produces.

use actix_web::cookie::Cookie;
use actix_web::dev::ServiceResponse;
use actix_web::{HttpMessage, HttpRequest};

/// Cookies to set on this request's response.
#[derive(Default, Clone)]
pub struct CookieUpdates(pub Vec<Cookie<'static>>);

/// Queues cookies for this request's response.
pub fn set_cookies(req: &HttpRequest, cookies: impl IntoIterator<Item = Cookie<'static>>) {
    let mut extensions = req.extensions_mut();
    let updates = extensions.get_or_insert_with(CookieUpdates::default);
    updates.0.extend(cookies);
}

/// Adds the `CookieUpdates` an extractor left in the request to the response, unless the
/// handler already set a cookie of the same name (logout clearing what a refresh just renewed).
pub fn apply<B>(response: &mut ServiceResponse<B>) -> Result<(), actix_web::Error> {
    let updates = response.request().extensions_mut().remove::<CookieUpdates>();
    if let Some(CookieUpdates(cookies)) = updates {
        let already: Vec<String> = response.response().cookies().map(|c| c.name().to_owned()).collect();
        for cookie in cookies.into_iter().filter(|c| !already.iter().any(|n| n == c.name())) {
            response.response_mut().add_cookie(&cookie)?;
        }
    }
    Ok(())
}
