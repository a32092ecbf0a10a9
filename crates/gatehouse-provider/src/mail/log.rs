//! The `log` transport: logs that a mail was sent, naming only the recipient's domain,
//! and drops it. Never the body (it holds codes and links), never the whole address.

use super::outgoing::Outgoing;

#[derive(Debug)]
pub struct LogTransport;

impl LogTransport {
    pub fn send(&self, mail: &Outgoing) {
        tracing::info!(
            mail_id = %mail.id,
            domain = %mail.recipient_domain,
            bytes = mail.raw.len(),
            "mail sent (log transport: logged, not delivered)"
        );
    }
}
