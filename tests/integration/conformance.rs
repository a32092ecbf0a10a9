//! The OpenAPI document and the server agree: what the server answers is documented,
//! and what the document allows the server takes (what it refuses, the document
//! refuses too). Each test is one disagreement schemathesis found
//! (`tests/schemathesis/run.sh` runs the whole document); the document checked is the
//! one the server serves at `/openapi.json`. The tests at the end read the committed
//! document alone: every body is typed, and every problem answer lists its `code`s.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::account::{World, call, login_as, ok, problem, world_with};
use crate::support::TestDatabase;

const EMAIL: &str = "rie@example.com";
const PASSWORD: &str = "Correct-Horse#42";
const SCOPE: &str = "openid email gatehouse:account";

struct Api {
    w: World,
    doc: Value,
    user: String,
    admin: String,
}

async fn api() -> Api {
    let w = world_with(TestDatabase::sqlite(), |_| {}).await;
    let user = login_as(&w, EMAIL, PASSWORD, EMAIL, "Conformance", SCOPE)
        .await
        .access;
    let admin = w.server.machine_client("ops", &["gatehouse:admin"]).await.1;
    let doc: Value = w
        .server
        .get("/openapi.json")
        .await
        .json()
        .await
        .expect("the document");
    Api {
        w,
        doc,
        user,
        admin,
    }
}

impl Api {
    /// The operation `method path` of the document.
    fn operation(&self, method: &str, path: &str) -> &Value {
        let op = &self.doc["paths"][path][method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} is not in the document");
        op
    }

    /// Asserts that `status` is a documented answer of `method path`.
    fn assert_documented(&self, method: &str, path: &str, status: StatusCode) {
        let responses = &self.operation(method, path)["responses"];
        assert!(
            responses.get(status.as_str()).is_some(),
            "{method} {path} answered {status}, documented: {:?}",
            responses
                .as_object()
                .map(|r| r.keys().collect::<Vec<_>>())
                .unwrap_or_default()
        );
    }

