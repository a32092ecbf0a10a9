//! Configuration: one TOML file plus `GATEHOUSE_*` environment overrides, with
//! defaults that run with no file at all.
//!
//! Every key has an environment variable named after its place in the file:
//! `[database] url` is `GATEHOUSE_DATABASE_URL`, `[password_policy] min_length` is
//! `GATEHOUSE_PASSWORD_POLICY_MIN_LENGTH`. `GATEHOUSE_BIND` and `GATEHOUSE_ISSUER` are
//! short forms of `GATEHOUSE_SERVER_BIND` and `GATEHOUSE_SERVER_ISSUER`. Unknown keys
//! and unknown `GATEHOUSE_*` variables are refused, so a typo never passes silently.

use gatehouse_core::password::HashingParams;
use gatehouse_core::{FactorRegistry, IdentifierPolicy, PasswordPolicy};
use gatehouse_store::{DatabaseUrl, PoolOptions};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub logging: LoggingConfig,
    pub identifiers: IdentifierConfig,
    pub password_policy: PasswordPolicy,
    pub password_hashing: HashingParams,
    pub factors: FactorRegistry,
    pub secrets: SecretsConfig,
    pub keys: KeysConfig,
    pub login: LoginConfig,
    pub brute_force: BruteForceConfig,
    pub email_otp: EmailOtpConfig,
    pub mail: MailConfig,
    pub migration: MigrationConfig,
    pub account_api: AccountApiConfig,
    pub push: PushConfig,
    pub backchannel_logout: BackchannelLogoutConfig,
    pub webauthn: WebauthnConfig,
    pub cors: CorsConfig,
    pub metrics: MetricsConfig,
    pub ui: UiConfig,
    pub par: ParConfig,
    pub dpop: DpopConfig,
}

/// `[par]`: pushed authorization requests (RFC 9126).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParConfig {
    /// Every client must push its authorization requests (discovery's
    /// `require_pushed_authorization_requests`); off, only clients registered so must.
    pub required: bool,
    /// How long a pushed request's `request_uri` can be used (once).
    pub request_ttl_seconds: u32,
}

impl Default for ParConfig {
    fn default() -> Self {
        Self {
            required: false,
            request_ttl_seconds: 60,
        }
    }
}

/// `[dpop]`: sender-constrained tokens (RFC 9449).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DpopConfig {
    /// Proofs must carry a nonce this server handed out (`DPoP-Nonce`, RFC 9449 §8).
    pub require_nonce: bool,
    /// How far a proof's `iat` may be from the server's clock, either way.
    pub proof_max_age_seconds: u32,
    /// A nonce is good for this long at least, and at most twice as long.
    pub nonce_ttl_seconds: u32,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            require_nonce: false,
            proof_max_age_seconds: 60,
            nonce_ttl_seconds: 300,
        }
    }
}

/// `[ui]`: the reference UI served at `/ui/` (sign-in, registration, account settings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Serve it. A deployment with a frontend of its own sets the UI URLs
    /// (`login.ui_url`, …) and may turn it off.
    pub enabled: bool,
    /// Serve the UI's files from this directory instead of the embedded ones: for
    /// working on the UI without rebuilding the server. Empty: the embedded files.
    pub assets_dir: String,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            assets_dir: String::new(),
        }
    }
}

/// `[metrics]`: where `/metrics` is served.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `host:port` of a listener of its own for `/metrics` (then the public listener
    /// has none). Empty: `/metrics` on the main listener.
    pub bind: String,
}

/// `[cors]`: which other origins may call the API from a browser.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Origins (`scheme://host[:port]`, space-separated) whose pages may call the API
    /// with credentials. Empty: the origins of the configured UI URLs that differ from
    /// the issuer's.
    pub allowed_origins: String,
}

/// The origin (`scheme://host[:port]`) of an absolute URL.
fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https")
        .then(|| parsed.origin().ascii_serialization())
        .filter(|o| o != "null")
}

/// `[webauthn]`: security keys, passkeys and platform ("biometric") keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnConfig {
    /// The relying party id: a registrable domain the login UI is served under. Empty:
    /// the issuer's host. It can never change without making every credential useless.
    pub rp_id: String,
    /// The origin the login UI runs on (scheme, host and port), as browsers send it.
    /// Empty: the issuer's origin.
    pub origin: String,
    /// More allowed origins, space-separated (e.g. the account UI on another subdomain).
    pub extra_origins: String,
    /// Accept the origins' host on any port (development and tests with rp_id `localhost`).
    pub allow_any_port: bool,
    /// The name authenticators show. Empty: `mail.product_name`.
    pub rp_name: String,
    /// How long a started ceremony (registration or sign-in) may be finished.
    pub ceremony_ttl_seconds: u32,
    /// Tell the UI after a login that the account has no platform ("biometric") key yet,
    /// so it can offer to register one (`offer_platform_enrolment` in the answer).
    pub offer_platform_enrolment: bool,
    /// The `acr` value that asks for (and reports) a phishing-resistant login: a
    /// WebAuthn credential. Advertised in discovery `acr_values_supported`.
    pub phishing_resistant_acr: String,
}

