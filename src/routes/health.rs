//! `/healthz` and `/readyz`, for load balancers and orchestrators.

use actix_web::{web, HttpResponse};

use crate::db;
use crate::state::AppState;

/// `GET /healthz`: the process serves.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if db::is_ready(&state.pool).await {
        HttpResponse::Ok().json(serde_json::json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "detail": "the database is not answering" }))
    }
}
