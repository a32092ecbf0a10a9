//! Time as a parameter: logic asks a [`Clock`], never the system directly.

use chrono::{DateTime, TimeDelta, Utc};
use std::fmt::Debug;
use std::sync::{Mutex, PoisonError};

/// The source of "now" for every rule that expires, throttles or counts.
pub trait Clock: Debug + Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, for production.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The wall clock moved forward by an offset that only grows: for tests of a running
/// server, where time must pass for the rules (expiry, windows) in an instant, while
/// everything else (timers, tokens checked by real clients) keeps the real pace.
#[derive(Debug, Default)]
pub struct ShiftedClock(Mutex<TimeDelta>);

impl ShiftedClock {
    /// Moves this clock `by` further ahead of the wall clock.
    pub fn advance(&self, by: TimeDelta) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn at(instant: DateTime<Utc>) -> Self {
        Self(Mutex::new(instant))
    }

    pub fn set(&self, instant: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = instant;
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let clock = FixedClock::at(start);
        assert_eq!(clock.now(), start);
        clock.advance(TimeDelta::minutes(10));
        assert_eq!(clock.now(), start + TimeDelta::minutes(10));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }
}