impl Default for WebauthnConfig {
    fn default() -> Self {
        Self {
            rp_id: String::new(),
            origin: String::new(),
            extra_origins: String::new(),
            allow_any_port: false,
            rp_name: String::new(),
            ceremony_ttl_seconds: 300,
            offer_platform_enrolment: true,
            phishing_resistant_acr: "phr".to_owned(),
        }
    }
}

impl WebauthnConfig {
    /// The relying party id in force: `rp_id`, else the issuer's host name. A loopback
    /// address stands for `localhost` (browsers refuse IP addresses as rp ids); with
    /// another IP address and no `rp_id` there is none, and WebAuthn is off.
    pub fn effective_rp_id(&self, issuer: &str) -> Option<String> {
        if !self.rp_id.is_empty() {
            return Some(self.rp_id.clone());
        }
        match url::Url::parse(issuer).ok()?.host()? {
            url::Host::Domain(name) => Some(name.to_owned()),
            url::Host::Ipv4(ip) if ip.is_loopback() => Some("localhost".to_owned()),
            url::Host::Ipv6(ip) if ip.is_loopback() => Some("localhost".to_owned()),
            _ => None,
        }
    }

    /// The origins in force: `origin` (else the issuer's origin, with `localhost` for a
    /// loopback address) and `extra_origins`.
    pub fn effective_origins(&self, issuer: &str) -> Result<Vec<url::Url>, String> {
        let first = if self.origin.is_empty() {
            let mut issuer = url::Url::parse(issuer).map_err(|e| e.to_string())?;
            let loopback = match issuer.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                _ => false,
            };
            if loopback {
                issuer
                    .set_host(Some("localhost"))
                    .map_err(|e| e.to_string())?;
            }
            issuer.origin().ascii_serialization()
        } else {
            self.origin.clone()
        };
        std::iter::once(first.as_str())
            .chain(self.extra_origins.split_whitespace())
            .map(|o| match url::Url::parse(o) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
                _ => Err(format!("{o:?} is not an http(s) origin")),
            })
            .collect()
    }
}

/// Moving accounts in from an old system (scenario A).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MigrationConfig {
    /// Import `password_hash` (bcrypt, PBKDF2, argon2) so old passwords keep working;
    /// off by default: every user re-registers.
    pub keep_passwords: bool,
    /// Import `totp_secret` as an active authenticator-app factor (sealed at rest), so
    /// users keep their app; off by default: an old system's secrets stay behind.
    pub import_totp_secrets: bool,
    /// The frontend's "Set your password" page; links go to `{registration_ui_url}?token=…`.
    pub registration_ui_url: String,
    /// How long a registration link works.
    pub link_ttl_seconds: u32,
    /// Self-service resends per address, and per client IP, in one window.
    pub resend_per_address: u32,
    pub resend_per_ip: u32,
    pub resend_window_seconds: u32,
    /// Rows per import transaction.
    pub import_batch_size: u32,
    /// Largest import body the admin API accepts.
    pub max_import_bytes: u64,
}

impl Default for MigrationConfig {
    fn default() -> Self {
        Self {
            keep_passwords: false,
            import_totp_secrets: false,
            registration_ui_url: String::new(),
            link_ttl_seconds: 14 * 24 * 3600,
            resend_per_address: 3,
            resend_per_ip: 30,
            resend_window_seconds: 3600,
            import_batch_size: 1000,
            max_import_bytes: 1 << 30,
        }
    }
}

/// `[account_api]`: the API a signed-in user manages their own account with, called
/// by first-party clients with a bearer access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountApiConfig {
    /// The scope an access token needs (and its client must be first-party).
    pub scope: String,
    /// Adding or removing a sign-in method needs a login at most this old (the
    /// token's `auth_time`); older: 403 `reauthentication_required`.
    pub reauthentication_window_seconds: u32,
    /// The page that undoes an e-mail change; the old address is mailed
    /// `{email_undo_url}?token=…` (valid 72 hours, single use).
    pub email_undo_url: String,
    /// Where users sign in; named in the mail to a new address after a change.
    pub sign_in_url: String,
}

impl Default for AccountApiConfig {
    fn default() -> Self {
        Self {
            scope: "gatehouse:account".to_owned(),
            reauthentication_window_seconds: 600,
            email_undo_url: String::new(),
            sign_in_url: String::new(),
        }
    }
}

