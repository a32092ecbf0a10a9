//! Logs through `tracing`: human-readable or JSON lines, filtered by `logging.level`.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingConfig};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("logging.level {level:?} is not a valid filter: {reason}")]
    Filter { level: String, reason: String },
    #[error("a logger is already installed")]
    AlreadyInstalled,
}

/// Installs the global subscriber. Call once, from the binary.
pub fn init(config: &LoggingConfig) -> Result<(), TelemetryError> {
    let filter = EnvFilter::try_new(&config.level).map_err(|e| TelemetryError::Filter {
        level: config.level.clone(),
        reason: e.to_string(),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match config.format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    installed.map_err(|_| TelemetryError::AlreadyInstalled)
}
