//! The client repository.

use diesel::prelude::*;
use gatehouse_core::client::TokenLifetimes;
use gatehouse_core::ports::{ClientRepository, RepositoryError, RepositoryResult};
use gatehouse_core::{Client, ClientId};

use crate::at_most_one::AtMostOne;
use crate::connection::Db;
use crate::connection::natively;
use crate::error::one_row;
use crate::json::{from_json, to_json};
use crate::schema::clients;
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = clients)]
#[diesel(treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
struct ClientRow {
    id: String,
    name: String,
    secret_hash: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scopes: String,
    auth_method: String,
    jwks: Option<String>,
    id_token_alg: String,
    first_party: bool,
    access_token_ttl: i64,
    id_token_ttl: i64,
    refresh_token_ttl: i64,
    created_at: i64,
    updated_at: i64,
    refresh_without_offline_access: bool,
    require_pushed_authorization_requests: bool,
    dpop_bound_access_tokens: bool,
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: bool,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::Corrupt(format!("client {what}: {e}"))
}

fn ttl(what: &str, seconds: i64) -> RepositoryResult<u32> {
    u32::try_from(seconds).map_err(|e| corrupt(what, e))
}

impl From<&Client> for ClientRow {
    fn from(c: &Client) -> Self {
        Self {
            id: c.id.as_str().to_owned(),
            name: c.name.clone(),
            secret_hash: c.secret_hash.clone(),
            redirect_uris: to_json(&c.redirect_uris),
            post_logout_redirect_uris: to_json(&c.post_logout_redirect_uris),
            grant_types: to_json(&c.grant_types),
            scopes: to_json(&c.scopes),
            auth_method: c.auth_method.as_str().to_owned(),
            jwks: c.jwks.clone(),
            id_token_alg: c.id_token_alg.as_str().to_owned(),
            first_party: c.first_party,
            access_token_ttl: i64::from(c.lifetimes.access_token),
            id_token_ttl: i64::from(c.lifetimes.id_token),
            refresh_token_ttl: i64::from(c.lifetimes.refresh_token),
            created_at: to_millis(c.created_at),
            updated_at: to_millis(c.updated_at),
            refresh_without_offline_access: c.refresh_without_offline_access,
            require_pushed_authorization_requests: c.require_pushed_authorization_requests,
            dpop_bound_access_tokens: c.dpop_bound_access_tokens,
            backchannel_logout_uri: c.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: c.backchannel_logout_session_required,
        }
    }
}

impl TryFrom<ClientRow> for Client {
    type Error = RepositoryError;
    fn try_from(row: ClientRow) -> RepositoryResult<Self> {
        Ok(Self {
            id: ClientId::parse(&row.id).map_err(|e| corrupt("id", e))?,
            name: row.name,
            secret_hash: row.secret_hash,
            redirect_uris: from_json("client redirect_uris", &row.redirect_uris)?,
            post_logout_redirect_uris: from_json(
                "client post_logout_redirect_uris",
                &row.post_logout_redirect_uris,
            )?,
            grant_types: from_json("grant_types", &row.grant_types)?,
            scopes: from_json("scopes", &row.scopes)?,
            auth_method: row
                .auth_method
                .parse()
                .map_err(|e| corrupt("auth_method", e))?,
            jwks: row.jwks,
            id_token_alg: row
                .id_token_alg
                .parse()
                .map_err(|e| corrupt("id_token_alg", e))?,
            first_party: row.first_party,
            refresh_without_offline_access: row.refresh_without_offline_access,
            require_pushed_authorization_requests: row.require_pushed_authorization_requests,
            dpop_bound_access_tokens: row.dpop_bound_access_tokens,
            backchannel_logout_uri: row.backchannel_logout_uri,
            backchannel_logout_session_required: row.backchannel_logout_session_required,
            lifetimes: TokenLifetimes {
                access_token: ttl("access_token_ttl", row.access_token_ttl)?,
                id_token: ttl("id_token_ttl", row.id_token_ttl)?,
                refresh_token: ttl("refresh_token_ttl", row.refresh_token_ttl)?,
            },
            created_at: from_millis(row.created_at)?,
            updated_at: from_millis(row.updated_at)?,
        })
    }
}

impl<C> ClientRepository for Db<C>
where
    Self: Connected,
{
    fn insert_client(&self, client: &Client) -> RepositoryResult<()> {
        let row = ClientRow::from(client);
        self.run(|c| {
            natively!(c, |c| diesel::insert_into(clients::table)
                .values(row)
                .execute(c))
        })
        .map(|_| ())
    }

    fn update_client(&self, client: &Client) -> RepositoryResult<()> {
        let row = ClientRow::from(client);
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(clients::table.find(client.id.as_str().to_owned()))
                    .set(row)
                    .execute(c)
            })
        })
        .and_then(one_row)
    }

    fn delete_client(&self, id: &ClientId) -> RepositoryResult<()> {
        self.run(|c| {
            natively!(c, |c| diesel::delete(
                clients::table.find(id.as_str().to_owned())
            )
            .execute(c))
        })
        .and_then(one_row)
    }

    fn client_by_id(&self, id: &ClientId) -> RepositoryResult<Option<Client>> {
        self.run(|c| {
            natively!(c, |c| {
                clients::table
                    .find(id.as_str().to_owned())
                    .select(ClientRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(Client::try_from)
        .transpose()
    }

    fn list_clients(&self) -> RepositoryResult<Vec<Client>> {
        self.run(|c| {
            natively!(c, |c| {
                clients::table
                    .order(clients::id.asc())
                    .select(ClientRow::as_select())
                    .load(c)
            })
        })?
        .into_iter()
        .map(Client::try_from)
        .collect()
    }
}
