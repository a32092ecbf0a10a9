//! The OpenAPI document, collected from the same route registrations the server uses.

use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;
use utoipa_actix_web::AppExt;

/// `bearer`: an access token of this server (RFC 6750), named by `security(("bearer" = []))`.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, doc: &mut Document) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "device_jwt",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some(
                            "A push device's own signed request: an ES256 JWT with `kid`, `iss` \
                             and `sub` = the device id, `aud` = the issuer, `iat`, `exp` (at most \
                             120 s later), a single-use `jti`; answers add `action`, `challenge` \
                             and `number`",
                        ))
                        .build(),
                ),
            );
    }
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&BearerScheme),
    info(
        title = "Gatehouse",
        description = "Headless OpenID Connect provider with mandatory multi-factor \
            authentication and account migration. Errors are RFC 9457 \
            `application/problem+json` with a stable `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "oidc", description = "OpenID Connect provider endpoints"),
        (name = "login", description = "The headless login API the login UI is built on"),
        (name = "logout", description = "The logout confirmation: `/end_session` without a valid `id_token_hint` asks the user first"),
        (name = "registration", description = "Re-registration of migrated accounts: the mailed link, the new password, the second factor"),
        (name = "admin", description = "Operating Gatehouse: a `client_credentials` token with the `gatehouse:admin` scope"),
        (name = "account", description = "The signed-in user's own account (bearer token with the account scope, first-party clients)"),
        (name = "push device", description = "What a phone enrolled for push approval calls: registration with the enrolment ticket, then requests signed by the device's own key"),
    )
)]
struct ApiDoc;

/// The document as served at `/openapi.json` and committed as `openapi/gatehouse.json`.
pub fn document() -> Document {
    let (_, paths) = actix_web::App::new()
        .into_utoipa_app()
        .configure(crate::app::routes)
        .split_for_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(paths);
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Pretty JSON with a final newline, exactly as committed.
pub fn document_json() -> Result<String, serde_json::Error> {
    document().to_pretty_json().map(|json| json + "\n")
}