/// `[push]`: how push-approval challenges reach phones.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// `log` (only logs that a push went out) or `webhook` (POSTs JSON to a push
    /// gateway that relays to APNs/FCM).
    pub notifier: String,
    /// The push gateway's URL (`webhook`): `http://` only, a relay on the internal
    /// network (this build's HTTP client carries no TLS).
    pub webhook_url: String,
    /// Sent as `Authorization: Bearer …` to the gateway when set; redacted by
    /// `gatehouse config check`.
    pub webhook_token: String,
    /// One delivery attempt's time limit.
    pub webhook_timeout_seconds: u32,
    /// Deliveries in flight at once; more wait in a queue of 1024, beyond which
    /// pushes are dropped (and logged): the login still works by polling.
    pub webhook_concurrency: u32,
    /// How long an enrolment ticket (the QR code) may be used.
    pub ticket_ttl_seconds: u32,
    /// How long a login's push challenge waits for the phone.
    pub challenge_ttl_seconds: u32,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            notifier: "log".to_owned(),
            webhook_url: String::new(),
            webhook_token: String::new(),
            webhook_timeout_seconds: 5,
            webhook_concurrency: 4,
            ticket_ttl_seconds: gatehouse_core::push::TICKET_TTL_SECONDS,
            challenge_ttl_seconds: gatehouse_core::push::CHALLENGE_TTL_SECONDS,
        }
    }
}

impl std::fmt::Debug for PushConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = if self.webhook_token.is_empty() {
            ""
        } else {
            "***"
        };
        f.debug_struct("PushConfig")
            .field("notifier", &self.notifier)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_token", &token)
            .field("webhook_timeout_seconds", &self.webhook_timeout_seconds)
            .field("webhook_concurrency", &self.webhook_concurrency)
            .field("ticket_ttl_seconds", &self.ticket_ttl_seconds)
            .field("challenge_ttl_seconds", &self.challenge_ttl_seconds)
            .finish()
    }
}

impl PushConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            key: format!("push.{key}"),
            reason,
        };
        match self.notifier.as_str() {
            "log" => {}
            "webhook" => {
                let url = url::Url::parse(&self.webhook_url).map_err(|e| {
                    invalid(
                        "webhook_url",
                        format!("{:?} is not a URL: {e}", self.webhook_url),
                    )
                })?;
                // The HTTP client in this build has no TLS: the gateway is a relay
                // beside the server (a sidecar or an internal host), reached over http.
                if url.scheme() != "http" {
                    return Err(invalid(
                        "webhook_url",
                        "must be an http:// URL (a push relay on the internal network)".to_owned(),
                    ));
                }
            }
            other => {
                return Err(invalid(
                    "notifier",
                    format!("{other:?} is not log or webhook"),
                ));
            }
        }
        if self.webhook_timeout_seconds == 0 {
            return Err(invalid(
                "webhook_timeout_seconds",
                "must be at least 1".to_owned(),
            ));
        }
        if self.ticket_ttl_seconds == 0 || self.ticket_ttl_seconds > 3600 {
            return Err(invalid(
                "ticket_ttl_seconds",
                "must be 1 to 3600".to_owned(),
            ));
        }
        if self.challenge_ttl_seconds == 0 || self.challenge_ttl_seconds > 600 {
            return Err(invalid(
                "challenge_ttl_seconds",
                "must be 1 to 600".to_owned(),
            ));
        }
        if self.webhook_concurrency == 0 {
            return Err(invalid(
                "webhook_concurrency",
                "must be at least 1".to_owned(),
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// The frontend's login page; `/authorize` sends browsers there with `?login_challenge=…`.
    pub ui_url: String,
    /// The frontend's logout confirmation; `/end_session` without a valid
    /// `id_token_hint` sends browsers there with `?logout_challenge=…`.
    pub logout_ui_url: String,
    /// How long a user has to finish a login started at `/authorize`.
    pub request_ttl_seconds: u32,
    /// Password checks allowed to wait for a hashing thread; beyond this the answer is
    /// 503 with `Retry-After`, which keeps memory bounded.
    pub password_queue: u32,
    /// Threads that hash passwords (each holds `password_hashing.memory_kib` while it
    /// works); 0 means one per core.
    pub password_threads: u32,
    /// How long a browser stays signed in to the provider after a login.
    pub session_ttl_seconds: u32,
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self {
            ui_url: String::new(),
            logout_ui_url: String::new(),
            request_ttl_seconds: 600,
            password_queue: 64,
            password_threads: 0,
            session_ttl_seconds: 12 * 3600,
        }
    }
}

/// `[brute_force]`: how wrong passwords at login are counted (see the README's
/// "Brute-force protection"). Every count lives in a fixed window of its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BruteForceConfig {
    /// Wrong passwords for one account (or identifier) from one client address before
    /// that pair is refused (429) until its window ends; the owner elsewhere is not.
    pub account_address_failures: u32,
    pub account_address_window_seconds: u32,
    /// Wrong passwords from one client address, whatever the accounts (spraying),
    /// before that address is refused until its window ends.
    pub address_failures: u32,
    pub address_window_seconds: u32,
    /// Wrong passwords for one account from anywhere before its owner is mailed (once
    /// per window) and an audit event is written. Never refuses the right password.
    pub account_alert_failures: u32,
    pub account_alert_window_seconds: u32,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        Self {
            account_address_failures: 10,
            account_address_window_seconds: 900,
            address_failures: 100,
            address_window_seconds: 3600,
            account_alert_failures: 20,
            account_alert_window_seconds: 3600,
        }
    }
}

