//! The sign-in providers: `PROVIDERS` and the `PROVIDER_{ID}_*` variables, or (without
//! `PROVIDERS`) the one Google provider of GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET and OIDC_ISSUER.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use super::reader::{problem, ConfigError, Reader, Source};

/// The id of the provider an instance without `PROVIDERS` has.
pub const DEFAULT_PROVIDER: &str = "google";

/// Ids that would shadow a route under `/auth/` or `/api/v1/auth/`.
const RESERVED_IDS: &[&str] = &["verify", "forward", "token"];

/// A provider id: 1 to 32 of `a-z`, `0-9` and `-`; it appears in paths and variable names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderId(String);

impl ProviderId {
    pub fn parse(raw: &str) -> Option<Self> {
        let valid = (1..=32).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        valid.then(|| ProviderId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `PROVIDER_{ID}_{what}`: the id upper-cased, `-` as `_`.
    pub fn var(&self, what: &str) -> String {
        format!("PROVIDER_{}_{what}", self.0.to_ascii_uppercase().replace('-', "_"))
    }
}

impl TryFrom<String> for ProviderId {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        ProviderId::parse(&raw).ok_or_else(|| format!("{raw:?} is not a provider id"))
    }
}

impl From<ProviderId> for String {
    fn from(id: ProviderId) -> String {
        id.0
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a provider is spoken to.
#[derive(Debug, Clone)]
pub enum ProviderKind {
    /// Any OpenID provider, found by discovery from its issuer.
    Oidc { issuer: Url },
    /// GitHub's OAuth apps and REST API (or GitHub Enterprise's).
    GitHub { auth_url: Url, token_url: Url, api_url: Url },
}

/// One sign-in provider.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub id: ProviderId,
    /// The label of its button.
    pub name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: SecretString,
    /// A first sign-in with a verified email joins the one account that has it verified.
    pub link_by_email: bool,
    /// The callback registered at the provider: REDIRECT_URL for the first, `/auth/{id}` for others.
    pub redirect_url: Url,
    pub http_timeout: Duration,
    pub jwks_min_refresh: Duration,
    /// The variables the issuer (or GitHub's URLs) and the secret came from, for messages.
    pub issuer_var: String,
    pub secret_var: String,
}

impl ProviderSettings {
    /// True when the issuer is Google, whose ID tokens may spell the issuer without a scheme
    /// and whose `hd` claim is the only one the email-domain policy trusts.
    pub fn is_google(&self) -> bool {
        matches!(&self.kind, ProviderKind::Oidc { issuer } if issuer.host_str() == Some("accounts.google.com"))
    }

    /// The issuer identities from this provider are stored under: the OpenID issuer, or for
    /// GitHub the origin of its authorization URL.
    pub fn issuer(&self) -> String {
        match &self.kind {
            ProviderKind::Oidc { issuer } => issuer.as_str().trim_end_matches('/').to_owned(),
            ProviderKind::GitHub { auth_url, .. } => auth_url.origin().ascii_serialization(),
        }
    }

