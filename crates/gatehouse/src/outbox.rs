//! `gatehouse outbox list|show`: the mail outbox, for development and support. A mail
//! still queued is shown decoded (its text whole, links on one line); a sent one has
//! no body left to show: it is erased once sent.

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
                None => None,
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
                None => println!("(the body was erased once the mail was {})", view.status),
            }
            Ok(())
        }
    }
}
