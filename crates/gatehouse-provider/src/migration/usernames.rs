//! The username-retirement report: for every account that still has a legacy
//! username, how it relates to the account's e-mail address.

use gatehouse_core::ports::{AccountImport, RepositoryResult};
use gatehouse_core::{Account, AccountId};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct UsernameLine {
    pub account_id: AccountId,
    pub subject: String,
    pub username: String,
    pub email: Option<String>,
    /// `same` (the username is the address), `differs`, `email_missing`, or
    /// `email_shared` (the username is another account's address: typed at login it
    /// reaches that account, so this user must switch to their own address).
    pub status: &'static str,
}

const PAGE: u32 = 1000;

/// Walks every account; `emit` sees one line per account with a username. Returns
/// the count per status.
pub fn usernames_report(
    repo: &impl AccountImport,
    emit: &mut dyn FnMut(&UsernameLine),
) -> RepositoryResult<BTreeMap<&'static str, u64>> {
    let mut counts = BTreeMap::new();
    let mut after = None;
    loop {
        let page = repo.accounts_after(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let named: Vec<&Account> = page
            .iter()
            .filter(|a| a.legacy_username.is_some())
            .collect();
        let keys: Vec<String> = named
            .iter()
            .filter_map(|a| a.legacy_username.as_ref())
            .map(|u| u.normalized().to_owned())
            .collect();
        let owners: HashMap<String, String> = if keys.is_empty() {
            HashMap::new()
        } else {
            repo.subjects_by_emails(&keys)?.into_iter().collect()
        };
        for account in named {
            let Some(username) = account.legacy_username.as_ref() else {
                continue;
            };
            let subject = account.subject.to_string();
            let status = match &account.email {
                _ if owners
                    .get(username.normalized())
                    .is_some_and(|owner| *owner != subject) =>
                {
                    "email_shared"
                }
                None => "email_missing",
                Some(email) if email.normalized() == username.normalized() => "same",
                Some(_) => "differs",
            };
            *counts.entry(status).or_default() += 1;
            emit(&UsernameLine {
                account_id: account.id,
                subject,
                username: username.as_str().to_owned(),
                email: account.email.as_ref().map(|e| e.as_str().to_owned()),
                status,
            });
        }
    }
    Ok(counts)
}
