//! `provider_sessions`: for a session signed in with an OpenID provider, the provider's session
//! id (`sid`) and the ID token; what logging out at the provider needs. Rows go when their
//! session is revoked (`issued_tokens`), or soon after it expires (`retention`).

use diesel::prelude::*;
use uuid::Uuid;

use super::audit::Kind;
use super::digest;
use super::issued_tokens::{revoke, revoke_sessions, Device, Ending};
use crate::schema::{consumed_logout_tokens, identities, issued_tokens as sessions, provider_sessions};

/// Ends the user's session `sid` and takes what the provider's logout needs: `None` when it was
/// not theirs or had ended already; else its provider id and ID token (if kept).
pub fn log_out(
    conn: &mut PgConnection,
    user_id: Uuid,
    sid: Uuid,
    ending: &Ending<'_>,
) -> QueryResult<Option<(String, Option<String>)>> {
    conn.transaction(|conn| {
        // Read before the revocation, which drops it.
        let id_token: Option<Option<String>> =
            provider_sessions::table.find(sid).select(provider_sessions::id_token).first(conn).optional()?;
        if !revoke(conn, user_id, sid, ending)? {
            return Ok(None);
        }
        let provider: String = sessions::table.find(sid).select(sessions::provider).first(conn)?;
        Ok(Some((provider, id_token.flatten())))
    })
}

/// What a back-channel logout token ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedOut {
    /// These sessions (possibly none: the provider's session had no live one here).
    Ended(Vec<Uuid>),
    /// The token's `jti` was used before: nothing done.
    Replayed,
}

/// What a verified logout token names.
#[derive(Debug, Clone, Copy)]
pub struct LogoutToken<'a> {
    pub sid: Option<&'a str>,
    pub sub: Option<&'a str>,
    pub jti: &'a str,
}

/// Records the token's `jti` as used and ends the live sessions it names: by the provider's
/// session id (`sid`, and when `sub` is given too, only that identity's), or every session of
/// the identity (`sub`) of this issuer. One transaction: a replay ends nothing.
pub fn back_channel_logout(
    conn: &mut PgConnection,
    issuer: &str,
    token: LogoutToken<'_>,
    caller: &Device,
) -> QueryResult<LoggedOut> {
    let LogoutToken { sid, sub, jti } = token;
    conn.transaction(|conn| {
        let first_use = diesel::insert_into(consumed_logout_tokens::table)
            .values(consumed_logout_tokens::jti_hash.eq(digest(&format!("{issuer} {jti}"))))
            .on_conflict_do_nothing()
            .execute(conn)?;
        if first_use == 0 {
            return Ok(LoggedOut::Replayed);
        }
        let mut live = sessions::table
            .inner_join(identities::table.on(sessions::identity_id.eq(identities::id.nullable())))
            .left_join(provider_sessions::table)
            .filter(identities::issuer.eq(issuer))
            .filter(sessions::revoked_at.is_null())
            .select(sessions::id)
            .into_boxed();
        if let Some(sid) = sid {
            live = live.filter(provider_sessions::provider_sid.eq(sid));
        }
        if let Some(sub) = sub {
            live = live.filter(identities::subject.eq(sub));
        }
        let ended: Vec<Uuid> = live.load(conn)?;
        let ending = Ending::new(Kind::BackchannelLogout, "back-channel logout").by(caller);
        Ok(LoggedOut::Ended(revoke_sessions(conn, &ended, &ending)?))
    })
}
