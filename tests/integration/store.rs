//! The repository suite, run unchanged on SQLite and on PostgreSQL.

use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::authorization::{AuthorizationRequest, Prompt, PushedRequest};
use gatehouse_core::client::TokenLifetimes;
use gatehouse_core::grant::{AuthorizationCode, Session};
use gatehouse_core::login::LoginRequest;
use gatehouse_core::otp::OtpChallenge;
use gatehouse_core::ports::{
    AccessTokenRevocations, AccountRepository, AuditLog, AuthorizationCodeRepository,
    ClientAssertionLedger, ClientRepository, FactorRepository, LoginRequestRepository,
    OtpRepository, PushedRequestRepository, RateLimits, RepositoryError, SessionRepository,
    SigningKeyRepository, UniqueField, WebauthnRepository,
};
use gatehouse_core::signing_key::{KeyStatus, SigningKeyRecord};
use gatehouse_core::webauthn::{Ceremony, WebauthnCredential};
use gatehouse_core::{
    Account, AccountId, AccountStatus, AuditKind, Client, ClientId, Email, Factor, FactorId,
    FactorKind, FactorStatus, GrantType, LegacyUsername, NewAuditEvent, SigningAlg, Subject,
    TokenEndpointAuthMethod,
};
use gatehouse_store::Store;

/// Whole milliseconds: the store keeps instants to the millisecond.
fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000 + seconds, 0).expect("valid instant")
}

fn account(subject: &str, email: &str) -> Account {
    Account::new(
        Subject::parse(subject).expect("subject"),
        Some(Email::parse(email).expect("email")),
        AccountStatus::PendingRegistration,
        at(0),
    )
}

fn factor(account: AccountId, kind: FactorKind, created: i64) -> Factor {
    Factor {
        id: FactorId::new(),
        account_id: account,
        kind,
        status: FactorStatus::Active,
        label: None,
        public_data: None,
        secret: None,
        created_at: at(created),
        last_used_at: None,
    }
}

fn accounts_round_trip_every_field(store: &Store) {
    let mut a = account("legacy|0001", "Rie.Tanaka@Example.com");
    a.email_verified = true;
    a.legacy_username = Some(LegacyUsername::parse("rtanaka").expect("username"));
    a.given_name = Some("理恵".to_owned());
    a.family_name = Some("田中".to_owned());
    a.locale = Some("ja".to_owned());
    a.zoneinfo = Some("Asia/Tokyo".to_owned());
    a.password_hash = Some("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA".to_owned());
    store.insert_account(&a).expect("insert");

    assert_eq!(store.account_by_id(a.id).expect("by id"), Some(a.clone()));
    assert_eq!(
        store.account_by_subject(&a.subject).expect("by subject"),
        Some(a.clone())
    );
    let typed_differently = Email::parse("rie.tanaka@EXAMPLE.com").expect("email");
    assert_eq!(
        store
            .account_by_email(&typed_differently)
            .expect("by email"),
        Some(a.clone())
    );
    let shouted = LegacyUsername::parse("RTANAKA").expect("username");
    assert_eq!(
        store.account_by_username(&shouted).expect("by username"),
        Some(a.clone())
    );
    assert_eq!(store.account_by_id(AccountId::new()).expect("absent"), None);
    assert_eq!(store.count_accounts().expect("count"), 1);
}

fn unique_values_conflict_by_name(store: &Store) {
    let mut first = account("s-1", "one@example.com");
    first.legacy_username = Some(LegacyUsername::parse("sam").expect("username"));
    store.insert_account(&first).expect("insert");

    let same_email = account("s-2", "ONE@example.com");
    assert_eq!(
        store.insert_account(&same_email),
        Err(RepositoryError::Conflict(UniqueField::Email))
    );

    let same_subject = account("s-1", "two@example.com");
    assert_eq!(
        store.insert_account(&same_subject),
        Err(RepositoryError::Conflict(UniqueField::Subject))
    );

    let mut same_username = account("s-3", "three@example.com");
    same_username.legacy_username = Some(LegacyUsername::parse("Sam").expect("username"));
    assert_eq!(
        store.insert_account(&same_username),
        Err(RepositoryError::Conflict(UniqueField::Username))
    );
    assert_eq!(
        store.count_accounts().expect("count"),
        1,
        "nothing half-written"
    );
}