/// `[email_otp]`: the e-mail code's limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailOtpConfig {
    /// How long a code is good for.
    pub code_ttl_seconds: u32,
    /// Wrong codes before a code is dead (the user asks for a new one).
    pub max_tries: u32,
    /// Codes sent to one account within `send_window_seconds`; more answer 429.
    pub max_sends: u32,
    pub send_window_seconds: u32,
}

impl Default for EmailOtpConfig {
    fn default() -> Self {
        let limits = gatehouse_core::otp::OtpLimits::default();
        Self {
            code_ttl_seconds: seconds(limits.code_ttl),
            max_tries: limits.max_tries,
            max_sends: u32::try_from(limits.max_sends).unwrap_or(u32::MAX),
            send_window_seconds: seconds(limits.send_window),
        }
    }
}

fn seconds(span: chrono::TimeDelta) -> u32 {
    u32::try_from(span.num_seconds()).unwrap_or(u32::MAX)
}

impl EmailOtpConfig {
    pub fn limits(&self) -> gatehouse_core::otp::OtpLimits {
        gatehouse_core::otp::OtpLimits {
            code_ttl: chrono::TimeDelta::seconds(self.code_ttl_seconds.into()),
            max_tries: self.max_tries,
            max_sends: usize::try_from(self.max_sends).unwrap_or(usize::MAX),
            send_window: chrono::TimeDelta::seconds(self.send_window_seconds.into()),
        }
    }
}

/// How mail leaves: `.eml` files (the default), SMTP, or only a log line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// RFC 5322 `.eml` files in `mail.file_dir`: development, tests, or a pickup folder.
    #[default]
    File,
    Smtp,
    /// Logs that a mail was sent (recipient domain only) and drops it.
    Log,
}

/// Transport security for SMTP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// STARTTLS, required: a server that does not offer it gets nothing.
    #[default]
    Starttls,
    /// Implicit TLS from the first byte (SMTPS, port 465).
    Smtps,
    /// Plain text, for a relay on the same host or a test server; no AUTH is sent.
    None,
}

impl SmtpTls {
    pub fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Smtps => 465,
            Self::None => 25,
        }
    }
}

/// `[backchannel_logout]`: delivering logout tokens to clients' back-channel logout
/// URIs (OIDC Back-Channel Logout 1.0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackchannelLogoutConfig {
    /// How often the worker looks for due notices (milliseconds).
    pub poll_interval_ms: u32,
    /// Notices leased per round.
    pub batch_size: u32,
    /// A client that does not answer within this is tried again later.
    pub timeout_seconds: u32,
    /// A logout token is valid this long after it is sent.
    pub token_ttl_seconds: u32,
    /// The first retry waits this long; each further one twice as long ...
    pub retry_base_seconds: u32,
    /// ... but never longer than this.
    pub retry_max_seconds: u32,
    /// A notice not delivered this long after the session ended is given up.
    pub give_up_after_seconds: u32,
    /// A PEM file of CA certificates trusted besides the web PKI's roots (clients on
    /// a private CA); empty: the web PKI's roots only.
    pub ca_file: String,
}

impl Default for BackchannelLogoutConfig {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1000,
            batch_size: 20,
            timeout_seconds: 5,
            token_ttl_seconds: 120,
            retry_base_seconds: 10,
            retry_max_seconds: 600,
            give_up_after_seconds: 86_400,
            ca_file: String::new(),
        }
    }
}

impl BackchannelLogoutConfig {
    /// The retry schedule.
    pub fn backoff(&self) -> gatehouse_core::mail::Backoff {
        gatehouse_core::mail::Backoff {
            base: chrono::TimeDelta::seconds(self.retry_base_seconds.max(1).into()),
            cap: chrono::TimeDelta::seconds(self.retry_max_seconds.max(1).into()),
        }
    }
}

