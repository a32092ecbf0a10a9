//! `gatehouse outbox list|show`: the mail outbox, for development and support. A mail
//! still queued is shown decoded (its text whole, links on one line); a sent one has
//! no body left in the database (it is erased once sent), but with the `file`
//! transport the delivered `.eml` is read and decoded (quoted-printable or base64).

use chrono::{DateTime, Utc};
use clap::Subcommand;
use gatehouse_core::MailId;
use gatehouse_core::mail::OutboxMail;
use gatehouse_core::ports::MailOutbox;
use serde::Serialize;

use crate::{Context, Failure, print_json};

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// The newest mails: recipient, subject, status and times.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One mail, decoded (its text, while it is still queued).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Serialize)]
struct MailView {
    id: String,
    to: String,
    subject: String,
    /// `pending`, `sent`, `failed` or `expired` (not sent: its code or link expired).
    status: &'static str,
    attempts: u32,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

fn status(mail: &OutboxMail) -> &'static str {
    match (&mail.sent_at, &mail.failed_at, mail.last_error.as_deref()) {
        (Some(_), _, _) => "sent",
        (None, Some(_), Some(gatehouse_provider::mail::EXPIRED)) => "expired",
        (None, Some(_), _) => "failed",
        (None, None, _) => "pending",
    }
}

impl MailView {
    fn of(mail: &OutboxMail) -> Self {
        Self {
            id: mail.id.to_string(),
            to: mail.recipient.clone(),
            subject: mail.subject.clone(),
            status: status(mail),
            attempts: mail.attempts,
            created_at: mail.created_at,
            sent_at: mail.sent_at,
            failed_at: mail.failed_at,
            expires_at: mail.expires_at,
            last_error: mail.last_error.clone(),
        }
    }
}

pub fn run(command: OutboxCommand, context: &Context) -> Result<(), Failure> {
    let store = context.read_store()?;
    match command {
        OutboxCommand::List { limit, json } => {
            let mails = store
                .recent_mails(limit.clamp(1, 1000))
                .map_err(Failure::runtime)?;
            if !json {
                println!(
                    "{:<36} {:<8} {:<20} {:<32} subject",
                    "id", "status", "created", "to"
                );
            }
            for mail in &mails {
                let view = MailView::of(mail);
                if json {
                    println!(
                        "{}",
                        serde_json::to_string(&view).map_err(Failure::runtime)?
                    );
                } else {
                    println!(
                        "{:<36} {:<8} {:<20} {:<32} {}",
                        view.id,
                        view.status,
                        view.created_at.format("%Y-%m-%d %H:%M:%S"),
                        view.to,
                        view.subject
                    );
                }
            }
            Ok(())
        }
        OutboxCommand::Show { id, json } => {
            let id = uuid::Uuid::parse_str(id.trim())
                .map(MailId)
                .map_err(|_| Failure::refused(format!("{id:?} is not a mail id")))?;
            let mail = store
                .mail_by_id(id)
                .map_err(Failure::runtime)?
                .ok_or_else(|| Failure::refused(format!("no mail {id}")))?;
            let text = match mail.sealed_body {
                None => delivered_file(context, &mail),
                Some(_) => {
                    let secrets = context.read_secrets()?;
                    gatehouse_provider::mail::mail_text(&secrets.sealer, &mail)
                        .map_err(Failure::runtime)?
                }
            };
            if json {
                #[derive(Serialize)]
                struct Shown {
                    #[serde(flatten)]
                    mail: MailView,
                    /// The text; none once sent (erased).
                    text: Option<String>,
                }
                return print_json(&Shown {
                    mail: MailView::of(&mail),
                    text,
                });
            }
            let view = MailView::of(&mail);
            println!("To:      {}", view.to);
            println!("Subject: {}", view.subject);
            println!("Status:  {} ({} attempt(s))", view.status, view.attempts);
            println!();
            match text {
                Some(text) => print!("{text}"),
                None => println!(
                    "(the body was erased once the mail was {}; no delivered .eml file to read)",
                    view.status
                ),
            }
            Ok(())
        }
    }
}

/// The text of a mail the `file` transport delivered, decoded from its `.eml`.
fn delivered_file(context: &Context, mail: &OutboxMail) -> Option<String> {
    use gatehouse_provider::config::MailTransportKind;
    if context.config.mail.transport != MailTransportKind::File {
        return None;
    }
    let path = std::path::Path::new(&context.config.mail.file_dir).join(format!("{}.eml", mail.id));
    let raw = std::fs::read_to_string(path).ok()?;
    decoded_body(&raw)
}

/// The body of a single-part RFC 5322 message, undoing its transfer encoding.
fn decoded_body(raw: &str) -> Option<String> {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .or_else(|| raw.split_once("\n\n"))?;
    let encoding = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-transfer-encoding")
                .then(|| value.trim().to_ascii_lowercase())
        })
        .unwrap_or_default();
    let bytes = match encoding.as_str() {
        "quoted-printable" => quoted_printable(body),
        "base64" => {
            use base64::Engine as _;
            let joined: String = body.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(joined)
                .ok()?
        }
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8(bytes)
        .ok()
        .map(|t| t.replace("\r\n", "\n"))
}

/// RFC 2045 §6.7: `=XX` is a byte, `=` at a line's end joins it to the next.
fn quoted_printable(body: &str) -> Vec<u8> {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1..i + 3) == Some(b"\r\n") => i += 3,
            b'=' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}
