//! `doorman sessions revoke --user ID_OR_EMAIL | --session SID`: ends sessions; every instance
//! refuses their access tokens within REVOCATION_POLL_SECONDS, and their refresh tokens at once.

use diesel::PgConnection;
use uuid::Uuid;

use super::output::{self, Failure};
use crate::db::audit::Kind;
use crate::db::issued_tokens::{self, Ending};

const BY_OPERATOR: &str = "revoked by an operator";

pub fn revoke(conn: &mut PgConnection, user: Option<&str>, session: Option<Uuid>) -> Result<(), Failure> {
    let ending = Ending::new(Kind::SessionRevoked, BY_OPERATOR);
    match (user, session) {
        (Some(who), None) => {
            let user = output::account(conn, who)?;
            let ended = issued_tokens::revoke_others(conn, user.id, None, &ending)?;
            println!("{} session(s) of {} revoked", ended.len(), output::label(&user));
            Ok(())
        }
        (None, Some(sid)) => {
            if !issued_tokens::revoke_sessions(conn, &[sid], &ending)?.is_empty() {
                println!("session {sid} revoked");
                Ok(())
            } else {
                Err(Failure::refused(format!("no live session has the id {sid}")))
            }
        }
        _ => Err(Failure::usage("give either --user ID_OR_EMAIL or --session SID")),
    }
}