/// `[mail]`: the outbox worker, the transport, and what mails say. Keys are flat
/// (`smtp_host`, not `[mail.smtp] host`) so each has its `GATEHOUSE_MAIL_*` variable.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    pub transport: MailTransportKind,
    /// The sender address (`From`), shown with the product name.
    pub from: String,
    /// The product name mails speak of ("Your Gatehouse one-time code").
    pub product_name: String,
    /// Where the `file` transport writes `.eml` files.
    pub file_dir: String,
    pub smtp_host: String,
    /// 0: the usual port of `smtp_tls` (587, 465 or 25).
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    /// AUTH is used when a username is set.
    pub smtp_username: String,
    pub smtp_password: String,
    /// Connecting and each command: a mail server that hangs costs at most this.
    pub smtp_timeout_seconds: u32,
    /// How often the worker looks for due mail.
    pub poll_interval_seconds: u32,
    /// Mails claimed (leased) per round.
    pub batch_size: u32,
    /// After a round that found several mails, the next starts at most this long
    /// (milliseconds) after it began: mail queued faster than rounds run waits up to
    /// this long and goes out with the mail queued beside it, one lease for many
    /// instead of a round per mail. After a round of one mail or none, mail goes at once.
    pub linger_ms: u32,
    /// The first retry waits this long; each further one twice as long ...
    pub retry_base_seconds: u32,
    /// ... but never longer than this.
    pub retry_max_seconds: u32,
    /// Sent (and given-up) mails keep their metadata this long, then are deleted.
    pub keep_sent_days: u32,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            transport: MailTransportKind::File,
            from: "no-reply@localhost".to_owned(),
            product_name: "Gatehouse".to_owned(),
            file_dir: "./data/outbox".to_owned(),
            smtp_host: "localhost".to_owned(),
            smtp_port: 0,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: String::new(),
            smtp_password: String::new(),
            smtp_timeout_seconds: 10,
            poll_interval_seconds: 1,
            batch_size: 20,
            linger_ms: 100,
            retry_base_seconds: 30,
            retry_max_seconds: 3600,
            keep_sent_days: 30,
        }
    }
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let password = if self.smtp_password.is_empty() {
            ""
        } else {
            "***"
        };
        f.debug_struct("MailConfig")
            .field("transport", &self.transport)
            .field("from", &self.from)
            .field("product_name", &self.product_name)
            .field("file_dir", &self.file_dir)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &password)
            .field("smtp_timeout_seconds", &self.smtp_timeout_seconds)
            .field("poll_interval_seconds", &self.poll_interval_seconds)
            .field("batch_size", &self.batch_size)
            .field("linger_ms", &self.linger_ms)
            .field("retry_base_seconds", &self.retry_base_seconds)
            .field("retry_max_seconds", &self.retry_max_seconds)
            .field("keep_sent_days", &self.keep_sent_days)
            .finish()
    }
}

impl MailConfig {
    /// The SMTP port in effect.
    pub fn smtp_port(&self) -> u16 {
        if self.smtp_port == 0 {
            self.smtp_tls.default_port()
        } else {
            self.smtp_port
        }
    }

    /// The retry schedule.
    pub fn backoff(&self) -> gatehouse_core::mail::Backoff {
        gatehouse_core::mail::Backoff {
            base: chrono::TimeDelta::seconds(self.retry_base_seconds.into()),
            cap: chrono::TimeDelta::seconds(self.retry_max_seconds.into()),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            key: format!("mail.{key}"),
            reason,
        };
        self.from.parse::<lettre::Address>().map_err(|e| {
            invalid(
                "from",
                format!("{:?} is not an e-mail address: {e}", self.from),
            )
        })?;
        let product = self.product_name.trim();
        if product.is_empty()
            || product.chars().count() > 64
            || product.chars().any(char::is_control)
        {
            return Err(invalid(
                "product_name",
                "must be 1 to 64 characters, with no control characters".to_owned(),
            ));
        }
        if self.transport == MailTransportKind::File && self.file_dir.trim().is_empty() {
            return Err(invalid("file_dir", "must not be empty".to_owned()));
        }
        if self.transport == MailTransportKind::Smtp && self.smtp_host.trim().is_empty() {
            return Err(invalid("smtp_host", "must not be empty".to_owned()));
        }
        if self.smtp_tls == SmtpTls::None && !self.smtp_username.is_empty() {
            return Err(invalid(
                "smtp_username",
                "AUTH needs TLS: set smtp_tls to starttls or smtps".to_owned(),
            ));
        }
        for (key, value) in [
            ("smtp_timeout_seconds", self.smtp_timeout_seconds),
            ("poll_interval_seconds", self.poll_interval_seconds),
            ("retry_base_seconds", self.retry_base_seconds),
            ("keep_sent_days", self.keep_sent_days),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".to_owned()));
            }
        }
        if !(1..=1000).contains(&self.batch_size) {
            return Err(invalid("batch_size", "must be 1 to 1000".to_owned()));
        }
        if self.linger_ms > 1000 {
            return Err(invalid("linger_ms", "must be 0 to 1000".to_owned()));
        }
        if self.retry_max_seconds < self.retry_base_seconds {
            return Err(invalid(
                "retry_max_seconds",
                "must be at least retry_base_seconds".to_owned(),
            ));
        }
        Ok(())
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// The master key, 32 bytes base64url (`gatehouse secrets generate-key`). Every
    /// instance sharing a database needs the same one. Empty: use `key_file`.
    pub key: String,
    /// Where the master key is read from when `key` is empty; generated on first start.
    pub key_file: String,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            key: String::new(),
            key_file: "./data/secret.key".to_owned(),
        }
    }
}

