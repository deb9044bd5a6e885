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
    doorman::logging::init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let bind = settings.server.bind_addr;
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            doorman::logging::flush();
            eprintln!("doorman cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    log::info!("doorman listening on http://{}:{}", bind.ip(), app.port());
    let stopped = app.run_until_stopped().await;
    log::info!("doorman stopped");
    doorman::logging::flush();
    match stopped {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("doorman stopped: {e}");
            ExitCode::from(1)
        }
    }
}
