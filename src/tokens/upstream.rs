//! `X-Auth-Request-Jwt`: a short-lived token that tells the app behind the gateway who is
//! calling, signed with JWT_PRIVATE_KEY_FILE's key (verifiable with `/.well-known/jwks.json`),
//! `aud` = the protected host. Signing costs tens of microseconds (EdDSA) to a millisecond
//! (RS256), far more than the rest of a guarded request, so a token is reused for the same
//! session and host while more than half of its lifetime is left.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use uuid::Uuid;

use super::{now, AccessClaims, Profile, SignError, TokenKeys, TokenType};

/// How long an upstream token lives (the contract: at most five minutes).
pub const UPSTREAM_TTL: Duration = Duration::from_secs(120);
/// Entries kept at most; the cache is emptied when full (a burst of new sessions).
const MAX_CACHED: usize = 10_000;

/// Tokens by (session, host).
#[derive(Default)]
pub(super) struct Cache(Mutex<HashMap<(Uuid, String), (String, i64)>>);

impl TokenKeys {
    /// A token for the app at `host()` about this user, or `None` when access tokens are HS256
    /// (a shared secret would let the upstream mint tokens itself).
    pub fn issue_upstream<'h>(
        &self,
        user_id: Uuid,
        sid: Option<Uuid>,
        profile: impl FnOnce() -> Profile,
        host: impl FnOnce() -> &'h str,
    ) -> Option<Result<String, SignError>> {
        self.jwks()?;
        let (iat, host) = (now(), host());
        let key = sid.map(|sid| (sid, host.to_owned()));
        if let Some(key) = &key {
            let cached = self.upstream.0.lock().ok().and_then(|c| c.get(key).cloned());
            if let Some((token, _)) = cached.filter(|(_, exp)| exp - iat > UPSTREAM_TTL.as_secs() as i64 / 2) {
                return Some(Ok(token));
            }
        }
        // The access token's claims, for another audience and of another type (refused as an
        // access token); no picture, which the app has no use for.
        let Profile { email, name, idp, email_verified, .. } = profile();
        let claims = AccessClaims {
            sub: user_id,
            email,
            email_verified,
            name,
            picture: None,
            idp,
            sid,
            iss: self.parties.issuer.clone(),
            aud: host.to_owned(),
            iat,
            exp: iat + UPSTREAM_TTL.as_secs() as i64,
            token_type: TokenType::Upstream,
        };
        let signed = jsonwebtoken::encode(self.access.header(), &claims, self.access.encoding());
        if let (Ok(token), Some(key), Ok(mut cache)) = (&signed, key, self.upstream.0.lock()) {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(key, (token.clone(), claims.exp));
        }
        Some(signed)
    }
}