impl std::fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsConfig")
            .field("key", &if self.key.is_empty() { "" } else { "***" })
            .field("key_file", &self.key_file)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// How long a retired signing key stays published: at least the longest token lifetime.
    pub retired_key_ttl_seconds: u32,
    /// How often an instance re-reads the keys, to notice a rotation made elsewhere.
    pub reload_interval_seconds: u32,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            retired_key_ttl_seconds: 24 * 3600,
            reload_interval_seconds: 60,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `host:port`; port 0 picks a free port (tests).
    pub bind: String,
    /// The OIDC issuer: the public base URL relying parties see.
    pub issuer: String,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// The reverse proxies whose `X-Forwarded-For` is believed (CIDRs or addresses,
    /// space-separated). Empty: the client address is always the peer's.
    pub trusted_proxies: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".to_owned(),
            issuer: "http://localhost:8080".to_owned(),
            workers: 0,
            trusted_proxies: String::new(),
        }
    }
}

impl ServerConfig {
    /// `trusted_proxies` parsed; a lone address is a network of one.
    pub fn trusted_proxy_nets(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_proxies
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("{s:?} is not an address or a CIDR range"))
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (embedded default) or `postgres://USER[:PASSWORD]@HOST/DB`.
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_seconds: u64,
    /// Apply pending migrations at start-up (`gatehouse db migrate` does it explicitly).
    pub auto_migrate: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://./data/gatehouse.db".to_owned(),
            max_connections: 8,
            acquire_timeout_seconds: 5,
            auto_migrate: true,
        }
    }
}

impl DatabaseConfig {
    pub fn parsed_url(&self) -> Result<DatabaseUrl, ConfigError> {
        DatabaseUrl::parse(&self.url).map_err(|e| ConfigError::Invalid {
            key: "database.url".to_owned(),
            reason: e.to_string(),
        })
    }

