//! `NextPath::parse` on arbitrary strings: whatever it accepts must be a plain same-origin path
//! that no browser can read as another origin, usable as a `Location` header, and stable when
//! parsed again (the app parses it twice: once from the guarded page's URI, once from `?next=`).
#![no_main]

use actix_web::http::header::HeaderValue;
use doorman::next_path::NextPath;
use libfuzzer_sys::fuzz_target;
use url::Url;

/// Debug form, cut short: failing inputs can be kilobytes long (the artifact has them whole).
fn short(s: &str) -> String {
    let debug = format!("{s:?}");
    match debug.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…[{} bytes]", &debug[..cut], s.len()),
        None => debug,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let Some(next) = NextPath::parse(input) else { return };
    let next_str = next.as_str();
    let (raw, path) = (short(input), short(next_str));

    assert!(input.starts_with('/'), "accepted {raw}, which is not a path");
    assert!(next_str.starts_with('/'), "{raw} gave {path}: not a path");
    assert!(!next_str.starts_with("//"), "{raw} gave {path}: protocol-relative URL");
    assert!(!next_str.starts_with("/\\"), "{raw} gave {path}: browsers read /\\ as //");
    assert!(!next_str.contains('\\'), "{raw} gave {path}: contains a backslash");
    assert!(
        !next_str.chars().any(|c| c.is_control() || c.is_whitespace()),
        "{raw} gave {path}: contains control characters or whitespace browsers strip"
    );
    assert!(!next_str.contains('#'), "{raw} gave {path}: keeps a fragment");
    assert!(HeaderValue::from_str(next_str).is_ok(), "{raw} gave {path}: not a valid Location header value");

    // A browser resolving it against our origin must stay on our origin.
    let ours = Url::parse("https://app.example:8443/some/page?x=1").unwrap();
    let resolved = ours.join(next_str).expect("an accepted path must resolve against our origin");
    assert_eq!(resolved.origin(), ours.origin(), "{raw} gave {path}, which leaves the origin");

    // Idempotent: what we hand out parses to itself.
    let again = NextPath::parse(next_str);
    assert!(
        again.as_ref() == Some(&next),
        "{raw} gave {path}, which re-parses to {}",
        again.map_or("nothing".to_owned(), |p| short(p.as_str()))
    );
});
