//! The audit trail as the app adds to it outside a change (a refused sign-in changes nothing,
//! so its event is written alone) and reads it back for the sessions page.

use actix_web::http::StatusCode;
use actix_web::ResponseError;
use uuid::Uuid;

use crate::db::audit::{self, Event, EventRow, Kind};
use crate::db::issued_tokens::Device;
use crate::db::{self, PgPool};
use crate::error::{chain, AppError};

/// Records a refused sign-in through `provider` with its reason (the message the person saw,
/// which never holds a token or a secret). Refusals the sign-in statement recorded itself (a
/// disabled account) and failures on our side (the database or the provider down) are not
/// refusals. Failing to record is logged and does not change the answer.
pub async fn sign_in_refused(pool: &PgPool, provider: &str, device: Device, why: &AppError) {
    let status = why.status_code();
    if !status.is_client_error() || status == StatusCode::TOO_MANY_REQUESTS || why.code() == "account_disabled" {
        return;
    }
    let (provider, reason) = (provider.to_owned(), format!("{}: {why}", why.code()));
    let written = db::run(pool, move |conn| {
        let event = Event::new(Kind::SignInRefused).provider(&provider).device(&device).detail(&reason);
        audit::record(conn, &[event])
    })
    .await;
    if let Err(e) = written {
        log::warn!("recording a refused sign-in in the audit trail failed: {}", chain(&e));
    }
}

/// The account's latest events, newest first.
pub async fn recent(pool: &PgPool, user_id: Uuid, limit: i64) -> Result<Vec<EventRow>, AppError> {
    Ok(db::run(pool, move |conn| audit::latest(conn, Some(user_id), limit)).await?)
}