fn update_replaces_fields_including_clearing_them(store: &Store) {
    let mut a = account("u-1", "old@example.com");
    a.legacy_username = Some(LegacyUsername::parse("old-name").expect("username"));
    a.given_name = Some("Old".to_owned());
    store.insert_account(&a).expect("insert");

    a.email = Some(Email::parse("new@example.com").expect("email"));
    a.legacy_username = None;
    a.given_name = None;
    a.password_hash = Some("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA".to_owned());
    a.apply(at(60), AccountStatus::complete_registration)
        .expect("registers");
    store.update_account(&a).expect("update");

    assert_eq!(store.account_by_id(a.id).expect("read"), Some(a.clone()));
    let old = Email::parse("old@example.com").expect("email");
    assert_eq!(store.account_by_email(&old).expect("old address"), None);
    let old_name = LegacyUsername::parse("old-name").expect("username");
    assert_eq!(
        store.account_by_username(&old_name).expect("old name"),
        None
    );

    let ghost = account("u-ghost", "ghost@example.com");
    assert_eq!(store.update_account(&ghost), Err(RepositoryError::NotFound));
}

fn factors_are_listed_in_order_and_keep_their_bytes(store: &Store) {
    let owner = account("f-1", "owner@example.com");
    let other = account("f-2", "other@example.com");
    store.insert_account(&owner).expect("insert");
    store.insert_account(&other).expect("insert");

    let mut sms = factor(owner.id, FactorKind::Sms, 10);
    sms.public_data = Some(r#"{"phone":"+81 90-****-5678"}"#.to_owned());
    let mut totp = factor(owner.id, FactorKind::Totp, 20);
    totp.status = FactorStatus::Pending;
    totp.secret = Some(vec![0, 1, 2, 254, 255]);
    let email = factor(owner.id, FactorKind::EmailOtp, 5);
    for f in [&sms, &totp, &email, &factor(other.id, FactorKind::Push, 1)] {
        store.insert_factor(f).expect("insert factor");
    }

    let listed = store.factors_of(owner.id).expect("list");
    assert_eq!(listed, vec![email.clone(), sms.clone(), totp.clone()]);

    totp.status = FactorStatus::Active;
    totp.label = Some("Pixel 9".to_owned());
    totp.last_used_at = Some(at(30));
    store.update_factor(&totp).expect("update factor");
    assert_eq!(
        store.factor_by_id(totp.id).expect("read"),
        Some(totp.clone())
    );

    store.delete_factor(sms.id).expect("delete factor");
    assert_eq!(store.factor_by_id(sms.id).expect("read"), None);
    assert_eq!(store.delete_factor(sms.id), Err(RepositoryError::NotFound));

    let orphan = factor(AccountId::new(), FactorKind::Totp, 1);
    assert!(
        store.insert_factor(&orphan).is_err(),
        "a factor needs an existing account (foreign keys are on)"
    );
}

fn audit_log_pages_newest_first_and_outlives_the_account(store: &Store) {
    let a = account("a-1", "audited@example.com");
    let b = account("a-2", "bystander@example.com");
    store.insert_account(&a).expect("insert");
    store.insert_account(&b).expect("insert");
    store
        .insert_factor(&factor(a.id, FactorKind::EmailOtp, 1))
        .expect("factor");

    let kinds = [
        AuditKind::AccountImported,
        AuditKind::RegistrationCompleted,
        AuditKind::LoginFailed,
        AuditKind::LoginSucceeded,
        AuditKind::FactorAdded,
    ];
    let mut sequences = vec![];
    for (i, kind) in kinds.into_iter().enumerate() {
        let mut event = NewAuditEvent::new(kind, Some(a.id), at(i as i64))
            .with_detail("client_id", "portal")
            .with_detail("名前", "値");
        event.ip = Some("192.0.2.7".to_owned());
        event.user_agent = Some("Mozilla/5.0".to_owned());
        let recorded = store.record(&event).expect("record");
        assert_eq!(recorded.event, event);
        sequences.push(recorded.sequence);
        store
            .record(&NewAuditEvent::new(
                AuditKind::LoginSucceeded,
                Some(b.id),
                at(i as i64),
            ))
            .expect("record other");
    }
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "sequences increase: {sequences:?}"
    );

    let first_page = store.events_of(a.id, None, 2).expect("page 1");
    let got: Vec<_> = first_page.iter().map(|e| e.event.kind).collect();
    assert_eq!(got, vec![AuditKind::FactorAdded, AuditKind::LoginSucceeded]);
    let cursor = first_page.last().map(|e| e.sequence);
    let second_page = store.events_of(a.id, cursor, 10).expect("page 2");
    let got: Vec<_> = second_page.iter().map(|e| e.event.kind).collect();
    assert_eq!(
        got,
        vec![
            AuditKind::LoginFailed,
            AuditKind::RegistrationCompleted,
            AuditKind::AccountImported
        ]
    );
    assert_eq!(
        second_page[0].event.detail.get("名前").map(String::as_str),
        Some("値")
    );

    store.delete_account(a.id).expect("delete");
    assert_eq!(store.account_by_id(a.id).expect("read"), None);
    assert_eq!(
        store.factors_of(a.id).expect("factors"),
        vec![],
        "factors go with the account"
    );
    assert_eq!(
        store.events_of(a.id, None, 100).expect("events").len(),
        5,
        "the trail stays"
    );
    assert_eq!(store.delete_account(a.id), Err(RepositoryError::NotFound));
}

