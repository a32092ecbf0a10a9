//! The leased queues (the mail outbox, the logout notices): a worker leases the rows
//! that are due, works on them outside any transaction, and marks each done, retried
//! or given up. A lease that runs out frees its rows for any instance.

/// `claim_due!(c, table, done_column, Row, owner, now, lease_until, limit)`: leases up
/// to `limit` rows of `table` that are due (`next_attempt_at` passed), neither done
/// (`done_column`) nor given up, and not leased by anyone now; returns them as `Row`.
/// Two instances never lease the same row: the update checks each row again as it
/// reaches it (after waiting for another instance's lease to commit), and returns only
/// the rows it leased. Two statements, the update returning the rows: a mail waiting
/// for its worker is part of every e-mail login, and on PostgreSQL each statement is a
/// round trip. Statements on the backend connection `c` (inside `natively!`), times in
/// milliseconds.
macro_rules! claim_due {
    ($c:ident, $table:ident, $done:ident, $row:ty, $owner:expr, $now:expr, $until:expr, $limit:expr) => {{
        use crate::schema::$table::dsl as q;
        let claimable = || {
            q::$done
                .is_null()
                .and(q::failed_at.is_null())
                .and(q::next_attempt_at.le($now))
                .and(q::lease_until.is_null().or(q::lease_until.le($now)))
        };
        let candidates: Vec<String> = q::$table
            .filter(claimable())
            .order((q::next_attempt_at.asc(), q::id.asc()))
            .limit(i64::from($limit))
            .select(q::id)
            .load($c)?;
        if candidates.is_empty() {
            Ok(Vec::new())
        } else {
            diesel::update(
                q::$table
                    .filter(q::id.eq_any(&candidates))
                    .filter(claimable()),
            )
            .set((q::lease_owner.eq($owner), q::lease_until.eq($until)))
            .returning(<$row>::as_returning())
            .get_results($c)
        }
    }};
}
pub(crate) use claim_due;
