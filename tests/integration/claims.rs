//! The `profile` scope's claims for an imported account: at `/userinfo` always, in the
//! ID token only when the `claims` parameter names them (OIDC Core §5.4, §5.5).

use gatehouse_core::Subject;
use gatehouse_core::ports::AccountRepository;
use serde_json::{Value, json};

use crate::factors::claims;
use crate::import::OLD_BCRYPT;
use crate::registration::{SecondStep, Site, site};
use crate::support::TestDatabase;

const MAIL: &str = "hanako@example.com";
/// The password `OLD_BCRYPT` hashes, kept from the old system.
const OLD_PASSWORD: &str = "old secret";

async fn userinfo(site: &Site, tokens: &Value) -> Value {
    let res = site
        .server
        .client
        .get(site.server.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().expect("access_token"))
        .send()
        .await
        .expect("userinfo");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    res.json().await.expect("json")
}

async fn login(site: &Site, n: usize, params: &[(&str, &str)]) -> Value {
    let second = SecondStep::MailedCode {
        mailbox: MAIL,
        skip: n,
    };
    site.tokens_for(MAIL, OLD_PASSWORD, second, params).await
}

const PROFILE: [&str; 7] = [
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "locale",
    "zoneinfo",
    "updated_at",
];

async fn profile_claims_of_an_imported_account(db: TestDatabase) {
    let site = site(db, |c| c.migration.keep_passwords = true).await;
    let input = site.write(
        "people.jsonl",
        &format!(
            "{}\n",
            json!({
                "legacy_subject": "legacy-7",
                "email": MAIL,
                "username": "hanako",
                "given_name": "Hanako",
                "family_name": "Yamada",
                "locale": "ja",
                "zoneinfo": "Asia/Tokyo",
                "password_hash": OLD_BCRYPT,
            })
        ),
    );
    site.run(&[
        "accounts",
        "import",
        input.to_str().expect("path"),
        "--json",
    ]);
    let store = site.server.store();
    let account = store
        .account_by_subject(&Subject::parse("legacy-7").expect("subject"))
        .expect("query")
        .expect("imported");

    // `profile` granted, no `claims` parameter: at /userinfo only.
    let tokens = login(&site, 0, &[("scope", "openid email profile")]).await;
    let id = claims(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(id["sub"], "legacy-7");
    for claim in PROFILE {
        assert!(id.get(claim).is_none(), "{claim} in the ID token: {id}");
    }
    let info = userinfo(&site, &tokens).await;
    // Read after the login: the first one upgrades the kept password's hash.
    let account = store
        .account_by_id(account.id)
        .expect("query")
        .expect("account");
    let updated_at = account.updated_at.timestamp();
    assert_eq!(
        info,
        json!({
            "sub": "legacy-7",
            "email": MAIL,
            "email_verified": account.email_verified,
            "name": "Hanako Yamada",
            "given_name": "Hanako",
            "family_name": "Yamada",
            "preferred_username": "hanako",
            "locale": "ja",
            "zoneinfo": "Asia/Tokyo",
            "updated_at": updated_at,
        })
    );

    // Named in the `claims` parameter's id_token member: in the ID token too, those only.
    let asked = r#"{"id_token":{"name":null,"zoneinfo":{"essential":true},"preferred_username":null,"phone_number":null},"userinfo":{"locale":null}}"#;
    let tokens = login(
        &site,
        1,
        &[("scope", "openid email profile"), ("claims", asked)],
    )
    .await;
    let id = claims(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(id["name"], "Hanako Yamada");
    assert_eq!(id["zoneinfo"], "Asia/Tokyo");
    assert_eq!(id["preferred_username"], "hanako");
    for claim in [
        "given_name",
        "family_name",
        "locale",
        "updated_at",
        "phone_number",
    ] {
        assert!(id.get(claim).is_none(), "{claim} not asked for: {id}");
    }
    assert_eq!(userinfo(&site, &tokens).await["locale"], "ja");

    // Without `profile` the `claims` parameter releases nothing of it.
    let tokens = login(&site, 2, &[("scope", "openid email"), ("claims", asked)]).await;
    let id = claims(tokens["id_token"].as_str().expect("id_token"));
    let info = userinfo(&site, &tokens).await;
    for claim in PROFILE {
        assert!(id.get(claim).is_none(), "{claim}: {id}");
        assert!(info.get(claim).is_none(), "{claim}: {info}");
    }

    // Once the legacy username is retired, preferred_username is gone.
    let mut retired = store
        .account_by_id(account.id)
        .expect("query")
        .expect("account");
    retired.legacy_username = None;
    store.update_account(&retired).expect("update");
    let tokens = login(&site, 3, &[("scope", "openid profile")]).await;
    let info = userinfo(&site, &tokens).await;
    assert!(info.get("preferred_username").is_none(), "{info}");
    assert_eq!(info["name"], "Hanako Yamada");
}

#[tokio::test]
async fn sqlite_profile_claims_of_an_imported_account() {
    profile_claims_of_an_imported_account(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_profile_claims_of_an_imported_account() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    profile_claims_of_an_imported_account(db).await;
}