fn migrations_are_idempotent(store: &Store) {
    assert_eq!(store.migrate().expect("second run"), Vec::<String>::new());
}

fn time_survives_to_the_millisecond(store: &Store) {
    let mut a = account("t-1", "time@example.com");
    a.created_at = at(0) + TimeDelta::milliseconds(123);
    a.updated_at = DateTime::UNIX_EPOCH - TimeDelta::days(1);
    store.insert_account(&a).expect("insert");
    assert_eq!(store.account_by_id(a.id).expect("read"), Some(a));
}

pub(crate) fn client(id: &str) -> Client {
    Client {
        id: ClientId::parse(id).expect("client id"),
        name: "サポートポータル".to_owned(),
        secret_hash: Some("c2VjcmV0LWhhc2g".to_owned()),
        redirect_uris: vec![
            "https://portal.example.com/cb".to_owned(),
            "http://localhost:3000/cb".to_owned(),
        ],
        post_logout_redirect_uris: vec!["https://portal.example.com/bye".to_owned()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: vec!["openid".to_owned(), "email".to_owned()],
        auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        jwks: None,
        id_token_alg: SigningAlg::Es256,
        first_party: true,
        refresh_without_offline_access: true,
        require_pushed_authorization_requests: false,
        dpop_bound_access_tokens: false,
        backchannel_logout_uri: Some("https://portal.example.com/backchannel".to_owned()),
        backchannel_logout_session_required: true,
        lifetimes: TokenLifetimes {
            access_token: 300,
            id_token: 600,
            refresh_token: 86_400,
        },
        created_at: at(0),
        updated_at: at(0),
    }
}

fn clients_round_trip_and_list_in_order(store: &Store) {
    let b = client("b-portal");
    let mut a = client("a-machine");
    a.grant_types = vec![GrantType::ClientCredentials];
    a.redirect_uris = vec![];
    a.post_logout_redirect_uris = vec![];
    a.auth_method = TokenEndpointAuthMethod::PrivateKeyJwt;
    a.secret_hash = None;
    a.jwks = Some(r#"{"keys":[]}"#.to_owned());
    a.first_party = false;
    store.insert_client(&b).expect("insert b");
    store.insert_client(&a).expect("insert a");
    assert_eq!(
        store.list_clients().expect("list"),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(
        store.insert_client(&a),
        Err(RepositoryError::Conflict(UniqueField::Id))
    );

    let mut changed = b.clone();
    changed.secret_hash = Some("cm90YXRlZA".to_owned());
    changed
        .redirect_uris
        .push("https://portal.example.com/cb2".to_owned());
    changed.updated_at = at(9);
    store.update_client(&changed).expect("update");
    assert_eq!(store.client_by_id(&b.id).expect("read"), Some(changed));

    store.delete_client(&a.id).expect("delete");
    assert_eq!(store.client_by_id(&a.id).expect("read"), None);
    assert_eq!(store.delete_client(&a.id), Err(RepositoryError::NotFound));
}

fn signing_keys_round_trip_and_move_through_their_lifecycle(store: &Store) {
    let key = |kid: &str, alg, status, created| SigningKeyRecord {
        kid: kid.to_owned(),
        alg,
        status,
        sealed_private_key: vec![9, 8, 7, 0, 255],
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        created_at: at(created),
        activated_at: None,
        expires_at: None,
    };
    let mut active = key("rs-1", SigningAlg::Rs256, KeyStatus::Active, 1);
    active.activated_at = Some(at(1));
    let next = key("rs-2", SigningAlg::Rs256, KeyStatus::Next, 2);
    let ec = key("es-1", SigningAlg::Es256, KeyStatus::Active, 0);
    for k in [&active, &next, &ec] {
        store.insert_key(k).expect("insert key");
    }
    assert_eq!(
        store.signing_keys().expect("keys"),
        vec![ec.clone(), active.clone(), next.clone()]
    );

    let mut retired = active.clone();
    retired.status = KeyStatus::Retired;
    retired.expires_at = Some(at(3600));
    store.update_key(&retired).expect("retire");
    let mut promoted = next.clone();
    promoted.status = KeyStatus::Active;
    promoted.activated_at = Some(at(5));
    store.update_key(&promoted).expect("promote");
    assert_eq!(
        store.signing_keys().expect("keys"),
        vec![ec.clone(), retired, promoted]
    );

    store.delete_key("rs-1").expect("delete");
    assert_eq!(store.delete_key("rs-1"), Err(RepositoryError::NotFound));
    assert_eq!(store.signing_keys().expect("keys").len(), 2);
}

fn transactions_commit_together_or_not_at_all(store: &Store) {
    let a = account("tx-a", "tx-a@example.com");
    store
        .transaction(|tx| {
            tx.insert_account(&a)?;
            tx.insert_factor(&factor(a.id, FactorKind::EmailOtp, 1))
        })
        .expect("commits");
    assert!(store.account_by_id(a.id).expect("read").is_some());
    assert_eq!(store.factors_of(a.id).expect("factors").len(), 1);

    let b = account("tx-b", "tx-b@example.com");
    let failed = store.transaction(|tx| {
        tx.insert_account(&b)?;
        // A factor for an account that does not exist: the foreign key refuses it.
        tx.insert_factor(&factor(AccountId::new(), FactorKind::Totp, 1))
    });
    assert!(failed.is_err());
    assert_eq!(
        store.account_by_id(b.id).expect("read"),
        None,
        "rolled back"
    );

    let c = account("tx-c", "tx-c@example.com");
    let refused: Result<(), _> = store.transaction(|tx| {
        tx.insert_account(&c)?;
        Err(RepositoryError::NotFound)
    });
    assert_eq!(refused, Err(RepositoryError::NotFound));
    assert_eq!(
        store.account_by_id(c.id).expect("read"),
        None,
        "rolled back"
    );
}

/// Read-then-write transactions racing from several threads: every one lands, the
/// losers of a race being retried (SQLite's busy snapshot, PostgreSQL's conflicts).
fn racing_transactions_all_land(store: &Store) {
    std::thread::scope(|scope| {
        for t in 0..4 {
            scope.spawn(move || {
                for i in 0..10 {
                    let a = account(
                        &format!("race-{t}-{i}"),
                        &format!("race-{t}-{i}@example.com"),
                    );
                    store
                        .transaction(|tx| {
                            let _ = tx.count_accounts()?;
                            tx.insert_account(&a)
                        })
                        .expect("lands");
                }
            });
        }
    });
    assert_eq!(store.count_accounts().expect("count"), 40);
}

/// Rate-limit hits racing on one key are each counted, one after the other: a lost
/// update would hand a guesser extra tries. A new window starts again at one.
fn racing_hits_are_all_counted(store: &Store) {
    let seen = std::sync::Mutex::new(vec![]);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..10 {
                    let hits = store
                        .transaction(|tx| tx.hit("race", at(0)))
                        .expect("counted");
                    seen.lock().expect("lock").push(hits);
                }
            });
        }
    });
    let mut seen = seen.into_inner().expect("lock");
    seen.sort_unstable();
    assert_eq!(seen, (1..=40).collect::<Vec<u32>>());
    assert_eq!(store.hits("race", at(0)).expect("read"), 40);
    assert_eq!(store.hit("race", at(900)).expect("new window"), 1);
    assert_eq!(
        store.hits("race", at(0)).expect("read"),
        0,
        "the old window is gone"
    );

    // The first hits on a new key, sent at once, are all counted too.
    let barrier = std::sync::Barrier::new(4);
    let firsts = std::sync::Mutex::new(vec![]);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for round in 0..10 {
                    barrier.wait();
                    // Kept, not unwrapped: a thread that stopped would leave the
                    // others waiting at the barrier.
                    let hits = store
                        .transaction(|tx| tx.hit(&format!("new-{round}"), at(0)))
                        .map_err(|e| e.to_string());
                    firsts.lock().expect("lock").push((round, hits));
                }
            });
        }
    });
    let mut firsts = firsts.into_inner().expect("lock");
    firsts.sort_unstable();
    let expected: Vec<(i32, Result<u32, String>)> = (0..10)
        .flat_map(|r| (1..=4).map(move |h| (r, Ok(h))))
        .collect();
    assert_eq!(firsts, expected);
}

