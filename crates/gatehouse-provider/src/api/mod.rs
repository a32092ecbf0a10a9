//! The headless JSON API the frontend renders every screen from (problem+json errors).

pub mod login;
pub mod second_factor;
