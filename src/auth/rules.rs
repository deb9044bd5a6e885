//! Per-route rules of the gateway: `allowed_emails` and `allowed_domains` in the query of
//! `/auth/verify` and `/auth/forward`, so each nginx location or Caddy route says who may pass.
//! Only an email the provider verified counts.

use serde::Deserialize;

use super::AuthenticatedUser;

/// The rules a proxy passes in the query (comma-separated lists); none: every signed-in user.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Rules {
    /// Comma-separated emails that may pass (a verified email must match one)
    #[serde(default)]
    #[param(example = "ada@example.com,grace@example.com")]
    allowed_emails: Option<String>,
    /// Comma-separated domains whose verified emails may pass (`@` optional)
    #[serde(default)]
    #[param(example = "example.com")]
    allowed_domains: Option<String>,
}

fn list(raw: &Option<String>) -> impl Iterator<Item = &str> {
    raw.as_deref().unwrap_or("").split(',').map(|e| e.trim().trim_start_matches('@')).filter(|e| !e.is_empty())
}

impl Rules {
    fn is_empty(&self) -> bool {
        list(&self.allowed_emails).next().is_none() && list(&self.allowed_domains).next().is_none()
    }

    /// True when `user` may pass: no rules, or a verified email listed or in a listed domain.
    pub fn allow(&self, user: &AuthenticatedUser) -> bool {
        if self.is_empty() {
            return true;
        }
        let Some(email) = user.email.as_deref().filter(|_| user.email_verified) else { return false };
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        list(&self.allowed_emails).any(|e| e.eq_ignore_ascii_case(email))
            || list(&self.allowed_domains).any(|d| d.eq_ignore_ascii_case(domain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: &str, verified: bool) -> AuthenticatedUser {
        AuthenticatedUser {
            id: uuid::Uuid::nil(),
            sid: None,
            email: Some(email.to_owned()),
            name: None,
            picture: None,
            idp: None,
            email_verified: verified,
        }
    }

    fn rules(emails: Option<&str>, domains: Option<&str>) -> Rules {
        Rules { allowed_emails: emails.map(str::to_owned), allowed_domains: domains.map(str::to_owned) }
    }

    #[test]
    fn verified_emails_pass_by_address_or_domain() {
        let ann = user("Ann@Corp.Example", true);
        assert!(rules(None, None).allow(&ann), "no rules: every signed-in user");
        assert!(rules(Some(" , "), None).allow(&ann), "empty lists are no rules");
        assert!(rules(Some("bob@corp.example,ann@corp.example"), None).allow(&ann));
        assert!(rules(None, Some("other.example, corp.example")).allow(&ann));
        assert!(rules(None, Some("@corp.example")).allow(&ann));
        assert!(!rules(None, Some("example")).allow(&ann), "a domain is matched whole");
        assert!(!rules(None, Some("orp.example")).allow(&ann));
        assert!(!rules(Some("bob@corp.example"), Some("other.example")).allow(&ann));
        assert!(!rules(None, Some("corp.example")).allow(&user("ann@corp.example", false)), "unverified");
        let nobody = AuthenticatedUser { email: None, ..ann };
        assert!(!rules(None, Some("corp.example")).allow(&nobody));
    }
}