pub(crate) fn login_request(id: &str, client_id: &str, account: Option<AccountId>) -> LoginRequest {
    LoginRequest {
        id: id.to_owned(),
        request: AuthorizationRequest {
            client_id: client_id.to_owned(),
            redirect_uri: "https://portal.example.com/cb".to_owned(),
            scopes: vec!["openid".to_owned()],
            state: Some("st".to_owned()),
            nonce: None,
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
            prompt: Prompt::default(),
            max_age: Some(300),
            acr_values: vec![],
            login_hint: None,
            ui_locales: Some("ja".to_owned()),
            claims: None,
        },
        browser_hash: "browser".to_owned(),
        account_id: account,
        amr: vec!["pwd".to_owned()],
        session_id: None,
        created_at: at(0),
        expires_at: at(600),
        completed_at: None,
    }
}

fn a_login_leaves_codes_sessions_and_otps_that_behave(store: &Store) {
    let a = account("login-1", "login@example.com");
    store.insert_account(&a).expect("account");
    store.insert_client(&client("portal")).expect("client");
    let mut login = login_request("challenge-1", "portal", None);
    store.insert_login_request(&login).expect("login request");
    assert_eq!(
        store.login_request("challenge-1").expect("read"),
        Some(login.clone())
    );
    login.account_id = Some(a.id);
    login.amr = vec!["pwd".to_owned(), "otp".to_owned()];
    login.completed_at = Some(at(30));
    store.update_login_request(&login).expect("update");
    assert_eq!(
        store.login_request("challenge-1").expect("read"),
        Some(login.clone())
    );

    let otp = |id: &str, created: i64| OtpChallenge {
        id: id.to_owned(),
        login_request_id: "challenge-1".to_owned(),
        account_id: a.id,
        code_hash: format!("hash-{id}"),
        attempts: 0,
        created_at: at(created),
        expires_at: at(created + 600),
        closed_at: None,
    };
    store.insert_otp(&otp("o1", 1)).expect("otp");
    store.insert_otp(&otp("o2", 2)).expect("otp");
    let mut latest = store
        .latest_otp("challenge-1")
        .expect("latest")
        .expect("some");
    assert_eq!(latest.id, "o2");
    latest.attempts = 3;
    latest.closed_at = Some(at(5));
    store.update_otp(&latest).expect("update otp");
    assert_eq!(
        store.latest_otp("challenge-1").expect("latest"),
        Some(latest)
    );
    assert_eq!(
        store.otp_sends_since(a.id, at(1)).expect("sends"),
        vec![at(2)]
    );

    let session = Session {
        id: "sid-1".to_owned(),
        account_id: a.id,
        token_hash: "cookie-hash".to_owned(),
        amr: vec!["pwd".to_owned(), "otp".to_owned(), "mfa".to_owned()],
        acr: "urn:gatehouse:mfa".to_owned(),
        auth_time: at(30),
        created_at: at(30),
        last_seen_at: at(30),
        expires_at: at(86_400),
        revoked_at: None,
        user_agent: Some("Mozilla/5.0".to_owned()),
        ip: Some("192.0.2.1".to_owned()),
    };
    store.insert_session(&session).expect("session");
    assert_eq!(
        store.session_by_token_hash("cookie-hash").expect("read"),
        Some(session.clone())
    );
    let code = AuthorizationCode {
        code_hash: "code-hash".to_owned(),
        client_id: "portal".to_owned(),
        account_id: a.id,
        session_id: session.id.clone(),
        redirect_uri: "https://portal.example.com/cb".to_owned(),
        scopes: vec!["openid".to_owned(), "email".to_owned()],
        nonce: Some("n".to_owned()),
        claims: Some(gatehouse_core::claims::ClaimsRequest {
            id_token: vec!["name".to_owned()],
            userinfo: vec![],
        }),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        auth_time: at(30),
        amr: session.amr.clone(),
        acr: session.acr.clone(),
        created_at: at(30),
        expires_at: at(90),
        used_at: None,
    };
    store.insert_code(&code).expect("code");
    assert_eq!(store.code_by_hash("code-hash").expect("read"), Some(code));
    assert_eq!(store.mark_code_used("code-hash", at(40)), Ok(true));
    assert_eq!(
        store.mark_code_used("code-hash", at(41)),
        Ok(false),
        "a second use is a replay"
    );
    assert_eq!(store.mark_code_used("no-such-code", at(41)), Ok(false));
}

