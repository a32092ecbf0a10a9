//! After the login: the biometric key a finished login offers, added from the login's
//! own browser (`POST /api/v1/login/{login_challenge}/enrolment`, then `…/confirm`),
//! once, within minutes; and the way back to the application from a login that is over
//! (`return_to` on `login_request_expired` / `login_request_completed`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use chrono::TimeDelta;
use gatehouse_core::AuditKind;
use gatehouse_core::ports::AuditLog;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::factors::{EMAIL, Login, REDIRECT, World, count_codes, nth_code, problem, world_with};
use crate::support::TestDatabase;
use crate::webauthn::{done, passkey_device};

async fn world(db: TestDatabase) -> World {
    world_with(db, |c| c.webauthn.allow_any_port = true).await
}

/// Finishes `login` with the mailed code; the answer of the finished login.
async fn finish(w: &World, login: &Login) -> Value {
    let before = count_codes(w.mail_dir.path(), EMAIL);
    login.challenge(w, "email").await;
    let code = nth_code(w.mail_dir.path(), EMAIL, before).await;
    done(login.verify(w, "email", &code).await).await
}

async fn enrolment(w: &World, login: &Login) -> reqwest::Response {
    login.post(w, "enrolment", json!({})).await
}

async fn confirm(w: &World, login: &Login, body: Value) -> reqwest::Response {
    login.post(w, "enrolment/confirm", body).await
}

/// Starting and confirming are both refused with `refusal`.
async fn both_refused(
    w: &World,
    login: &Login,
    credential: &Value,
    (status, code): (StatusCode, &str),
) {
    problem(enrolment(w, login).await, status, code).await;
    let body = json!({"kind": "platform", "credential": credential});
    problem(confirm(w, login, body).await, status, code).await;
}

