//! Configuration: defaults with no file, TOML, GATEHOUSE_* overrides, clear refusals.

use gatehouse_core::IdentifierPolicy;
use gatehouse_provider::{Config, ConfigError};
use std::io::Write;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    f
}

fn error(result: Result<Config, ConfigError>) -> String {
    let message = result.expect_err("should be refused").to_string();
    assert!(!message.contains('\n'), "one line: {message:?}");
    message
}

#[test]
fn defaults_need_no_file() {
    let config = Config::load(None, env(&[])).expect("defaults");
    assert_eq!(config, Config::default().with_ui_defaults());
    // The UI URLs: the reference UI, on the issuer's origin.
    assert_eq!(config.login.ui_url, "http://localhost:8080/ui/login");
    assert_eq!(
        config.login.logout_ui_url,
        "http://localhost:8080/ui/logout"
    );
    assert_eq!(
        config.migration.registration_ui_url,
        "http://localhost:8080/ui/register"
    );
    assert_eq!(
        config.account_api.email_undo_url,
        "http://localhost:8080/ui/email-undo"
    );
    assert_eq!(config.account_api.sign_in_url, "http://localhost:8080/ui/");
    assert_eq!(config.server.bind, "127.0.0.1:8080");
    assert_eq!(config.server.issuer, "http://localhost:8080");
    assert_eq!(config.database.url, "sqlite://./data/gatehouse.db");
    assert_eq!(config.password_policy.min_length, 12);
    assert_eq!(config.password_hashing.memory_kib, 19 * 1024);
    assert_eq!(config.identifiers.username_login, IdentifierPolicy::Warn);
}

/// A deployment with its own frontend turns the reference UI off and must then say
/// where its pages are; a URL it sets is kept whether the UI is on or off.
#[test]
fn without_the_reference_ui_the_ui_urls_are_required() {
    let off = file("[ui]\nenabled = false\n");
    let error = Config::load(Some(off.path()), env(&[])).expect_err("no UI URLs");
    assert!(error.to_string().contains("login.ui_url"), "{error}");
    let own = file(
        r#"
[ui]
enabled = false

[login]
ui_url = "https://app.example.com/login"
logout_ui_url = "https://app.example.com/logout"

[migration]
registration_ui_url = "https://app.example.com/register"

[account_api]
email_undo_url = "https://app.example.com/undo"
sign_in_url = "https://app.example.com/"
"#,
    );
    let config = Config::load(Some(own.path()), env(&[])).expect("own frontend");
    assert_eq!(config.login.ui_url, "https://app.example.com/login");
    let mixed = file("[login]\nui_url = \"https://app.example.com/login\"\n");
    let config = Config::load(Some(mixed.path()), env(&[])).expect("one page elsewhere");
    assert_eq!(config.login.ui_url, "https://app.example.com/login");
    assert_eq!(
        config.login.logout_ui_url,
        "http://localhost:8080/ui/logout"
    );
}

#[test]
fn file_values_and_environment_overrides() {
    let f = file(
        r#"
[server]
issuer = "https://id.example.com"

[password_policy]
min_length = 14

[identifiers]
username_login = "disabled"
"#,
    );
    let config = Config::load(
        Some(f.path()),
        env(&[
            ("GATEHOUSE_BIND", "0.0.0.0:9000"),
            ("GATEHOUSE_DATABASE_URL", "postgres://gh@db/gatehouse"),
            ("GATEHOUSE_PASSWORD_POLICY_MAX_LENGTH", "64"),
            ("GATEHOUSE_DATABASE_AUTO_MIGRATE", "false"),
            ("GATEHOUSE_TEST_POSTGRES_URL", "ignored: not a config key"),
            ("PATH", "/usr/bin"),
        ]),
    )
    .expect("valid");
    assert_eq!(config.server.issuer, "https://id.example.com");
    assert_eq!(config.server.bind, "0.0.0.0:9000");
    assert_eq!(config.database.url, "postgres://gh@db/gatehouse");
    assert!(!config.database.auto_migrate);
    assert_eq!(config.password_policy.min_length, 14);
    assert_eq!(config.password_policy.max_length, 64);
    assert_eq!(
        config.identifiers.username_login,
        IdentifierPolicy::Disabled
    );
}

#[test]
fn the_long_form_wins_over_the_short_one() {
    let config = Config::load(
        None,
        env(&[
            ("GATEHOUSE_SERVER_ISSUER", "https://long.example"),
            ("GATEHOUSE_ISSUER", "https://short.example"),
        ]),
    )
    .expect("valid");
    assert_eq!(config.server.issuer, "https://long.example");
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let f = file("[password_policy]\nmin_lenght = 14\n");
    let message = error(Config::load(Some(f.path()), env(&[])));
    assert!(message.contains("password_policy.min_lenght"), "{message}");
    assert!(message.contains("unknown field"), "{message}");

    let f = file("[sever]\nbind = \"x\"\n");
    let message = error(Config::load(Some(f.path()), env(&[])));
    assert!(message.contains("sever"), "{message}");

    let message = error(Config::load(
        None,
        env(&[("GATEHOUSE_DATABSE_URL", "sqlite://x.db")]),
    ));
    assert!(message.contains("GATEHOUSE_DATABSE_URL"), "{message}");
}

