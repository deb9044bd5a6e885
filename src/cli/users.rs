//! `doorman users list|show|disable|enable|delete`: the accounts, as an operator sees and
//! changes them. Changes reach running instances through the database: a disabled or erased
//! account's sessions are refused everywhere within REVOCATION_POLL_SECONDS.

use std::io::{BufRead, IsTerminal, Write};

use diesel::PgConnection;
use serde_json::json;

use super::output::{self, json, or_dash, table, when, Failure};
use crate::db::accounts;
use crate::db::audit::{self, EventRow};
use crate::db::identities;
use crate::db::issued_tokens;
use crate::db::users::User;

fn status(user: &User) -> String {
    user.disabled_at.map_or("active".to_owned(), |at| format!("disabled since {}", when(at)))
}

/// `users list [--email E] [--json] [--limit N]`.
pub fn list(conn: &mut PgConnection, email: Option<&str>, limit: i64, as_json: bool) -> Result<(), Failure> {
    if limit < 1 {
        return Err(Failure::usage("--limit must be at least 1"));
    }
    let (rows, total) = accounts::list(conn, email, limit)?;
    if as_json {
        return json(&json!({ "users": rows, "total": total }));
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|s| {
            vec![
                s.user.id.to_string(),
                or_dash(s.user.email.as_deref()),
                or_dash(s.user.name.as_deref()),
                if s.user.disabled_at.is_some() { "disabled" } else { "active" }.to_owned(),
                or_dash(Some(&s.providers)),
                s.live_sessions.to_string(),
                when(s.user.last_login_at),
            ]
        })
        .collect();
    table(&["ID", "EMAIL", "NAME", "STATUS", "PROVIDERS", "SESSIONS", "LAST SIGN-IN"], &cells);
    if total > rows.len() as i64 {
        println!("({} of {total} shown; --limit N for more)", rows.len());
    }
    Ok(())
}

/// `users show ID_OR_EMAIL [--json]`: the account, its identities, live sessions and latest events.
pub fn show(conn: &mut PgConnection, who: &str, as_json: bool) -> Result<(), Failure> {
    let user = output::account(conn, who)?;
    let identities = identities::of_user(conn, user.id)?;
    let sessions = issued_tokens::active(conn, user.id)?;
    let events: Vec<EventRow> = audit::latest(conn, Some(user.id), 20)?;
    if as_json {
        return json(&json!({ "user": user, "identities": identities, "sessions": sessions, "events": events }));
    }
    println!("user         {}", user.id);
    println!("email        {}{}", or_dash(user.email.as_deref()), if user.email_verified { " (verified)" } else { "" });
    println!("name         {}", or_dash(user.name.as_deref()));
    println!("status       {}", status(&user));
    println!("created      {}", when(user.created_at));
    println!("last sign-in {}", when(user.last_login_at));
    println!("\nidentities");
    let rows: Vec<Vec<String>> = identities
        .iter()
        .map(|i| {
            vec![
                i.provider.clone(),
                i.issuer.clone(),
                i.subject.clone(),
                or_dash(i.email.as_deref()),
                when(i.last_login_at),
            ]
        })
        .collect();
    table(&["PROVIDER", "ISSUER", "SUBJECT", "EMAIL", "LAST USED"], &rows);
    println!("\nlive sessions");
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.id.to_string(),
                s.provider.clone(),
                or_dash(s.ip.as_deref()),
                or_dash(s.user_agent.as_deref()),
                when(s.created_at),
                when(s.last_used_at),
            ]
        })
        .collect();
    table(&["SESSION", "PROVIDER", "IP", "DEVICE", "SIGNED IN", "LAST USED"], &rows);
    println!("\nrecent activity");
    super::audit::print(&events);
    Ok(())
}

/// `users disable ID_OR_EMAIL`.
pub fn disable(conn: &mut PgConnection, who: &str) -> Result<(), Failure> {
    let user = output::account(conn, who)?;
    match accounts::disable(conn, user.id)? {
        Some(ended) => println!(
            "disabled {}; {} session(s) ended (refused everywhere within REVOCATION_POLL_SECONDS)",
            output::label(&user),
            ended.len()
        ),
        None => println!("{} was disabled already; nothing changed", output::label(&user)),
    }
    Ok(())
}

/// `users enable ID_OR_EMAIL`.
pub fn enable(conn: &mut PgConnection, who: &str) -> Result<(), Failure> {
    let user = output::account(conn, who)?;
    if accounts::enable(conn, user.id)? {
        println!("enabled {}; they can sign in again", output::label(&user));
    } else {
        println!("{} was not disabled; nothing changed", output::label(&user));
    }
    Ok(())
}

/// `users delete ID_OR_EMAIL [--yes]`: asks first when a person is at the terminal.
pub fn delete(conn: &mut PgConnection, who: &str, yes: bool) -> Result<(), Failure> {
    let user = output::account(conn, who)?;
    let label = output::label(&user);
    if !yes && std::io::stdin().is_terminal() {
        print!("Erase {label}, its sign-in methods and sessions? This cannot be undone. Type yes: ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            return Err(Failure::refused("not deleted"));
        }
    }
    let Some(erased) = accounts::erase(conn, user.id)? else {
        return Err(Failure::refused(format!("no user has the id {}", user.id)));
    };
    println!(
        "deleted {label}: {} identity(ies) and {} session(s) erased; its audit events keep the id, without IP or device",
        erased.identities, erased.sessions
    );
    Ok(())
}
