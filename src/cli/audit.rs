//! `doorman audit [--user ID_OR_EMAIL] [--json] [--limit N]`: the latest security events.

use diesel::PgConnection;

use super::output::{self, json, or_dash, table, when, Failure};
use crate::db::audit::{self, EventRow};

pub fn run(conn: &mut PgConnection, who: Option<&str>, limit: i64, as_json: bool) -> Result<(), Failure> {
    if limit < 1 {
        return Err(Failure::usage("--limit must be at least 1"));
    }
    let user = who.map(|who| output::account(conn, who)).transpose()?;
    let events = audit::latest(conn, user.map(|u| u.id), limit)?;
    if as_json {
        return json(&serde_json::json!({ "events": events }));
    }
    print(&events);
    Ok(())
}

/// Events as a table, newest first.
pub fn print(events: &[EventRow]) {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                when(e.at),
                e.kind.clone(),
                e.user_id.map_or("-".to_owned(), |id| id.to_string()),
                or_dash(e.provider.as_deref()),
                or_dash(e.ip.as_deref()),
                or_dash(e.detail.as_deref()),
            ]
        })
        .collect();
    table(&["TIME", "EVENT", "USER", "PROVIDER", "IP", "DETAIL"], &rows);
}
