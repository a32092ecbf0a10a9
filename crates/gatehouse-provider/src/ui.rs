//! The reference UI (`gatehouse-ui`) at `/ui/`: its pages, modules and styles, under a
//! strict Content-Security-Policy (only this origin's scripts and styles, nothing
//! inline, no framing), with no referrer, so a registration or undo token in a page's
//! query never leaves in a `Referer`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use gatehouse_core::client::{
    Client, ClientError, ClientId, GrantType, SigningAlg, TokenEndpointAuthMethod, TokenLifetimes,
};
use gatehouse_core::ports::{ClientRepository, RepositoryError};
use gatehouse_store::Store;
use std::borrow::Cow;
use std::path::{Component, Path};

use crate::config::Config;
use crate::state::AppState;

/// Scripts, styles and API calls from this origin only; images also as `data:` URLs
/// (the QR codes); no plugins, no framing, forms post nowhere else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The UI's icon, which every page names; also at `/favicon.ico`, where browsers look
/// for one on their own (an SVG there too: browsers go by the media type).
const ICON: &str = "favicon.svg";

/// `/ui/` and everything under it; `/` leads there.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/{path:.*}", web::get().to(serve))
        .route(
            "/favicon.ico",
            web::get().to(|state: web::Data<AppState>| async move { file(&state, ICON).await }),
        )
        .route(
            "/",
            web::get().to(|| async {
                HttpResponse::Found()
                    .insert_header((header::LOCATION, "/ui/"))
                    .finish()
            }),
        );
}

/// A file of the UI: a page by its name (`/ui/login`), anything else by its path.
async fn serve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    file(&state, req.match_info().get("path").unwrap_or_default()).await
}

/// The answer for `/ui/{name}`.
async fn file(state: &AppState, name: &str) -> HttpResponse {
    let dir = state.config.ui.assets_dir.trim();
    let found = if dir.is_empty() {
        gatehouse_ui::page(name).map(|a| (Cow::Borrowed(a.body), a.content_type()))
    } else {
        from_dir(Path::new(dir), name).await
    };
    let Some((body, content_type)) = found else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("Not found");
    };
    let mut answer = HttpResponse::build(StatusCode::OK);
    answer
        .content_type(content_type)
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Small files: always revalidated, so a new server version shows at once.
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    match body {
        Cow::Borrowed(bytes) => answer.body(bytes),
        Cow::Owned(bytes) => answer.body(bytes),
    }
}

/// The same lookup as the embedded files, in `dir` (`[ui] assets_dir`), for working on
/// the UI: a path that leaves `dir` finds nothing.
async fn from_dir(dir: &Path, name: &str) -> Option<(Cow<'static, [u8]>, &'static str)> {
    let relative = gatehouse_ui::file_of(name);
    let safe = Path::new(&relative)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !safe {
        return None;
    }
    let path = dir.join(&relative);
    let bytes = web::block(move || std::fs::read(path)).await.ok()?.ok()?;
    Some((Cow::Owned(bytes), gatehouse_ui::content_type(&relative)))
}

/// The account settings page signs in as this client: public (PKCE, no secret),
/// first-party (the account API takes only first-party tokens), registered by the
/// server itself while the reference UI is on.
pub const SETTINGS_CLIENT_ID: &str = "gatehouse-ui";

/// The registration of [`SETTINGS_CLIENT_ID`] for this configuration: its redirect URI
/// is the settings page on the issuer's origin.
pub fn settings_client(config: &Config, now: DateTime<Utc>) -> Result<Client, ClientError> {
    let base = config.server.issuer.trim_end_matches('/');
    let client = Client {
        id: ClientId::parse(SETTINGS_CLIENT_ID)?,
        name: format!("{} account", config.mail.product_name),
        secret_hash: None,
        redirect_uris: vec![format!("{base}/ui/settings")],
        post_logout_redirect_uris: vec![format!("{base}/ui/")],
        grant_types: vec![GrantType::AuthorizationCode],
        scopes: vec![
            "openid".to_owned(),
            "email".to_owned(),
            config.account_api.scope.clone(),
        ],
        auth_method: TokenEndpointAuthMethod::None,
        jwks: None,
        id_token_alg: SigningAlg::Es256,
        first_party: true,
        // The settings page has no refresh grant; its sign-in stays as it was.
        refresh_without_offline_access: true,
        require_pushed_authorization_requests: false,
        dpop_bound_access_tokens: false,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        lifetimes: TokenLifetimes::default(),
        created_at: now,
        updated_at: now,
    };
    client.validate()?;
    Ok(client)
}

/// Registers the settings client, or brings its registration in line with the
/// configuration (a new issuer, scope or product name). Instances starting together
/// may race to insert it: the loser finds it there.
pub fn register_settings_client(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let wanted = settings_client(config, now).map_err(|e| e.to_string())?;
    let register = || {
        store.transaction(|tx| match tx.client_by_id(&wanted.id)? {
            None => tx.insert_client(&wanted),
            Some(found) => {
                let same = found.redirect_uris == wanted.redirect_uris
                    && found.post_logout_redirect_uris == wanted.post_logout_redirect_uris
                    && found.scopes == wanted.scopes
                    && found.name == wanted.name
                    && found.first_party
                    && found.is_public()
                    && found.grant_types == wanted.grant_types;
                if same {
                    return Ok(());
                }
                tx.update_client(&Client {
                    created_at: found.created_at,
                    lifetimes: found.lifetimes,
                    ..wanted.clone()
                })
            }
        })
    };
    match register() {
        Err(RepositoryError::Conflict(_)) => register(),
        done => done,
    }
    .map_err(|e| e.to_string())
}
