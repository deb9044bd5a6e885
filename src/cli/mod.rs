//! The binary's subcommands (clap): `serve` (also what `doorman` alone does, so nothing deployed
//! breaks), `migrate`, `check`, `users`, `sessions revoke`, `keys generate`, `audit`, `cleanup`. They read
//! the same configuration as the server.
//! Exit codes: 0 done, 1 not found or refused (a check failed, the server could not start),
//! 2 bad usage or configuration.

mod audit;
mod check;
mod keys;
mod output;
mod sessions;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Settings;
use crate::startup::Application;

#[derive(Parser)]
#[command(name = "doorman", version, about = "Sign people in with OpenID Connect and keep them signed in")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check the configuration, the database and its migrations, each provider's discovery and
    /// keys, and the signing key; exit 0 only if all are fine.
    Check,
    /// The accounts: list, show, disable, enable, delete.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// End sessions.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// The latest security events (sign-ins, refusals, logouts, revocations, account changes).
    Audit {
        /// Only this account's events.
        #[arg(long, value_name = "ID_OR_EMAIL")]
        user: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Delete now what the retention settings allow (the server also does it every 15 minutes).
    Cleanup {
        #[arg(long)]
        json: bool,
    },
    /// Signing keys for access tokens.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// The accounts, oldest first.
    List {
        /// Only accounts whose email (or an identity's) contains this, in any case.
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// One account: its sign-in methods, live sessions and latest events.
    Show {
        #[arg(value_name = "ID_OR_EMAIL")]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Refuse the account's sign-ins and end its sessions.
    Disable {
        #[arg(value_name = "ID_OR_EMAIL")]
        user: String,
    },
    /// Let a disabled account sign in again.
    Enable {
        #[arg(value_name = "ID_OR_EMAIL")]
        user: String,
    },
    /// Erase the account, its sign-in methods and sessions (its audit events lose IP and device).
    Delete {
        #[arg(value_name = "ID_OR_EMAIL")]
        user: String,
        /// Do not ask for confirmation at a terminal.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// End every session of an account, or one session.
    Revoke {
        #[arg(long, value_name = "ID_OR_EMAIL", conflicts_with = "session", required_unless_present = "session")]
        user: Option<String>,
        #[arg(long, value_name = "SID")]
        session: Option<uuid::Uuid>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new private key (mode 0600) and print its kid and public JWK.
    Generate {
        #[arg(long, value_enum, default_value = "ed25519")]
        alg: KeyAlg,
        /// The size of an rs256 key: 2048, 3072 or 4096.
        #[arg(long, default_value_t = 2048)]
        bits: usize,
        /// Where to write the PEM file (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyAlg {
    Ed25519,
    Rs256,
}

pub const USAGE: u8 = 2;
pub const REFUSED: u8 = 1;

/// Parses the arguments (a bad one: clap's message and exit code 2) and runs the command.
pub async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if let Some(Command::Keys { command: KeysCommand::Generate { alg, bits, out } }) = &cli.command {
        return keys::generate(*alg, *bits, out);
    }
    let settings = match load_settings() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => migrate(settings).await,
        Command::Check => check::run(settings).await,
        Command::Users { command } => operate(&settings, |conn| match command {
            UsersCommand::List { email, json, limit } => users::list(conn, email.as_deref(), limit, json),
            UsersCommand::Show { user, json } => users::show(conn, &user, json),
            UsersCommand::Disable { user } => users::disable(conn, &user),
            UsersCommand::Enable { user } => users::enable(conn, &user),
            UsersCommand::Delete { user, yes } => users::delete(conn, &user, yes),
        }),
        Command::Sessions { command: SessionsCommand::Revoke { user, session } } => {
            operate(&settings, |conn| sessions::revoke(conn, user.as_deref(), session))
        }
        Command::Audit { user, json, limit } => {
            operate(&settings, |conn| audit::run(conn, user.as_deref(), limit, json))
        }
        Command::Cleanup { json } => {
            let limits = crate::startup::retention_limits(&settings);
            operate(&settings, |conn| cleanup(conn, limits, json))
        }
        Command::Keys { .. } => ExitCode::from(USAGE),
    }
}

/// `doorman cleanup`: one retention sweep, now.
fn cleanup(
    conn: &mut diesel::PgConnection,
    limits: crate::db::retention::Limits,
    json: bool,
) -> Result<(), output::Failure> {
    let Some(swept) = crate::db::retention::sweep(conn, limits)? else {
        return Err(output::Failure::refused("another instance is cleaning up right now; try again in a moment"));
    };
    if json {
        return output::json(&swept);
    }
    println!(
        "deleted {} session(s), {} audit event(s), {} login state(s), {} provider session(s), {} logout token(s) in {} ms",
        swept.sessions, swept.audit_events, swept.login_states, swept.provider_sessions, swept.logout_tokens, swept.millis
    );
    Ok(())
}

/// Runs an operator's subcommand on one database connection.
fn operate(
    settings: &Settings,
    work: impl FnOnce(&mut diesel::PgConnection) -> Result<(), output::Failure>,
) -> ExitCode {
    let result = output::connect(settings).and_then(|mut conn| work(&mut conn));
    crate::logging::flush();
    output::finish(result)
}

fn load_settings() -> Result<Settings, ExitCode> {
    if let Err(e) = dotenvy::dotenv() {
        if !e.not_found() {
            eprintln!("configuration error: .env cannot be read: {e}");
            return Err(ExitCode::from(USAGE));
        }
    }
    crate::logging::init();
    Settings::from_env().map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(USAGE)
    })
}

async fn serve(settings: Settings) -> ExitCode {
    let bind = settings.server.bind_addr;
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            crate::logging::flush();
            eprintln!("doorman cannot start: {e}");
            return ExitCode::from(REFUSED);
        }
    };
    log::info!("doorman listening on http://{}:{}", bind.ip(), app.port());
    let stopped = app.run_until_stopped().await;
    log::info!("doorman stopped");
    crate::logging::flush();
    match stopped {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("doorman stopped: {e}");
            ExitCode::from(REFUSED)
        }
    }
}

async fn migrate(settings: Settings) -> ExitCode {
    let pool = crate::db::pool(&settings.database);
    let result = actix_web::web::block(move || crate::db::migrate(&pool)).await;
    crate::logging::flush();
    match result {
        Ok(Ok(applied)) => {
            println!("applied {applied} migration(s); the database is up to date");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("DATABASE_URL: {e}");
            ExitCode::from(REFUSED)
        }
        Err(e) => {
            eprintln!("migrate: {e}");
            ExitCode::from(REFUSED)
        }
    }
}
