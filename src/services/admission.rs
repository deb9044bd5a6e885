//! Who may sign in: a verified email (REQUIRE_EMAIL_VERIFIED) and, when ALLOWED_EMAIL_DOMAINS
//! is set, an account of one of those domains — Google's `hd` claim for Workspace accounts, or
//! a verified address in the domain. Checked before anything is stored.

use actix_web::http::StatusCode;

use crate::config::PolicySettings;
use crate::error::AppError;
use crate::oidc::Identity;

/// Refuses identities the configuration does not admit, with a message a person understands.
pub fn admit(identity: &Identity, settings: &PolicySettings) -> Result<(), AppError> {
    if settings.require_email_verified && !identity.email_verified {
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
    let by_hosted_domain = identity.hosted_domain.as_deref().is_some_and(allowed);
    let by_email = identity.email_verified
        && identity.email.as_deref().and_then(|e| e.rsplit_once('@')).is_some_and(|(_, domain)| allowed(domain));
    if by_hosted_domain || by_email {
        Ok(())
    } else {
        Err(AppError::rejected(
            StatusCode::FORBIDDEN,
            "account_not_allowed",
            "accounts of this organisation cannot sign in here; use an account of an allowed domain",
        ))
    }
}
