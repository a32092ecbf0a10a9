//! The pushed authorization requests (RFC 9126): stored by the PAR endpoint, taken
//! once by `/authorize`.

use diesel::prelude::*;
use gatehouse_core::authorization::PushedRequest;
use gatehouse_core::ports::{PushedRequestRepository, RepositoryResult};

use crate::at_most_one::AtMostOne;
use crate::connection::{Db, natively};
use crate::json::{from_json, to_json};
use crate::schema::pushed_authorization_requests as pushed;
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = pushed)]
#[diesel(treat_none_as_default_value = false)]
struct PushedRow {
    id_hash: String,
    client_id: String,
    params: String,
    expires_at: i64,
}

impl<C> PushedRequestRepository for Db<C>
where
    Self: Connected,
{
    fn insert_pushed_request(&self, request: &PushedRequest) -> RepositoryResult<()> {
        let row = PushedRow {
            id_hash: request.id_hash.clone(),
            client_id: request.client_id.clone(),
            params: to_json(&request.params),
            expires_at: to_millis(request.expires_at),
        };
        self.run(|c| {
            natively!(c, |c| diesel::insert_into(pushed::table)
                .values(row)
                .execute(c))
        })
        .map(|_| ())
    }

    fn take_pushed_request(&self, id_hash: &str) -> RepositoryResult<Option<PushedRequest>> {
        let Some(row) = self.run(|c| {
            natively!(c, |c| pushed::table
                .find(id_hash.to_owned())
                .select(PushedRow::as_select())
                .at_most_one(c))
        })?
        else {
            return Ok(None);
        };
        // The delete decides who took it: a second taker deletes nothing.
        let deleted = self.run(|c| {
            natively!(c, |c| diesel::delete(
                pushed::table.find(id_hash.to_owned())
            )
            .execute(c))
        })?;
        if deleted != 1 {
            return Ok(None);
        }
        Ok(Some(PushedRequest {
            id_hash: row.id_hash,
            client_id: row.client_id,
            params: from_json("pushed request params", &row.params)?,
            expires_at: from_millis(row.expires_at)?,
        }))
    }
}
