//! Sessions, authorization codes and refresh tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use gatehouse_core::AccountId;
use gatehouse_core::claims::ClaimsRequest;
use gatehouse_core::grant::{AuthorizationCode, RefreshToken, Session};
use gatehouse_core::ports::{
    AccessTokenRevocations, AuthorizationCodeRepository, ClientAssertionLedger,
    RefreshTokenRepository, RepositoryError, RepositoryResult, SessionRepository,
};

use crate::accounts::parse_id;
use crate::at_most_one::AtMostOne;
use crate::connection::Db;
use crate::connection::natively;
use crate::error::one_row;
use crate::json::{from_json, to_json};
use crate::logout_notices::{end_account_sessions, queue_for_sessions, record_session_client};
use crate::schema::{
    authorization_codes, refresh_tokens, revoked_access_tokens, sessions, used_client_assertions,
};
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
#[diesel(treat_none_as_default_value = false)]
struct SessionRow {
    id: String,
    account_id: String,
    token_hash: String,
    amr: String,
    acr: String,
    auth_time: i64,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    user_agent: Option<String>,
    ip: Option<String>,
}

impl From<&Session> for SessionRow {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id.clone(),
            account_id: s.account_id.to_string(),
            token_hash: s.token_hash.clone(),
            amr: to_json(&s.amr),
            acr: s.acr.clone(),
            auth_time: to_millis(s.auth_time),
            created_at: to_millis(s.created_at),
            last_seen_at: to_millis(s.last_seen_at),
            expires_at: to_millis(s.expires_at),
            revoked_at: s.revoked_at.map(to_millis),
            user_agent: s.user_agent.clone(),
            ip: s.ip.clone(),
        }
    }
}

impl TryFrom<SessionRow> for Session {
    type Error = RepositoryError;
    fn try_from(row: SessionRow) -> RepositoryResult<Self> {
        Ok(Self {
            id: row.id,
            account_id: AccountId(parse_id(&row.account_id)?),
            token_hash: row.token_hash,
            amr: from_json("amr", &row.amr)?,
            acr: row.acr,
            auth_time: from_millis(row.auth_time)?,
            created_at: from_millis(row.created_at)?,
            last_seen_at: from_millis(row.last_seen_at)?,
            expires_at: from_millis(row.expires_at)?,
            revoked_at: row.revoked_at.map(from_millis).transpose()?,
            user_agent: row.user_agent,
            ip: row.ip,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
#[diesel(treat_none_as_default_value = false)]
struct CodeRow {
    code_hash: String,
    client_id: String,
    account_id: String,
    session_id: String,
    redirect_uri: String,
    scopes: String,
    nonce: Option<String>,
    code_challenge: String,
    auth_time: i64,
    amr: String,
    acr: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    claims: Option<String>,
}

impl From<&AuthorizationCode> for CodeRow {
    fn from(c: &AuthorizationCode) -> Self {
        Self {
            code_hash: c.code_hash.clone(),
            client_id: c.client_id.clone(),
            account_id: c.account_id.to_string(),
            session_id: c.session_id.clone(),
            redirect_uri: c.redirect_uri.clone(),
            scopes: to_json(&c.scopes),
            nonce: c.nonce.clone(),
            code_challenge: c.code_challenge.clone(),
            auth_time: to_millis(c.auth_time),
            amr: to_json(&c.amr),
            acr: c.acr.clone(),
            created_at: to_millis(c.created_at),
            expires_at: to_millis(c.expires_at),
            used_at: c.used_at.map(to_millis),
            claims: c.claims.as_ref().map(ClaimsRequest::to_json),
        }
    }
}

impl TryFrom<CodeRow> for AuthorizationCode {
    type Error = RepositoryError;
    fn try_from(row: CodeRow) -> RepositoryResult<Self> {
        Ok(Self {
            code_hash: row.code_hash,
            client_id: row.client_id,
            account_id: AccountId(parse_id(&row.account_id)?),
            session_id: row.session_id,
            redirect_uri: row.redirect_uri,
            scopes: from_json("scopes", &row.scopes)?,
            nonce: row.nonce,
            claims: row
                .claims
                .as_deref()
                .map(|raw| from_json("code claims", raw))
                .transpose()?,
            code_challenge: row.code_challenge,
            auth_time: from_millis(row.auth_time)?,
            amr: from_json("amr", &row.amr)?,
            acr: row.acr,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            used_at: row.used_at.map(from_millis).transpose()?,
        })
    }
}

impl<C> SessionRepository for Db<C>
where
    Self: Connected,
{
    fn insert_session(&self, session: &Session) -> RepositoryResult<()> {
        let row = SessionRow::from(session);
        self.run(|c| {
            natively!(c, |c| diesel::insert_into(sessions::table)
                .values(row)
                .execute(c))
        })
        .map(|_| ())
    }

    fn update_session(&self, session: &Session) -> RepositoryResult<()> {
        // Revoked by this call (not before): its clients hear of it.
        let ended = match session.revoked_at {
            Some(at) => {
                let changed = self.run(|c| {
                    natively!(c, |c| diesel::update(
                        sessions::table
                            .find(session.id.clone())
                            .filter(sessions::revoked_at.is_null()),
                    )
                    .set(sessions::revoked_at.eq(Some(to_millis(at))))
                    .execute(c))
                })?;
                (changed > 0).then_some(at)
            }
            None => None,
        };
        if let Some(at) = ended {
            queue_for_sessions(self, std::slice::from_ref(&session.id), at)?;
        }
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(sessions::table.find(session.id.clone()))
                    .set((
                        sessions::last_seen_at.eq(to_millis(session.last_seen_at)),
                        sessions::revoked_at.eq(session.revoked_at.map(to_millis)),
                    ))
                    .execute(c)
            })
        })
        .and_then(one_row)
    }