#[test]
fn bad_values_are_refused_by_name() {
    for (var, value, names) in [
        ("GATEHOUSE_DATABASE_URL", "mysql://u@h/db", "database.url"),
        ("GATEHOUSE_BIND", "8080", "server.bind"),
        ("GATEHOUSE_ISSUER", "http://id.example.com", "server.issuer"),
        (
            "GATEHOUSE_ISSUER",
            "https://id.example.com/?x=1",
            "server.issuer",
        ),
        (
            "GATEHOUSE_PASSWORD_POLICY_MIN_LENGTH",
            "twelve",
            "GATEHOUSE_PASSWORD_POLICY_MIN_LENGTH",
        ),
        (
            "GATEHOUSE_PASSWORD_POLICY_MIN_LENGTH",
            "99",
            "password_policy",
        ),
        (
            "GATEHOUSE_PASSWORD_HASHING_MEMORY_KIB",
            "1",
            "password_hashing",
        ),
        ("GATEHOUSE_FACTORS_EMAIL_OTP", "retired", "factors"),
        ("GATEHOUSE_FACTORS_SMS", "sometimes", "factors.sms"),
        (
            "GATEHOUSE_DATABASE_AUTO_MIGRATE",
            "perhaps",
            "GATEHOUSE_DATABASE_AUTO_MIGRATE",
        ),
    ] {
        let message = error(Config::load(None, env(&[(var, value)])));
        assert!(message.contains(names), "{var}={value}: {message}");
    }
}

#[test]
fn toml_syntax_errors_name_the_line() {
    let f = file("[server]\nbind = \"127.0.0.1:8080\"\nissuer = \n");
    let message = error(Config::load(Some(f.path()), env(&[])));
    assert!(message.contains("line 3"), "{message}");
    let message = error(Config::load(
        Some(std::path::Path::new("/no/such/gatehouse.toml")),
        env(&[]),
    ));
    assert!(message.contains("/no/such/gatehouse.toml"), "{message}");
}

#[test]
fn sms_can_be_configured_back_but_is_retired_by_default() {
    use gatehouse_core::{FactorKind, KindState};
    let config = Config::load(None, env(&[])).expect("defaults");
    assert_eq!(config.factors.state(FactorKind::Sms), KindState::Retired);
    let config = Config::load(None, env(&[("GATEHOUSE_FACTORS_PUSH", "disabled")])).expect("valid");
    assert_eq!(config.factors.state(FactorKind::Push), KindState::Disabled);
}

#[test]
fn the_redacted_view_hides_the_database_password() {
    let config = Config::load(
        None,
        env(&[(
            "GATEHOUSE_DATABASE_URL",
            "postgres://gh:s3cret@db:5432/gatehouse",
        )]),
    )
    .expect("valid");
    let shown = config.redacted_toml().expect("toml");
    assert!(
        shown.contains("postgres://gh:***@db:5432/gatehouse"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn mail_settings_default_override_and_hide_the_smtp_password() {
    use gatehouse_provider::config::{MailTransportKind, SmtpTls};
    let config = Config::load(None, env(&[])).expect("defaults");
    assert_eq!(config.mail.transport, MailTransportKind::File);
    assert_eq!(config.mail.file_dir, "./data/outbox");
    assert_eq!(config.mail.from, "no-reply@localhost");
    assert_eq!(config.mail.product_name, "Gatehouse");
    assert_eq!(config.mail.smtp_port(), 587, "STARTTLS's port by default");

    let config = Config::load(
        None,
        env(&[
            ("GATEHOUSE_MAIL_TRANSPORT", "smtp"),
            ("GATEHOUSE_MAIL_SMTP_HOST", "smtp.example.com"),
            ("GATEHOUSE_MAIL_SMTP_TLS", "smtps"),
            ("GATEHOUSE_MAIL_SMTP_USERNAME", "gatehouse"),
            ("GATEHOUSE_MAIL_SMTP_PASSWORD", "m4il-s3cret"),
            ("GATEHOUSE_MAIL_PRODUCT_NAME", "Acme ID"),
            ("GATEHOUSE_MAIL_BATCH_SIZE", "50"),
            ("GATEHOUSE_MAIL_LINGER_MS", "0"),
        ]),
    )
    .expect("valid");
    assert_eq!(config.mail.transport, MailTransportKind::Smtp);
    assert_eq!(config.mail.smtp_tls, SmtpTls::Smtps);
    assert_eq!(config.mail.smtp_port(), 465);
    assert_eq!(config.mail.batch_size, 50);
    assert_eq!(config.mail.linger_ms, 0);
    assert_eq!(config.mail.product_name, "Acme ID");
    let shown = config.redacted_toml().expect("toml");
    assert!(shown.contains(r#"smtp_password = "***""#), "{shown}");
    assert!(!shown.contains("m4il-s3cret"), "{shown}");
    assert!(!format!("{config:?}").contains("m4il-s3cret"));

    for (var, value, names) in [
        ("GATEHOUSE_MAIL_FROM", "not an address", "mail.from"),
        ("GATEHOUSE_MAIL_TRANSPORT", "pigeon", "mail.transport"),
        ("GATEHOUSE_MAIL_BATCH_SIZE", "0", "mail.batch_size"),
        ("GATEHOUSE_MAIL_LINGER_MS", "1001", "mail.linger_ms"),
        (
            "GATEHOUSE_MAIL_PRODUCT_NAME",
            "Bad\r\nBcc: x@y",
            "mail.product_name",
        ),
        (
            "GATEHOUSE_MAIL_RETRY_MAX_SECONDS",
            "1",
            "mail.retry_max_seconds",
        ),
    ] {
        let message = error(Config::load(None, env(&[(var, value)])));
        assert!(message.contains(names), "{var}={value}: {message}");
    }
    let message = error(Config::load(
        None,
        env(&[
            ("GATEHOUSE_MAIL_SMTP_TLS", "none"),
            ("GATEHOUSE_MAIL_SMTP_USERNAME", "u"),
        ]),
    ));
    assert!(message.contains("mail.smtp_username"), "{message}");
}