    pub fn pool_options(&self) -> PoolOptions {
        PoolOptions {
            max_connections: self.max_connections,
            acquire_timeout: Duration::from_secs(self.acquire_timeout_seconds),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    pub format: LogFormat,
    /// A `tracing` filter: `info`, `gatehouse=debug,actix_web=info`, …
    pub level: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".to_owned(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentifierConfig {
    /// Login with a legacy username: `allowed`, `warn` (the default) or `disabled`.
    pub username_login: IdentifierPolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("config file {path} is not valid TOML: {reason}")]
    Syntax { path: PathBuf, reason: String },
    #[error("{source_name}: {key}: {reason}")]
    Key {
        source_name: String,
        key: String,
        reason: String,
    },
    #[error("unknown environment variable {0} (see the README for the GATEHOUSE_* names)")]
    UnknownVariable(String),
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
}

/// Variables with the `GATEHOUSE_` prefix that are not configuration keys.
const NOT_CONFIG: [&str; 2] = ["GATEHOUSE_CONFIG", "GATEHOUSE_TEST_"];
const SHORT_FORMS: [(&str, &str); 2] = [
    ("GATEHOUSE_BIND", "server.bind"),
    ("GATEHOUSE_ISSUER", "server.issuer"),
];

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Config {
    /// The origins CORS lets in (`[cors] allowed_origins`, else those of the UI URLs
    /// that are not the issuer's own), each once.
    pub fn cors_origins(&self) -> Result<Vec<String>, String> {
        let mut origins: Vec<String> = Vec::new();
        if self.cors.allowed_origins.trim().is_empty() {
            let issuer = origin_of(&self.server.issuer);
            for url in [
                &self.login.ui_url,
                &self.login.logout_ui_url,
                &self.migration.registration_ui_url,
                &self.account_api.email_undo_url,
                &self.account_api.sign_in_url,
            ] {
                if let Some(origin) = origin_of(url).filter(|o| Some(o) != issuer.as_ref()) {
                    origins.push(origin);
                }
            }
        } else {
            for listed in self.cors.allowed_origins.split_whitespace() {
                let origin = origin_of(listed)
                    .filter(|o| o == listed.trim_end_matches('/'))
                    .ok_or_else(|| {
                        format!(
                            "{listed:?} is not an origin (scheme://host[:port], no path, never *)"
                        )
                    })?;
                origins.push(origin);
            }
        }
        origins.sort();
        origins.dedup();
        Ok(origins)
    }

    /// The UI URLs left empty, pointed at the reference UI on the issuer's origin
    /// (when it is enabled): `/ui/login`, `/ui/logout`, `/ui/register`,
    /// `/ui/email-undo` and `/ui/` for signing in to the account.
    #[must_use]
    pub fn with_ui_defaults(mut self) -> Self {
        if !self.ui.enabled {
            return self;
        }
        let base = self.server.issuer.trim_end_matches('/').to_owned();
        for (url, page) in [
            (&mut self.login.ui_url, "login"),
            (&mut self.login.logout_ui_url, "logout"),
            (&mut self.migration.registration_ui_url, "register"),
            (&mut self.account_api.email_undo_url, "email-undo"),
            (&mut self.account_api.sign_in_url, ""),
        ] {
            if url.trim().is_empty() {
                *url = format!("{base}/ui/{page}");
            }
        }
        self
    }

    /// Reads `file` (if any), applies `GATEHOUSE_*` variables from `env`, and validates.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            None => toml::Table::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Syntax {
                        path: path.to_owned(),
                        reason: syntax_reason(&text, &e),
                    })?
            }
        };
        let source_name =
            file.map_or_else(|| "configuration".to_owned(), |p| p.display().to_string());
        Self::deserialize_table(table.clone(), &source_name)?;
        apply_environment(&mut table, env)?;
        let config = Self::deserialize_table(table, "environment")?.with_ui_defaults();
        config.validate()?;
        Ok(config)
    }

    fn deserialize_table(table: toml::Table, source_name: &str) -> Result<Self, ConfigError> {
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Key {
            source_name: source_name.to_owned(),
            key: e.path().to_string(),
            reason: one_line(&e.inner().to_string()),
        })
    }

    /// Cross-field and format checks serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            key: key.to_owned(),
            reason,
        };
        let bind_ok = self
            .server
            .bind
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !bind_ok {
            return Err(invalid(
                "server.bind",
                format!(
                    "{:?} is not host:port, e.g. 127.0.0.1:8080",
                    self.server.bind
                ),
            ));
        }
        validate_issuer(&self.server.issuer).map_err(|reason| invalid("server.issuer", reason))?;
        for (key, value) in [
            ("login.ui_url", &self.login.ui_url),
            ("login.logout_ui_url", &self.login.logout_ui_url),
            (
                "migration.registration_ui_url",
                &self.migration.registration_ui_url,
            ),
            (
                "account_api.email_undo_url",
                &self.account_api.email_undo_url,
            ),
            ("account_api.sign_in_url", &self.account_api.sign_in_url),
        ] {
            match url::Url::parse(value) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ if value.trim().is_empty() => {
                    return Err(invalid(
                        key,
                        "must be set when the reference UI is off ([ui] enabled = false)"
                            .to_owned(),
                    ));
                }
                _ => {
                    return Err(invalid(
                        key,
                        format!("{value:?} is not an absolute http(s) URL"),
                    ));
                }
            }
        }
        for (key, value) in [
            (
                "migration.link_ttl_seconds",
                self.migration.link_ttl_seconds,
            ),
            (
                "migration.resend_window_seconds",
                self.migration.resend_window_seconds,
            ),
            (
                "migration.import_batch_size",
                self.migration.import_batch_size,
            ),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".to_owned()));
            }
        }
        self.server
            .trusted_proxy_nets()
            .map_err(|reason| invalid("server.trusted_proxies", reason))?;
        self.cors_origins()
            .map_err(|reason| invalid("cors.allowed_origins", reason))?;
        for (key, value) in [
            (
                "brute_force.account_address_failures",
                self.brute_force.account_address_failures,
            ),
            (
                "brute_force.account_address_window_seconds",
                self.brute_force.account_address_window_seconds,
            ),
            (
                "brute_force.address_failures",
                self.brute_force.address_failures,
            ),
            (
                "brute_force.address_window_seconds",
                self.brute_force.address_window_seconds,
            ),
            (
                "brute_force.account_alert_failures",
                self.brute_force.account_alert_failures,
            ),
            (
                "brute_force.account_alert_window_seconds",
                self.brute_force.account_alert_window_seconds,
            ),
            (
                "email_otp.code_ttl_seconds",
                self.email_otp.code_ttl_seconds,
            ),
            ("email_otp.max_tries", self.email_otp.max_tries),
            ("par.request_ttl_seconds", self.par.request_ttl_seconds),
            (
                "dpop.proof_max_age_seconds",
                self.dpop.proof_max_age_seconds,
            ),
            ("dpop.nonce_ttl_seconds", self.dpop.nonce_ttl_seconds),
            ("email_otp.max_sends", self.email_otp.max_sends),
            (
                "email_otp.send_window_seconds",
                self.email_otp.send_window_seconds,
            ),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".to_owned()));
            }
        }
        if self.login.request_ttl_seconds == 0 {
            return Err(invalid(
                "login.request_ttl_seconds",
                "must be at least 1".to_owned(),
            ));
        }
        self.database.parsed_url()?;
        if self.database.max_connections == 0 {
            return Err(invalid(
                "database.max_connections",
                "must be at least 1".to_owned(),
            ));
        }
        if self.logging.level.trim().is_empty() {
            return Err(invalid("logging.level", "must not be empty".to_owned()));
        }
        self.password_policy
            .validate()
            .map_err(|e| invalid("password_policy", e.to_string()))?;
        // Parameters only: building a hasher would compute a production-cost hash.
        self.password_hashing
            .validate()
            .map_err(|e| invalid("password_hashing", e.to_string()))?;
        self.factors
            .validate()
            .map_err(|e| invalid("factors", e.to_string()))?;
        self.mail.validate()?;
        self.push.validate()?;
        if self.account_api.scope.is_empty()
            || !self
                .account_api
                .scope
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            return Err(invalid(
                "account_api.scope",
                format!("{:?} is not an OAuth scope", self.account_api.scope),
            ));
        }
        if self.webauthn.ceremony_ttl_seconds == 0 {
            return Err(invalid(
                "webauthn.ceremony_ttl_seconds",
                "must be at least 1".to_owned(),
            ));
        }
        let acr = &self.webauthn.phishing_resistant_acr;
        if acr.is_empty() || !acr.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
            return Err(invalid(
                "webauthn.phishing_resistant_acr",
                format!("{acr:?} is not an acr value"),
            ));
        }
        self.webauthn
            .effective_origins(&self.server.issuer)
            .map_err(|reason| invalid("webauthn.origin", reason))?;
        Ok(())
    }

    /// The effective configuration as TOML, with secrets replaced by `***`.
    pub fn redacted_toml(&self) -> Result<String, ConfigError> {
        let mut shown = self.clone();
        if let Ok(url) = self.database.parsed_url() {
            shown.database.url = url.redacted();
        }
        if !shown.secrets.key.is_empty() {
            shown.secrets.key = "***".to_owned();
        }
        if !shown.mail.smtp_password.is_empty() {
            shown.mail.smtp_password = "***".to_owned();
        }
        if !shown.push.webhook_token.is_empty() {
            shown.push.webhook_token = "***".to_owned();
        }
        toml::to_string_pretty(&shown).map_err(|e| ConfigError::Invalid {
            key: "(config)".to_owned(),
            reason: e.to_string(),
        })
    }
}

