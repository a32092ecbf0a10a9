//! The transports behind one face: the worker hands each an RFC 5322 message.

pub use super::outgoing::{Outgoing, SendError};
use super::{MailError, file, log, smtp};
use crate::config::{MailConfig, MailTransportKind};

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
