//! The Gatehouse HTTP server: the OpenID Connect provider and the headless JSON API.

pub mod api;
pub mod app;
pub mod backchannel_logout;
pub mod background;
pub mod clients;
pub mod config;
pub mod cors;
pub mod crypto;
pub mod factors;
pub mod fallback;
pub mod form_post;
pub mod health;
pub mod janitor;
pub mod jwks;
pub mod mail;
pub mod metrics;
pub mod migration;
pub mod oidc;
pub mod openapi;
pub mod password_pool;
pub mod periodic;
pub mod problem;
pub mod push_notifier;
pub mod request_id;
pub mod routes;
pub mod state;
pub mod tagged_union;
pub mod telemetry;
pub mod ui;

pub use app::{Application, StartError};
pub use config::{Config, ConfigError};
