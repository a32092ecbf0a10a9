//! What answers when no route matched: 405 with `Allow` for a documented path asked
//! with another method (RFC 9110 §15.5.6), 404 for anything else.

use actix_web::dev::ResourceDef;
use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use utoipa::openapi::OpenApi;

use crate::problem::{Problem, ProblemCode};

/// Each documented path with the methods it answers, from the OpenAPI document.
#[derive(Debug)]
pub struct AllowedMethods(Vec<(ResourceDef, HeaderValue)>);

impl AllowedMethods {
    pub fn from_document(document: &OpenApi) -> Self {
        let routes = document
            .paths
            .paths
            .iter()
            .filter_map(|(path, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(name, present)| present.then_some(name))
                .collect();
                // OpenAPI path templates ({id}) are actix's pattern syntax too.
                let allow = HeaderValue::from_str(&methods.join(", ")).ok()?;
                Some((ResourceDef::new(path.as_str()), allow))
            })
            .collect();
        Self(routes)
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
