//! What answers when no route matched: 405 with `Allow` for a documented path asked
//! with another method (RFC 9110 §15.5.6), 404 for anything else.

use actix_web::dev::ResourceDef;
use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::de::IgnoredAny;
use std::collections::BTreeMap;

use crate::problem::{Problem, ProblemCode};

/// Each documented path with the methods it answers, from the OpenAPI document.
#[derive(Debug)]
pub struct AllowedMethods(Vec<(ResourceDef, HeaderValue)>);

impl AllowedMethods {
    /// From an OpenAPI document's JSON: only its paths and their operations are read.
    pub fn from_document(document: &str) -> Result<Self, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct Paths {
            paths: BTreeMap<String, BTreeMap<String, IgnoredAny>>,
        }
        let Paths { paths } = serde_json::from_str(document)?;
        let routes = paths
            .iter()
            .filter_map(|(path, operations)| {
                let methods: Vec<&str> = ["GET", "PUT", "POST", "DELETE", "PATCH"]
                    .into_iter()
                    .filter(|name| operations.contains_key(&name.to_ascii_lowercase()))
                    .collect();
                // OpenAPI path templates ({id}) are actix's pattern syntax too.
                let allow = HeaderValue::from_str(&methods.join(", ")).ok()?;
                Some((ResourceDef::new(path.as_str()), allow))
            })
            .collect();
        Ok(Self(routes))
    }

    fn allowed(&self, path: &str) -> Option<&HeaderValue> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, allow)| allow)
    }
}

pub async fn fallback(req: HttpRequest, routes: web::Data<AllowedMethods>) -> HttpResponse {
    match routes.allowed(req.path()) {
        Some(allow) => {
            let problem = Problem::new(ProblemCode::MethodNotAllowed, "Method not allowed")
                .with_detail(format!(
                    "{} is not one of: {}",
                    req.method(),
                    allow.to_str().unwrap_or("")
                ));
            let mut res = problem.error_response();
            res.headers_mut().insert(ALLOW, allow.clone());
            res
        }
        None => Problem::not_found().error_response(),
    }
}
