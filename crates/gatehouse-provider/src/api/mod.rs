//! The headless JSON API the frontend renders every screen from (problem+json errors).

pub mod account_auth;
pub mod account_factors;
pub mod admin;
pub mod bearer;
pub mod login;
pub mod origin;
pub mod passwordless;
pub mod registration;
pub mod second_factor;
