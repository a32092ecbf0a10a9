use gatehouse_core::ports::{RepositoryError, UniqueField};

/// Failures of opening and migrating the store. Each message is one line naming the problem.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL {0}")]
    InvalidUrl(String),
    #[error("cannot open the {backend} database at {url}: {reason}")]
    Connect {
        backend: crate::Backend,
        url: String,
        reason: String,
    },
    #[error("database migration failed: {0}")]
    Migration(String),
}

/// Folds a multi-line driver message (libpq writes hints on extra lines) into one line.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Maps a diesel error onto the port's error, naming the unique value a write hit.
pub(crate) fn db_error(error: diesel::result::Error) -> RepositoryError {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::NotFound => RepositoryError::NotFound,
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            // PostgreSQL names the constraint; SQLite names the column in its message.
            let about = format!(
                "{} {}",
                info.constraint_name().unwrap_or_default(),
                info.message()
            );
            let field = if about.contains("email") {
                UniqueField::Email
            } else if about.contains("username") {
                UniqueField::Username
            } else if about.contains("subject") {
                UniqueField::Subject
            } else {
                UniqueField::Id
            };
            RepositoryError::Conflict(field)
        }
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
            RepositoryError::Contention(one_line(info.message()))
        }
        // PostgreSQL aborted this transaction to break a deadlock (SQLSTATE 40P01, which
        // diesel leaves unclassified, so it is known by its English message): like a
        // serialization failure, it may run again.
        Error::DatabaseError(_, info) if info.message().starts_with("deadlock detected") => {
            RepositoryError::Contention(one_line(info.message()))
        }
        // SQLite reports lock contention as an unclassified error.
        Error::DatabaseError(_, info) if info.message().contains("locked") => {
            RepositoryError::Contention(one_line(info.message()))
        }
        Error::DeserializationError(e) => RepositoryError::Corrupt(one_line(&e.to_string())),
        other => RepositoryError::Unavailable(one_line(&other.to_string())),
    }
}

/// An update or delete by primary key must touch exactly the one row it names.
pub(crate) fn one_row(affected: usize) -> Result<(), RepositoryError> {
    if affected == 0 {
        Err(RepositoryError::NotFound)
    } else {
        Ok(())
    }
}
