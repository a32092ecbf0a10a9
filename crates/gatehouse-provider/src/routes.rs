//! The documented routes, in one list: the server mounts it, the OpenAPI
//! generator reads it.

use crate::{api, health, jwks, oidc};

/// Every documented route, on either kind of service config: both take the same
/// handlers with `.service(…)`.
macro_rules! each_route {
    ($cfg:ident) => {
        $cfg.service(health::healthz)
            .service(health::readyz)
            .service(jwks::jwks)
            .service(oidc::discovery::openid_configuration)
            .service(oidc::authorize::authorize_get)
            .service(oidc::authorize::authorize_post)
            .service(oidc::par::push)
            .service(oidc::token::token)
            .service(oidc::userinfo::userinfo_get)
            .service(oidc::userinfo::userinfo_post)
            .service(oidc::revoke::revoke)
            .service(oidc::revoke::introspect)
            .service(oidc::end_session::end_session_get)
            .service(oidc::end_session::end_session_post)
            .service(api::login::get_login)
            .service(api::login::password)
            .service(api::passwordless::challenge)
            .service(api::passwordless::verify)
            .service(api::second_factor::challenge)
            .service(api::second_factor::verify)
            .service(api::consent::get_consent)
            .service(api::consent::post_consent)
            .service(api::login_enrolment::start)
            .service(api::login_enrolment::confirm)
            .service(api::logout::get_logout)
            .service(api::logout::answer_logout)
            .service(api::registration::resend)
            .service(api::registration::get_registration)
            .service(api::registration::set_password)
            .service(api::registration::start_factor)
            .service(api::registration::confirm_factor)
            .service(api::registration::complete)
            .service(api::admin::import_accounts)
            .service(api::admin::get_migration_status)
            .service(api::admin::resend_registration_link)
            .service(api::admin_accounts::search)
            .service(api::admin_accounts::show)
            .service(api::admin_accounts::events)
            .service(api::account_grants::admin_grants)
            .service(api::admin_accounts::disable)
            .service(api::admin_accounts::enable)
            .service(api::admin_accounts::unlock)
            .service(api::admin_accounts::logout)
            .service(api::admin_accounts::erase)
            .service(api::admin_clients::list)
            .service(api::admin_clients::create)
            .service(api::admin_clients::show)
            .service(api::admin_clients::change)
            .service(api::admin_clients::rotate)
            .service(api::admin_clients::remove)
            .service(api::account::get_profile)
            .service(api::account::patch_profile)
            .service(api::account::change_password)
            .service(api::account::list_sessions)
            .service(api::account::revoke_other_sessions)
            .service(api::account::revoke_session)
            .service(api::account::list_events)
            .service(api::account_grants::list_grants)
            .service(api::account_grants::revoke_grant)
            .service(api::account_email::request_change)
            .service(api::account_email::confirm_change)
            .service(api::account_email::undo_change)
            .service(api::account_factors::list)
            .service(api::account_factors::start_enrolment)
            .service(api::account_factors::regenerate_recovery_codes)
            .service(api::account_factors::confirm_enrolment)
            .service(api::account_factors::remove)
            .service(api::push_device::register)
            .service(api::push_device::pending)
            .service(api::push_device::answer)
    };
}

/// Every documented route with its OpenAPI fragment, for the generator
/// (`openapi::document`).
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    each_route!(cfg);
}

/// The same routes as the server mounts them: on a plain actix `App`, since utoipa's
/// would build the whole OpenAPI document again in every worker (7 MB of short-lived
/// allocations each, which the allocator then keeps).
pub fn mount(cfg: &mut actix_web::web::ServiceConfig) {
    each_route!(cfg);
}
