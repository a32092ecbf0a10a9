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

/// The answers every REST operation may give before its handler runs, added where an
/// operation does not document them itself, so the document says what the extractors
/// do (`app::json_config`, `app::query_config`): a JSON body that is missing, not
/// `application/json`, too large or not valid JSON for the operation (415
/// `unsupported_media_type`, 413 `payload_too_large`, 400 `invalid_json`), and query
/// parameters that do not parse or break their documented bounds (400 `invalid_query`).
struct ExtractorAnswers;

impl ExtractorAnswers {
    fn problem(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        ResponseBuilder::new()
            .description(description)
            .content(
                crate::problem::PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
            .into()
    }

    /// Documents `code` under `status`: a new response, or one more code named in the
    /// description of the one already there.
    fn add(operation: &mut utoipa::openapi::path::Operation, status: &str, code: &str) {
        use utoipa::openapi::RefOr;
        let named = format!("`{code}`");
        match operation.responses.responses.get_mut(status) {
            None => {
                operation
                    .responses
                    .responses
                    .insert(status.to_owned(), Self::problem(&named));
            }
            Some(RefOr::T(response)) if !response.description.contains(&named) => {
                response.description = if response.description.is_empty() {
                    named
                } else {
                    format!("{}, {named}", response.description)
                };
            }
            Some(_) => {}
        }
    }
}

impl utoipa::Modify for ExtractorAnswers {
    fn modify(&self, doc: &mut Document) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::path::ParameterIn;
        for (path, item) in doc.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let json_body = matches!(
                    &operation.request_body,
                    Some(RefOr::T(body)) if body.content.contains_key("application/json")
                );
                if json_body {
                    Self::add(operation, "400", "invalid_json");
                    Self::add(operation, "413", "payload_too_large");
                    Self::add(operation, "415", "unsupported_media_type");
                }
                let query = operation.parameters.iter().flatten().any(
                    |p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query)),
                );
                if query {
                    Self::add(operation, "400", "invalid_query");
                }
            }
        }
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
    utoipa::Modify::modify(&ExtractorAnswers, &mut doc);
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Pretty JSON with a final newline, exactly as committed.
pub fn document_json() -> Result<String, serde_json::Error> {
    document().to_pretty_json().map(|json| json + "\n")
}
