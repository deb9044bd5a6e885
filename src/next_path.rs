//! `NextPath`: where to send a browser after login, limited to paths on this origin.

use url::Url;

const MAX_LEN: usize = 2048;
const PLACEHOLDER_ORIGIN: &str = "http://next-path.invalid";

/// A same-origin path (with optional query) that is safe to put in a `Location` header.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NextPath(String);

impl NextPath {
    /// Accepts `/chat`, `/a/b?x=1`; refuses anything a browser could read as another origin
    /// (`https://…`, `//host`, `/\host`, control characters that browsers strip, …).
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.len() > MAX_LEN || !raw.starts_with('/') {
            return None;
        }
        // Browsers treat `\` like `/` and drop tabs and newlines, so `/\evil` and `/\t/evil` mean `//evil`.
        if raw.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace()) {
            return None;
        }
        if raw.starts_with("//") {
            return None;
        }
        let base = Url::parse(PLACEHOLDER_ORIGIN).ok()?;
        let joined = base.join(raw).ok()?;
        if joined.origin() != base.origin() {
            return None;
        }
        let mut path = joined.path().to_owned();
        if path.starts_with("//") {
            return None;
        }
        if let Some(query) = joined.query() {
            path.push('?');
            path.push_str(query);
        }
        // Percent-encoding can lengthen the path; what we return must parse again.
        if path.len() > MAX_LEN {
            return None;
        }
        Some(NextPath(path))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NextPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::NextPath;

    #[test]
    fn accepts_local_paths() {
        for ok in ["/", "/chat", "/chat?room=1&x=%2F", "/a/b/c", "/sessions#top"] {
            assert!(NextPath::parse(ok).is_some(), "{ok}");
        }
        assert_eq!(NextPath::parse("/a/../chat").unwrap().as_str(), "/chat");
        assert_eq!(NextPath::parse("/sessions#top").unwrap().as_str(), "/sessions");
    }

    #[test]
    fn refuses_other_origins_in_every_spelling() {
        for bad in [
            "",
            "chat",
            "https://evil.example/",
            "http:evil.example",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\u{3000}/evil.example",
            " /chat",
            "javascript:alert(1)",
            "/.//evil.example",
            "/./\\evil.example",
        ] {
            assert_eq!(NextPath::parse(bad), None, "{bad:?} must be refused");
        }
    }

    #[test]
    fn what_stays_is_a_local_path_of_its_own() {
        // Percent-encoded slashes and backslashes are not decoded by browsers in a Location, and
        // dot segments are resolved here, so these stay on this origin.
        for (raw, local) in [
            ("/%09/evil.example/../..", "/"),
            ("/%2F/evil.example", "/%2F/evil.example"),
            ("/%5Cevil.example", "/%5Cevil.example"),
            ("/a/./b/../c", "/a/c"),
        ] {
            assert_eq!(NextPath::parse(raw).as_ref().map(NextPath::as_str), Some(local), "{raw:?}");
        }
    }

    #[test]
    fn refuses_overlong_paths() {
        let long = format!("/{}", "a".repeat(3000));
        assert!(NextPath::parse(&long).is_none());
        // Found by fuzzing: 2,048 bytes that percent-encoding triples must not come back longer.
        let grows = format!("/{}", "\"".repeat(2047));
        assert!(NextPath::parse(&grows).is_none_or(|p| NextPath::parse(p.as_str()).as_ref() == Some(&p)));
    }
}
