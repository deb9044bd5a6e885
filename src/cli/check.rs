//! `doorman check`: what an operator runs before a deploy. Each thing checked gets one line,
//! `ok` or `FAIL` with the problem; the exit code is 0 only if every line is `ok`.

use std::process::ExitCode;

use actix_web::web;

use super::REFUSED;
use crate::config::{ProviderKind, Settings};
use crate::db;
use crate::error::chain;
use crate::providers::Providers;
use crate::tokens::TokenKeys;

struct Report {
    failed: bool,
}

impl Report {
    fn line(&mut self, ok: bool, what: &str, detail: impl AsRef<str>) {
        println!("{} {what}: {}", if ok { "ok  " } else { "FAIL" }, detail.as_ref());
        self.failed |= !ok;
    }
}

pub(super) async fn run(settings: Settings) -> ExitCode {
    let mut report = Report { failed: false };
    let ids: Vec<&str> = settings.providers.iter().map(|p| p.id.as_str()).collect();
    report.line(true, "configuration", format!("valid; providers {}", ids.join(", ")));

    let pool = db::pool(&settings.database);
    match web::block(move || db::pending_migrations(&pool)).await {
        Ok(Ok(0)) => report.line(true, "database", "reachable, every migration applied"),
        Ok(Ok(n)) => {
            report.line(false, "database", format!("reachable, {n} migration(s) pending: run `doorman migrate`"))
        }
        Ok(Err(e)) => report.line(false, "database", e),
        Err(e) => report.line(false, "database", e.to_string()),
    }

    match Providers::build(&settings.providers) {
        Err(e) => report.line(false, "providers", chain(&e)),
        Ok(providers) => {
            for provider in providers.iter() {
                let what = format!("provider {}", provider.id());
                match (&provider.settings.kind, provider.client.openid()) {
                    (_, Some(client)) => match client.signing_key_count().await {
                        Ok(keys) => report.line(
                            true,
                            &what,
                            format!("discovery and {keys} signing key(s) at {}", provider.issuer),
                        ),
                        Err(e) => report.line(false, &what, chain(&e)),
                    },
                    (ProviderKind::GitHub { auth_url, .. }, None) => {
                        report.line(true, &what, format!("GitHub OAuth app at {auth_url} (nothing to discover)"))
                    }
                    _ => report.line(false, &what, "no client"),
                }
            }
        }
    }

    let t = &settings.tokens;
    match TokenKeys::from_settings(t, &settings.login.secret_key, &settings.site.public_origin)
        .and_then(|keys| keys.self_check().map(|_| keys))
    {
        Ok(keys) => {
            let detail = match keys.jwks().and_then(|set| set.keys.first()) {
                Some(jwk) => format!("asymmetric, kid {}", jwk.common.key_id.clone().unwrap_or_default()),
                None => "HS256 with JWT_SECRET_KEY".to_owned(),
            };
            report.line(true, "signing key", detail)
        }
        Err(e) => report.line(false, "signing key", e),
    }
    crate::logging::flush();
    if report.failed {
        ExitCode::from(REFUSED)
    } else {
        ExitCode::SUCCESS
    }
}
