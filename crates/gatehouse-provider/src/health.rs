//! Liveness and readiness, for orchestrators and load balancers.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::Problem;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when alive, `ready` when ready.
    pub status: &'static str,
    /// The server's version.
    pub version: &'static str,
}

/// Liveness: the process answers HTTP. Never touches the database.
#[utoipa::path(
    tag = "health",
    responses((status = 200, description = "The server is alive", body = Health))
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness: the database answers a query. 503 while it does not.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Health),
        (status = 503, description = "The database cannot be reached", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let store = state.store.clone();
    match web::block(move || store.ping()).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(Health {
            status: "ready",
            version: env!("CARGO_PKG_VERSION"),
        })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(Problem::database_unavailable())
        }
        Err(_) => Err(Problem::database_unavailable()),
    }
}
