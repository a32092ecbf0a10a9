//! WebAuthn over HTTP: security keys, passkeys and platform ("biometric") keys are
//! registered through the account API and prove logins, with the soft authenticators of
//! `webauthn-authenticator-rs` (`SoftToken` for security keys, `SoftPasskey` for
//! passkeys) signing exactly what a browser would hand them.
//!
//! The soft authenticators cannot keep resident (discoverable) credentials nor pose as
//! a platform authenticator. `Device` plays that part as a browser and platform would:
//! it passes the creation options on without the resident-key and attachment requests
//! (requests to the client, not something the server can verify without attestation),
//! remembers the credential with its `user.id`, and at a discoverable sign-in lists its
//! own credentials for the site and returns the stored user handle, as a resident-key
//! authenticator does. Neither is covered by the authenticator's signature; everything
//! the server checks (challenge, origin, rp id, signature, flags, counter) is real.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::ports::{AuditLog, FactorRepository, WebauthnRepository};
use gatehouse_core::{AccountStatus, AuditKind, FactorId};
use reqwest::StatusCode;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use crate::factors::{
    ACCOUNT_SCOPE, Api, EMAIL, Login, PASSWORD, REDIRECT, World, account_api, amr, id_token_claims,
    problem, token_via_email_for, world_with,
};
use crate::support::TestDatabase;

/// Where the login UI runs: another port of `localhost` than the issuer's.
const ORIGIN: &str = "http://localhost:3000";
/// The `acr` of a phishing-resistant login (the configured value).
pub(crate) const PHR: &str = "phr";
/// The `acr` of any other login with a second factor.
pub(crate) const MFA: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";
const SOFTTOKEN_AAGUID: &str = "0fb9bcbc-a0d4-4042-bbb0-559bc1631e28";

async fn webauthn_world(db: TestDatabase) -> World {
    world_with(db, |c| {
        c.webauthn.allow_any_port = true;
    })
    .await
}

/// An authenticator in a browser on a device.
pub(crate) struct Device<A> {
    authenticator: A,
    /// (credential id, user handle) of the discoverable credentials it keeps.
    resident: Vec<(Vec<u8>, Vec<u8>)>,
}

impl<A: WebauthnAuthenticator> Device<A> {
    pub(crate) fn new(authenticator: A) -> Self {
        Self {
            authenticator,
            resident: Vec::new(),
        }
    }

    /// `navigator.credentials.create` with the options from the server.
    pub(crate) fn create(&mut self, options: &Value) -> Value {
        let mut options = options.clone();
        let selection = &mut options["publicKey"]["authenticatorSelection"];
        let resident =
            selection["requireResidentKey"] == true || selection["residentKey"] == "required";
        if let Some(selection) = selection.as_object_mut() {
            selection.remove("authenticatorAttachment");
            selection.insert("requireResidentKey".to_owned(), json!(false));
            selection.insert("residentKey".to_owned(), json!("discouraged"));
        }
        let user = URL_SAFE_NO_PAD
            .decode(
                options["publicKey"]["user"]["id"]
                    .as_str()
                    .expect("user.id"),
            )
            .expect("base64url user.id");
        let ccr: CreationChallengeResponse =
            serde_json::from_value(options).expect("creation options");
        let answer = self
            .authenticator
            .do_registration(Url::parse(ORIGIN).expect("origin"), ccr)
            .expect("the authenticator registers");
        if resident {
            self.resident.push((answer.raw_id.clone(), user));
        }
        serde_json::to_value(answer).expect("json")
    }

