//! `/healthz` and `/readyz`, for load balancers and orchestrators.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Ready,
    Unavailable,
}

/// What a probe is told.
#[derive(Serialize, ToSchema)]
pub struct Health {
    status: Status,
    /// Why not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'static str>,
}

/// `GET /healthz`: the process serves.
#[utoipa::path(get, path = "/healthz", tag = "health", summary = "Liveness",
    responses((status = 200, description = "The process serves: `{\"status\": \"ok\"}`", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: Status::Ok, detail: None })
}

/// `GET /readyz`: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "health", summary = "Readiness",
    responses(
        (status = 200, description = "The database answers: `{\"status\": \"ready\"}`", body = Health),
        (status = 503, description = "The database does not: `{\"status\": \"unavailable\", \"detail\": …}`", body = Health),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if db::is_ready(&state.pool).await {
        HttpResponse::Ok().json(Health { status: Status::Ready, detail: None })
    } else {
        HttpResponse::ServiceUnavailable()
            .json(Health { status: Status::Unavailable, detail: Some("the database is not answering") })
    }
}
