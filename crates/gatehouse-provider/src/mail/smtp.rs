//! The `smtp` transport (lettre): STARTTLS (required) or implicit TLS, AUTH when a
//! username is configured, a timeout on every step. One connection per mail; it runs
//! on the worker's own runtime.

use lettre::AsyncTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use std::time::Duration;

use super::MailError;
use super::outgoing::{Outgoing, SendError};
use crate::config::{MailConfig, SmtpTls};

/// SMTP steps one send may wait on: connect, greeting, EHLO, STARTTLS, EHLO, AUTH,
/// MAIL, RCPT, DATA, the message, QUIT.
const STEPS: u32 = 11;

pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl SmtpTransport {
    pub fn new(config: &MailConfig) -> Result<Self, MailError> {
        let host = config.smtp_host.trim();
        let tls_error = |e: lettre::transport::smtp::Error| MailError::Config {
            key: "smtp_tls",
            reason: e.to_string(),
        };
        let builder = match config.smtp_tls {
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(tls_error)?
            }
            SmtpTls::Smtps => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(tls_error)?
            }
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let timeout = Duration::from_secs(config.smtp_timeout_seconds.max(1).into());
        let port = config.smtp_port();
        let mut builder = builder.port(port).timeout(Some(timeout));
        if !config.smtp_username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.smtp_username.clone(),
                config.smtp_password.clone(),
            ));
        }
        Ok(Self {
            inner: builder.build(),
            server: format!("{host}:{port}"),
            timeout,
        })
    }

    pub fn worst_case(&self) -> Duration {
        self.timeout * STEPS
    }

    pub async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        match self.inner.send_raw(&mail.envelope, &mail.raw).await {
            Ok(response) => {
                tracing::info!(
                    mail_id = %mail.id,
                    domain = %mail.recipient_domain,
                    server = %self.server,
                    code = %response.code(),
                    "mail sent"
                );
                Ok(())
            }
            Err(e) => Err(SendError {
                permanent: e.is_permanent(),
                reason: format!("{}: {e}", self.server),
            }),
        }
    }
}
