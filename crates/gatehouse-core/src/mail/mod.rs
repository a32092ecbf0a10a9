//! Mail as the domain sees it: a rendered [`Message`], the [`templates`] that render
//! each kind of mail in the reader's language, and the [`outbox`] record every mail
//! becomes until a worker has delivered it.
//!
//! Nothing here sends anything: the provider seals a message into the outbox inside
//! the transaction that needs it, and its worker delivers it later.

mod account_notices;
mod factor_notices;
pub mod outbox;
pub mod templates;

pub use outbox::{Backoff, MailId, OutboxMail};
pub use templates::{Language, Templates};

/// A mail ready to be queued: the recipient, the subject and the plain-text body.
/// The sender is added when it is sent, from configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text_body: String,
    /// How long what the mail carries (a one-time code, a link) is good for: past it
    /// the mail is not sent at all (a late code only confuses its reader).
    pub valid_for: Option<chrono::TimeDelta>,
}

impl Message {
    /// The same mail, carrying something good for `valid_for` only.
    pub fn valid_for(mut self, valid_for: chrono::TimeDelta) -> Self {
        self.valid_for = Some(valid_for);
        self
    }
}

/// Bodies hold secrets (one-time codes, links): never print them.
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text_body", &"***")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_body() {
        let message = Message {
            to: "a@example.com".to_owned(),
            subject: "s".to_owned(),
            text_body: "123456".to_owned(),
            valid_for: None,
        };
        let shown = format!("{message:?}");
        assert!(!shown.contains("123456"), "{shown}");
        assert!(shown.contains("a@example.com"), "{shown}");
    }
}
