//! Bearer tokens on the REST API: an access token this server issued, with a scope.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};

use crate::oidc::access::{self, AccessClaims};
use crate::problem::Problem;
use crate::state::AppState;

/// The admin API's scope, granted to `client_credentials` clients registered with it.
pub const ADMIN_SCOPE: &str = "gatehouse:admin";

/// The live access token of `req`, if it carries `scope`: 401 `invalid_token` without
/// a valid one, 403 `insufficient_scope` when the scope is missing.
pub async fn require_scope(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    scope: &str,
) -> Result<AccessClaims, Problem> {
    let unauthorized = || {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "A valid bearer access token is required",
        )
    };
    let token = access::bearer(req).ok_or_else(unauthorized)?;
    let claims = access::verify(state, &token)
        .await
        .ok_or_else(unauthorized)?;
    if !claims.has_scope(scope) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "The token lacks the scope this endpoint needs",
        )
        .with_extension("scope", serde_json::Value::String(scope.to_owned())));
    }
    Ok(claims)
}
