//! The signing-key repository.

use diesel::prelude::*;
use gatehouse_core::ports::{RepositoryError, RepositoryResult, SigningKeyRepository};
use gatehouse_core::signing_key::SigningKeyRecord;

use crate::connection::Db;
use crate::connection::natively;
use crate::error::one_row;
use crate::schema::signing_keys;
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
#[diesel(treat_none_as_default_value = false)]
struct KeyRow {
    kid: String,
    alg: String,
    status: String,
    sealed_private_key: Vec<u8>,
    public_jwk: String,
    created_at: i64,
    activated_at: Option<i64>,
    expires_at: Option<i64>,
}

impl From<&SigningKeyRecord> for KeyRow {
    fn from(k: &SigningKeyRecord) -> Self {
        Self {
            kid: k.kid.clone(),
            alg: k.alg.as_str().to_owned(),
            status: k.status.as_str().to_owned(),
            sealed_private_key: k.sealed_private_key.clone(),
            public_jwk: k.public_jwk.clone(),
            created_at: to_millis(k.created_at),
            activated_at: k.activated_at.map(to_millis),
            expires_at: k.expires_at.map(to_millis),
        }
    }
}

impl TryFrom<KeyRow> for SigningKeyRecord {
    type Error = RepositoryError;
    fn try_from(row: KeyRow) -> RepositoryResult<Self> {
        let corrupt =
            |what: &str, e: String| RepositoryError::Corrupt(format!("signing key {what}: {e}"));
        Ok(Self {
            alg: row
                .alg
                .parse()
                .map_err(|e: gatehouse_core::ClientError| corrupt("alg", e.to_string()))?,
            status: row.status.parse().map_err(|e| corrupt("status", e))?,
            kid: row.kid,
            sealed_private_key: row.sealed_private_key,
            public_jwk: row.public_jwk,
            created_at: from_millis(row.created_at)?,
            activated_at: row.activated_at.map(from_millis).transpose()?,
            expires_at: row.expires_at.map(from_millis).transpose()?,
        })
    }
}

impl<C> SigningKeyRepository for Db<C>
where
    Self: Connected,
{
    fn insert_key(&self, key: &SigningKeyRecord) -> RepositoryResult<()> {
        let row = KeyRow::from(key);
        self.run(|c| {
            natively!(c, |c| {
                diesel::insert_into(signing_keys::table)
                    .values(row)
                    .execute(c)
            })
        })
        .map(|_| ())
    }

    fn update_key(&self, key: &SigningKeyRecord) -> RepositoryResult<()> {
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(signing_keys::table.find(key.kid.clone()))
                    .set((
                        signing_keys::status.eq(key.status.as_str()),
                        signing_keys::activated_at.eq(key.activated_at.map(to_millis)),
                        signing_keys::expires_at.eq(key.expires_at.map(to_millis)),
                    ))
                    .execute(c)
            })
        })
        .and_then(one_row)
    }

    fn delete_key(&self, kid: &str) -> RepositoryResult<()> {
        self.run(|c| {
            natively!(c, |c| diesel::delete(
                signing_keys::table.find(kid.to_owned())
            )
            .execute(c))
        })
        .and_then(one_row)
    }

    fn signing_keys(&self) -> RepositoryResult<Vec<SigningKeyRecord>> {
        self.run(|c| {
            natively!(c, |c| {
                signing_keys::table
                    .order((signing_keys::created_at.asc(), signing_keys::kid.asc()))
                    .select(KeyRow::as_select())
                    .load(c)
            })
        })?
        .into_iter()
        .map(SigningKeyRecord::try_from)
        .collect()
    }
}

/// Any number for PostgreSQL's advisory lock on key maintenance, fixed so that every
/// instance agrees (and unlike the migrations' lock).
const KEYS_LOCK: i64 = 0x6761_7465_6b65_7973; // "gatekeys"

impl crate::transaction::Tx<'_> {
    /// Holds the key-maintenance lock until this transaction ends: instances starting
    /// together take turns at creating, promoting and retiring keys, and the second
    /// reads what the first wrote. On SQLite the writer's turn already serialises it.
    pub fn lock_signing_keys(&self) -> RepositoryResult<()> {
        self.run(|c| match c {
            crate::connection::DbConnection::Postgresql(pg) => {
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({KEYS_LOCK})"))
                    .execute(pg)
                    .map(|_| ())
            }
            crate::connection::DbConnection::Sqlite(_) => Ok(()),
        })
    }
}
