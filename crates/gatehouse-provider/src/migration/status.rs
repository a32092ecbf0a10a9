//! Where a migration stands: accounts per state, and per state by age.

use chrono::{DateTime, Utc};
use gatehouse_core::ports::{MigrationRepository, RepositoryResult};
use gatehouse_core::registration::{AGE_BUCKETS, MigrationState};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Counts of migrated accounts. `by_age` groups each state by the time since the
/// account entered it (`under_1d`, `1d_to_7d`, `7d_to_30d`, `over_30d`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct MigrationStatus {
    pub total: u64,
    /// `imported`, `invited`, `registered`, `expired`: every state, zero included.
    pub states: BTreeMap<String, u64>,
    pub by_age: BTreeMap<String, BTreeMap<String, u64>>,
    pub as_of: DateTime<Utc>,
}

pub fn migration_status(
    repo: &impl MigrationRepository,
    now: DateTime<Utc>,
) -> RepositoryResult<MigrationStatus> {
    let mut states: BTreeMap<String, u64> = MigrationState::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    let mut by_age: BTreeMap<String, BTreeMap<String, u64>> = MigrationState::ALL
        .iter()
        .map(|s| {
            let buckets = AGE_BUCKETS
                .iter()
                .map(|(b, _)| ((*b).to_owned(), 0))
                .collect();
            (s.as_str().to_owned(), buckets)
        })
        .collect();
    let mut total = 0;
    for cell in repo.migration_counts(now)? {
        total += cell.count;
        *states.entry(cell.state.as_str().to_owned()).or_default() += cell.count;
        *by_age
            .entry(cell.state.as_str().to_owned())
            .or_default()
            .entry(cell.age.to_owned())
            .or_default() += cell.count;
    }
    Ok(MigrationStatus {
        total,
        states,
        by_age,
        as_of: now,
    })
}

impl MigrationStatus {
    /// A plain-text table for a terminal.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<12}{:>10}{:>10}{:>10}{:>11}{:>10}\n",
            "state", "total", "<1d", "1d-7d", "7d-30d", ">30d"
        );
        for state in MigrationState::ALL {
            let name = state.as_str();
            let ages = self.by_age.get(name);
            let cell = |bucket: &str| ages.and_then(|a| a.get(bucket)).copied().unwrap_or(0);
            out.push_str(&format!(
                "{:<12}{:>10}{:>10}{:>10}{:>11}{:>10}\n",
                name,
                self.states.get(name).copied().unwrap_or(0),
                cell("under_1d"),
                cell("1d_to_7d"),
                cell("7d_to_30d"),
                cell("over_30d"),
            ));
        }
        out.push_str(&format!("{:<12}{:>10}\n", "all", self.total));
        out
    }
}
