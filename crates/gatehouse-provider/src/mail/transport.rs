//! The transports behind one face: the worker hands each an RFC 5322 message.

use gatehouse_core::mail::MailId;

use super::{MailError, file, log, smtp};
use crate::config::{MailConfig, MailTransportKind};

/// A mail, formatted and ready to leave.
#[derive(Debug)]
pub struct Outgoing {
    pub id: MailId,
    /// The recipient's domain: all that logs may show of the recipient.
    pub recipient_domain: String,
    pub envelope: lettre::address::Envelope,
    /// The whole message, headers and body (RFC 5322, CRLF line ends).
    pub raw: Vec<u8>,
}

/// Why a send failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// The server refused this mail for good (an SMTP 5xx): it is not retried.
    pub permanent: bool,
    pub reason: String,
}

impl SendError {
    pub fn transient(reason: impl Into<String>) -> Self {
        Self {
            permanent: false,
            reason: reason.into(),
        }
    }
}

#[derive(Debug)]
pub enum Transport {
    File(file::FileTransport),
    Smtp(smtp::SmtpTransport),
    Log(log::LogTransport),
}

impl Transport {
    pub fn from_config(config: &MailConfig) -> Result<Self, MailError> {
        Ok(match config.transport {
            MailTransportKind::File => Self::File(file::FileTransport::new(&config.file_dir)),
            MailTransportKind::Smtp => Self::Smtp(smtp::SmtpTransport::new(config)?),
            MailTransportKind::Log => Self::Log(log::LogTransport),
        })
    }

    /// The longest one send may take before it is abandoned.
    /// The transport's name, as `mail.transport` says it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            Self::Smtp(_) => "smtp",
            Self::Log(_) => "log",
        }
    }

    pub fn worst_case(&self) -> std::time::Duration {
        match self {
            Self::Smtp(smtp) => smtp.worst_case(),
            Self::File(_) | Self::Log(_) => std::time::Duration::from_secs(5),
        }
    }

    pub async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        match self {
            Self::File(file) => file.send(mail),
            Self::Smtp(smtp) => smtp.send(mail).await,
            Self::Log(log) => {
                log.send(mail);
                Ok(())
            }
        }
    }
}
