//! `doorman [serve|migrate|check|keys generate]`: everything is in `doorman::cli`.

use std::process::ExitCode;

#[actix_web::main]
async fn main() -> ExitCode {
    doorman::cli::main().await
}
