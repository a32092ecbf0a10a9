//! `gatehouse accounts import` on SQLite and PostgreSQL: dry runs write nothing, the
//! report names every outcome, a second run changes nothing, conflicts and bad rows
//! are reported while good rows land, `--update` applies changes, and kept passwords
//! (bcrypt) work once and are upgraded to argon2id at that first login.

use gatehouse_core::ports::{AccountRepository, FactorRepository};
use gatehouse_core::{AccountStatus, Email, FactorKind, FactorStatus, Subject};
use serde_json::{Value, json};

use crate::registration::{SecondStep, Site, site};
use crate::support::TestDatabase;

fn summary(out: &str) -> Value {
    serde_json::from_str(out).expect("summary json")
}

fn report(site: &Site, name: &str) -> Vec<Value> {
    std::fs::read_to_string(site.work.path().join(name))
        .expect("report")
        .lines()
        .map(|l| serde_json::from_str(l).expect("report line"))
        .collect()
}

const ROWS: &str = "\
legacy_subject,email,username,given_name,locale,zoneinfo,email_verified,sms_phone,password_hash
s-ok,ok@example.com,okuser,Oki,ja,Asia/Tokyo,true,+81 90 0000 0012,
s-same,same@example.com,same@example.com,,,,,,
s-dup1,dup@example.com,,,,,,,
s-dup2,DUP@example.com,,,,,,,
s-bad,not-an-address,,,,,,,
s-taken,native@example.com,,,,,,,
s-locale,loc@example.com,,,en_US!,,,,
s-zone,zone@example.com,,,,Not A Zone,,,
s-hash,hash@example.com,,,,,,,plaintext-password
s-name1,n1@example.com,Sam,,,,,,
s-name2,n2@example.com,sam,,,,,,
s-dupsub,a@example.com,,,,,,,
s-dupsub,b@example.com,,,,,,,
,blank@example.com,,,,,,,
s-short,short@example.com
";