    fn session_by_token_hash(&self, token_hash: &str) -> RepositoryResult<Option<Session>> {
        self.run(|c| {
            natively!(c, |c| {
                sessions::table
                    .filter(sessions::token_hash.eq(token_hash.to_owned()))
                    .select(SessionRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(Session::try_from)
        .transpose()
    }

    fn session_by_id(&self, id: &str) -> RepositoryResult<Option<Session>> {
        self.run(|c| {
            natively!(c, |c| {
                sessions::table
                    .find(id.to_owned())
                    .select(SessionRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(Session::try_from)
        .transpose()
    }

    fn live_sessions_of(
        &self,
        account: AccountId,
        now: DateTime<Utc>,
    ) -> RepositoryResult<Vec<Session>> {
        self.run(|c| {
            natively!(c, |c| {
                sessions::table
                    .filter(sessions::account_id.eq(account.to_string()))
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::expires_at.gt(to_millis(now)))
                    .order((sessions::created_at.desc(), sessions::id.desc()))
                    .select(SessionRow::as_select())
                    .load(c)
            })
        })?
        .into_iter()
        .map(Session::try_from)
        .collect()
    }

    fn end_sessions_of(
        &self,
        account: AccountId,
        except: Option<&str>,
        at: DateTime<Utc>,
    ) -> RepositoryResult<u64> {
        let keep = except.unwrap_or_default().to_owned();
        let millis = to_millis(at);
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::account_id.eq(account.to_string()))
                        .filter(refresh_tokens::session_id.ne(keep.clone()))
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::revoked_at.eq(Some(millis)))
                .execute(c)
            })
        })?;
        end_account_sessions(self, &account.to_string(), &keep, at).map(|n| n as u64)
    }
}

impl<C> AuthorizationCodeRepository for Db<C>
where
    Self: Connected,
{
    fn insert_code(&self, code: &AuthorizationCode) -> RepositoryResult<()> {
        let row = CodeRow::from(code);
        self.run(|c| {
            natively!(c, |c| diesel::insert_into(authorization_codes::table)
                .values(row)
                .execute(c))
        })?;
        record_session_client(self, &code.session_id, &code.client_id, code.created_at)
    }

    fn code_by_hash(&self, code_hash: &str) -> RepositoryResult<Option<AuthorizationCode>> {
        self.run(|c| {
            natively!(c, |c| {
                authorization_codes::table
                    .find(code_hash.to_owned())
                    .select(CodeRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(AuthorizationCode::try_from)
        .transpose()
    }

    fn mark_code_used(&self, code_hash: &str, at: DateTime<Utc>) -> RepositoryResult<bool> {
        // One conditional UPDATE: of two racing exchanges, exactly one changes the row.
        let changed = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    authorization_codes::table
                        .find(code_hash.to_owned())
                        .filter(authorization_codes::used_at.is_null()),
                )
                .set(authorization_codes::used_at.eq(Some(to_millis(at))))
                .execute(c)
            })
        })?;
        Ok(changed == 1)
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
#[diesel(treat_none_as_default_value = false)]
struct RefreshRow {
    token_hash: String,
    family_id: String,
    client_id: String,
    account_id: String,
    session_id: String,
    scopes: String,
    auth_time: i64,
    amr: String,
    acr: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
    dpop_jkt: Option<String>,
}

impl From<&RefreshToken> for RefreshRow {
    fn from(t: &RefreshToken) -> Self {
        Self {
            token_hash: t.token_hash.clone(),
            family_id: t.family_id.clone(),
            client_id: t.client_id.clone(),
            account_id: t.account_id.to_string(),
            session_id: t.session_id.clone(),
            scopes: to_json(&t.scopes),
            auth_time: to_millis(t.auth_time),
            amr: to_json(&t.amr),
            acr: t.acr.clone(),
            created_at: to_millis(t.created_at),
            expires_at: to_millis(t.expires_at),
            used_at: t.used_at.map(to_millis),
            revoked_at: t.revoked_at.map(to_millis),
            dpop_jkt: t.dpop_jkt.clone(),
        }
    }
}

impl TryFrom<RefreshRow> for RefreshToken {
    type Error = RepositoryError;
    fn try_from(row: RefreshRow) -> RepositoryResult<Self> {
        Ok(Self {
            token_hash: row.token_hash,
            family_id: row.family_id,
            client_id: row.client_id,
            account_id: AccountId(parse_id(&row.account_id)?),
            session_id: row.session_id,
            scopes: from_json("scopes", &row.scopes)?,
            auth_time: from_millis(row.auth_time)?,
            amr: from_json("amr", &row.amr)?,
            acr: row.acr,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            used_at: row.used_at.map(from_millis).transpose()?,
            revoked_at: row.revoked_at.map(from_millis).transpose()?,
            dpop_jkt: row.dpop_jkt,
        })
    }
}

impl<C> RefreshTokenRepository for Db<C>
where
    Self: Connected,
{
    fn insert_refresh_token(&self, token: &RefreshToken) -> RepositoryResult<()> {
        let row = RefreshRow::from(token);
        self.run(|c| {
            natively!(c, |c| {
                diesel::insert_into(refresh_tokens::table)
                    .values(row)
                    .execute(c)
            })
        })
        .map(|_| ())
    }

    fn refresh_token_by_hash(&self, token_hash: &str) -> RepositoryResult<Option<RefreshToken>> {
        self.run(|c| {
            natively!(c, |c| {
                refresh_tokens::table
                    .find(token_hash.to_owned())
                    .select(RefreshRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(RefreshToken::try_from)
        .transpose()
    }

    fn mark_refresh_token_used(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool> {
        let changed = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    refresh_tokens::table
                        .find(token_hash.to_owned())
                        .filter(refresh_tokens::used_at.is_null())
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::used_at.eq(Some(to_millis(at))))
                .execute(c)
            })
        })?;
        Ok(changed == 1)
    }

    fn revoke_refresh_family(&self, family_id: &str, at: DateTime<Utc>) -> RepositoryResult<u64> {
        let changed = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::family_id.eq(family_id.to_owned()))
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::revoked_at.eq(Some(to_millis(at))))
                .execute(c)
            })
        })?;
        Ok(changed as u64)
    }