    /// `navigator.credentials.get` with the options from the server.
    pub(crate) fn get(&mut self, options: &Value) -> Value {
        let mut options = options.clone();
        let discoverable = options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty);
        if discoverable {
            options["publicKey"]["allowCredentials"] = self
                .resident
                .iter()
                .map(|(id, _)| json!({"type": "public-key", "id": URL_SAFE_NO_PAD.encode(id)}))
                .collect();
        }
        let rcr: RequestChallengeResponse =
            serde_json::from_value(options).expect("request options");
        let answer = self
            .authenticator
            .do_authentication(Url::parse(ORIGIN).expect("origin"), rcr)
            .expect("the authenticator signs");
        let mut answer = serde_json::to_value(&answer).expect("json");
        if discoverable {
            let used = answer["rawId"].as_str().expect("rawId").to_owned();
            let user = self
                .resident
                .iter()
                .find(|(id, _)| URL_SAFE_NO_PAD.encode(id) == used)
                .map(|(_, user)| URL_SAFE_NO_PAD.encode(user))
                .expect("a resident credential");
            answer["response"]["userHandle"] = json!(user);
        }
        answer
    }
}

pub(crate) fn security_key() -> Device<SoftToken> {
    Device::new(SoftToken::new(false).expect("soft token").0)
}

/// A passkey provider that verifies the user (`falsify_uv`: it says it did).
pub(crate) fn passkey_device() -> Device<SoftPasskey> {
    Device::new(SoftPasskey::new(true))
}

