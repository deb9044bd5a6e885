//! Who may sign in: a verified email (REQUIRE_EMAIL_VERIFIED) and, when ALLOWED_EMAIL_DOMAINS
//! is set, an account of one of those domains. For Google that is the Workspace domain (`hd`),
//! the only claim the organisation controls: a consumer account with a verified address at
//! the domain (an alias, a shared mailbox, an old account of a former employee) is not the
//! organisation's to offboard. For other providers it is the domain of a verified email.
//! Checked before anything is stored, for every provider, and again at every refresh against
//! the stored identity the session signed in with.

use actix_web::http::StatusCode;

use crate::config::PolicySettings;
use crate::db::identities::IdentityRow;
use crate::error::AppError;
use crate::oidc::{Identity, GOOGLE_ISSUER};

/// What the policy looks at, from a fresh sign-in or from the stored user.
#[derive(Debug, Clone, Copy)]
pub struct Applicant<'a> {
    pub email: Option<&'a str>,
    pub email_verified: bool,
    /// Google's `hd`; never set for another provider.
    pub hosted_domain: Option<&'a str>,
    pub google: bool,
}

impl<'a> From<&'a Identity> for Applicant<'a> {
    fn from(i: &'a Identity) -> Self {
        Applicant {
            email: i.email.as_deref(),
            email_verified: i.email_verified,
            hosted_domain: i.hosted_domain.as_deref(),
            google: i.issuer == GOOGLE_ISSUER,
        }
    }
}

impl<'a> From<&'a IdentityRow> for Applicant<'a> {
    fn from(u: &'a IdentityRow) -> Self {
        Applicant {
            email: u.email.as_deref(),
            email_verified: u.email_verified,
            hosted_domain: u.hosted_domain.as_deref(),
            google: u.issuer == GOOGLE_ISSUER,
        }
    }
}

/// Refuses applicants the configuration does not admit, with a message a person understands.
pub fn admit<'a>(applicant: impl Into<Applicant<'a>>, settings: &PolicySettings) -> Result<(), AppError> {
    let applicant = applicant.into();
    if settings.require_email_verified && !applicant.email_verified {
        return Err(AppError::rejected(
            StatusCode::FORBIDDEN,
            "email_not_verified",
            "your account's email address is not verified with the sign-in provider",
        ));
    }
    if settings.allowed_email_domains.is_empty() {
        return Ok(());
    }
    let allowed = |domain: &str| settings.allowed_email_domains.iter().any(|d| d.eq_ignore_ascii_case(domain));
    let admitted = if applicant.google {
        applicant.hosted_domain.is_some_and(allowed)
    } else {
        applicant.email_verified
            && applicant.email.and_then(|e| e.rsplit_once('@')).is_some_and(|(_, domain)| allowed(domain))
    };
    if admitted {
        Ok(())
    } else {
        Err(AppError::rejected(
            StatusCode::FORBIDDEN,
            "account_not_allowed",
            "accounts of this organisation cannot sign in here; use an account of an allowed domain",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(domains: &[&str]) -> PolicySettings {
        PolicySettings {
            allowed_email_domains: domains.iter().map(|d| d.to_string()).collect(),
            require_email_verified: true,
        }
    }

    fn applicant(email: &'static str, hd: Option<&'static str>, google: bool) -> Applicant<'static> {
        Applicant { email: Some(email), email_verified: true, hosted_domain: hd, google }
    }

    fn code(result: Result<(), AppError>) -> Option<&'static str> {
        result.err().map(|e| e.code())
    }

    #[test]
    fn google_accounts_are_admitted_by_their_workspace_domain_only() {
        let corp = policy(&["corp.example"]);
        assert_eq!(code(admit(applicant("ann@corp.example", Some("corp.example"), true), &corp)), None);
        // A consumer Google account with a verified corp address: not the organisation's.
        let consumer = applicant("ann@corp.example", None, true);
        assert_eq!(code(admit(consumer, &corp)), Some("account_not_allowed"));
        // Another Workspace whose user has a corp alias.
        let other = applicant("ann@corp.example", Some("other.example"), true);
        assert_eq!(code(admit(other, &corp)), Some("account_not_allowed"));
    }

    #[test]
    fn other_providers_are_admitted_by_a_verified_email_in_the_domain() {
        let corp = policy(&["corp.example"]);
        assert_eq!(code(admit(applicant("bo@Corp.Example", None, false), &corp)), None);
        assert_eq!(
            code(admit(applicant("bo@elsewhere.example", Some("corp.example"), false), &corp)),
            Some("account_not_allowed")
        );
        let unverified = Applicant { email_verified: false, ..applicant("bo@corp.example", None, false) };
        assert_eq!(code(admit(unverified, &corp)), Some("email_not_verified"));
        let lenient = PolicySettings { require_email_verified: false, ..policy(&["corp.example"]) };
        assert_eq!(
            code(admit(unverified, &lenient)),
            Some("account_not_allowed"),
            "an unverified email never admits by domain"
        );
        assert_eq!(code(admit(unverified, &policy(&[]))), Some("email_not_verified"));
    }
}
