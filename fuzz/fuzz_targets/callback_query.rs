//! The query strings of `GET /auth` (the provider's redirect back) and `GET /login?next=`,
//! decoded as the app decodes them (actix's `web::Query`, i.e. serde_urlencoded), then the
//! values used the way the handlers use them. Never panics; decoding is deterministic and a
//! decoded query re-encodes to one that decodes the same.
//!
//! `CallbackQuery` and `LoginQuery` mirror the private structs in `src/routes/callback.rs` and
//! `src/routes/login.rs`; keep the fields in step with them.
#![no_main]

use actix_web::http::header::HeaderValue;
use actix_web::web;
use doorman::next_path::NextPath;
use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};
use url::Url;

/// Mirror of `routes::callback::CallbackQuery`.
#[derive(Debug, PartialEq, Eq, Deserialize, Serialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// Mirror of `routes::login::LoginQuery`.
#[derive(Debug, PartialEq, Eq, Deserialize, Serialize)]
struct LoginQuery {
    next: Option<String>,
}

/// As in `routes::callback`.
const MAX_PARAM_LEN: usize = 4096;

fn decode<T>(query: &str) -> Option<T>
where
    T: for<'de> Deserialize<'de> + Serialize + PartialEq + std::fmt::Debug,
{
    let direct = serde_urlencoded::from_str::<T>(query);
    let extracted = web::Query::<T>::from_query(query).map(web::Query::into_inner);
    assert_eq!(direct.is_ok(), extracted.is_ok(), "serde_urlencoded and web::Query disagree on {query:?}");
    let value = direct.ok()?;
    assert_eq!(Some(&value), extracted.as_ref().ok(), "serde_urlencoded and web::Query disagree on {query:?}");
    let encoded = serde_urlencoded::to_string(&value).expect("a decoded query re-encodes");
    let again = serde_urlencoded::from_str::<T>(&encoded);
    assert_eq!(again.as_ref().ok(), Some(&value), "{query:?} re-encoded as {encoded:?} decodes differently");
    Some(value)
}

/// What a handler may do with any decoded value: compare it, resolve it as a URL reference.
fn use_value(value: &str) {
    let base = Url::parse("http://next-path.invalid").unwrap();
    let _ = base.join(value);
    let _ = Url::parse(value);
    let _ = value.trim_end_matches('/') == "http://127.0.0.1:9000";
    let _ = value.len() > MAX_PARAM_LEN;
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    if let Some(q) = decode::<CallbackQuery>(query) {
        for value in [&q.code, &q.state, &q.error, &q.iss].into_iter().flatten() {
            use_value(value);
        }
    }
    if let Some(LoginQuery { next: Some(next) }) = decode::<LoginQuery>(query) {
        use_value(&next);
        if let Some(path) = NextPath::parse(&next) {
            let path = path.as_str();
            assert!(path.starts_with('/') && !path.starts_with("//"), "next={next:?} gave {path:?}");
            assert!(HeaderValue::from_str(path).is_ok(), "next={next:?} gave {path:?}: not a Location value");
        }
    }
});
