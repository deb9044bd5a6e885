//! Unit tests of the configuration reader.

use std::collections::HashMap;

use super::*;

fn base() -> HashMap<String, String> {
    [
        ("DATABASE_URL", "postgres://u@127.0.0.1/db"),
        ("GOOGLE_CLIENT_ID", "client"),
        ("GOOGLE_CLIENT_SECRET", "dev-only-client-secret"),
        ("OIDC_ISSUER", "http://127.0.0.1:9000"),
        ("SECRET_KEY", "dev-only-session-key-0123456789abcdef"),
        ("JWT_SECRET_KEY", "dev-only-jwt-key-0123456789abcdef0123"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn error_var(env: HashMap<String, String>) -> String {
    Settings::from_source(env).expect_err("should be refused").var
}

#[test]
fn defaults_follow_the_contract() {
    let s = Settings::from_source(base()).unwrap();
    assert_eq!(s.site.redirect_url.as_str(), "http://127.0.0.1:8000/auth");
    assert_eq!(s.site.frontend_url, "/chat");
    assert_eq!(s.server.bind_addr.to_string(), "127.0.0.1:8000");
    assert!(s.cookies.secure);
    assert_eq!(s.site.public_origin, "http://127.0.0.1:8000");
    assert!(s.server.trusted_proxies.contains(&"127.0.0.1".parse().unwrap()));
    assert!(s.server.cors_allowed_origins.is_empty());
    let mut env = base();
    env.insert("FRONTEND_URL".into(), "https://app.example/a b\u{7f}".into());
    let s = Settings::from_source(env).unwrap();
    assert_eq!(s.site.frontend_url, "https://app.example/a%20b%7F", "normalised into a valid Location");
    assert!(actix_web::http::header::HeaderValue::from_str(&s.site.frontend_url).is_ok());
}

#[test]
fn missing_and_short_secrets_are_named() {
    let mut env = base();
    env.remove("SECRET_KEY");
    assert_eq!(error_var(env), "SECRET_KEY");
    let mut env = base();
    env.insert("SECRET_KEY".into(), "too-short".into());
    let err = Settings::from_source(env).unwrap_err();
    assert_eq!(err.var, "SECRET_KEY");
    assert!(err.to_string().contains("at least 32 bytes"), "{err}");
}

#[test]
fn bad_values_are_named() {
    for (var, value) in [
        ("DATABASE_URL", "mysql://x"),
        ("OIDC_ISSUER", "not a url"),
        ("REDIRECT_URL", "ftp://x/auth"),
        ("BIND_ADDR", "nowhere"),
        ("COOKIE_SECURE", "maybe"),
        ("FRONTEND_URL", "//evil.example"),
        ("CORS_ALLOWED_ORIGINS", "https://app.example/path"),
        ("CORS_ALLOWED_ORIGINS", "*"),
        ("CORS_ALLOWED_ORIGINS", "https://a`b.example"),
        ("CORS_ALLOWED_ORIGINS", "https://a{b}.example"),
        ("CORS_ALLOWED_ORIGINS", "https://a\"b.example"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("REFRESH_TOKEN_TTL_SECONDS", "60"),
        ("RATE_LIMIT_PER_SECOND", "-1"),
        ("ALLOWED_EMAIL_DOMAINS", "example..com"),
        ("REQUIRE_EMAIL_VERIFIED", "sometimes"),
        ("ACCESS_TOKEN_TTL_SECONDS", "18446744073709551615"),
        ("REFRESH_TOKEN_TTL_SECONDS", "999999999999"),
        ("FRONTEND_URL", "javascript:alert(1)"),
        ("RATE_LIMIT_PER_SECOND", "2000000000"),
    ] {
        let mut env = base();
        env.insert(var.into(), value.into());
        assert_eq!(error_var(env), var, "{var}={value}");
    }
}

#[test]
fn development_secrets_are_refused_for_a_remote_issuer() {
    let mut env = base();
    env.insert("OIDC_ISSUER".into(), "https://accounts.google.com".into());
    assert_eq!(error_var(env.clone()), "SECRET_KEY");
    env.insert("SECRET_KEY".into(), "a-real-secret-that-is-long-enough-000".into());
    env.insert("JWT_SECRET_KEY".into(), "another-real-secret-long-enough-1111".into());
    env.insert("GOOGLE_CLIENT_SECRET".into(), "real".into());
    let s = Settings::from_source(env).unwrap();
    assert!(s.providers[0].is_google());
}

#[test]
fn secrets_that_are_easy_to_guess_are_refused() {
    for weak in [
        "a".repeat(40),
        "passwordpasswordpasswordpassword".to_owned(),
        format!("password{}", "0".repeat(30)),
        "0123456789".repeat(4),
        "abcdefghabcdefghabcdefghabcdefghabcdefgh".to_owned(),
    ] {
        for var in ["SECRET_KEY", "JWT_SECRET_KEY"] {
            let mut env = base();
            env.insert(var.into(), weak.clone());
            let err = Settings::from_source(env).expect_err(&weak);
            assert_eq!(err.var, var, "{weak}");
            assert!(err.to_string().contains("too easy to guess"), "{err}");
        }
    }
    // What `openssl rand` makes passes, hex included (128 bits estimate at about 120).
    for strong in ["9f86d081884c7d659a2feaa0c55ad015", "k7Jq2vN9xW4pL0sR8tY1uZ3aB6cD5eF+gH/iJ=mOnQ=="] {
        let mut env = base();
        env.insert("SECRET_KEY".into(), strong.into());
        assert!(Settings::from_source(env).is_ok(), "{strong}");
    }
}

#[test]
fn the_development_secrets_need_both_the_provider_and_the_app_on_loopback() {
    // A provider sidecar on loopback, the app public: the committed secrets must not run.
    let mut env = base();
    env.insert("REDIRECT_URL".into(), "https://login.example.com/auth".into());
    assert_eq!(error_var(env), "SECRET_KEY");
    let mut env = base();
    env.insert("REDIRECT_URL".into(), "http://localhost:8000/auth".into());
    assert!(Settings::from_source(env).is_ok(), "both on loopback: development");
}

#[test]
fn insecure_cookies_are_refused_for_a_public_https_site() {
    let mut env = base();
    env.insert("SECRET_KEY".into(), "a-real-secret-that-is-long-enough-0x1f9a".into());
    env.insert("JWT_SECRET_KEY".into(), "another-real-secret-long-enough-7Qz2".into());
    env.insert("GOOGLE_CLIENT_SECRET".into(), "GOCSPX-real".into());
    env.insert("REDIRECT_URL".into(), "https://login.example.com/auth".into());
    env.insert("COOKIE_SECURE".into(), "false".into());
    assert_eq!(error_var(env.clone()), "COOKIE_SECURE");
    env.insert("COOKIE_SECURE".into(), "true".into());
    assert!(Settings::from_source(env).is_ok());
    let mut local = base();
    local.insert("COOKIE_SECURE".into(), "false".into());
    assert!(Settings::from_source(local).is_ok(), "plain-http localhost may turn it off");
}

/// Three providers on loopback (so the development secrets of `base` stay acceptable).
fn several() -> HashMap<String, String> {
    let mut env = base();
    for (k, v) in [
        ("PROVIDERS", "google,github,corp"),
        ("PROVIDER_GITHUB_CLIENT_ID", "gh-id"),
        ("PROVIDER_GITHUB_CLIENT_SECRET", "gh-secret"),
        ("PROVIDER_GITHUB_AUTH_URL", "http://127.0.0.1:9100/login/oauth/authorize"),
        ("PROVIDER_GITHUB_TOKEN_URL", "http://127.0.0.1:9100/login/oauth/access_token"),
        ("PROVIDER_GITHUB_API_URL", "http://127.0.0.1:9100/api"),
        ("PROVIDER_CORP_ISSUER", "http://localhost:9200/realms/corp"),
        ("PROVIDER_CORP_CLIENT_ID", "corp-id"),
        ("PROVIDER_CORP_CLIENT_SECRET", "corp-secret"),
        ("PROVIDER_CORP_LINK_BY_EMAIL", "true"),
    ] {
        env.insert(k.into(), v.into());
    }
    env
}

#[test]
fn without_providers_there_is_the_one_google_provider_of_before() {
    let s = Settings::from_source(base()).unwrap();
    assert_eq!(s.providers.len(), 1);
    let google = &s.providers[0];
    assert_eq!((google.id.as_str(), google.name.as_str(), google.client_id.as_str()), ("google", "Google", "client"));
    assert_eq!(google.redirect_url, s.site.redirect_url);
    assert_eq!(google.issuer(), "http://127.0.0.1:9000");
    assert!(!google.link_by_email);
}

#[test]
fn several_providers_are_read_in_order_with_their_defaults() {
    let s = Settings::from_source(several()).unwrap();
    let ids: Vec<&str> = s.providers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["google", "github", "corp"]);
    let callbacks: Vec<&str> = s.providers.iter().map(|p| p.redirect_url.as_str()).collect();
    assert_eq!(
        callbacks,
        ["http://127.0.0.1:8000/auth", "http://127.0.0.1:8000/auth/github", "http://127.0.0.1:8000/auth/corp"]
    );
    let names: Vec<&str> = s.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Google", "GitHub", "corp"]);
    let google = s.provider("google").unwrap();
    assert_eq!((google.client_id.as_str(), google.issuer().as_str()), ("client", "http://127.0.0.1:9000"));
    let github = s.provider("github").unwrap();
    assert!(matches!(github.kind, ProviderKind::GitHub { .. }));
    assert_eq!(github.issuer(), "http://127.0.0.1:9100", "the origin of its AUTH_URL");
    assert!(s.provider("corp").unwrap().link_by_email && !github.link_by_email);

    // GitHub's own URLs by default (a real deployment: real secrets).
    let mut env = several();
    for var in ["PROVIDER_GITHUB_AUTH_URL", "PROVIDER_GITHUB_TOKEN_URL", "PROVIDER_GITHUB_API_URL"] {
        env.remove(var);
    }
    env.insert("SECRET_KEY".into(), "a-real-secret-that-is-long-enough-0x1f9a".into());
    env.insert("JWT_SECRET_KEY".into(), "another-real-secret-long-enough-7Qz2".into());
    env.insert("GOOGLE_CLIENT_SECRET".into(), "GOCSPX-real".into());
    let s = Settings::from_source(env).unwrap();
    let ProviderKind::GitHub { auth_url, token_url, api_url } = &s.provider("github").unwrap().kind else {
        panic!("github is kind github")
    };
    assert_eq!(auth_url.as_str(), "https://github.com/login/oauth/authorize");
    assert_eq!(token_url.as_str(), "https://github.com/login/oauth/access_token");
    assert_eq!(api_url.as_str(), "https://api.github.com/");
    assert_eq!(s.provider("github").unwrap().issuer(), "https://github.com");
}

/// Variables set, variables removed, and the variable the error must name.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);

#[test]
fn each_provider_problem_is_named() {
    let cases: &[Case] = &[
        (&[("PROVIDER_CORP_KIND", "saml")], &[], "PROVIDER_CORP_KIND"),
        (&[], &["PROVIDER_CORP_CLIENT_ID"], "PROVIDER_CORP_CLIENT_ID"),
        (&[], &["PROVIDER_GITHUB_CLIENT_SECRET"], "PROVIDER_GITHUB_CLIENT_SECRET"),
        (&[], &["PROVIDER_CORP_ISSUER"], "PROVIDER_CORP_ISSUER"),
        (&[("PROVIDERS", "google,corp,google")], &[], "PROVIDERS"),
        (&[("PROVIDERS", "google,Corp")], &[], "PROVIDERS"),
        (&[("PROVIDERS", "google,,corp")], &[], "PROVIDERS"),
        (&[("PROVIDERS", "google,verify")], &[], "PROVIDERS"),
        (&[("PROVIDERS", "google,token")], &[], "PROVIDERS"),
        (&[("PROVIDERS", "google,a-very-long-provider-id-of-33-chars")], &[], "PROVIDERS"),
        (&[("PROVIDER_GITHUB_ISSUER", "https://github.com")], &[], "PROVIDER_GITHUB_ISSUER"),
        (&[("PROVIDER_CORP_AUTH_URL", "https://corp.example/authorize")], &[], "PROVIDER_CORP_AUTH_URL"),
        (&[("PROVIDER_CORP_ISSUER", "http://127.0.0.1:9000")], &[], "PROVIDER_CORP_ISSUER"),
        (&[("PROVIDER_CORP_ISSUER", "not a url")], &[], "PROVIDER_CORP_ISSUER"),
        (&[("PROVIDER_CORP_LINK_BY_EMAIL", "perhaps")], &[], "PROVIDER_CORP_LINK_BY_EMAIL"),
        (&[("PROVIDER_GITHUB_API_URL", "ftp://127.0.0.1/api")], &[], "PROVIDER_GITHUB_API_URL"),
        (&[("PROVIDER_CORP_NAME", &"x".repeat(65))], &[], "PROVIDER_CORP_NAME"),
    ];
    for (set, unset, var) in cases {
        let mut env = several();
        for (k, v) in *set {
            env.insert(k.to_string(), v.to_string());
        }
        for k in *unset {
            env.remove(*k);
        }
        let err = Settings::from_source(env).expect_err(var);
        assert_eq!(err.var, *var, "{set:?} {unset:?}: {err}");
    }
    // An OpenID provider off loopback must use https.
    let mut env = several();
    env.insert("PROVIDER_CORP_ISSUER".into(), "http://sso.corp.example".into());
    env.insert("SECRET_KEY".into(), "a-real-secret-that-is-long-enough-0x1f9a".into());
    env.insert("JWT_SECRET_KEY".into(), "another-real-secret-long-enough-7Qz2".into());
    env.insert("GOOGLE_CLIENT_SECRET".into(), "GOCSPX-real".into());
    assert_eq!(error_var(env), "PROVIDER_CORP_ISSUER");
    // The committed development secret of any provider is refused off loopback.
    let mut env = several();
    env.insert("PROVIDER_CORP_ISSUER".into(), "https://sso.corp.example".into());
    env.insert("SECRET_KEY".into(), "a-real-secret-that-is-long-enough-0x1f9a".into());
    env.insert("JWT_SECRET_KEY".into(), "another-real-secret-long-enough-7Qz2".into());
    env.insert("GOOGLE_CLIENT_SECRET".into(), "GOCSPX-real".into());
    env.insert("PROVIDER_GITHUB_CLIENT_SECRET".into(), "dev-only-gh".into());
    assert_eq!(error_var(env), "PROVIDER_GITHUB_CLIENT_SECRET");
}

#[test]
fn gateway_settings_are_checked() {
    let mut env = base();
    env.insert("REDIRECT_URL".into(), "http://login.localhost:8000/auth".into());
    env.insert("COOKIE_DOMAIN".into(), ".LOCALHOST".into());
    env.insert("ALLOWED_REDIRECT_HOSTS".into(), "app1.localhost, .apps.localhost".into());
    let s = Settings::from_source(env.clone()).unwrap();
    assert_eq!(s.cookies.domain, Some("localhost"));
    assert!(s.site.allowed_redirect_hosts.allows("deep.apps.localhost"));
    assert_eq!(s.tokens.revocation_poll, std::time::Duration::from_secs(5));
    for (var, value) in [
        ("COOKIE_DOMAIN", "example.com"),
        ("COOKIE_DOMAIN", "ogin.localhost"),
        ("COOKIE_DOMAIN", "login.localhost/x"),
        ("ALLOWED_REDIRECT_HOSTS", "https://app.example.com"),
        ("ALLOWED_REDIRECT_HOSTS", ".com"),
        ("REVOCATION_POLL_SECONDS", "0"),
        ("REVOCATION_POLL_SECONDS", "301"),
    ] {
        let mut env = env.clone();
        env.insert(var.into(), value.into());
        assert_eq!(error_var(env), var, "{var}={value}");
    }
    // An IP address has no parent domain to share cookies with.
    let mut ip = base();
    ip.insert("COOKIE_DOMAIN".into(), "127.0.0.1".into());
    assert_eq!(error_var(ip), "COOKIE_DOMAIN");
    let mut prefixed = env;
    prefixed.insert("COOKIE_SECURE".into(), "true".into());
    prefixed.insert("COOKIE_HOST_PREFIX".into(), "true".into());
    assert_eq!(error_var(prefixed), "COOKIE_DOMAIN");
}

#[test]
fn retention_is_read_in_days_and_bounded() {
    let s = Settings::from_source(base()).unwrap();
    assert_eq!(s.retention.sessions, std::time::Duration::from_secs(30 * 86400));
    assert_eq!(s.retention.audit, std::time::Duration::from_secs(180 * 86400));
    let mut env = base();
    env.insert("SESSION_RETENTION_DAYS".into(), "7".into());
    env.insert("AUDIT_RETENTION_DAYS".into(), "365".into());
    let s = Settings::from_source(env).unwrap();
    assert_eq!((s.retention.sessions.as_secs(), s.retention.audit.as_secs()), (7 * 86400, 365 * 86400));
    for (var, value) in [
        ("SESSION_RETENTION_DAYS", "0"),
        ("SESSION_RETENTION_DAYS", "3651"),
        ("AUDIT_RETENTION_DAYS", "half a year"),
        ("AUDIT_RETENTION_DAYS", "-1"),
    ] {
        let mut env = base();
        env.insert(var.into(), value.into());
        assert_eq!(error_var(env), var, "{var}={value}");
    }
}