fn expired_rows_are_purged_and_the_rest_kept(store: &Store) {
    let a = account("purge-1", "purge@example.com");
    store.insert_account(&a).expect("account");
    store.insert_client(&client("portal")).expect("client");
    // Two login requests: one expired at 600 s, one live until 10,000 s.
    let old = login_request("old", "portal", Some(a.id));
    let mut live = login_request("live", "portal", Some(a.id));
    live.expires_at = at(10_000);
    store.insert_login_request(&old).expect("old");
    store.insert_login_request(&live).expect("live");
    let otp = |id: &str, login: &str| OtpChallenge {
        id: id.to_owned(),
        login_request_id: login.to_owned(),
        account_id: a.id,
        code_hash: format!("hash-{id}"),
        attempts: 0,
        created_at: at(1),
        expires_at: at(601),
        closed_at: None,
    };
    store.insert_otp(&otp("o-old", "old")).expect("otp");
    store.insert_otp(&otp("o-live", "live")).expect("otp");
    let session = Session {
        id: "sid-purge".to_owned(),
        account_id: a.id,
        token_hash: "cookie-purge".to_owned(),
        amr: vec!["pwd".to_owned()],
        acr: "urn:gatehouse:mfa".to_owned(),
        auth_time: at(30),
        created_at: at(30),
        last_seen_at: at(30),
        expires_at: at(86_400),
        revoked_at: None,
        user_agent: None,
        ip: None,
    };
    store.insert_session(&session).expect("session");
    let code = |hash: &str, expires: i64| AuthorizationCode {
        code_hash: hash.to_owned(),
        client_id: "portal".to_owned(),
        account_id: a.id,
        session_id: session.id.clone(),
        redirect_uri: "https://portal.example.com/cb".to_owned(),
        scopes: vec!["openid".to_owned()],
        nonce: None,
        claims: None,
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        auth_time: at(30),
        amr: vec!["pwd".to_owned()],
        acr: "urn:gatehouse:mfa".to_owned(),
        created_at: at(30),
        expires_at: at(expires),
        used_at: None,
    };
    store.insert_code(&code("code-old", 90)).expect("code");
    store.insert_code(&code("code-live", 10_000)).expect("code");
    store
        .revoke_access_token("jti-old", at(700))
        .expect("revoke");
    store
        .revoke_access_token("jti-live", at(10_000))
        .expect("revoke");
    assert_eq!(store.use_client_assertion("assert-old", at(700)), Ok(true));
    assert_eq!(
        store.use_client_assertion("assert-live", at(10_000)),
        Ok(true)
    );

    let purged = store.purge_expired(at(5_000), at(5_000)).expect("purge");
    assert_eq!(
        purged,
        gatehouse_store::Purged {
            login_requests: 1,
            authorization_codes: 1,
            push_challenges: 0,
            access_token_revocations: 1,
            client_assertions: 1,
            pushed_requests: 0,
            logout_notices: 0,
        }
    );
    assert_eq!(store.login_request("old").expect("read"), None);
    assert_eq!(store.login_request("live").expect("read"), Some(live));
    assert_eq!(
        store.latest_otp("old").expect("otp"),
        None,
        "went with its login"
    );
    assert!(store.latest_otp("live").expect("otp").is_some());
    assert_eq!(store.code_by_hash("code-old").expect("code"), None);
    assert!(store.code_by_hash("code-live").expect("code").is_some());
    assert_eq!(store.is_access_token_revoked("jti-old"), Ok(false));
    assert_eq!(store.is_access_token_revoked("jti-live"), Ok(true));
    // A spent assertion still within its lifetime stays spent; a purged one is
    // past its `exp`, which client authentication refuses before the ledger.
    assert_eq!(
        store.use_client_assertion("assert-live", at(10_000)),
        Ok(false)
    );
    assert!(
        store.session_by_id("sid-purge").expect("session").is_some(),
        "sessions are kept"
    );
    assert_eq!(
        store
            .purge_expired(at(5_000), at(5_000))
            .expect("again")
            .total(),
        0,
        "nothing left to purge"
    );
    // Spent assertions go once they expire, not a day later.
    assert_eq!(
        store.purge_expired(at(1_000), at(10_001)).expect("ledger"),
        gatehouse_store::Purged {
            client_assertions: 1,
            ..gatehouse_store::Purged::default()
        }
    );
}

