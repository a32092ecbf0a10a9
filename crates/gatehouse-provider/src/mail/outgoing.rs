//! What a transport is handed, and how a send can fail.

use gatehouse_core::mail::MailId;

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