    fn revoke_refresh_for_session(
        &self,
        session_id: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<u64> {
        let changed = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::session_id.eq(session_id.to_owned()))
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::revoked_at.eq(Some(to_millis(at))))
                .execute(c)
            })
        })?;
        Ok(changed as u64)
    }
}

impl<C> AccessTokenRevocations for Db<C>
where
    Self: Connected,
{
    fn revoke_access_token(&self, jti: &str, expires_at: DateTime<Utc>) -> RepositoryResult<()> {
        if self.is_access_token_revoked(jti)? {
            return Ok(());
        }
        let inserted = self.run(|c| {
            natively!(c, |c| {
                diesel::insert_into(revoked_access_tokens::table)
                    .values((
                        revoked_access_tokens::jti.eq(jti.to_owned()),
                        revoked_access_tokens::expires_at.eq(to_millis(expires_at)),
                    ))
                    .execute(c)
            })
        });
        match inserted {
            // A concurrent revocation of the same token won: the outcome is the same.
            Ok(_) | Err(RepositoryError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn is_access_token_revoked(&self, jti: &str) -> RepositoryResult<bool> {
        let found: i64 = self.run(|c| {
            natively!(c, |c| {
                revoked_access_tokens::table
                    .filter(revoked_access_tokens::jti.eq(jti.to_owned()))
                    .count()
                    .get_result(c)
            })
        })?;
        Ok(found > 0)
    }
}

impl<C> ClientAssertionLedger for Db<C>
where
    Self: Connected,
{
    fn use_client_assertion(&self, jti: &str, expires_at: DateTime<Utc>) -> RepositoryResult<bool> {
        let inserted = self.run(|c| {
            natively!(c, |c| {
                diesel::insert_into(used_client_assertions::table)
                    .values((
                        used_client_assertions::jti.eq(jti.to_owned()),
                        used_client_assertions::expires_at.eq(to_millis(expires_at)),
                    ))
                    .execute(c)
            })
        });
        match inserted {
            Ok(_) => Ok(true),
            // The primary key makes the first use win, even between instances.
            Err(RepositoryError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