fn webauthn_credentials_are_unique_and_ceremonies_are_taken_once(store: &Store) {
    let owner = account("legacy|wa1", "wa1@example.com");
    let other = account("legacy|wa2", "wa2@example.com");
    store.insert_account(&owner).expect("insert");
    store.insert_account(&other).expect("insert");
    let key = factor(owner.id, FactorKind::SecurityKey, 1);
    let theirs = factor(other.id, FactorKind::Passkey, 2);
    store.insert_factor(&key).expect("factor");
    store.insert_factor(&theirs).expect("factor");
    let mut credential = WebauthnCredential {
        factor_id: key.id,
        account_id: owner.id,
        credential_id: "Y3JlZC0x".to_owned(),
        credential: r#"{"type":"security_key"}"#.to_owned(),
        aaguid: Some("0fb9bcbc-a0d4-4042-bbb0-559bc1631e28".to_owned()),
        transports: vec!["usb".to_owned(), "nfc".to_owned()],
        backup_eligible: false,
        backup_state: false,
        counter: 3,
        discoverable: false,
        created_at: at(1),
    };
    store
        .insert_webauthn_credential(&credential)
        .expect("insert");
    // One credential id, one account.
    let copy = WebauthnCredential {
        factor_id: theirs.id,
        account_id: other.id,
        ..credential.clone()
    };
    assert_eq!(
        store.insert_webauthn_credential(&copy),
        Err(RepositoryError::Conflict(UniqueField::Id))
    );
    assert_eq!(
        store.webauthn_credentials_of(owner.id).expect("list"),
        vec![credential.clone()]
    );
    credential.counter = 4;
    credential.backup_state = true;
    store
        .update_webauthn_credential(&credential)
        .expect("update");
    assert_eq!(
        store
            .webauthn_credential_by_credential_id("Y3JlZC0x")
            .expect("read"),
        Some(credential.clone())
    );
    // The credential goes with its factor.
    store.delete_factor(key.id).expect("delete");
    assert_eq!(
        store.webauthn_credential_of_factor(key.id).expect("read"),
        None
    );

    let ceremony = |id: &str, binding: &str, expires: i64| Ceremony {
        id: id.to_owned(),
        binding: binding.to_owned(),
        account_id: Some(owner.id),
        state: "{}".to_owned(),
        created_at: at(10),
        expires_at: at(expires),
    };
    store
        .put_ceremony(&ceremony("c1", "enrol:x", 100))
        .expect("put");
    // A new ceremony for the same purpose replaces the old one.
    store
        .put_ceremony(&ceremony("c2", "enrol:x", 100))
        .expect("put");
    let taken = store.take_ceremony("enrol:x", at(50)).expect("take");
    assert_eq!(taken.map(|c| c.id).as_deref(), Some("c2"));
    assert_eq!(
        store.take_ceremony("enrol:x", at(50)).expect("take"),
        None,
        "once"
    );
    store
        .put_ceremony(&ceremony("c3", "login:y", 60))
        .expect("put");
    assert_eq!(
        store.take_ceremony("login:y", at(60)).expect("take"),
        None,
        "expired"
    );
}