async fn a_finished_login_adds_one_biometric_key(db: TestDatabase) {
    let w = world(db).await;
    let login = Login::begin(&w, "app", "openid").await;
    // Not before the login has finished.
    problem(
        enrolment(&w, &login).await,
        StatusCode::CONFLICT,
        "login_not_finished",
    )
    .await;
    let answer = finish(&w, &login).await;
    assert_eq!(answer["offer_platform_enrolment"], true);

    // Another browser (without the login's cookie) cannot use the offer.
    let stranger = w
        .server
        .browser()
        .post(
            w.server
                .url(&format!("/api/v1/login/{}/enrolment", login.challenge)),
        )
        .send()
        .await
        .expect("post");
    problem(stranger, StatusCode::FORBIDDEN, "browser_mismatch").await;
    // Nothing started yet: nothing to confirm.
    problem(
        confirm(&w, &login, json!({"kind": "platform", "credential": {}})).await,
        StatusCode::NOT_FOUND,
        "factor_not_found",
    )
    .await;

    let res = enrolment(&w, &login).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let started: Value = res.json().await.expect("json");
    assert_eq!(started["factor"]["kind"], "platform");
    assert_eq!(started["factor"]["status"], "pending");
    let options = &started["setup"]["public_key"];
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["authenticatorAttachment"],
        "platform"
    );
    let mut laptop = passkey_device();
    let credential = laptop.create(options);
    let res = confirm(
        &w,
        &login,
        json!({"kind": "platform", "credential": credential, "name": "This laptop"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let factor: Value = res.json().await.expect("json");
    assert_eq!(factor["status"], "active");
    assert_eq!(factor["name"], "This laptop");

    // Audited like the account API's enrolment, with the client and the way it came.
    let events = w
        .server
        .store()
        .events_of(w.account.id, None, 100)
        .expect("audit");
    let added = events
        .iter()
        .find(|e| e.event.kind == AuditKind::FactorAdded)
        .expect("factor_added");
    assert_eq!(added.event.detail["kind"], "platform");
    assert_eq!(added.event.detail["client_id"], "app");
    assert_eq!(added.event.detail["via"], "login");

    // Once: the offer is used up, for a start and for a confirmation alike.
    let refusal = (StatusCode::CONFLICT, "platform_enrolment_not_offered");
    both_refused(&w, &login, &credential, refusal).await;
    // The login's code still takes the user back to the application.
    let tokens = login.tokens_from(&w, &answer).await;
    assert!(tokens["id_token"].is_string());
}

#[tokio::test]
async fn sqlite_a_finished_login_adds_one_biometric_key() {
    a_finished_login_adds_one_biometric_key(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_a_finished_login_adds_one_biometric_key() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    a_finished_login_adds_one_biometric_key(db).await;
}

#[tokio::test]
async fn the_offer_lapses_minutes_after_the_login() {
    let w = world(TestDatabase::sqlite()).await;
    let login = Login::begin(&w, "app", "openid").await;
    finish(&w, &login).await;
    let res = enrolment(&w, &login).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let started: Value = res.json().await.expect("json");
    w.clock.advance(TimeDelta::minutes(5));
    let credential = passkey_device().create(&started["setup"]["public_key"]);
    let refusal = (StatusCode::GONE, "login_request_expired");
    both_refused(&w, &login, &credential, refusal).await;
}

#[tokio::test]
async fn no_offer_where_the_policy_says_no() {
    let w = world_with(TestDatabase::sqlite(), |c| {
        c.webauthn.allow_any_port = true;
        c.webauthn.offer_platform_enrolment = false;
    })
    .await;
    let login = Login::begin(&w, "app", "openid").await;
    let answer = finish(&w, &login).await;
    assert_eq!(answer["offer_platform_enrolment"], false);
    problem(
        enrolment(&w, &login).await,
        StatusCode::CONFLICT,
        "platform_enrolment_not_offered",
    )
    .await;
}

/// The query of a URL, by name.
fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

/// `GET /api/v1/login/{login_challenge}` of `login`, from `browser`.
async fn view(w: &World, browser: &reqwest::Client, login: &Login) -> reqwest::Response {
    let path = format!("/api/v1/login/{}", login.challenge);
    browser.get(w.server.url(&path)).send().await.expect("view")
}

async fn an_ended_login_leads_back_to_the_application(db: TestDatabase) {
    let w = world(db).await;
    let state = "af0ifjsldkj";
    // Expired: the view answers 410 with the way back.
    let login = Login::authorize(&w, "app", "openid", &[("state", state)]).await;
    w.clock.advance(TimeDelta::minutes(11));
    let res = view(&w, &login.browser, &login).await;
    let body = problem(res, StatusCode::GONE, "login_request_expired").await;
    let back = body["return_to"].as_str().expect("return_to");
    assert!(back.starts_with(&format!("{REDIRECT}?")), "{back}");
    let query = query_of(back);
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["error_description"], "the login request expired");
    assert_eq!(query["state"], state);
    assert_eq!(query["iss"], w.server.config.server.issuer.as_str());
    assert!(!query.contains_key("code"));
    // Refused at every step the same way.
    let res = login
        .post(
            &w,
            "password",
            json!({"identifier": EMAIL, "password": "x"}),
        )
        .await;
    let body = problem(res, StatusCode::GONE, "login_request_expired").await;
    assert_eq!(body["return_to"].as_str(), Some(back));

    // Finished: 409 with the way back (without `state` when the client sent none).
    let login = Login::begin(&w, "app", "openid").await;
    finish(&w, &login).await;
    let res = view(&w, &login.browser, &login).await;
    let body = problem(res, StatusCode::CONFLICT, "login_request_completed").await;
    let query = query_of(body["return_to"].as_str().expect("return_to"));
    assert_eq!(query["error"], "access_denied");
    assert!(!query.contains_key("state"));

    // Another browser learns nothing, the way back included.
    let res = view(&w, &w.server.browser(), &login).await;
    let body = problem(res, StatusCode::FORBIDDEN, "browser_mismatch").await;
    assert!(body.get("return_to").is_none());
}

#[tokio::test]
async fn sqlite_an_ended_login_leads_back_to_the_application() {
    an_ended_login_leads_back_to_the_application(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_an_ended_login_leads_back_to_the_application() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    an_ended_login_leads_back_to_the_application(db).await;
}
