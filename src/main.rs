use std::process::ExitCode;

use doorman::config::Settings;
use doorman::startup::Application;

#[actix_web::main]
async fn main() -> ExitCode {
    if let Err(e) = dotenvy::dotenv() {
        if !e.not_found() {
            eprintln!("configuration error: .env cannot be read: {e}");
            return ExitCode::from(2);
        }
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let bind = settings.bind_addr;
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("doorman cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    log::info!("doorman listening on http://{}:{}", bind.ip(), app.port());
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("doorman stopped: {e}");
            ExitCode::from(1)
        }
    }
}
