//! Reading the one row a lookup finds, without diesel's `first()`.
//!
//! `first()` sends its `LIMIT 1` as a bound parameter. SQLite's planner reads bound
//! LIMIT values, so it marks such a statement to be prepared again whenever that
//! parameter is bound anew: on every call, for statements diesel had cached. That was
//! two thirds of a lookup's time (an account by e-mail: 84 µs, 29 µs without).
//! Clippy's `disallowed-methods` (clippy.toml) keeps `first()` out.

use diesel::query_dsl::{LoadQuery, RunQueryDsl};
use diesel::result::QueryResult;

pub(crate) trait AtMostOne<C>: RunQueryDsl<C> + Sized {
    /// The first row, if any. For lookups by a unique key, or of the newest of the few
    /// rows one login or account holds (bounded by its rate limits): no LIMIT needed.
    fn at_most_one<'query, U>(self, conn: &mut C) -> QueryResult<Option<U>>
    where
        Self: LoadQuery<'query, C, U>,
    {
        Ok(self.load::<U>(conn)?.into_iter().next())
    }
}

impl<C, T: RunQueryDsl<C>> AtMostOne<C> for T {}