async fn import_suite(db: TestDatabase) {
    let site = site(db, |_| {}).await;
    let native = site
        .server
        .create_account("native@example.com", Some("x"), AccountStatus::Active);
    let input = site.write("users.csv", ROWS);
    let path = input.to_str().expect("path");

    let dry = summary(&site.run(&[
        "accounts",
        "import",
        path,
        "--dry-run",
        "--json",
        "--report",
        "dry.jsonl",
    ]));
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        site.server.store().count_accounts().expect("count"),
        1,
        "a dry run writes nothing"
    );
    let expected = json!({
        "created": 2,
        "duplicate_subject": 2,
        "email_invalid": 1,
        "email_shared": 2,
        "email_taken": 1,
        "locale_invalid": 1,
        "password_hash_invalid": 1,
        "row_invalid": 1,
        "subject_invalid": 1,
        "username_shared": 2,
        "zoneinfo_invalid": 1,
    });
    assert_eq!(dry["outcomes"], expected);
    assert_eq!(dry["rows"], 15);
    let lines = report(&site, "dry.jsonl");
    assert_eq!(lines.len(), 15, "one report line per row");
    let outcome = |subject: &str| {
        lines
            .iter()
            .find(|l| l["legacy_subject"] == subject)
            .map(|l| l["outcome"].as_str().expect("outcome").to_owned())
    };
    assert_eq!(outcome("s-ok").as_deref(), Some("created"));
    assert_eq!(outcome("s-taken").as_deref(), Some("email_taken"));
    assert_eq!(outcome("s-same").as_deref(), Some("created"));
    let shared = lines
        .iter()
        .find(|l| l["legacy_subject"] == "s-dup1")
        .expect("dup1");
    assert_eq!(shared["with"], json!(["s-dup2"]));
    let invalid = lines
        .iter()
        .find(|l| l["outcome"] == "row_invalid")
        .expect("row_invalid");
    assert_eq!(invalid["line"], 16);
    assert!(invalid["error"].as_str().is_some());
    // Lines come in input order, numbered as in the file (the header is line 1).
    let numbers: Vec<u64> = lines
        .iter()
        .map(|l| l["line"].as_u64().expect("line"))
        .collect();
    assert_eq!(numbers, (2..=16).collect::<Vec<_>>());

    let real = summary(&site.run(&["accounts", "import", path, "--json"]));
    assert_eq!(real["outcomes"], expected);
    let store = site.server.store();
    assert_eq!(store.count_accounts().expect("count"), 3);
    let ok = store
        .account_by_subject(&Subject::parse("s-ok").expect("subject"))
        .expect("query")
        .expect("imported");
    assert_eq!(ok.status, AccountStatus::PendingRegistration);
    assert_eq!(ok.email.as_ref().map(Email::as_str), Some("ok@example.com"));
    assert_eq!(
        ok.legacy_username.as_ref().map(|u| u.as_str()),
        Some("okuser")
    );
    assert_eq!(ok.locale.as_deref(), Some("ja"));
    assert_eq!(ok.zoneinfo.as_deref(), Some("Asia/Tokyo"));
    assert!(ok.email_verified);
    assert!(
        ok.password_hash.is_none(),
        "old passwords are not kept by default"
    );
    // The old SMS factor is kept, and the registry shows it retired.
    let factors = store.factors_of(ok.id).expect("factors");
    assert_eq!(factors.len(), 1);
    assert_eq!(factors[0].kind, FactorKind::Sms);
    assert_eq!(
        site.server.config.factors.effective_status(&factors[0]),
        gatehouse_core::factor::EffectiveStatus::Retired
    );
    let same = store
        .account_by_subject(&Subject::parse("s-same").expect("subject"))
        .expect("query")
        .expect("imported");
    assert_eq!(
        same.legacy_username
            .as_ref()
            .map(|u| u.normalized().to_owned()),
        same.email.as_ref().map(|e| e.normalized().to_owned()),
        "a username equal to the address is kept, as information"
    );
    assert_eq!(
        store
            .account_by_id(native.id)
            .expect("query")
            .expect("native")
            .email,
        native.email,
        "a conflicting row never touches the existing account"
    );

    // A second run changes nothing.
    let before: Vec<_> = ["s-ok", "s-same"]
        .iter()
        .map(|s| {
            store
                .account_by_subject(&Subject::parse(s).expect("subject"))
                .expect("query")
        })
        .collect();
    let again = summary(&site.run(&["accounts", "import", path, "--json"]));
    assert_eq!(again["outcomes"]["unchanged"], 2);
    assert!(again["outcomes"].get("created").is_none());
    let after: Vec<_> = ["s-ok", "s-same"]
        .iter()
        .map(|s| {
            store
                .account_by_subject(&Subject::parse(s).expect("subject"))
                .expect("query")
        })
        .collect();
    assert_eq!(before, after);
    assert_eq!(store.factors_of(ok.id).expect("factors").len(), 1);

    // A changed row is left alone unless the run updates.
    let changed = site.write(
        "changed.jsonl",
        r#"{"legacy_subject": "s-ok", "email": "ok@example.com", "username": "okuser", "given_name": "Oki-san", "locale": "en"}"#,
    );
    let changed = changed.to_str().expect("path");
    let left = summary(&site.run(&[
        "accounts",
        "import",
        changed,
        "--json",
        "--report",
        "changed.report.jsonl",
    ]));
    assert_eq!(left["outcomes"], json!({"changed": 1}));
    // The report says what changed.
    assert_eq!(
        report(&site, "changed.report.jsonl")[0]["fields"],
        json!(["email_verified", "given_name", "locale", "zoneinfo"])
    );
    let ok_now = store.account_by_id(ok.id).expect("query").expect("ok");
    assert_eq!(ok_now.given_name.as_deref(), Some("Oki"));
    let updated = summary(&site.run(&["accounts", "import", changed, "--update", "--json"]));
    assert_eq!(updated["outcomes"], json!({"updated": 1}));
    let ok_now = store.account_by_id(ok.id).expect("query").expect("ok");
    assert_eq!(ok_now.given_name.as_deref(), Some("Oki-san"));
    assert_eq!(ok_now.locale.as_deref(), Some("en"));
    assert_eq!(ok_now.subject.as_str(), "s-ok");
    let settled = summary(&site.run(&["accounts", "import", changed, "--update", "--json"]));
    assert_eq!(settled["outcomes"], json!({"unchanged": 1}));

    // An update that would take another account's address is refused, nothing merged.
    let grab = site.write(
        "grab.jsonl",
        r#"{"legacy_subject": "s-ok", "email": "native@example.com"}"#,
    );
    let grabbed = summary(&site.run(&[
        "accounts",
        "import",
        grab.to_str().expect("path"),
        "--update",
        "--json",
    ]));
    assert_eq!(grabbed["outcomes"], json!({"email_taken": 1}));

    // The username report: `okuser` differs from its address; s-same's username is
    // its address (kept and shown, it was dropped at import and missing here).
    let out = site.run(&["accounts", "usernames-report", "--json"]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let status_of = |subject: &str| {
        lines
            .iter()
            .find(|l| l["subject"] == subject)
            .map(|l| l["status"].clone())
    };
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(status_of("s-ok"), Some(json!("differs")));
    assert_eq!(status_of("s-same"), Some(json!("same")));
}