    /// Every URL the app calls at this provider.
    pub fn urls(&self) -> Vec<&Url> {
        match &self.kind {
            ProviderKind::Oidc { issuer } => vec![issuer],
            ProviderKind::GitHub { auth_url, token_url, api_url } => vec![auth_url, token_url, api_url],
        }
    }
}

/// Reads the provider list; `redirect_url` is REDIRECT_URL, the first provider's callback.
pub(super) fn read<S: Source>(
    r: &Reader<S>,
    redirect_url: &Url,
    http_timeout: Duration,
    jwks_min_refresh: Duration,
) -> Result<Vec<ProviderSettings>, ConfigError> {
    let Some(list) = r.optional("PROVIDERS") else {
        return Ok(vec![ProviderSettings {
            id: ProviderId(DEFAULT_PROVIDER.to_owned()),
            name: "Google".to_owned(),
            kind: ProviderKind::Oidc { issuer: r.url("OIDC_ISSUER", "https://accounts.google.com")? },
            client_id: r.required("GOOGLE_CLIENT_ID")?,
            client_secret: r.secret("GOOGLE_CLIENT_SECRET", 1)?,
            link_by_email: false,
            redirect_url: redirect_url.clone(),
            http_timeout,
            jwks_min_refresh,
            issuer_var: "OIDC_ISSUER".to_owned(),
            secret_var: "GOOGLE_CLIENT_SECRET".to_owned(),
        }]);
    };
    let mut seen = HashSet::new();
    let mut providers = Vec::new();
    for raw in list.split(',').map(str::trim) {
        let id = ProviderId::parse(raw).ok_or_else(|| {
            problem("PROVIDERS", format!("{raw:?} is not a provider id (1 to 32 of a-z, 0-9 and -, comma-separated)"))
        })?;
        if RESERVED_IDS.contains(&raw) {
            return Err(problem("PROVIDERS", format!("{raw:?} is reserved (/auth/{raw} is a route of its own)")));
        }
        if !seen.insert(id.clone()) {
            return Err(problem("PROVIDERS", format!("{raw:?} is listed twice")));
        }
        let callback = if providers.is_empty() {
            redirect_url.clone()
        } else {
            redirect_url.join(&format!("/auth/{id}")).map_err(|e| problem("REDIRECT_URL", e.to_string()))?
        };
        providers.push(one(r, id, callback, http_timeout, jwks_min_refresh)?);
    }
    Ok(providers)
}

fn one<S: Source>(
    r: &Reader<S>,
    id: ProviderId,
    redirect_url: Url,
    http_timeout: Duration,
    jwks_min_refresh: Duration,
) -> Result<ProviderSettings, ConfigError> {
    let google = id.as_str() == DEFAULT_PROVIDER;
    let var = |what: &str| id.var(what);
    let kind_var = var("KIND");
    let kind = match r.optional(&kind_var).as_deref() {
        None if id.as_str() == "github" => "github".to_owned(),
        None => "oidc".to_owned(),
        Some(k) if matches!(k, "oidc" | "github") => k.to_owned(),
        Some(other) => return Err(problem(&kind_var, format!("must be oidc or github, got {other:?}"))),
    };
    // For `google` the single-provider variables still apply, so adding PROVIDERS to an existing
    // deployment changes nothing about its Google client.
    let fallback = |what: &str, legacy: &str| -> Result<(String, String), ConfigError> {
        let own = var(what);
        match (r.optional(&own), google) {
            (Some(v), _) => Ok((v, own)),
            (None, true) if r.optional(legacy).is_some() => Ok((r.required(legacy)?, legacy.to_owned())),
            (None, _) => Err(problem(&own, format!("is required (the {} of provider {id})", what.to_lowercase()))),
        }
    };
    let (client_id, _) = fallback("CLIENT_ID", "GOOGLE_CLIENT_ID")?;
    let (client_secret, secret_var) = fallback("CLIENT_SECRET", "GOOGLE_CLIENT_SECRET")?;
    let (issuer_var, github_vars) = (var("ISSUER"), [var("AUTH_URL"), var("TOKEN_URL"), var("API_URL")]);
    let (kind, issuer_var) = if kind == "github" {
        if r.optional(&issuer_var).is_some() {
            return Err(problem(
                &issuer_var,
                format!(
                    "is for kind oidc; a github provider is found at {}, {} and {}",
                    github_vars[0], github_vars[1], github_vars[2]
                ),
            ));
        }
        let kind = ProviderKind::GitHub {
            auth_url: r.url(&github_vars[0], "https://github.com/login/oauth/authorize")?,
            token_url: r.url(&github_vars[1], "https://github.com/login/oauth/access_token")?,
            api_url: r.url(&github_vars[2], "https://api.github.com")?,
        };
        (kind, github_vars[0].clone())
    } else {
        if let Some(extra) = github_vars.iter().find(|v| r.optional(v).is_some()) {
            return Err(problem(extra, "is for kind github only; an oidc provider is found by its ISSUER"));
        }
        let issuer = match (r.optional(&issuer_var), google) {
            (Some(_), _) => (r.url(&issuer_var, "")?, issuer_var),
            (None, true) => (r.url("OIDC_ISSUER", "https://accounts.google.com")?, "OIDC_ISSUER".to_owned()),
            (None, false) => {
                return Err(problem(&issuer_var, format!("is required (the OpenID issuer of provider {id})")))
            }
        };
        (ProviderKind::Oidc { issuer: issuer.0 }, issuer.1)
    };
    let name = r.optional(&var("NAME")).unwrap_or_else(|| match id.as_str() {
        "google" => "Google".to_owned(),
        "github" => "GitHub".to_owned(),
        other => other.to_owned(),
    });
    if name.chars().count() > 64 {
        return Err(problem(&var("NAME"), "must be at most 64 characters"));
    }
    Ok(ProviderSettings {
        link_by_email: r.boolean(&var("LINK_BY_EMAIL"), false)?,
        id,
        name,
        kind,
        client_id,
        client_secret: SecretString::from(client_secret),
        redirect_url,
        http_timeout,
        jwks_min_refresh,
        issuer_var,
        secret_var,
    })
}

/// Rules across providers: two providers with one issuer would share identities.
pub(super) fn distinct(providers: &[ProviderSettings]) -> Result<(), ConfigError> {
    let mut issuers: Vec<(String, &ProviderSettings)> = Vec::new();
    for p in providers {
        let issuer = p.issuer();
        if let Some((_, other)) = issuers.iter().find(|(i, _)| *i == issuer) {
            return Err(problem(&p.issuer_var, format!("is also provider {}'s issuer ({issuer})", other.id)));
        }
        issuers.push((issuer, p));
    }
    Ok(())
}
