//! Moving a user base in from an old system: the importer, registration links and
//! their invitations, and the migration status report.

pub mod import;
pub mod invitations;
pub mod reader;
pub mod status;
pub mod usernames;

pub use import::{ImportError, ImportOptions, ImportSummary, RowReport, import};
pub use reader::ImportFormat;
