//! `NextPath`: where to send a browser after login: a path on this origin, or an absolute URL
//! on a host ALLOWED_REDIRECT_HOSTS names (`AllowedHosts`).

use url::Url;

const MAX_LEN: usize = 2048;
const PLACEHOLDER_ORIGIN: &str = "http://next-path.invalid";

/// A same-origin path (with optional query), or an absolute http(s) URL on an allowed host,
/// that is safe to put in a `Location` header.
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

    /// A same-origin path as `parse` takes it, or an absolute URL whose host `allowed` names:
    /// http or https only, no userinfo, none of the characters browsers strip or reinterpret.
    pub fn parse_with(raw: &str, allowed: &AllowedHosts) -> Option<Self> {
        if raw.starts_with('/') {
            return Self::parse(raw);
        }
        if allowed.is_empty() || raw.len() > MAX_LEN {
            return None;
        }
        if raw.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace()) {
            return None;
        }
        let url = Url::parse(raw).ok()?;
        if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        // The raw text must say `scheme://` itself: `https:evil.example` parses as a URL too.
        if !raw.to_ascii_lowercase().starts_with(&format!("{}://", url.scheme())) {
            return None;
        }
        let host = match url.host()? {
            url::Host::Domain(d) => d.to_owned(),
            // IP addresses only when listed exactly.
            other => other.to_string(),
        };
        if !allowed.allows(&host) {
            return None;
        }
        let mut out = url;
        out.set_fragment(None);
        let text = out.to_string();
        (text.len() <= MAX_LEN).then_some(NextPath(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// ALLOWED_REDIRECT_HOSTS: exact hosts (`app.example.com`) or domain suffixes (`.example.com`,
/// which allows `example.com` itself and every name below it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<HostRule>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    Exact(String),
    Suffix(String),
}

impl AllowedHosts {
    /// Parses the comma-separated list; `Err` names the entry that is not a host name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (suffix, name) = match entry.strip_prefix('.') {
                Some(rest) => (true, rest),
                None => (false, entry),
            };
            // The URL parser normalises (lower case, IDNA) as it does for the URLs to check.
            let host = Url::parse(&format!("http://{name}/"))
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .filter(|h| h.starts_with('[') || (!h.is_empty() && !name.contains(['/', '@', ':', '?', '#'])));
            let Some(host) = host else { return Err(format!("{entry:?} is not a host name")) };
            let ip = host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok();
            if suffix && (ip || (!host.contains('.') && host != "localhost")) {
                return Err(format!("{entry:?}: a suffix must be a domain name like .example.com"));
            }
            rules.push(if suffix { HostRule::Suffix(host) } else { HostRule::Exact(host) });
        }
        Ok(AllowedHosts(rules))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `host` as the URL parser normalised it.
    pub fn allows(&self, host: &str) -> bool {
        self.0.iter().any(|rule| match rule {
            HostRule::Exact(h) => h == host,
            HostRule::Suffix(d) => host == d || host.strip_suffix(d.as_str()).is_some_and(|rest| rest.ends_with('.')),
        })
    }
}

impl std::fmt::Display for NextPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{AllowedHosts, NextPath};

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
    fn absolute_urls_only_on_allowed_hosts() {
        let allowed = AllowedHosts::parse("app.example.com, .apps.example.org, 127.0.0.1").unwrap();
        for (raw, expected) in [
            ("https://app.example.com/x?y=1#frag", Some("https://app.example.com/x?y=1")),
            ("http://APP.example.com:8443/", Some("http://app.example.com:8443/")),
            ("https://apps.example.org/", Some("https://apps.example.org/")),
            ("https://a.b.apps.example.org/p", Some("https://a.b.apps.example.org/p")),
            ("http://127.0.0.1:9000/", Some("http://127.0.0.1:9000/")),
            ("/local", Some("/local")),
        ] {
            assert_eq!(NextPath::parse_with(raw, &allowed).as_ref().map(NextPath::as_str), expected, "{raw}");
        }
        for bad in [
            "https://evil.example/",
            "https://app.example.com.evil.example/",
            "https://evilapps.example.org/",
            "https://app.example.com@evil.example/",
            "https://user:pw@app.example.com/",
            "ftp://app.example.com/",
            "javascript://app.example.com/%0aalert(1)",
            "https:app.example.com/",
            "https:/app.example.com/",
            "https://app.example.com\\@evil.example/",
            "https://app.example.com\t/",
            " https://app.example.com/",
            "//app.example.com/",
            "https://[::1]/",
        ] {
            assert_eq!(NextPath::parse_with(bad, &allowed), None, "{bad:?} must be refused");
        }
        // What the parser decodes is what the browser is sent to: the allowed host itself.
        let decoded = NextPath::parse_with("https://app%2eexample.com/", &allowed);
        assert_eq!(decoded.as_ref().map(NextPath::as_str), Some("https://app.example.com/"));
        // Without ALLOWED_REDIRECT_HOSTS, only paths.
        assert_eq!(NextPath::parse_with("https://app.example.com/", &AllowedHosts::default()), None);
    }

    #[test]
    fn allowed_hosts_are_host_names() {
        for bad in ["https://x.example", "a/b", "user@x.example", ".com", ".127.0.0.1", "x.example:80"] {
            assert!(AllowedHosts::parse(bad).is_err(), "{bad}");
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
