//! The OpenAPI document, collected from the same route registrations the server uses.

use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{Ref, RefOr, Schema};

use crate::problem;
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
    fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
        use utoipa::openapi::{ContentBuilder, ResponseBuilder};
        ResponseBuilder::new()
            .description(description)
            .content(
                problem::PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
            .into()
    }

    /// Documents `code` under `status`: a new response, or one more code named in the
    /// description of the one already there.
    fn add(operation: &mut Operation, status: &str, code: &str) {
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

/// Every operation of a path.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

impl utoipa::Modify for ExtractorAnswers {
    fn modify(&self, doc: &mut Document) {
        use utoipa::openapi::path::ParameterIn;
        for (path, item) in doc.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            for operation in operations(item) {
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

/// Each problem answer's `code` as an enum of the registered codes
/// ([`problem::codes`]) its description names in backticks, so that a generated
/// client can match on them: the answer's schema becomes `allOf: [Problem, {code:
/// enum}]`. An answer that names none keeps plain `Problem` (a conformance test
/// fails on it, and on a backticked word that looks like a code but is not one).
struct ProblemCodes;

/// The words of `text` between backticks: how a problem answer's description names
/// its codes.
pub fn backticked(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2)
}

impl ProblemCodes {
    /// The registered codes `description` names, sorted, without repeats.
    fn named(description: &str) -> Vec<&str> {
        let mut codes: Vec<&str> = backticked(description)
            .filter(|word| problem::codes::is_registered(word))
            .collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    fn schema(codes: &[&str]) -> RefOr<Schema> {
        use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
        AllOfBuilder::new()
            .item(Ref::from_schema_name("Problem"))
            .item(
                ObjectBuilder::new().property(
                    "code",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(codes.iter().copied())),
                ),
            )
            .into()
    }
}

impl utoipa::Modify for ProblemCodes {
    fn modify(&self, doc: &mut Document) {
        let problem = Ref::from_schema_name("Problem");
        for item in doc.paths.paths.values_mut() {
            for operation in operations(item) {
                for response in operation.responses.responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    let codes = Self::named(&response.description);
                    if codes.is_empty() {
                        continue;
                    }
                    if let Some(RefOr::T(content)) = response.content.get_mut(problem::PROBLEM_JSON)
                        && matches!(&content.schema, Some(RefOr::Ref(r)) if *r == problem)
                    {
                        content.schema = Some(Self::schema(&codes));
                    }
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

/// The document as committed (`openapi/gatehouse.json`): what the server serves at
/// `/openapi.json`. `make openapi` writes it from [`document`], and a test fails when
/// the two differ. Generating it at start instead costs 15 MB of short-lived
/// allocations, which the allocator then keeps for the life of the process.
pub const PUBLISHED: &str = include_str!("../../../openapi/gatehouse.json");

/// The document generated from the routes and their annotations.
pub fn document() -> Document {
    let (_, paths) = actix_web::App::new()
        .into_utoipa_app()
        .configure(crate::routes::routes)
        .split_for_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(paths);
    utoipa::Modify::modify(&ExtractorAnswers, &mut doc);
    utoipa::Modify::modify(&ProblemCodes, &mut doc);
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Pretty JSON with a final newline, exactly as committed.
pub fn document_json() -> Result<String, serde_json::Error> {
    document().to_pretty_json().map(|json| json + "\n")
}
