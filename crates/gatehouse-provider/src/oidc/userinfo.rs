//! `GET|POST /userinfo` (OIDC Core §5.3): claims about the user, for a bearer token.

use actix_web::http::StatusCode;
use actix_web::http::header::{CacheControl, CacheDirective, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use gatehouse_core::Subject;
use gatehouse_core::ports::AccountRepository;
use serde_json::{Map, Value, json};

use super::access;
use crate::state::AppState;

fn unauthorized(error: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::UNAUTHORIZED)
        .insert_header((WWW_AUTHENTICATE, format!("Bearer error=\"{error}\"")))
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(json!({"error": error}))
}

/// The database did not answer: the token may well be live, so never 401.
fn unavailable() -> HttpResponse {
    actix_web::ResponseError::error_response(&super::error::OAuthError::temporarily_unavailable())
}

async fn userinfo(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(token) = access::bearer(&req) else {
        return HttpResponse::build(StatusCode::UNAUTHORIZED)
            .insert_header((WWW_AUTHENTICATE, "Bearer"))
            .json(json!({"error": "invalid_request", "error_description": "a bearer token is required"}));
    };
    let claims = match access::verify(&state, &token).await {
        Ok(Some(claims)) => claims,
        Ok(None) => return unauthorized("invalid_token"),
        Err(access::Unknown) => return unavailable(),
    };
    if !claims.has_scope("openid") {
        return HttpResponse::build(StatusCode::FORBIDDEN)
            .insert_header((
                WWW_AUTHENTICATE,
                "Bearer error=\"insufficient_scope\", scope=\"openid\"",
            ))
            .json(json!({"error": "insufficient_scope"}));
    }
    let Ok(subject) = Subject::parse(&claims.sub) else {
        return unauthorized("invalid_token");
    };
    let store = state.store.clone();
    let account = match web::block(move || store.account_by_subject(&subject)).await {
        Ok(Ok(Some(account))) if account.status.can_log_in() => account,
        Ok(Ok(_)) => return unauthorized("invalid_token"),
        _ => return unavailable(),
    };
    let mut body = Map::new();
    body.insert("sub".to_owned(), Value::String(account.subject.to_string()));
    if claims.has_scope("email")
        && let Some(email) = &account.email
    {
        body.insert("email".to_owned(), Value::String(email.as_str().to_owned()));
        body.insert(
            "email_verified".to_owned(),
            Value::Bool(account.email_verified),
        );
    }
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(Value::Object(body))
}

/// The UserInfo endpoint: `sub`, and `email` / `email_verified` with the `email` scope.
#[utoipa::path(
    tag = "oidc",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "UserInfo claims", body = Object),
        (status = 401, description = "Missing, invalid, expired or revoked token (`WWW-Authenticate: Bearer`)"),
        (status = 403, description = "`insufficient_scope`: the token lacks `openid`"),
    )
)]
#[get("/userinfo")]
pub async fn userinfo_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    userinfo(req, state).await
}

/// The same as `GET /userinfo`.
#[utoipa::path(
    tag = "oidc",
    security(("bearer" = [])),
    responses((status = 200, description = "UserInfo claims", body = Object), (status = 401, description = "As for GET"))
)]
#[post("/userinfo")]
pub async fn userinfo_post(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    userinfo(req, state).await
}
