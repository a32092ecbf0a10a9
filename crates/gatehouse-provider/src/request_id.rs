//! Request ids: taken from a well-formed incoming `X-Request-Id` (so a load balancer's id
//! carries through) or made fresh, put on the tracing span and echoed in the response.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use std::time::Instant;
use tracing::Instrument;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// What the log says of a path no route matches (it may hold anything).
const UNMATCHED: &str = "(no route)";

/// The id of the request being served, in the request's extensions.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Accepts only short ids of safe characters: the value goes into logs.
fn well_formed(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| s.to_owned())
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(well_formed)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    // The route template (`/api/v1/registration/{token}`), never the path: paths carry
    // registration tokens, login challenges and tickets, and query strings codes.
    let route = req.match_pattern();
    let metrics = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|state| state.metrics.clone());
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = route.as_deref().unwrap_or(UNMATCHED),
    );
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, value);
    }
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(metrics) = metrics {
        let route = route.unwrap_or_else(|| UNMATCHED.to_owned());
        metrics.request(route, method.as_str(), status, elapsed);
    }
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status, elapsed_ms, "request completed"));
    Ok(res)
}
