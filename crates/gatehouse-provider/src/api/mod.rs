//! The headless JSON API the frontend renders every screen from (problem+json errors).

pub mod account;
pub mod account_auth;
pub mod account_email;
pub mod account_factors;
pub mod account_grants;
pub mod admin;
pub mod admin_accounts;
pub mod admin_clients;
pub mod bearer;
pub mod brute_force;
pub mod consent;
pub mod login;
pub mod login_enrolment;
pub mod logout;
pub mod origin;
pub mod password_rules;
pub mod passwordless;
pub mod push_device;
pub mod registration;
pub mod second_factor;
