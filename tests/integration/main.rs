//! Gatehouse end to end: one test binary, driving the real server over HTTP, the store
//! on SQLite and PostgreSQL, and the `gatehouse` command.
//!
//! PostgreSQL tests run when `GATEHOUSE_TEST_POSTGRES_URL` names a database (CI sets
//! it); without it they print SKIPPED and pass, except under `CI`, where they fail.

mod account;
mod authorize;
mod backchannel_logout;
mod brute_force;
mod claims;
mod cli;
mod clients;
mod cluster;
mod config;
mod conformance;
mod consent;
mod crypto;
mod dpop;
mod factors;
mod flow;
mod http;
mod import;
mod keys;
mod login;
mod login_enrolment;
mod logs;
mod mail;
mod migrations;
mod par;
mod push;
mod registration;
mod scenario_b;
mod shutdown;
mod store;
mod support;
mod token;
mod ui;
mod webauthn;
