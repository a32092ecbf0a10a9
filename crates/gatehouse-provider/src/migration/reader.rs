//! Reading an old user base: CSV with a header row, or JSON Lines, one record at a
//! time so a file of any size streams.

use gatehouse_core::migration::LegacyRecord;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    Csv,
    /// One JSON object per line; blank lines are skipped.
    Jsonl,
}

impl ImportFormat {
    /// `.csv` is CSV; anything else is JSON Lines.
    pub fn of_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => Self::Csv,
            _ => Self::Jsonl,
        }
    }
}

/// One input row: its line number (1-based, the CSV header is line 1) and either the
/// record or why it does not parse.
pub type Row = (u64, Result<LegacyRecord, String>);

/// The columns (and JSON keys) an import understands.
pub const FIELDS: [&str; 12] = [
    "legacy_subject",
    "email",
    "username",
    "given_name",
    "family_name",
    "locale",
    "zoneinfo",
    "email_verified",
    "created_at",
    "password_hash",
    "sms_phone",
    "totp_secret",
];

/// Opens `path` and yields its rows in order. A CSV header naming a column Gatehouse
/// does not know is refused at once, before anything is imported.
pub fn rows(path: &Path, format: ImportFormat) -> std::io::Result<Box<dyn Iterator<Item = Row>>> {
    let file = BufReader::with_capacity(1 << 16, File::open(path)?);
    Ok(match format {
        ImportFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(file);
            let headers = reader.headers().map_err(std::io::Error::other)?.clone();
            if let Some(unknown) = headers.iter().find(|h| !FIELDS.contains(h)) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "unknown column {unknown:?}; the columns are {}",
                        FIELDS.join(", ")
                    ),
                ));
            }
            if !headers.iter().any(|h| h == "legacy_subject") {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the header has no legacy_subject column",
                ));
            }
            Box::new(reader.into_records().map(move |row| {
                match row {
                    Ok(record) => (
                        record.position().map_or(0, csv::Position::line),
                        record
                            .deserialize::<LegacyRecord>(Some(&headers))
                            .map_err(|e| one_line(&e.to_string())),
                    ),
                    Err(e) => (
                        e.position().map_or(0, csv::Position::line),
                        Err(one_line(&e.to_string())),
                    ),
                }
            }))
        }
        ImportFormat::Jsonl => Box::new(file.lines().enumerate().filter_map(|(index, line)| {
            let number = index as u64 + 1;
            match line {
                Err(e) => Some((number, Err(e.to_string()))),
                Ok(text) if text.trim().is_empty() => None,
                Ok(text) => Some((
                    number,
                    serde_json::from_str::<LegacyRecord>(&text)
                        .map_err(|e| one_line(&e.to_string())),
                )),
            }
        })),
    })
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
