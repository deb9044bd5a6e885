//! Turning a verified ID token (and, where it lacks profile claims, the UserInfo answer) into
//! the identity we store.

use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreUserInfoClaims};
use openidconnect::{ClaimsVerificationError, ClientId, Nonce, SignatureVerificationError};

use super::{IdTokenProblem, OidcError};

const MAX_SUBJECT_LEN: usize = 255;
const MAX_PROFILE_FIELD_LEN: usize = 2048;

/// Who signed in, as the provider vouches for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
    /// `at_hash`, to tie an access token presented beside the ID token to it.
    pub access_token_hash: Option<String>,
    /// Google's `hd`: the Workspace domain of the account, absent for consumer accounts and
    /// never read from another provider's tokens.
    pub hosted_domain: Option<String>,
    /// The profile claims the ID token left out (OIDC Core §5.4 lets a provider serve them from
    /// UserInfo only).
    pub missing: MissingClaims,
    /// The provider's session id (`sid`), which its back-channel logout tokens name.
    pub provider_session: Option<String>,
    /// The ID token itself, for `id_token_hint` at RP-initiated logout.
    pub id_token: Option<String>,
}

/// Which of the claims we use an ID token did not carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MissingClaims {
    pub email: bool,
    pub email_verified: bool,
    pub name: bool,
    pub picture: bool,
}

impl MissingClaims {
    pub fn any(&self) -> bool {
        self.email || self.email_verified || self.name || self.picture
    }
}

impl Identity {
    /// Fills the claims the ID token left out from UserInfo, whose `sub` was checked to be this
    /// identity's. Issuer and subject stay the ID token's. An email and its verified flag come
    /// from one source: UserInfo's flag is taken only for UserInfo's address, or for the ID
    /// token's when UserInfo names the same one.
    pub(super) fn fill_from(&mut self, userinfo: &CoreUserInfoClaims) {
        let email = bounded(userinfo.email().map(|e| e.as_str()));
        let verified = userinfo.email_verified().unwrap_or(false);
        if self.missing.email {
            self.email_verified = email.is_some() && verified;
            self.email = email;
        } else if self.missing.email_verified && email.is_some() && email == self.email {
            self.email_verified = verified;
        }
        if self.missing.name {
            self.name = bounded(userinfo.name().and_then(|n| n.get(None)).map(|n| n.as_str()));
        }
        if self.missing.picture {
            self.picture = bounded(userinfo.picture().and_then(|p| p.get(None)).map(|p| p.as_str()));
        }
        self.missing = MissingClaims::default();
    }
}

fn bounded(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty() && v.len() <= MAX_PROFILE_FIELD_LEN).map(str::to_owned)
}

/// A string claim openidconnect's core claims leave out (`hd`, `sid`), read from the payload
/// whose signature has just been verified.
pub(super) fn extra_claim(raw: &str, name: &str) -> Option<String> {
    use base64::Engine;
    let payload = raw.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    bounded(claims.get(name)?.as_str()).filter(|v| v.len() <= MAX_SUBJECT_LEN || name != "sid")
}

/// Signature, audience, expiry and nonce by openidconnect; issuer spelling and `azp` here.
pub(super) fn verified(
    id_token: &CoreIdToken,
    hosted_domain_from: Option<&str>,
    verifier: &CoreIdTokenVerifier<'_>,
    nonce: Option<&Nonce>,
    accepted_issuers: &[String],
    client_id: &ClientId,
) -> Result<Identity, OidcError> {
    let invalid = |problem| OidcError::InvalidIdToken(problem);
    let result = match nonce {
        Some(nonce) => id_token.claims(verifier, nonce),
        // Tokens posted by an app carry a nonce we never saw; the app checked it.
        None => id_token.claims(verifier, |_: Option<&Nonce>| Ok(())),
    };
    let claims = result.map_err(|e| match e {
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey) => {
            invalid(IdTokenProblem::UnknownKey)
        }
        ClaimsVerificationError::Expired(_) => OidcError::ExpiredIdToken,
        other => invalid(IdTokenProblem::Claims(other)),
    })?;
    let issuer = claims.issuer().as_str();
    if !accepted_issuers.iter().any(|accepted| accepted == issuer) {
        return Err(invalid(IdTokenProblem::Issuer(issuer.to_owned())));
    }
    // openidconnect leaves `azp` to us: when present it must be our client.
    if let Some(azp) = claims.authorized_party() {
        if azp.as_str() != client_id.as_str() {
            return Err(invalid(IdTokenProblem::AuthorizedParty(azp.as_str().to_owned())));
        }
    }
    let subject = claims.subject().as_str();
    if subject.is_empty() || subject.len() > MAX_SUBJECT_LEN {
        return Err(invalid(IdTokenProblem::Subject));
    }
    let email = bounded(claims.email().map(|e| e.as_str()));
    let name = bounded(claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()));
    let picture = bounded(claims.picture().and_then(|p| p.get(None)).map(|p| p.as_str()));
    let missing = MissingClaims {
        email: email.is_none(),
        email_verified: claims.email_verified().is_none(),
        name: name.is_none(),
        picture: picture.is_none(),
    };
    Ok(Identity {
        // Stored in one spelling, so Google's two spellings map to the same user.
        issuer: accepted_issuers[0].clone(),
        subject: subject.to_owned(),
        email,
        email_verified: claims.email_verified().unwrap_or(false),
        name,
        picture,
        access_token_hash: claims.access_token_hash().map(|h| h.to_string()),
        hosted_domain: hosted_domain_from.and_then(|raw| extra_claim(raw, "hd")),
        missing,
        provider_session: None,
        id_token: None,
    })
}
