//! List-valued fields are stored as JSON text: the common ground of both backends.

use gatehouse_core::ports::{RepositoryError, RepositoryResult};

pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Lists of strings and unit enums always serialise.
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> RepositoryResult<T> {
    serde_json::from_str(text).map_err(|e| RepositoryError::Corrupt(format!("{what}: {e}")))
}