    /// The schema of query parameter `name` of `method path`.
    fn query_schema(&self, method: &str, path: &str, name: &str) -> &Value {
        self.operation(method, path)["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name && p["in"] == "query"))
            .map(|p| &p["schema"])
            .unwrap_or_else(|| panic!("{method} {path} has no query parameter {name}"))
    }

    /// Property `name` of component schema `schema`.
    fn property(&self, schema: &str, name: &str) -> &Value {
        let property = &self.doc["components"]["schemas"][schema]["properties"][name];
        assert!(
            property.is_object(),
            "{schema}.{name} is not in the document"
        );
        property
    }

    fn token_for(&self, path: &str) -> Option<&str> {
        if path.starts_with("/api/v1/admin/") {
            Some(&self.admin)
        } else if path.starts_with("/api/v1/account") {
            Some(&self.user)
        } else {
            None
        }
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: &'static [u8],
    ) -> reqwest::Response {
        let mut req = self.w.http.request(method, self.w.server.url(path));
        if let Some(token) = self.token_for(path) {
            req = req.bearer_auth(token);
        }
        if let Some(content_type) = content_type {
            req = req.header("content-type", content_type);
        }
        req.body(body).send().await.expect("request")
    }
}

/// 18 JSON operations answered 415 to a request without a content type, and several
/// 400 `invalid_json` to a NUL byte (e.g. `/account/email/confirm`), undocumented.
/// Every operation with a JSON body, asked both ways by a caller it lets in, answers
/// a documented status with problem+json.
#[tokio::test]
async fn every_json_operation_documents_its_answers_to_bodies_it_cannot_read() {
    let api = api().await;
    let mut operations = vec![];
    for (path, item) in api.doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if op["requestBody"]["content"]["application/json"].is_object() {
                operations.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(operations.len() >= 18, "{operations:?}");
    for (method, path) in &operations {
        let concrete = path.replace("{factor}", "email").replace(['{', '}'], "");
        let method_ = Method::from_bytes(method.as_bytes()).expect("method");
        let bare = api.raw(method_.clone(), &concrete, None, b"").await;
        let status = bare.status();
        api.assert_documented(method, path, status);
        if status != StatusCode::UNAUTHORIZED && status != StatusCode::NOT_FOUND {
            problem(
                bare,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            )
            .await;
        }
        let nul = api
            .raw(method_, &concrete, Some("application/json"), b"\0")
            .await;
        let status = nul.status();
        api.assert_documented(method, path, status);
        if status == StatusCode::BAD_REQUEST {
            problem(nul, StatusCode::BAD_REQUEST, "invalid_json").await;
        }
    }
    let confirm = api
        .raw(
            Method::POST,
            "/api/v1/account/email/confirm",
            Some("application/json"),
            b"\0",
        )
        .await;
    problem(confirm, StatusCode::BAD_REQUEST, "invalid_json").await;
}

/// `limit=2147483648` on the account's events was taken (and clamped), above the
/// documented maximum; `limit=-1` on an account's events (admin) answered an
/// undocumented 400. Both are refused as documented, and the bounds are the
/// document's.
#[tokio::test]
async fn page_limits_are_the_documented_ones_and_others_are_refused_as_documented() {
    let api = api().await;
    let events = "/api/v1/account/events";
    let limit = api.query_schema("GET", events, "limit");
    assert_eq!(
        (&limit["minimum"], &limit["maximum"]),
        (&json!(1), &json!(100))
    );
    for bad in ["2147483648", "101", "0", "-1", "ten"] {
        let res = call(
            &api.w,
            Method::GET,
            &format!("{events}?limit={bad}"),
            Some(&api.user),
            None,
        )
        .await;
        api.assert_documented("GET", events, res.status());
        problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
    let page = ok(
        call(
            &api.w,
            Method::GET,
            &format!("{events}?limit=100"),
            Some(&api.user),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(page["events"].is_array());

    let account = api.w.account.id.0;
    let admin_events = "/api/v1/admin/accounts/{account_id}/events";
    let limit = api.query_schema("GET", admin_events, "limit");
    assert_eq!(
        (&limit["minimum"], &limit["maximum"]),
        (&json!(1), &json!(100))
    );
    for bad in ["-1", "101"] {
        let res = call(
            &api.w,
            Method::GET,
            &format!("/api/v1/admin/accounts/{account}/events?limit={bad}"),
            Some(&api.admin),
            None,
        )
        .await;
        api.assert_documented("GET", admin_events, res.status());
        problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    }

    let search = "/api/v1/admin/accounts";
    let limit = api.query_schema("GET", search, "limit");
    assert_eq!(
        (&limit["minimum"], &limit["maximum"]),
        (&json!(1), &json!(200))
    );
    let res = call(
        &api.w,
        Method::GET,
        &format!("{search}?limit=201"),
        Some(&api.admin),
        None,
    )
    .await;
    api.assert_documented("GET", search, res.status());
    problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
}

/// `cursor=` was valid by the document (any string) and refused. The document now
/// gives the cursors' shape: what it allows is taken, what it does not is refused
/// with the documented 400.
#[tokio::test]
async fn cursors_have_the_documented_shape() {
    let api = api().await;
    let uuid = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
    for (path, token, pattern, good) in [
        (
            "/api/v1/account/events",
            &api.user,
            r"^[0-9]{1,18}$",
            "0".to_owned(),
        ),
        (
            "/api/v1/admin/accounts",
            &api.admin,
            uuid,
            api.w.account.id.0.to_string(),
        ),
    ] {
        assert_eq!(api.query_schema("GET", path, "cursor")["pattern"], pattern);
        ok(
            call(
                &api.w,
                Method::GET,
                &format!("{path}?cursor={good}"),
                Some(token),
                None,
            )
            .await,
            StatusCode::OK,
        )
        .await;
        // Outside the pattern, each of them.
        for bad in ["", "-1", "%2B1", "abc", "0123456789abcdef0123456789abcdef"] {
            let res = call(
                &api.w,
                Method::GET,
                &format!("{path}?cursor={bad}"),
                Some(token),
                None,
            )
            .await;
            api.assert_documented("GET", path, res.status());
            problem(res, StatusCode::BAD_REQUEST, "invalid_cursor").await;
        }
    }
}

/// `{"email": ""}` and `{"analytics_consent": null}` were valid by the document and
/// refused: the document now says what the server enforces.
#[tokio::test]
async fn request_bodies_document_what_the_server_enforces() {
    let api = api().await;
    let email = api.property("EmailChangeRequest", "email");
    assert_eq!(email["format"], "email", "{email}");
    assert!(
        email["minLength"].as_u64().is_some_and(|n| n >= 1),
        "{email}"
    );
    let res = call(
        &api.w,
        Method::POST,
        "/api/v1/account/email",
        Some(&api.user),
        Some(json!({"email": ""})),
    )
    .await;
    api.assert_documented("POST", "/api/v1/account/email", res.status());
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_fields").await;
    ok(
        call(
            &api.w,
            Method::POST,
            "/api/v1/account/email",
            Some(&api.user),
            Some(json!({"email": "rie.new@example.com"})),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;

    let consent = api.property("ProfilePatch", "analytics_consent");
    assert_eq!(consent["type"], "boolean", "not nullable: {consent}");
    let res = call(
        &api.w,
        Method::PATCH,
        "/api/v1/account",
        Some(&api.user),
        Some(json!({"analytics_consent": null})),
    )
    .await;
    api.assert_documented("PATCH", "/api/v1/account", res.status());
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_fields").await;
    let profile = ok(
        call(&api.w, Method::PATCH, "/api/v1/account", Some(&api.user), Some(json!({"analytics_consent": true, "locale": "en-GB", "zoneinfo": "Europe/London", "given_name": ""}))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(profile["analytics_consent"], true);
    for (field, value) in [("locale", ""), ("zoneinfo", "Europe//London")] {
        let res = call(
            &api.w,
            Method::PATCH,
            "/api/v1/account",
            Some(&api.user),
            Some(json!({field: value})),
        )
        .await;
        problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_fields").await;
        assert!(
            api.property("ProfilePatch", field)["pattern"].is_string(),
            "{field}"
        );
    }
    // A phone's name with a control character was valid by the document and refused
    // (`invalid_name`).
    for field in ["name", "push_token"] {
        let schema = api.property("RegisterDevice", field);
        assert!(
            schema["pattern"].is_string() && schema["maxLength"].is_u64(),
            "{field}: {schema}"
        );
    }
}

/// A repeated `update` on the admin import answered an undocumented 400.
#[tokio::test]
async fn a_repeated_query_parameter_is_refused_as_documented() {
    let api = api().await;
    let path = "/api/v1/admin/accounts/import";
    let res = api
        .w
        .http
        .post(
            api.w
                .server
                .url(&format!("{path}?update=true&update=false")),
        )
        .bearer_auth(&api.admin)
        .header("content-type", "application/x-ndjson")
        .body("")
        .send()
        .await
        .expect("import");
    api.assert_documented("POST", path, res.status());
    problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    // An empty body is documented (the body is optional): nothing is imported.
    let res = api
        .w
        .http
        .post(api.w.server.url(&format!("{path}?dry_run=true")))
        .bearer_auth(&api.admin)
        .send()
        .await
        .expect("import");
    api.assert_documented("POST", path, res.status());
    assert_eq!(ok(res, StatusCode::OK).await["rows"], 0);
    assert_ne!(api.operation("POST", path)["requestBody"]["required"], true);
}

/// `POST /end_session` answered an undocumented 200; `/introspect` and `/revoke`
/// without a form body an undocumented 400.
#[tokio::test]
async fn oauth_endpoints_document_their_answers() {
    let api = api().await;
    let res = api
        .w
        .http
        .post(api.w.server.url("/end_session"))
        .form(&[("state", "s")])
        .send()
        .await
        .expect("end_session");
    api.assert_documented("POST", "/end_session", res.status());
    // No id_token_hint: the user is asked first (the logout confirmation).
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(
        res.headers()["location"]
            .to_str()
            .is_ok_and(|l| l.contains("logout_challenge=")),
        "{:?}",
        res.headers()
    );
    for path in ["/introspect", "/revoke"] {
        let res = api
            .w
            .http
            .post(api.w.server.url(path))
            .basic_auth("app", Some(&api.w.app_secret))
            .send()
            .await
            .expect("no form");
        api.assert_documented("POST", path, res.status());
        let status = res.status();
        let body: Value = res.json().await.expect("RFC 6749 error JSON");
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::BAD_REQUEST, &json!("invalid_request"))
        );
        // The form is documented as what it is: `token` required.
        let schema = &api.operation("POST", path)["requestBody"]["content"]["application/x-www-form-urlencoded"]
            ["schema"];
        assert!(schema.is_object(), "{path}: {schema}");
    }
    assert_eq!(
        api.doc["components"]["schemas"]["TokenAboutForm"]["required"],
        json!(["token"])
    );
    assert_eq!(
        api.doc["components"]["schemas"]["TokenForm"]["required"],
        json!(["grant_type"])
    );
}

/// JSON Schema's `integer` includes `3600.0`, so a client's lifetimes given so are
/// taken (the stateful run sent them and got 400 `invalid_json`); a new factor's
/// `options` is documented as an object, and a number there was taken.
#[tokio::test]
async fn integers_and_objects_are_what_json_schema_says() {
    let api = api().await;
    let lifetime = api.property("NewClient", "access_token_lifetime");
    assert_eq!(lifetime["maximum"], json!(4_294_967_295_u32), "{lifetime}");
    let created = ok(
        call(
            &api.w,
            Method::POST,
            "/api/v1/admin/clients",
            Some(&api.admin),
            Some(json!({
                "client_id": "batch",
                "client_name": "Batch",
                "grant_types": ["client_credentials"],
                "access_token_lifetime": 3600.0,
            })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["access_token_lifetime"], 3600, "{created}");
    let changed = ok(
        call(
            &api.w,
            Method::PATCH,
            "/api/v1/admin/clients/batch",
            Some(&api.admin),
            Some(json!({"id_token_lifetime": 600.0})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["id_token_lifetime"], 600, "{changed}");
    let res = call(
        &api.w,
        Method::PATCH,
        "/api/v1/admin/clients/batch",
        Some(&api.admin),
        Some(json!({"id_token_lifetime": 600.5})),
    )
    .await;
    problem(res, StatusCode::BAD_REQUEST, "invalid_json").await;

    assert_eq!(api.property("StartEnrolment", "options")["type"], "object");
    assert_eq!(
        api.property("StartEnrolment", "options")["additionalProperties"],
        false
    );
    let res = call(
        &api.w,
        Method::POST,
        "/api/v1/account/factors",
        Some(&api.user),
        Some(json!({"kind": "recovery_code", "options": 5})),
    )
    .await;
    api.assert_documented("POST", "/api/v1/account/factors", res.status());
    problem(res, StatusCode::BAD_REQUEST, "invalid_json").await;
    ok(
        call(
            &api.w,
            Method::POST,
            "/api/v1/account/factors",
            Some(&api.user),
            Some(json!({"kind": "recovery_code", "options": {}})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
}

/// The committed document, as the frontend generates its types from it.
fn committed_document() -> Value {
    let path = crate::support::workspace_root().join("openapi/gatehouse.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("committed document"))
        .expect("the document is JSON")
}

/// `(METHOD path status, response)` of every `application/problem+json` answer.
fn problem_answers(doc: &Value) -> Vec<(String, &Value)> {
    let mut answers = vec![];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                if response["content"]["application/problem+json"].is_object() {
                    answers.push((
                        format!("{} {path} {status}", method.to_uppercase()),
                        response,
                    ));
                }
            }
        }
    }
    answers
}

#[test]
fn the_problem_codes_are_sorted_and_named_as_on_the_wire() {
    use gatehouse_provider::problem::codes::{self, ProblemCode};

    // `ProblemCode::parse` searches `ALL` by name.
    assert!(
        codes::ALL.windows(2).all(|w| w[0].as_str() < w[1].as_str()),
        "sort the rows of problem::codes by name"
    );
    for &code in codes::ALL {
        assert_eq!(
            serde_json::to_value(code).expect("code"),
            Value::from(code.as_str()),
            "{code:?}"
        );
        assert_eq!(ProblemCode::parse(code.as_str()), Some(code));
        assert_eq!(code.to_string(), code.as_str());
    }
    assert_eq!(ProblemCode::parse("no_such_code"), None);
}

/// Every problem answer's `code` is the enum of the registered codes its description
/// names, so a generated client can switch over them.
#[test]
fn every_problem_answer_lists_its_codes() {
    let doc = committed_document();
    let answers = problem_answers(&doc);
    assert!(answers.len() > 100, "{}", answers.len());
    for (label, response) in answers {
        let schema = &response["content"]["application/problem+json"]["schema"];
        assert_eq!(
            schema["allOf"][0]["$ref"], "#/components/schemas/Problem",
            "{label}: {schema}"
        );
        let codes: Vec<&str> = schema["allOf"][1]["properties"]["code"]["enum"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            !codes.is_empty(),
            "{label}: {} names no code of problem::codes::ALL",
            response["description"]
        );
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "{label}: {codes:?}");
        // A code answers with one status, the one `problem::codes` gives it.
        let status = label.rsplit(' ').next().unwrap_or_default();
        for code in codes {
            let registered = gatehouse_provider::problem::ProblemCode::parse(code);
            assert!(registered.is_some(), "{label}: {code}");
            assert_eq!(
                registered
                    .map(|c| c.status().as_u16().to_string())
                    .as_deref(),
                Some(status),
                "{label}: {code} is answered with another status"
            );
        }
    }
}

/// A backticked word that looks like a code, in a problem answer's description, is a
/// registered code, a member of the problem, or a member of the request: a code
/// missing from the registry (or a typo) fails here instead of leaving the enum.
#[test]
fn problem_answers_name_no_unregistered_code() {
    const REQUEST_MEMBERS: [&str; 7] = [
        "action",
        "challenge",
        "credential",
        "email",
        "kind",
        "number",
        "platform",
    ];
    let doc = committed_document();
    let members = doc["components"]["schemas"]["ProblemMembers"]["properties"]
        .as_object()
        .expect("ProblemMembers");
    let looks_like_code = |word: &str| {
        word.starts_with(|c: char| c.is_ascii_lowercase())
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    for (label, response) in problem_answers(&doc) {
        let description = response["description"].as_str().expect("description");
        for word in gatehouse_provider::openapi::backticked(description) {
            assert!(
                !looks_like_code(word)
                    || gatehouse_provider::problem::codes::is_registered(word)
                    || members.contains_key(word)
                    || REQUEST_MEMBERS.contains(&word),
                "{label}: `{word}` in {description:?} is no registered code, \
                 ProblemMembers member or request member"
            );
        }
    }
}

/// Every request and response body has an exact schema: no `{}`, no object without
/// members, no `additionalProperties: true` or `{}`, except where the schema's
/// description says it is "free-form by nature" (and why).
#[test]
fn no_body_is_a_free_form_object() {
    fn walk(doc: &Value, schema: &Value, at: &str, seen: &[&str], found: &mut Vec<String>) {
        let description = schema["description"].as_str().unwrap_or_default();
        if description.contains("free-form by nature") {
            return;
        }
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            if !seen.contains(&name) {
                let seen = [seen, &[name]].concat();
                let target = &doc["components"]["schemas"][name];
                walk(doc, target, &format!("{at} -> {name}"), &seen, found);
            }
            return;
        }
        let has = |member: &str| schema.get(member).is_some();
        let composed = has("allOf") || has("oneOf") || has("anyOf");
        let is_object = match &schema["type"] {
            Value::String(t) => t == "object",
            Value::Array(types) => types.iter().any(|t| t == "object"),
            _ => false,
        };
        if !has("type") && !composed && !has("properties") && !has("enum") && !has("const") {
            found.push(format!("{at}: no type"));
        }
        if is_object && !has("properties") && !has("additionalProperties") && !composed {
            found.push(format!("{at}: an object without members"));
        }
        let extra = &schema["additionalProperties"];
        if *extra == Value::Bool(true) || *extra == serde_json::json!({}) {
            found.push(format!("{at}: additionalProperties {extra}"));
        }
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            walk(doc, property, &format!("{at}.{name}"), seen, found);
        }
        if schema["items"].is_object() {
            walk(doc, &schema["items"], &format!("{at}[]"), seen, found);
        }
        for kind in ["allOf", "oneOf", "anyOf"] {
            for (i, part) in schema[kind].as_array().into_iter().flatten().enumerate() {
                walk(doc, part, &format!("{at}/{kind}[{i}]"), seen, found);
            }
        }
        if extra.is_object() {
            walk(doc, extra, &format!("{at}{{…}}"), seen, found);
        }
    }

    let doc = committed_document();
    let mut found = vec![];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let operation_name = format!("{} {path}", method.to_uppercase());
            let request = &operation["requestBody"]["content"];
            for (content_type, body) in request.as_object().into_iter().flatten() {
                let at = format!("{operation_name} request {content_type}");
                walk(&doc, &body["schema"], &at, &[], &mut found);
            }
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                for (content_type, body) in response["content"].as_object().into_iter().flatten() {
                    let at = format!("{operation_name} {status} {content_type}");
                    walk(&doc, &body["schema"], &at, &[], &mut found);
                }
            }
        }
    }
    assert!(found.is_empty(), "free-form schemas:\n{}", found.join("\n"));
}
