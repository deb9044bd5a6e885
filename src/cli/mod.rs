//! The binary's subcommands (clap): `serve` (also what `doorman` alone does, so nothing deployed
//! breaks), `migrate`, `check`, `keys generate`. They read the same configuration as the server.
//! Exit codes: 0 done, 1 not found or refused (a check failed, the server could not start),
//! 2 bad usage or configuration.

mod check;
mod keys;

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
    /// Signing keys for access tokens.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new private key (mode 0600) and print its kid and public JWK.
    Generate {
        #[arg(long, value_enum, default_value = "ed25519")]
        alg: KeyAlg,
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
    if let Some(Command::Keys { command: KeysCommand::Generate { alg, out } }) = &cli.command {
        return keys::generate(*alg, out);
    }
    let settings = match load_settings() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => migrate(settings).await,
        Command::Check => check::run(settings).await,
        Command::Keys { .. } => ExitCode::from(USAGE),
    }
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