/// Adds a WebAuthn factor of `kind` through the account API; returns the factor id.
pub(crate) async fn enrol<A: WebauthnAuthenticator>(
    api: &Api<'_>,
    kind: &str,
    device: &mut Device<A>,
    name: &str,
) -> String {
    let (id, setup) = start(api, kind).await;
    let credential = device.create(&setup["public_key"]);
    let res = api
        .confirm(
            &id,
            json!({"kind": kind, "credential": credential, "name": name}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let confirmed: Value = res.json().await.expect("json");
    assert_eq!(confirmed["status"], "active");
    assert_eq!(confirmed["kind"], kind);
    assert_eq!(confirmed["label"], name);
    id
}

/// Starts an enrolment: the pending factor's id and the setup.
pub(crate) async fn start(api: &Api<'_>, kind: &str) -> (String, Value) {
    let res = api.start(json!({"kind": kind})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["factor"]["status"], "pending");
    let setup = body["setup"].clone();
    assert_eq!(setup["binary_encoding"], "base64url");
    assert!(setup["expires_in"].as_i64().is_some_and(|s| s > 0));
    let options = &setup["public_key"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["rp"]["name"], "Gatehouse");
    assert!(
        options["user"]["name"]
            .as_str()
            .is_some_and(|n| n.contains('@'))
    );
    for field in [&options["challenge"], &options["user"]["id"]] {
        let raw = URL_SAFE_NO_PAD
            .decode(field.as_str().expect("a base64url string"))
            .expect("base64url");
        assert!(raw.len() >= 16);
    }
    (body["factor"]["id"].as_str().expect("id").to_owned(), setup)
}

fn excluded(setup: &Value) -> Vec<String> {
    setup["public_key"]["publicKey"]["excludeCredentials"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| c["id"].as_str().expect("id").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Challenges `factor` in `login`; returns the request options.
pub(crate) async fn challenge(w: &World, login: &Login, factor: &str) -> Value {
    let body = login.challenge(w, factor).await;
    assert_eq!(body["binary_encoding"], "base64url");
    body["public_key"].clone()
}

pub(crate) async fn verify(
    w: &World,
    login: &Login,
    factor: &str,
    assertion: &Value,
) -> reqwest::Response {
    login
        .post(
            w,
            &format!("factors/{factor}/verify"),
            json!({
                "kind": login.offered_kind(factor).unwrap_or_else(|| "security_key".to_owned()),
                "credential": assertion,
            }),
        )
        .await
}

/// The answer of a finished login: `next` is `done`.
pub(crate) async fn done(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["next"], "done");
    body
}

fn stored_credentials(w: &World) -> Vec<gatehouse_core::webauthn::WebauthnCredential> {
    w.server
        .store()
        .webauthn_credentials_of(w.account.id)
        .expect("credentials")
}

fn factor_id(raw: &str) -> FactorId {
    FactorId(uuid::Uuid::parse_str(raw).expect("uuid"))
}

// ----- each kind: register, then sign in -----

async fn security_key_registers_and_signs_in(db: TestDatabase) {
    let w = webauthn_world(db).await;
    let api = account_api(&w).await;
    let mut key = security_key();
    let (id, setup) = start(&api, "security_key").await;
    assert_eq!(setup["public_key"]["publicKey"]["user"]["name"], EMAIL);
    let selection = &setup["public_key"]["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["authenticatorAttachment"], "cross-platform");
    // No credProtect request: with `userVerification: "preferred"` Chromium refuses
    // it as inconsistent (the soft token does not check; the browser tests do).
    assert_eq!(
        setup["public_key"]["publicKey"]
            .get("extensions")
            .and_then(|e| e.get("credentialProtectionPolicy")),
        None,
        "{setup}"
    );
    assert!(excluded(&setup).is_empty());
    let credential = key.create(&setup["public_key"]);
    let res = api
        .confirm(
            &id,
            json!({"kind": "security_key", "credential": credential, "name": "YubiKey"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let stored = stored_credentials(&w);
    assert_eq!(stored.len(), 1);
    let c = &stored[0];
    assert_eq!(c.factor_id, factor_id(&id));
    assert_eq!(c.credential_id, credential["id"].as_str().expect("id"));
    assert_eq!(c.aaguid.as_deref(), Some(SOFTTOKEN_AAGUID));
    assert!(!c.backup_eligible && !c.backup_state);
    assert!(!c.discoverable);

    // The next enrolment, of any WebAuthn kind, excludes it.
    let (_, next) = start(&api, "passkey").await;
    assert_eq!(excluded(&next), vec![c.credential_id.clone()]);

    // Login: password, then the key.
    let login = Login::begin(&w, "app", "openid").await;
    assert_eq!(login.offered_kinds(), vec!["security_key", "email_otp"]);
    let options = challenge(&w, &login, &id).await;
    let allowed: Vec<&str> = options["publicKey"]["allowCredentials"]
        .as_array()
        .expect("allowCredentials")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(allowed, vec![c.credential_id.as_str()]);
    let assertion = key.get(&options);
    let answer = done(verify(&w, &login, &id, &assertion).await).await;
    // No platform key yet, and the policy suggests one.
    assert_eq!(answer["offer_platform_enrolment"], true);
    let tokens = login.tokens_from(&w, &answer).await;
    let claims = id_token_claims(&tokens);
    assert_eq!(amr(&claims), vec!["pwd", "hwk", "mfa"]);
    assert_eq!(claims["acr"], PHR);

    let after = stored_credentials(&w);
    assert!(after[0].counter > c.counter, "the counter is stored");

    // Try another method: the key's challenge is out, the e-mail code finishes.
    let login = Login::begin(&w, "app", "openid").await;
    challenge(&w, &login, &id).await;
    let claims = id_token_claims(&login.finish_with_email_code(&w, EMAIL).await);
    assert_eq!(amr(&claims), vec!["pwd", "otp", "mfa"]);
    assert_eq!(claims["acr"], MFA);
    let factor = w
        .server
        .store()
        .factor_by_id(factor_id(&id))
        .expect("read")
        .expect("factor");
    assert!(factor.last_used_at.is_some());
}

#[tokio::test]
async fn sqlite_security_key_registers_and_signs_in() {
    security_key_registers_and_signs_in(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_security_key_registers_and_signs_in() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    security_key_registers_and_signs_in(db).await;
}

async fn passkey_and_platform_register_and_sign_in(db: TestDatabase) {
    let w = webauthn_world(db).await;
    let api = account_api(&w).await;
    let mut phone = passkey_device();
    let mut laptop = passkey_device();

    let (_, setup) = start(&api, "passkey").await;
    let selection = &setup["public_key"]["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required");
    assert_eq!(selection["userVerification"], "required");
    let passkey = enrol(&api, "passkey", &mut phone, "Phone").await;

    let (_, setup) = start(&api, "platform").await;
    let selection = &setup["public_key"]["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["authenticatorAttachment"], "platform");
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(excluded(&setup).len(), 1, "the passkey is excluded");
    // The browser reports a roaming authenticator: not a biometric key of this device.
    let (id, setup) = start(&api, "platform").await;
    let mut usb = Device::new(SoftToken::new(true).expect("soft token").0);
    let mut roaming = usb.create(&setup["public_key"]);
    roaming["authenticatorAttachment"] = json!("cross-platform");
    problem(
        api.confirm(&id, json!({"kind": "platform", "credential": roaming}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "webauthn_not_platform",
    )
    .await;
    let platform = enrol(&api, "platform", &mut laptop, "This laptop").await;

    let stored = stored_credentials(&w);
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|c| c.discoverable));
    // The soft passkey names no model (all-zero AAGUID).
    assert!(stored.iter().all(|c| c.aaguid.is_none()));

    let listed = api.list().await;
    let kinds: Vec<&str> = listed["factors"]
        .as_array()
        .expect("factors")
        .iter()
        .map(|f| f["kind"].as_str().expect("kind"))
        .collect();
    assert!(kinds.contains(&"passkey") && kinds.contains(&"platform"));

    for (factor, device) in [(&passkey, &mut phone), (&platform, &mut laptop)] {
        let login = Login::begin(&w, "app", "openid").await;
        let options = challenge(&w, &login, factor).await;
        assert_eq!(options["publicKey"]["userVerification"], "required");
        let answer = done(verify(&w, &login, factor, &device.get(&options)).await).await;
        // The account has a platform key now: nothing to suggest.
        assert_eq!(answer["offer_platform_enrolment"], false);
        let claims = id_token_claims(&login.tokens_from(&w, &answer).await);
        assert_eq!(amr(&claims), vec!["pwd", "hwk", "user", "mfa"]);
        assert_eq!(claims["acr"], PHR);
    }

    // One device's answer does not prove the other's factor.
    let login = Login::begin(&w, "app", "openid").await;
    let options = challenge(&w, &login, &passkey).await;
    let mut tampered = options.clone();
    tampered["publicKey"]["allowCredentials"] = json!([]);
    let wrong = laptop.get(&tampered);
    problem(
        verify(&w, &login, &passkey, &wrong).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "webauthn_invalid",
    )
    .await;
}

#[tokio::test]
async fn sqlite_passkey_and_platform_register_and_sign_in() {
    passkey_and_platform_register_and_sign_in(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_passkey_and_platform_register_and_sign_in() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    passkey_and_platform_register_and_sign_in(db).await;
}

#[tokio::test]
async fn the_platform_offer_follows_the_policy() {
    let w = world_with(TestDatabase::sqlite(), |c| {
        c.webauthn.allow_any_port = true;
        c.webauthn.offer_platform_enrolment = false;
    })
    .await;
    let api = account_api(&w).await;
    let mut key = security_key();
    let id = enrol(&api, "security_key", &mut key, "Key").await;
    let login = Login::begin(&w, "app", "openid").await;
    let options = challenge(&w, &login, &id).await;
    let answer = done(verify(&w, &login, &id, &key.get(&options)).await).await;
    assert_eq!(answer["offer_platform_enrolment"], false);
}

// ----- password-less sign-in -----

async fn a_passkey_signs_in_without_a_password(db: TestDatabase) {
    let w = webauthn_world(db).await;
    let api = account_api(&w).await;
    let mut phone = passkey_device();
    let passkey = enrol(&api, "passkey", &mut phone, "Phone").await;

    let login = Login::authorize(&w, "app", "openid email", &[]).await;
    let view: Value = w
        .server
        .client
        .get(w.server.url(&format!("/api/v1/login/{}", login.challenge)))
        .send()
        .await
        .expect("view")
        .json()
        .await
        .expect("json");
    // Another browser cannot see it; ours must send its cookie.
    assert_eq!(view["code"], "browser_mismatch");
    let view = login.view(&w).await;
    assert_eq!(view["next"], "password");
    assert_eq!(view["passkey_sign_in"], true);

    let res = login.post(&w, "passkey/challenge", json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    let options = &body["public_key"];
    assert_eq!(options["mediation"], "conditional");
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "the authenticator chooses: no credential is named"
    );
    let assertion = phone.get(options);
    let res = login
        .post(&w, "passkey/verify", json!({"credential": assertion}))
        .await;
    assert!(
        res.headers().get_all("set-cookie").iter().any(|c| c
            .to_str()
            .is_ok_and(|c| c.starts_with("gatehouse_session="))),
        "a session cookie"
    );
    let answer = done(res).await;
    let tokens = login.tokens_from(&w, &answer).await;
    let claims = id_token_claims(&tokens);
    assert_eq!(amr(&claims), vec!["hwk", "user", "mfa"]);
    assert_eq!(claims["acr"], PHR);
    assert_eq!(claims["sub"], w.account.subject.to_string());
    let factor = w
        .server
        .store()
        .factor_by_id(factor_id(&passkey))
        .expect("read")
        .expect("factor");
    assert!(factor.last_used_at.is_some());

    // The same assertion cannot be replayed into a new login.
    let again = Login::authorize(&w, "app", "openid", &[]).await;
    let res = again.post(&w, "passkey/challenge", json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    problem(
        again
            .post(&w, "passkey/verify", json!({"credential": assertion}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "webauthn_invalid",
    )
    .await;
}

#[tokio::test]
async fn sqlite_a_passkey_signs_in_without_a_password() {
    a_passkey_signs_in_without_a_password(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_a_passkey_signs_in_without_a_password() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    a_passkey_signs_in_without_a_password(db).await;
}

// ----- refusals -----

async fn a_counter_regression_is_refused_and_audited(db: TestDatabase) {
    let w = webauthn_world(db).await;
    let api = account_api(&w).await;
    let mut key = security_key();
    let id = enrol(&api, "security_key", &mut key, "Key").await;
    // A copy of the key as it is now: its counter will lag behind the original's.
    let copy = SoftToken::from_cbor(&key.authenticator.to_cbor().expect("cbor")).expect("copy");
    let mut copy = Device::new(copy);

    let login = Login::begin(&w, "app", "openid").await;
    let options = challenge(&w, &login, &id).await;
    done(verify(&w, &login, &id, &key.get(&options)).await).await;
    let counter = stored_credentials(&w)[0].counter;

    let login = Login::begin(&w, "app", "openid").await;
    let options = challenge(&w, &login, &id).await;
    problem(
        verify(&w, &login, &id, &copy.get(&options)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "webauthn_counter_regression",
    )
    .await;
    assert_eq!(stored_credentials(&w)[0].counter, counter, "not moved");
    let events = w
        .server
        .store()
        .events_of(w.account.id, None, 50)
        .expect("audit");
    let flagged = events.iter().find(|e| {
        e.event.kind == AuditKind::LoginFailed
            && e.event.detail.get("reason").map(String::as_str)
                == Some("webauthn_counter_regression")
    });
    let flagged = flagged.expect("the regression is audited");
    assert_eq!(flagged.event.detail.get("factor_id"), Some(&id));
    // The login is still valid: the original key (or another method) finishes it.
    let options = challenge(&w, &login, &id).await;
    done(verify(&w, &login, &id, &key.get(&options)).await).await;
}

#[tokio::test]
async fn sqlite_a_counter_regression_is_refused_and_audited() {
    a_counter_regression_is_refused_and_audited(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_a_counter_regression_is_refused_and_audited() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    a_counter_regression_is_refused_and_audited(db).await;
}

#[tokio::test]
async fn an_assertion_for_another_accounts_challenge_is_refused() {
    let w = webauthn_world(TestDatabase::sqlite()).await;
    let rie_api = account_api(&w).await;
    let mut rie = security_key();
    let rie_key = enrol(&rie_api, "security_key", &mut rie, "Rie's key").await;
    let ken_email = "ken@example.com";
    w.server
        .create_account(ken_email, Some(PASSWORD), AccountStatus::Active);
    let ken_api = Api {
        w: &w,
        token: Some(token_via_email_for(&w, ken_email, "app", ACCOUNT_SCOPE).await),
    };
    let mut ken = security_key();
    let ken_key = enrol(&ken_api, "security_key", &mut ken, "Ken's key").await;
    let ken_credential = w
        .server
        .store()
        .webauthn_credential_of_factor(factor_id(&ken_key))
        .expect("read")
        .expect("stored")
        .credential_id;

    // Ken's login challenges his key; his authenticator answers it.
    let mut ken_login = Login::authorize(&w, "app", "openid", &[]).await;
    ken_login.password(&w, ken_email).await;
    let ken_options = challenge(&w, &ken_login, &ken_key).await;
    let ken_assertion = ken.get(&ken_options);

    // Rie's login: Ken's assertion (made for Ken's challenge) is refused for her key,
    // and Ken's factor is no factor of hers.
    let login = Login::begin(&w, "app", "openid").await;
    let rie_options = challenge(&w, &login, &rie_key).await;
    problem(
        verify(&w, &login, &rie_key, &ken_assertion).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "webauthn_invalid",
    )
    .await;
    problem(
        verify(&w, &login, &ken_key, &ken_assertion).await,
        StatusCode::NOT_FOUND,
        "factor_not_found",
    )
    .await;
    // Ken's key signing Rie's very challenge is refused too: not her credential.
    let rie_options_again = challenge(&w, &login, &rie_key).await;
    let mut for_ken = rie_options_again.clone();
    for_ken["publicKey"]["allowCredentials"] =
        json!([{"type": "public-key", "id": ken_credential}]);
    problem(
        verify(&w, &login, &rie_key, &ken.get(&for_ken)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "webauthn_invalid",
    )
    .await;
    // An answer to an older challenge of hers is no good either: that one was replaced.
    problem(
        verify(&w, &login, &rie_key, &rie.get(&rie_options)).await,
        StatusCode::GONE,
        "webauthn_ceremony_expired",
    )
    .await;
    // Both logins are still good for their owners.
    let options = challenge(&w, &login, &rie_key).await;
    done(verify(&w, &login, &rie_key, &rie.get(&options)).await).await;
    done(verify(&w, &ken_login, &ken_key, &ken_assertion).await).await;
}

#[tokio::test]
async fn sqlite_ceremonies_are_single_use_and_expire() {
    ceremonies_are_single_use_and_expire(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_ceremonies_are_single_use_and_expire() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    ceremonies_are_single_use_and_expire(db).await;
}

async fn ceremonies_are_single_use_and_expire(db: TestDatabase) {
    let w = world_with(db, |c| {
        c.webauthn.allow_any_port = true;
        c.webauthn.ceremony_ttl_seconds = 60;
    })
    .await;
    let api = account_api(&w).await;
    let mut key = security_key();

    // Enrolment: an answer after the ceremony expired is refused; so is a second use.
    let (id, setup) = start(&api, "security_key").await;
    let credential = key.create(&setup["public_key"]);
    w.clock.advance(chrono::TimeDelta::seconds(61));
    problem(
        api.confirm(
            &id,
            json!({"kind": "security_key", "credential": credential}),
        )
        .await,
        StatusCode::GONE,
        "webauthn_ceremony_expired",
    )
    .await;
    let (id, setup) = start(&api, "security_key").await;
    let credential = key.create(&setup["public_key"]);
    let mut broken = credential.clone();
    broken["response"]["clientDataJSON"] = json!(URL_SAFE_NO_PAD.encode(b"{}"));
    problem(
        api.confirm(&id, json!({"kind": "security_key", "credential": broken}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "webauthn_invalid",
    )
    .await;
    problem(
        api.confirm(
            &id,
            json!({"kind": "security_key", "credential": credential}),
        )
        .await,
        StatusCode::GONE,
        "webauthn_ceremony_expired",
    )
    .await;
    let id = enrol(&api, "security_key", &mut key, "Key").await;

    // Login: the challenge expires; a new one works once.
    let login = Login::begin(&w, "app", "openid").await;
    let options = challenge(&w, &login, &id).await;
    let late = key.get(&options);
    w.clock.advance(chrono::TimeDelta::seconds(61));
    problem(
        verify(&w, &login, &id, &late).await,
        StatusCode::GONE,
        "webauthn_ceremony_expired",
    )
    .await;
    let options = challenge(&w, &login, &id).await;
    let assertion = key.get(&options);
    let (first, second) = tokio::join!(
        verify(&w, &login, &id, &assertion),
        verify(&w, &login, &id, &assertion)
    );
    let statuses = [first.status(), second.status()];
    assert!(
        statuses.contains(&StatusCode::OK),
        "one of two racing answers wins: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
}

// ----- phishing resistance -----

#[tokio::test]
async fn phishing_resistant_acr_offers_only_webauthn_factors() {
    let w = webauthn_world(TestDatabase::sqlite()).await;
    let discovery: Value = w
        .server
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .expect("json");
    let acrs = discovery["acr_values_supported"]
        .as_array()
        .expect("acr_values_supported");
    assert!(acrs.contains(&json!(PHR)), "{acrs:?}");

    // Before the account has a WebAuthn factor, nothing can satisfy a client that
    // asks for phishing resistance only: the login ends, and the browser goes back to
    // the client with unmet_authentication_requirements.
    let mut login = Login::authorize(
        &w,
        "app",
        "openid",
        &[("acr_values", PHR), ("state", "st-unmet")],
    )
    .await;
    login.password(&w, EMAIL).await;
    assert_eq!(login.offered["next"], "return_to_client");
    assert_eq!(login.offered["factors"], json!([]));
    let back =
        url::Url::parse(login.offered["redirect_to"].as_str().expect("redirect_to")).expect("url");
    let params: std::collections::HashMap<String, String> =
        back.query_pairs().into_owned().collect();
    assert_eq!(params["error"], "unmet_authentication_requirements");
    assert_eq!(params["state"], "st-unmet");
    assert_eq!(params["iss"], w.server.config.server.issuer);
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    problem(
        login.post(&w, "factors/email/challenge", json!({})).await,
        StatusCode::CONFLICT,
        "login_request_completed",
    )
    .await;

    let api = account_api(&w).await;
    let mut key = security_key();
    let id = enrol(&api, "security_key", &mut key, "Key").await;
    let codes = api.new_recovery_codes().await;

    let mut login = Login::authorize(&w, "app", "openid", &[("acr_values", PHR)]).await;
    login.password(&w, EMAIL).await;
    assert_eq!(login.offered_kinds(), vec!["security_key"]);
    assert_eq!(login.offered["default_factor"], json!(id));
    // Not offered, and not accepted either.
    problem(
        login.post(&w, "factors/email/challenge", json!({})).await,
        StatusCode::CONFLICT,
        "factor_not_allowed",
    )
    .await;
    let recovery = login.offered("recovery_code");
    assert!(recovery.is_none());
    let options = challenge(&w, &login, &id).await;
    let answer = done(verify(&w, &login, &id, &key.get(&options)).await).await;
    let claims = id_token_claims(&login.tokens_from(&w, &answer).await);
    assert_eq!(claims["acr"], PHR);
    assert_eq!(amr(&claims), vec!["pwd", "hwk", "mfa"]);

    // A client that asks for multi-factor gets that value, even when a key proved it.
    let mut login = Login::authorize(&w, "app", "openid", &[("acr_values", MFA)]).await;
    login.password(&w, EMAIL).await;
    assert!(
        login.offered("email_otp").is_some(),
        "every factor is offered"
    );
    let options = challenge(&w, &login, &id).await;
    let answer = done(verify(&w, &login, &id, &key.get(&options)).await).await;
    let claims = id_token_claims(&login.tokens_from(&w, &answer).await);
    assert_eq!(claims["acr"], MFA);

    // Without the request, the ordinary login says multi-factor.
    let login = Login::begin(&w, "app", "openid").await;
    assert!(login.offered("recovery_code").is_some());
    let done_res = login
        .verify(&w, &login.offered("recovery_code").expect("rc"), &codes[0])
        .await;
    let claims = id_token_claims(&login.tokens(&w, done_res).await);
    assert_eq!(claims["acr"], MFA);
}

// ----- re-registration (scenario A) with a passkey -----

/// The registration link runs the passkey module's own enrolment (no bearer caller,
/// just the account), and the passkey then signs in without a password.
async fn a_passkey_is_set_up_at_re_registration_and_signs_in(db: TestDatabase) {
    let site = crate::registration::site(db, |c| c.webauthn.allow_any_port = true).await;
    let input = site.write(
        "users.jsonl",
        r#"{"legacy_subject": "legacy-pk", "email": "pk@example.com"}"#,
    );
    site.run(&["accounts", "import", input.to_str().expect("path")]);
    site.run(&["invitations", "send", "--all-pending"]);
    let (_, token) =
        crate::registration::registration_mail(site.mail_dir.path(), "pk@example.com", 0).await;
    let http = &site.server.client;
    let at = |rest: &str| {
        site.server
            .url(&format!("/api/v1/registration/{token}{rest}"))
    };
    let password = crate::registration::NEW_PASSWORD;
    let res = http
        .post(at("/password"))
        .json(&json!({"password": password, "password_confirmation": password}))
        .send()
        .await
        .expect("password");
    assert_eq!(res.status(), StatusCode::OK);
    let step: Value = res.json().await.expect("json");
    let choices = step["choices"].as_array().expect("choices");
    for kind in ["security_key", "passkey", "platform"] {
        assert!(choices.contains(&json!(kind)), "{kind}: {choices:?}");
    }
    let res = http
        .post(at("/factors"))
        .json(&json!({"kind": "passkey"}))
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), StatusCode::CREATED);
    let started: Value = res.json().await.expect("json");
    let factor = started["factor"]["id"].as_str().expect("id").to_owned();
    let options = &started["setup"]["public_key"];
    assert_eq!(options["publicKey"]["rp"]["name"], "Support Portal");
    assert_eq!(options["publicKey"]["user"]["name"], "pk@example.com");
    let mut phone = passkey_device();
    let credential = phone.create(options);
    let res = http
        .post(at(&format!("/factors/{factor}/confirm")))
        .json(&json!({"kind": "passkey", "credential": credential, "name": "Phone"}))
        .send()
        .await
        .expect("confirm");
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let res = http
        .post(at("/complete"))
        .json(&json!({"second_factor": "passkey"}))
        .send()
        .await
        .expect("complete");
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);

    // Password-less sign-in at the portal's next login.
    let browser = site.server.browser();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", "portal"),
            ("redirect_uri", "https://portal.example.com/cb"),
            ("scope", "openid"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let res = browser
        .get(site.server.url(&format!("/authorize?{query}")))
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), StatusCode::FOUND);
    let location =
        url::Url::parse(res.headers()["location"].to_str().expect("ascii")).expect("location");
    let challenge = location
        .query_pairs()
        .find(|(k, _)| k == "login_challenge")
        .map(|(_, v)| v.into_owned())
        .expect("login_challenge");
    let step = |name: &str| {
        site.server
            .url(&format!("/api/v1/login/{challenge}/passkey/{name}"))
    };
    let res = browser.post(step("challenge")).send().await.expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    let assertion = phone.get(&body["public_key"]);
    let res = browser
        .post(step("verify"))
        .json(&json!({"credential": assertion}))
        .send()
        .await
        .expect("post");
    let answer = done(res).await;
    assert!(
        answer["redirect_to"]
            .as_str()
            .is_some_and(|r| r.starts_with("https://portal.example.com/cb?code=")),
        "{answer}"
    );
}

#[tokio::test]
async fn sqlite_a_passkey_is_set_up_at_re_registration_and_signs_in() {
    a_passkey_is_set_up_at_re_registration_and_signs_in(TestDatabase::sqlite()).await;
}
