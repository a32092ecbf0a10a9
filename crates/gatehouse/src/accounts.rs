//! Finding an account from the command line: `accounts find` and `accounts show`, and
//! the one rule every command that names an account follows (an id, an e-mail address,
//! a legacy subject or a legacy username).

use chrono::{DateTime, Utc};
use gatehouse_core::ports::{
    AccountRepository, FactorRepository, MigrationRepository, SessionRepository,
};
use gatehouse_core::{Account, AccountId, Email, LegacyUsername, Subject};
use gatehouse_store::Store;
use serde::Serialize;

use crate::{Context, Failure, print_json};

/// The account `name` names: an account id, else an e-mail address, a legacy subject
/// or a legacy username (in that order).
pub fn resolve(store: &Store, name: &str) -> Result<Account, Failure> {
    let name = name.trim();
    let found = exact(store, name).map_err(Failure::runtime)?;
    found.ok_or_else(|| Failure::refused(format!("no account is named {name:?}")))
}

fn exact(
    store: &Store,
    name: &str,
) -> Result<Option<Account>, gatehouse_core::ports::RepositoryError> {
    if let Ok(id) = uuid::Uuid::parse_str(name) {
        return store.account_by_id(AccountId(id));
    }
    if let Ok(email) = Email::parse(name)
        && let Some(account) = store.account_by_email(&email)?
    {
        return Ok(Some(account));
    }
    if let Ok(subject) = Subject::parse(name)
        && let Some(account) = store.account_by_subject(&subject)?
    {
        return Ok(Some(account));
    }
    match LegacyUsername::parse(name) {
        Ok(username) => store.account_by_username(&username),
        Err(_) => Ok(None),
    }
}

/// One account as a line of `accounts find`.
#[derive(Debug, Serialize)]
struct Found {
    id: String,
    subject: String,
    email: Option<String>,
    username: Option<String>,
    status: &'static str,
    name: Option<String>,
}

impl Found {
    fn of(account: &Account) -> Self {
        let name = account.full_name();
        Self {
            id: account.id.to_string(),
            subject: account.subject.to_string(),
            email: account.email.as_ref().map(|e| e.as_str().to_owned()),
            username: account
                .legacy_username
                .as_ref()
                .map(|u| u.as_str().to_owned()),
            status: account.status.as_str(),
            name: (!name.is_empty()).then_some(name),
        }
    }
}

/// `accounts find QUERY`: the account the query names exactly, then those whose
/// address or name starts with it.
pub fn find(context: &Context, query: &str, limit: u32, json: bool) -> Result<(), Failure> {
    let store = context.read_store()?;
    let mut found: Vec<Account> = exact(&store, query.trim())
        .map_err(Failure::runtime)?
        .into_iter()
        .collect();
    for account in store
        .search_accounts(query.trim(), None, limit)
        .map_err(Failure::runtime)?
    {
        if found.len() >= limit as usize {
            break;
        }
        if found.iter().all(|f| f.id != account.id) {
            found.push(account);
        }
    }
    let lines: Vec<Found> = found.iter().map(Found::of).collect();
    if json {
        for line in &lines {
            println!("{}", serde_json::to_string(line).map_err(Failure::runtime)?);
        }
        return Ok(());
    }
    if lines.is_empty() {
        eprintln!("no account matches {query:?}");
        return Ok(());
    }
    println!(
        "{:<36} {:<22} {:<32} {:<24} name",
        "id", "status", "e-mail", "subject"
    );
    for line in &lines {
        println!(
            "{:<36} {:<22} {:<32} {:<24} {}",
            line.id,
            line.status,
            line.email.as_deref().unwrap_or("-"),
            line.subject,
            line.name.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct Shown {
    #[serde(flatten)]
    account: Found,
    locale: Option<String>,
    zoneinfo: Option<String>,
    email_verified: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    factors: Vec<ShownFactor>,
    live_sessions: usize,
    /// The re-registration of an imported account: `imported`, `invited`,
    /// `registered` or `expired`; none for an account that was not imported.
    registration: Option<ShownRegistration>,
}

#[derive(Debug, Serialize)]
struct ShownFactor {
    id: String,
    kind: &'static str,
    status: String,
    label: Option<String>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
struct ShownRegistration {
    state: &'static str,
    invitations_sent: u32,
    last_invited_at: Option<DateTime<Utc>>,
    link_expires_at: Option<DateTime<Utc>>,
    registered_at: Option<DateTime<Utc>>,
}

/// `accounts show NAME`: the account, its factors, live sessions and registration.
pub fn show(context: &Context, name: &str, json: bool) -> Result<(), Failure> {
    let store = context.read_store()?;
    let account = resolve(&store, name)?;
    let now = Utc::now();
    let factors = store.factors_of(account.id).map_err(Failure::runtime)?;
    let sessions = store
        .live_sessions_of(account.id, now)
        .map_err(Failure::runtime)?;
    let migration = store.migration_of(account.id).map_err(Failure::runtime)?;
    let shown = Shown {
        account: Found::of(&account),
        locale: account.locale.clone(),
        zoneinfo: account.zoneinfo.clone(),
        email_verified: account.email_verified,
        created_at: account.created_at,
        updated_at: account.updated_at,
        factors: factors
            .iter()
            .map(|f| ShownFactor {
                id: f.id.to_string(),
                kind: f.kind.as_str(),
                status: format!("{:?}", context.config.factors.effective_status(f)).to_lowercase(),
                label: f.label.clone(),
                created_at: f.created_at,
                last_used_at: f.last_used_at,
            })
            .collect(),
        live_sessions: sessions.len(),
        registration: migration.map(|m| ShownRegistration {
            state: m.state(now).as_str(),
            invitations_sent: m.invitations_sent,
            last_invited_at: m.last_invited_at,
            link_expires_at: m.link_expires_at,
            registered_at: m.registered_at,
        }),
    };
    if json {
        return print_json(&shown);
    }
    let a = &shown.account;
    println!("id            {}", a.id);
    println!("subject       {}", a.subject);
    println!("e-mail        {}", a.email.as_deref().unwrap_or("-"));
    println!("username      {}", a.username.as_deref().unwrap_or("-"));
    println!("status        {}", a.status);
    println!("name          {}", a.name.as_deref().unwrap_or("-"));
    println!("live sessions {}", shown.live_sessions);
    match &shown.registration {
        Some(r) => println!(
            "registration  {} ({} invitation(s){})",
            r.state,
            r.invitations_sent,
            r.link_expires_at
                .map(|at| format!(", link expires {}", at.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default()
        ),
        None => println!("registration  - (not imported)"),
    }
    println!("factors");
    for f in &shown.factors {
        println!(
            "  {:<14} {:<10} {} {}",
            f.kind,
            f.status,
            f.id,
            f.label.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