fn pushed_requests_are_taken_once(store: &Store) {
    store.insert_client(&client("pusher")).expect("client");
    let pushed = PushedRequest {
        id_hash: "h1".to_owned(),
        client_id: "pusher".to_owned(),
        params: vec![
            ("scope".to_owned(), "openid email".to_owned()),
            ("state".to_owned(), "ステート".to_owned()),
        ],
        expires_at: at(100),
    };
    store.insert_pushed_request(&pushed).expect("push");
    assert_eq!(
        store.take_pushed_request("h1").expect("take"),
        Some(pushed.clone())
    );
    assert_eq!(
        store.take_pushed_request("h1").expect("again"),
        None,
        "once"
    );
    // A removed client's pushed requests go with it.
    let second = PushedRequest {
        id_hash: "h2".to_owned(),
        ..pushed.clone()
    };
    store.insert_pushed_request(&second).expect("push");
    store
        .delete_client(&ClientId::parse("pusher").expect("id"))
        .expect("delete");
    assert_eq!(store.take_pushed_request("h2").expect("take"), None);
}

/// A DPoP proof seen before ends the transaction that would issue tokens for it: what
/// it wrote is rolled back (on PostgreSQL the refused insert aborts the transaction).
fn a_replayed_dpop_proof_rolls_its_transaction_back(store: &Store) {
    use gatehouse_provider::oidc::dpop::{Proof, Spend, spend};
    store.insert_client(&client("dpop")).expect("client");
    let proof = Proof {
        jkt: "thumbprint".to_owned(),
        ledger_key: "dpop:proof".to_owned(),
        ledger_until: at(100),
    };
    let pushed = PushedRequest {
        id_hash: "h3".to_owned(),
        client_id: "dpop".to_owned(),
        params: vec![],
        expires_at: at(100),
    };
    let first = store.transaction_with(|tx| -> Result<(), Spend> {
        tx.insert_pushed_request(&pushed)?;
        spend(tx, Some(&proof))
    });
    assert!(first.is_ok(), "{first:?}");
    let again = store.transaction_with(|tx| -> Result<(), Spend> {
        tx.insert_pushed_request(&PushedRequest {
            id_hash: "h4".to_owned(),
            ..pushed.clone()
        })?;
        spend(tx, Some(&proof))
    });
    assert!(matches!(again, Err(Spend::Replayed)), "{again:?}");
    assert!(store.take_pushed_request("h3").expect("take").is_some());
    assert_eq!(store.take_pushed_request("h4").expect("take"), None);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let db = crate::support::TestDatabase::sqlite();
                    super::$name(&db.store());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    let Some(db) = crate::support::TestDatabase::postgres() else { return };
                    super::$name(&db.store());
                }
            )*
        }
    };
}

