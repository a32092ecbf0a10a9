//! Instants are stored as Unix milliseconds (BIGINT) on both backends.

use chrono::{DateTime, Utc};
use gatehouse_core::ports::RepositoryError;

pub(crate) fn to_millis(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_millis()
}

pub(crate) fn from_millis(millis: i64) -> Result<DateTime<Utc>, RepositoryError> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| RepositoryError::Corrupt(format!("instant {millis} is out of range")))
}