#[tokio::test]
async fn sqlite_import() {
    import_suite(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_import() {
    if let Some(db) = TestDatabase::postgres() {
        import_suite(db).await;
    }
}

/// bcrypt of "old secret" at cost 4, made by glibc's crypt(3) as an old system would.
pub(crate) const OLD_BCRYPT: &str = "$2b$04$abcdefghijklmnopqrstuuYBeWYOyKCtRowAxBan3M4MFY8ThdJNy";

async fn kept_passwords(db: TestDatabase) {
    let site = site(db, |c| c.migration.keep_passwords = true).await;
    let input = site.write(
        "kept.jsonl",
        &format!(
            "{}\n",
            json!({"legacy_subject": "kept-1", "email": "kept@example.com", "password_hash": OLD_BCRYPT})
        ),
    );
    let out = summary(&site.run(&[
        "accounts",
        "import",
        input.to_str().expect("path"),
        "--json",
    ]));
    assert_eq!(out["outcomes"], json!({"created": 1}));
    let store = site.server.store();
    let account = store
        .account_by_subject(&Subject::parse("kept-1").expect("subject"))
        .expect("query")
        .expect("imported");
    assert_eq!(
        account.status,
        AccountStatus::Active,
        "a kept password needs no re-registration"
    );
    assert_eq!(account.password_hash.as_deref(), Some(OLD_BCRYPT));
    let claims = site
        .login("kept@example.com", "old secret", "kept@example.com", 0)
        .await;
    assert_eq!(claims["sub"], "kept-1");
    let upgraded = store
        .account_by_id(account.id)
        .expect("query")
        .expect("account");
    let hash = upgraded.password_hash.expect("hash");
    assert!(
        hash.starts_with("$argon2id$"),
        "upgraded at the first login: {hash}"
    );
    // The new hash still takes the same password.
    let claims = site
        .login("kept@example.com", "old secret", "kept@example.com", 1)
        .await;
    assert_eq!(claims["sub"], "kept-1");
}

#[tokio::test]
async fn sqlite_kept_passwords_work_and_are_upgraded() {
    kept_passwords(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_kept_passwords_work_and_are_upgraded() {
    if let Some(db) = TestDatabase::postgres() {
        kept_passwords(db).await;
    }
}

const OLD_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// With `import_totp_secrets`, a user keeps the authenticator app of the old system:
/// the secret is sealed at rest and the app's codes finish the login.
async fn kept_authenticator_apps(db: TestDatabase) {
    let site = site(db, |c| {
        c.migration.keep_passwords = true;
        c.migration.import_totp_secrets = true;
    })
    .await;
    let input = site.write(
        "apps.jsonl",
        &format!(
            "{}\n",
            json!({"legacy_subject": "app-1", "email": "app1@example.com",
                   "password_hash": OLD_BCRYPT, "totp_secret": OLD_TOTP_SECRET})
        ),
    );
    site.run(&["accounts", "import", input.to_str().expect("path")]);
    let store = site.server.store();
    let account = store
        .account_by_subject(&Subject::parse("app-1").expect("subject"))
        .expect("query")
        .expect("imported");
    let factors = store.factors_of(account.id).expect("factors");
    let app = factors
        .iter()
        .find(|f| f.kind == FactorKind::Totp)
        .expect("an authenticator app factor");
    assert_eq!(app.status, FactorStatus::Active);
    let sealed = app.secret.as_deref().expect("a stored secret");
    let raw = totp_rs::Secret::try_from_base32(OLD_TOTP_SECRET).expect("base32");
    assert!(
        !sealed
            .windows(raw.as_bytes().len())
            .any(|w| w == raw.as_bytes()),
        "the secret is sealed at rest"
    );
    let phone = totp_rs::Totp::from_url(format!(
        "otpauth://totp/Old:app1%40example.com?secret={OLD_TOTP_SECRET}&issuer=Old"
    ))
    .expect("the old app");
    let claims = site
        .login_with(
            "app1@example.com",
            "old secret",
            SecondStep::NextAppCode(&phone),
        )
        .await;
    assert_eq!(claims["sub"], "app-1");
}

#[tokio::test]
async fn sqlite_kept_authenticator_apps_work() {
    kept_authenticator_apps(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_kept_authenticator_apps_work() {
    if let Some(db) = TestDatabase::postgres() {
        kept_authenticator_apps(db).await;
    }
}

#[tokio::test]
async fn without_import_totp_secrets_an_old_secret_is_left_behind() {
    let site = site(TestDatabase::sqlite(), |_| {}).await;
    let input = site.write(
        "apps.jsonl",
        &json!({"legacy_subject": "app-2", "email": "app2@example.com",
                "totp_secret": OLD_TOTP_SECRET})
        .to_string(),
    );
    site.run(&["accounts", "import", input.to_str().expect("path")]);
    let store = site.server.store();
    let account = store
        .account_by_subject(&Subject::parse("app-2").expect("subject"))
        .expect("query")
        .expect("imported");
    assert!(store.factors_of(account.id).expect("factors").is_empty());
}

#[tokio::test]
async fn without_keep_passwords_an_old_hash_is_ignored() {
    let site = site(TestDatabase::sqlite(), |_| {}).await;
    let input = site.write(
        "kept.jsonl",
        &json!({"legacy_subject": "k-2", "email": "k2@example.com", "password_hash": OLD_BCRYPT})
            .to_string(),
    );
    site.run(&["accounts", "import", input.to_str().expect("path")]);
    let account = site
        .server
        .store()
        .account_by_subject(&Subject::parse("k-2").expect("subject"))
        .expect("query")
        .expect("imported");
    assert_eq!(account.status, AccountStatus::PendingRegistration);
    assert!(account.password_hash.is_none());
}

#[tokio::test]
async fn an_unknown_column_stops_the_import_before_anything_is_written() {
    let site = site(TestDatabase::sqlite(), |_| {}).await;
    let input = site.write("bad.csv", "legacy_subject,email,phone\nx,x@example.com,1\n");
    let output = site
        .cli()
        .args(["accounts", "import", input.to_str().expect("path")])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown column \"phone\""), "{stderr}");
    assert_eq!(site.server.store().count_accounts().expect("count"), 0);
    let bad_age = site
        .cli()
        .args([
            "invitations",
            "send",
            "--all-pending",
            "--remind-after",
            "7x",
        ])
        .output()
        .expect("runs");
    assert_eq!(bad_age.status.code(), Some(2));
}

/// An operator finds accounts from the command line by what they know (an e-mail
/// address, a legacy subject or username, a prefix), sees one whole, and names it
/// the same ways elsewhere; every command says which database it opened.
#[tokio::test]
async fn an_operator_finds_and_shows_accounts_from_the_cli() {
    let site = site(TestDatabase::sqlite(), |_| {}).await;
    let input = site.write(
        "users.csv",
        "legacy_subject,email,username,given_name,family_name,sms_phone\n\
         auth0|rie,Rie@example.com,rtanaka,Rie,Tanaka,+81 90 1234 5678\n\
         auth0|ken,ken@example.com,,Ken,Sato,\n",
    );
    site.run(&["accounts", "import", input.to_str().expect("path")]);
    // `--account` takes an e-mail address (it wanted an id).
    let sent: Value = serde_json::from_str(&site.run(&[
        "invitations",
        "send",
        "--account",
        "rie@EXAMPLE.com",
        "--json",
    ]))
    .expect("json");
    assert_eq!(sent["invited"], 1);
    let find = |query: &str| -> Vec<Value> {
        site.run(&["accounts", "find", query, "--json"])
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    };
    for (query, subject) in [
        ("auth0|ken", "auth0|ken"),
        ("rtanaka", "auth0|rie"),
        ("Rie@example.com", "auth0|rie"),
        ("Ri", "auth0|rie"),
        ("sato", "auth0|ken"),
    ] {
        let found = find(query);
        assert_eq!(found.len(), 1, "{query}: {found:?}");
        assert_eq!(found[0]["subject"], subject, "{query}");
    }
    assert!(find("nobody").is_empty());
    let shown: Value =
        serde_json::from_str(&site.run(&["accounts", "show", "auth0|rie", "--json"]))
            .expect("json");
    assert_eq!(shown["email"], "Rie@example.com");
    assert_eq!(shown["status"], "pending_registration");
    assert_eq!(shown["registration"]["state"], "invited");
    assert_eq!(shown["registration"]["invitations_sent"], 1);
    assert_eq!(shown["factors"][0]["kind"], "sms");
    assert_eq!(shown["factors"][0]["status"], "retired");
    // The invitation, sent by the server's worker: its body is gone from the database,
    // and `outbox show` reads the delivered `.eml`, decoded, the link whole.
    let (_, token) =
        crate::registration::registration_mail(site.mail_dir.path(), "Rie@example.com", 0).await;
    let outbox = |args: &[&str]| {
        let output = site
            .cli()
            .env("GATEHOUSE_MAIL_FILE_DIR", site.mail_dir.path())
            .args(args)
            .output()
            .expect("runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let listed: Vec<Value> = outbox(&["outbox", "list", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let invitation = listed
        .iter()
        .find(|m| m["subject"].as_str().is_some_and(|s| s.contains("SSO")))
        .expect("the invitation");
    assert_eq!(invitation["status"], "sent");
    let shown = outbox(&["outbox", "show", invitation["id"].as_str().expect("id")]);
    assert!(shown.contains(&format!("?token={token}")), "{shown}");
    let output = site
        .cli()
        .args(["accounts", "show", "nobody@example.com"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("gatehouse: database sqlite://"), "{stderr}");
    assert!(stderr.contains("no account is named"), "{stderr}");
}

/// A command that only reads, run where there is no database, says so (exit 1) and
/// creates nothing: it made an empty database and reported zeros.
#[test]
fn a_reading_command_never_creates_a_database() {
    let dir = tempfile::tempdir().expect("dir");
    for args in [
        vec!["migration", "status"],
        vec!["accounts", "usernames-report"],
        vec!["accounts", "find", "rie"],
        vec!["keys", "list"],
    ] {
        let output = crate::support::gatehouse(dir.path())
            .args(&args)
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("there is no database at"),
            "{args:?}: {stderr}"
        );
        assert!(!dir.path().join("data").exists(), "{args:?} created data/");
    }
}
