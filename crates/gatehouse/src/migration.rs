//! `gatehouse accounts …`, `gatehouse invitations …`, `gatehouse migration …`: moving
//! a user base in from an old system, from a script.

use chrono::{TimeDelta, Utc};
use clap::Subcommand;
use gatehouse_provider::mail::Outbox;
use gatehouse_provider::migration::invitations::{InvitationOptions, LinkMailer, send_invitations};
use gatehouse_provider::migration::status::migration_status;
use gatehouse_provider::migration::usernames::usernames_report;
use gatehouse_provider::migration::{ImportFormat, ImportOptions, RowReport, import};
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use crate::{Context, Failure, print_json};

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Import accounts from CSV (with a header) or JSON Lines, keyed by legacy_subject.
    Import {
        file: PathBuf,
        /// Input format; by default `.csv` files are CSV and anything else JSON Lines.
        #[arg(long, value_parser = ["csv", "jsonl"])]
        format: Option<String>,
        /// Validate and report without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// Apply rows that changed since an earlier import to their accounts.
        #[arg(long)]
        update: bool,
        /// Write one JSON line per input row with its outcome.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Legacy usernames and how each relates to its account's e-mail address.
    UsernamesReport {
        /// JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Accounts by e-mail, legacy subject or username (exact), or e-mail or name prefix.
    Find {
        query: String,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One account: its status, factors, live sessions and registration link state.
    Show {
        /// An account id, e-mail address, legacy subject or legacy username.
        account: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum InvitationsCommand {
    /// Queue re-registration mails (the server's mail worker sends them).
    Send {
        /// Every account still pending registration that was never invited.
        #[arg(long, conflicts_with = "account", required_unless_present = "account")]
        all_pending: bool,
        /// One account, by id, e-mail address or legacy subject (a new link voids its
        /// older ones).
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
        /// Also remind accounts invited at least this long ago, e.g. `7d`, `36h`.
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        remind_after: Option<TimeDelta>,
        /// At most this many mails per second, e.g. `10/s`, `600/m`.
        #[arg(long, value_name = "N/s", value_parser = parse_rate)]
        rate: Option<f64>,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MigrationCommand {
    /// Accounts per migration state, and by age.
    Status {
        #[arg(long)]
        json: bool,
    },
}

/// `7d`, `36h`, `90m`, `45s`, `2w`.
fn parse_age(raw: &str) -> Result<TimeDelta, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration like 7d or 36h"))?;
    match unit {
        "s" => Ok(TimeDelta::seconds(n)),
        "m" => Ok(TimeDelta::minutes(n)),
        "h" => Ok(TimeDelta::hours(n)),
        "d" | "" => Ok(TimeDelta::days(n)),
        "w" => Ok(TimeDelta::weeks(n)),
        _ => Err(format!("{raw:?}: the unit must be s, m, h, d or w")),
    }
}

/// `10/s`, `600/m`, `10`.
fn parse_rate(raw: &str) -> Result<f64, String> {
    let (number, per) = raw.split_once('/').unwrap_or((raw, "s"));
    let n: f64 = number
        .trim()
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n > 0.0)
        .ok_or_else(|| format!("{raw:?} is not a positive rate like 10/s"))?;
    match per.trim() {
        "s" => Ok(n),
        "m" => Ok(n / 60.0),
        "h" => Ok(n / 3600.0),
        _ => Err(format!("{raw:?}: the rate is per s, m or h")),
    }
}

/// A one-line progress bar on stderr, only when stderr is a terminal.
fn progress_bar() -> impl FnMut(u8, u64, Option<u64>) {
    let terminal = std::io::stderr().is_terminal();
    move |pass, done, total| {
        if !terminal {
            return;
        }
        let line = match total {
            Some(total) if total > 0 => {
                let filled = (done * 30 / total) as usize;
                format!(
                    "\rpass {pass}/3 [{}{}] {done}/{total} rows",
                    "#".repeat(filled),
                    " ".repeat(30 - filled.min(30))
                )
            }
            _ => format!("\rpass {pass}/3 {done} rows"),
        };
        eprint!("{line}");
        if pass == 3 && Some(done) == total {
            eprintln!();
        }
    }
}

pub fn run_accounts(command: AccountsCommand, context: &Context) -> Result<(), Failure> {
    match command {
        AccountsCommand::Import {
            file,
            format,
            dry_run,
            update,
            report,
            json,
        } => {
            let format = match format.as_deref() {
                Some("csv") => ImportFormat::Csv,
                Some(_) => ImportFormat::Jsonl,
                None => ImportFormat::of_path(&file),
            };
            // A dry run only reads: it never makes a database to import into.
            let store = if dry_run {
                context.read_store()?
            } else {
                context.store()?
            };
            let secrets = context.secrets()?;
            let options = ImportOptions {
                dry_run,
                update,
                keep_passwords: context.config.migration.keep_passwords,
                totp_sealer: context
                    .config
                    .migration
                    .import_totp_secrets
                    .then_some(&secrets.sealer),
                batch_size: context.config.migration.import_batch_size as usize,
            };
            let mut report_file = report
                .map(|path| std::fs::File::create(&path).map(std::io::BufWriter::new))
                .transpose()
                .map_err(Failure::runtime)?;
            let mut write_error = None;
            let mut on_row = |row: &RowReport| {
                if let Some(out) = report_file.as_mut() {
                    let written = serde_json::to_writer(&mut *out, row)
                        .map_err(std::io::Error::other)
                        .and_then(|()| out.write_all(b"\n"));
                    if let Err(e) = written {
                        write_error.get_or_insert(e);
                    }
                }
            };
            let started = std::time::Instant::now();
            let summary = import(
                &store,
                &file,
                format,
                options,
                Utc::now(),
                &mut on_row,
                &mut progress_bar(),
            )
            .map_err(Failure::runtime)?;
            if let Some(out) = report_file.as_mut() {
                out.flush().map_err(Failure::runtime)?;
            }
            if let Some(e) = write_error {
                return Err(Failure::runtime(format!("writing the report failed: {e}")));
            }
            let seconds = started.elapsed().as_secs_f64();
            if json {
                let mut value = serde_json::to_value(&summary).map_err(Failure::runtime)?;
                value["seconds"] = serde_json::json!(seconds);
                print_json(&value)
            } else {
                println!(
                    "{} rows in {seconds:.1} s{}",
                    summary.rows,
                    if dry_run {
                        " (dry run: nothing written)"
                    } else {
                        ""
                    }
                );
                for (outcome, count) in &summary.outcomes {
                    println!("  {outcome:<24}{count:>10}");
                }
                Ok(())
            }
        }
        AccountsCommand::Find { query, limit, json } => {
            crate::accounts::find(context, &query, limit.clamp(1, 1000), json)
        }
        AccountsCommand::Show { account, json } => crate::accounts::show(context, &account, json),
        AccountsCommand::UsernamesReport { json } => {
            let store = context.read_store()?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            if !json {
                let _ = writeln!(
                    out,
                    "{:<10} {:<32} {:<40} e-mail",
                    "status", "username", "subject"
                );
            }
            let counts = usernames_report(&store, &mut |line| {
                let _ = if json {
                    serde_json::to_writer(&mut out, line)
                        .map_err(std::io::Error::other)
                        .and_then(|()| out.write_all(b"\n"))
                } else {
                    writeln!(
                        out,
                        "{:<10} {:<32} {:<40} {}",
                        line.status,
                        line.username,
                        line.subject,
                        line.email.as_deref().unwrap_or("-")
                    )
                };
            })
            .map_err(Failure::runtime)?;
            out.flush().map_err(Failure::runtime)?;
            if !json {
                for (status, count) in counts {
                    eprintln!("{status}: {count}");
                }
            }
            Ok(())
        }
    }
}

pub fn run_invitations(command: InvitationsCommand, context: &Context) -> Result<(), Failure> {
    let InvitationsCommand::Send {
        all_pending: _,
        account,
        remind_after,
        rate,
        dry_run,
        json,
    } = command;
    let store = context.store()?;
    let account = account
        .map(|name| crate::accounts::resolve(&store, &name).map(|a| a.id))
        .transpose()?;
    let secrets = context.secrets()?;
    let outbox = Outbox::new(secrets.sealer.clone(), &context.config.mail);
    let mailer = LinkMailer {
        hasher: &secrets.hasher,
        outbox: &outbox,
        config: &context.config.migration,
    };
    let options = InvitationOptions {
        account,
        remind_after,
        rate,
        dry_run,
    };
    let summary = send_invitations(&store, mailer, options, Utc::now()).map_err(|e| match e {
        gatehouse_core::ports::RepositoryError::NotFound => Failure::refused("no such account"),
        gatehouse_core::ports::RepositoryError::Conflict(_) => {
            Failure::refused("that account is not pending registration")
        }
        other => Failure::runtime(other),
    })?;
    if json {
        print_json(&summary)
    } else {
        let verb = if dry_run { "would invite" } else { "invited" };
        println!("{verb} {} account(s)", summary.invited);
        if let Some(last) = summary.last_due_at {
            println!("the last mail is due at {last}");
        }
        Ok(())
    }
}

pub fn run_migration(command: MigrationCommand, context: &Context) -> Result<(), Failure> {
    let MigrationCommand::Status { json } = command;
    let store = context.read_store()?;
    let status = migration_status(&store, Utc::now()).map_err(Failure::runtime)?;
    if json {
        print_json(&status)
    } else {
        print!("{}", status.table());
        Ok(())
    }
}