/// OIDC Core §2 / Discovery §3: the issuer is an https URL with no query or fragment.
/// Plain http is accepted for loopback hosts only (development and tests).
fn validate_issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("{issuer:?} is not a URL: {e}"))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(format!(
                "{issuer:?} must be https (http only for localhost)"
            ));
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{issuer:?} must not have a query or fragment"));
    }
    if issuer.ends_with('/') {
        return Err(format!("{issuer:?} must not end with '/'"));
    }
    Ok(())
}

fn syntax_reason(text: &str, error: &toml::de::Error) -> String {
    let line = error
        .span()
        .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
    match line {
        Some(line) => format!("line {line}: {}", one_line(error.message())),
        None => one_line(error.message()),
    }
}

/// The `(path, environment variable)` of every key, from the shape of the defaults.
fn known_keys() -> Vec<(Vec<String>, String)> {
    let mut keys = Vec::new();
    if let Ok(toml::Value::Table(root)) = toml::Value::try_from(Config::default()) {
        for (section, value) in root {
            if let toml::Value::Table(fields) = value {
                for key in fields.keys() {
                    let var = format!("GATEHOUSE_{section}_{key}").to_uppercase();
                    keys.push((vec![section.clone(), key.clone()], var));
                }
            }
        }
    }
    keys
}

fn apply_environment(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let keys = known_keys();
    let defaults =
        toml::Value::try_from(Config::default()).unwrap_or(toml::Value::Table(toml::Table::new()));
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with("GATEHOUSE_"))
        .filter(|(name, _)| !NOT_CONFIG.iter().any(|p| name.starts_with(p)))
        .collect();
    // Long forms win over short ones, whatever order the environment lists them in.
    vars.sort_by_key(|(name, _)| !SHORT_FORMS.iter().any(|(short, _)| short == name));
    for (name, raw) in vars {
        let path: Vec<String> =
            if let Some((_, dotted)) = SHORT_FORMS.iter().find(|(s, _)| *s == name) {
                dotted.split('.').map(str::to_owned).collect()
            } else if let Some((path, _)) = keys.iter().find(|(_, var)| *var == name) {
                path.clone()
            } else {
                return Err(ConfigError::UnknownVariable(name));
            };
        let [section, key] = path.as_slice() else {
            continue;
        };
        let default = defaults.get(section).and_then(|s| s.get(key));
        let value = typed_like(default, &raw).map_err(|reason| ConfigError::Key {
            source_name: "environment".to_owned(),
            key: name.clone(),
            reason,
        })?;
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(fields) => {
                fields.insert(key.clone(), value);
            }
            _ => {
                return Err(ConfigError::Invalid {
                    key: section.clone(),
                    reason: "must be a table".to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// Reads an environment string as the type the key has in the defaults.
fn typed_like(default: Option<&toml::Value>, raw: &str) -> Result<toml::Value, String> {
    match default {
        Some(toml::Value::Integer(_)) => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("{raw:?} is not a whole number")),
        Some(toml::Value::Boolean(_)) => match raw.trim() {
            "true" | "1" | "yes" | "on" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("{raw:?} is not true or false")),
        },
        _ => Ok(toml::Value::String(raw.to_owned())),
    }
}
