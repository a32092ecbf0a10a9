//! Liveness, readiness and metrics, for orchestrators, load balancers and monitoring.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use std::time::Duration;
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

/// The longest a readiness probe waits for the database: a probe that times out is
/// worse than a prompt 503 (orchestrators give probes a second or two).
pub const READY_WITHIN: Duration = Duration::from_millis(500);

/// Readiness: the database answers a query within `READY_WITHIN`. 503 while it does not.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Health),
        (status = 503, description = "`database_unavailable`: the database did not answer within 500 ms", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let store = state.store.clone();
    let ping = web::block(move || store.ping_within(READY_WITHIN));
    match tokio::time::timeout(READY_WITHIN, ping).await {
        Ok(Ok(Ok(()))) => Ok(HttpResponse::Ok().json(Health {
            status: "ready",
            version: env!("CARGO_PKG_VERSION"),
        })),
        Ok(Ok(Err(e))) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(Problem::database_unavailable())
        }
        Ok(Err(_)) => Err(Problem::database_unavailable()),
        Err(_) => {
            tracing::warn!(within = ?READY_WITHIN, "readiness check timed out");
            Err(Problem::database_unavailable())
        }
    }
}

/// `GET /metrics`: the Prometheus text format (OpenMetrics), from `state.metrics`.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let shared = state.clone();
    match web::block(move || shared.metrics.render(&shared.store)).await {
        Ok(Ok(text)) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "rendering the metrics failed");
            HttpResponse::InternalServerError().finish()
        }
        Err(e) => {
            tracing::error!(error = %e, "the blocking pool lost the metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}
