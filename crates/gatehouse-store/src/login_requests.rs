//! The login-request repository.

use diesel::prelude::*;
use gatehouse_core::AccountId;
use gatehouse_core::authorization::{AuthorizationRequest, Prompt};
use gatehouse_core::claims::ClaimsRequest;
use gatehouse_core::login::LoginRequest;
use gatehouse_core::ports::{LoginRequestRepository, RepositoryError, RepositoryResult};

use crate::accounts::parse_id;
use crate::at_most_one::AtMostOne;
use crate::connection::natively;
use crate::connection::{Db, DbConnection};
use crate::error::one_row;
use crate::json::{from_json, to_json};
use crate::schema::login_requests;
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = login_requests)]
#[diesel(treat_none_as_default_value = false)]
struct LoginRequestRow {
    id: String,
    client_id: String,
    redirect_uri: String,
    scopes: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
    prompt_none: bool,
    prompt_login: bool,
    max_age: Option<i64>,
    acr_values: String,
    login_hint: Option<String>,
    ui_locales: Option<String>,
    browser_hash: String,
    account_id: Option<String>,
    amr: String,
    created_at: i64,
    expires_at: i64,
    completed_at: Option<i64>,
    session_id: Option<String>,
    prompt_consent: bool,
    claims: Option<String>,
}

impl From<&LoginRequest> for LoginRequestRow {
    fn from(l: &LoginRequest) -> Self {
        let r = &l.request;
        Self {
            id: l.id.clone(),
            client_id: r.client_id.clone(),
            redirect_uri: r.redirect_uri.clone(),
            scopes: to_json(&r.scopes),
            state: r.state.clone(),
            nonce: r.nonce.clone(),
            code_challenge: r.code_challenge.clone(),
            prompt_none: r.prompt.none,
            prompt_login: r.prompt.login,
            max_age: r.max_age.map(i64::from),
            acr_values: to_json(&r.acr_values),
            login_hint: r.login_hint.clone(),
            ui_locales: r.ui_locales.clone(),
            browser_hash: l.browser_hash.clone(),
            account_id: l.account_id.map(|a| a.to_string()),
            amr: to_json(&l.amr),
            created_at: to_millis(l.created_at),
            expires_at: to_millis(l.expires_at),
            completed_at: l.completed_at.map(to_millis),
            session_id: l.session_id.clone(),
            prompt_consent: r.prompt.consent,
            claims: r.claims.as_ref().map(ClaimsRequest::to_json),
        }
    }
}

impl TryFrom<LoginRequestRow> for LoginRequest {
    type Error = RepositoryError;
    fn try_from(row: LoginRequestRow) -> RepositoryResult<Self> {
        let max_age = row
            .max_age
            .map(u32::try_from)
            .transpose()
            .map_err(|e| RepositoryError::Corrupt(format!("login request max_age: {e}")))?;
        Ok(Self {
            request: AuthorizationRequest {
                client_id: row.client_id,
                redirect_uri: row.redirect_uri,
                scopes: from_json("login request scopes", &row.scopes)?,
                state: row.state,
                nonce: row.nonce,
                code_challenge: row.code_challenge,
                prompt: Prompt {
                    none: row.prompt_none,
                    login: row.prompt_login,
                    consent: row.prompt_consent,
                },
                max_age,
                acr_values: from_json("login request acr_values", &row.acr_values)?,
                login_hint: row.login_hint,
                ui_locales: row.ui_locales,
                claims: row
                    .claims
                    .as_deref()
                    .map(|raw| from_json("login request claims", raw))
                    .transpose()?,
            },
            id: row.id,
            browser_hash: row.browser_hash,
            account_id: row
                .account_id
                .as_deref()
                .map(parse_id)
                .transpose()?
                .map(AccountId),
            amr: from_json("login request amr", &row.amr)?,
            session_id: row.session_id,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            completed_at: row.completed_at.map(from_millis).transpose()?,
        })
    }
}

impl<C> LoginRequestRepository for Db<C>
where
    Self: Connected,
{
    fn insert_login_request(&self, request: &LoginRequest) -> RepositoryResult<()> {
        let row = LoginRequestRow::from(request);
        self.run(|c| {
            natively!(c, |c| diesel::insert_into(login_requests::table)
                .values(row)
                .execute(c))
        })
        .map(|_| ())
    }

    fn update_login_request(&self, request: &LoginRequest) -> RepositoryResult<()> {
        let row = LoginRequestRow::from(request);
        self.run(|c| {
            natively!(c, |c| diesel::update(
                login_requests::table.find(row.id.clone())
            )
            .set((
                login_requests::account_id.eq(row.account_id),
                login_requests::amr.eq(row.amr),
                login_requests::completed_at.eq(row.completed_at),
                login_requests::session_id.eq(row.session_id),
            ))
            .execute(c))
        })
        .and_then(one_row)
    }

    fn login_request(&self, id: &str) -> RepositoryResult<Option<LoginRequest>> {
        self.run(|c| {
            natively!(c, |c| {
                login_requests::table
                    .find(id.to_owned())
                    .select(LoginRequestRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(LoginRequest::try_from)
        .transpose()
    }

    fn login_request_for_update(&self, id: &str) -> RepositoryResult<Option<LoginRequest>> {
        let query = || login_requests::table.find(id.to_owned());
        self.run(|c| match c {
            // The row lock lasts until the transaction ends.
            DbConnection::Postgresql(pg) => query()
                .select(LoginRequestRow::as_select())
                .for_update()
                .load(pg),
            // Store::transaction gives SQLite's writers one turn at a time already.
            DbConnection::Sqlite(lite) => query().select(LoginRequestRow::as_select()).load(lite),
        })?
        .into_iter()
        .next()
        .map(LoginRequest::try_from)
        .transpose()
    }
}
