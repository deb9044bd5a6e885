//! What the operator's subcommands share: the database connection, finding an account by
//! `ID_OR_EMAIL`, tables and JSON on stdout, and one-line errors with their exit codes.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection};
use secrecy::ExposeSecret;

use super::{REFUSED, USAGE};
use crate::config::Settings;
use crate::db::accounts::{self, Found};
use crate::db::users::User;

/// A subcommand's failure: the line printed on stderr and the exit code.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn refused(message: impl Into<String>) -> Self {
        Failure { code: REFUSED, message: message.into() }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Failure { code: USAGE, message: message.into() }
    }
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        Failure::refused(format!("the database refused the request: {e}"))
    }
}

/// Prints a failure as one line and turns any outcome into the exit code.
pub fn finish(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{}", f.message.lines().next().unwrap_or_default());
            ExitCode::from(f.code)
        }
    }
}

/// One connection for the subcommand, to a database with every migration applied.
pub fn connect(settings: &Settings) -> Result<PgConnection, Failure> {
    let mut conn = PgConnection::establish(settings.database.url.expose_secret()).map_err(|e| {
        Failure::refused(format!("DATABASE_URL: cannot connect to the database: {}", e.to_string().trim()))
    })?;
    let pending = crate::db::pending_on(&mut conn).map_err(Failure::refused)?;
    if pending > 0 {
        return Err(Failure::refused(format!(
            "the database lacks {pending} migration(s): run `doorman migrate` first"
        )));
    }
    Ok(conn)
}

/// The one account `id_or_email` names (an email that several accounts share is refused,
/// listing their ids).
pub fn account(conn: &mut PgConnection, id_or_email: &str) -> Result<User, Failure> {
    if id_or_email.trim().is_empty() {
        return Err(Failure::usage("give a user id or an email"));
    }
    match accounts::find(conn, id_or_email)? {
        Found::One(user) => Ok(user),
        Found::None => Err(Failure::refused(format!("no user has the id or email {id_or_email:?}"))),
        Found::Several(ids) => Err(Failure::refused(format!(
            "several users have the email {id_or_email:?}; give one of their ids: {}",
            ids.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// How times are shown in tables.
pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `value` or a dash.
pub fn or_dash(value: Option<&str>) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or("-").to_owned()
}

/// An account as the operator names it: its email, else its id.
pub fn label(user: &User) -> String {
    match &user.email {
        Some(email) => format!("{} ({email})", user.id),
        None => user.id.to_string(),
    }
}

/// Prints `value` as pretty JSON.
pub fn json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::refused(format!("cannot write JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Prints rows under their headers, each column as wide as its widest cell. Written here: a
/// table crate would bring terminal-width and styling code that these few columns do not need.
/// Control characters in cells (a user agent can hold anything) are shown escaped, so no cell
/// can move the cursor or forge a line.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let clean = |cell: &str| {
        cell.chars()
            .flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] })
            .collect::<String>()
    };
    let rows: Vec<Vec<String>> = rows.iter().map(|row| row.iter().map(|c| clean(c)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}