on_both_backends!(
    accounts_round_trip_every_field,
    unique_values_conflict_by_name,
    update_replaces_fields_including_clearing_them,
    factors_are_listed_in_order_and_keep_their_bytes,
    audit_log_pages_newest_first_and_outlives_the_account,
    migrations_are_idempotent,
    time_survives_to_the_millisecond,
    clients_round_trip_and_list_in_order,
    signing_keys_round_trip_and_move_through_their_lifecycle,
    transactions_commit_together_or_not_at_all,
    racing_transactions_all_land,
    racing_hits_are_all_counted,
    a_login_leaves_codes_sessions_and_otps_that_behave,
    webauthn_credentials_are_unique_and_ceremonies_are_taken_once,
    expired_rows_are_purged_and_the_rest_kept,
    pushed_requests_are_taken_once,
    a_replayed_dpop_proof_rolls_its_transaction_back,
);

/// Two transactions that lock the same two rows in opposite orders deadlock; PostgreSQL
/// breaks the deadlock by aborting one, and that one runs again: both land. (SQLite's
/// writers take turns, so they never deadlock.)
#[test]
fn postgres_a_transaction_aborted_to_break_a_deadlock_runs_again() {
    let Some(db) = crate::support::TestDatabase::postgres() else {
        return;
    };
    let store = db.store();
    let (a, b) = (
        account("dl-a", "dl-a@example.com"),
        account("dl-b", "dl-b@example.com"),
    );
    store.insert_account(&a).expect("a");
    store.insert_account(&b).expect("b");
    let both_hold_one = std::sync::Barrier::new(2);
    let results: Vec<_> = std::thread::scope(|scope| {
        [(a.id, b.id), (b.id, a.id)]
            .map(|(first, second)| {
                let (store, barrier) = (&store, &both_hold_one);
                scope.spawn(move || {
                    let mut first_attempt = true;
                    store.transaction(|tx| {
                        tx.account_row_for_update(first)?;
                        // Only the first attempt meets the other: a retry runs alone.
                        if std::mem::take(&mut first_attempt) {
                            barrier.wait();
                        }
                        tx.account_row_for_update(second)
                    })
                })
            })
            .into_iter()
            .map(|t| t.join().expect("thread").map_err(|e| e.to_string()))
            .collect()
    });
    assert_eq!(results, vec![Ok(()), Ok(())]);
}

#[test]
fn an_unreachable_postgres_is_one_line_naming_it() {
    let url = gatehouse_store::DatabaseUrl::parse("postgres://gh:hunter2@127.0.0.1:1/gatehouse")
        .expect("valid url");
    let err = Store::open(&url, &gatehouse_store::PoolOptions::default())
        .expect_err("nothing listens on port 1");
    let message = err.to_string();
    assert!(
        message.starts_with(
            "cannot open the PostgreSQL database at postgres://gh:***@127.0.0.1:1/gatehouse: "
        ),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message:?}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn database_urls_pick_the_backend_by_scheme() {
    use gatehouse_store::{Backend, DatabaseUrl};
    let sqlite = DatabaseUrl::parse("sqlite://./data/gatehouse.db").expect("sqlite");
    assert_eq!(sqlite.backend(), Backend::Sqlite);
    assert_eq!(sqlite, DatabaseUrl::Sqlite("./data/gatehouse.db".into()));
    assert_eq!(
        DatabaseUrl::parse("sqlite:///var/lib/gh.db").expect("absolute"),
        DatabaseUrl::Sqlite("/var/lib/gh.db".into())
    );
    assert_eq!(
        DatabaseUrl::parse("postgresql://u@h/db")
            .expect("pg")
            .backend(),
        Backend::Postgres
    );
    for bad in [
        "mysql://u@h/db",
        "gatehouse.db",
        "sqlite::memory:",
        "sqlite://",
        "",
    ] {
        assert!(DatabaseUrl::parse(bad).is_err(), "{bad:?}");
    }
    let secret = DatabaseUrl::parse("postgres://user:s3cret@db.internal:5432/gh?sslmode=require")
        .expect("pg");
    assert_eq!(
        secret.redacted(),
        "postgres://user:***@db.internal:5432/gh?sslmode=require"
    );
    assert!(!format!("{secret:?}").contains("s3cret"));
}
