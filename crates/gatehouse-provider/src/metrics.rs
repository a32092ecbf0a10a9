//! `/metrics`: the Prometheus text format. Counters and histograms are updated where
//! things happen (HTTP requests by route template, login steps, hashing, mail sends,
//! throttles, refresh-token reuse); the outbox and the database pool are read when
//! the metrics are scraped.

use gatehouse_core::ports::MailOutbox;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route template, never the path.
    pub route: String,
    pub method: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabels {
    /// `password`, `challenge`, `verify`, `completed`.
    pub step: &'static str,
    /// The factor kind, or `-` for the password and a completed login.
    pub kind: String,
    /// `ok`, `failed`, `throttled`, `busy`, `refused`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabels {
    pub transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ThrottleLabels {
    pub kind: &'static str,
}

/// Every series, registered once.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram>,
    pub logins: Family<LoginLabels, Counter>,
    pub hash_queue: Gauge,
    pub hash_wait: Histogram,
    pub hash_time: Histogram,
    pub mail_sent: Family<TransportLabels, Counter>,
    pub mail_failed: Family<TransportLabels, Counter>,
    pub throttled: Family<ThrottleLabels, Counter>,
    pub refresh_reuse: Counter,
    outbox_pending: Gauge,
    outbox_oldest_due: Gauge<f64, AtomicU64>,
    pool_connections: Gauge,
    pool_idle: Gauge,
    pool_waits: Counter,
    pool_wait_seconds: Counter<f64, AtomicU64>,
    db_statements: Counter,
    db_commits: Counter,
}

fn histogram_of_seconds() -> Histogram {
    // 1 ms … ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("gatehouse");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template, method and status",
            http_requests.clone(),
        );
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(
            histogram_of_seconds as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route template and method",
            http_duration.clone(),
        );
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register(
            "login_steps",
            "Login steps by step, factor kind and outcome",
            logins.clone(),
        );
        let hash_queue = Gauge::default();
        registry.register(
            "password_hash_queue",
            "Password checks waiting for a hashing thread",
            hash_queue.clone(),
        );
        let hash_wait = histogram_of_seconds();
        registry.register(
            "password_hash_wait_seconds",
            "Time a password check waited for a hashing thread",
            hash_wait.clone(),
        );
        let hash_time = histogram_of_seconds();
        registry.register(
            "password_hash_seconds",
            "Time one argon2 computation took",
            hash_time.clone(),
        );
        let mail_sent = Family::<TransportLabels, Counter>::default();
        registry.register("mail_sent", "Mails sent, by transport", mail_sent.clone());
        let mail_failed = Family::<TransportLabels, Counter>::default();
        registry.register(
            "mail_failed",
            "Mail sends that failed (retried or given up), by transport",
            mail_failed.clone(),
        );
        let throttled = Family::<ThrottleLabels, Counter>::default();
        registry.register(
            "throttled",
            "Requests refused by a throttle, by kind",
            throttled.clone(),
        );
        let refresh_reuse = Counter::default();
        registry.register(
            "refresh_token_reuse",
            "Refresh tokens presented again after use (their family was revoked)",
            refresh_reuse.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            "mail_outbox_pending",
            "Mails neither sent nor given up",
            outbox_pending.clone(),
        );
        let outbox_oldest_due = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "mail_outbox_oldest_due_age_seconds",
            "How long the most overdue pending mail has been due (0 when none is)",
            outbox_oldest_due.clone(),
        );
        let pool_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Database connections open",
            pool_connections.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Database connections open and not in use",
            pool_idle.clone(),
        );
        let pool_waits = Counter::default();
        registry.register(
            "db_pool_checkouts",
            "Connections taken from the pool",
            pool_waits.clone(),
        );
        let pool_wait_seconds = Counter::<f64, AtomicU64>::default();
        registry.register(
            "db_pool_wait_seconds",
            "Time spent waiting for a pooled connection",
            pool_wait_seconds.clone(),
        );
        let db_statements = Counter::default();
        registry.register(
            "db_statements",
            "SQL statements run (BEGIN and COMMIT included)",
            db_statements.clone(),
        );
        let db_commits = Counter::default();
        registry.register(
            "db_commits",
            "Database transactions committed",
            db_commits.clone(),
        );
        Self {
            registry,
            http_requests,
            http_duration,
            logins,
            hash_queue,
            hash_wait,
            hash_time,
            mail_sent,
            mail_failed,
            throttled,
            refresh_reuse,
            outbox_pending,
            outbox_oldest_due,
            pool_connections,
            pool_idle,
            pool_waits,
            pool_wait_seconds,
            db_statements,
            db_commits,
        }
    }

    pub fn request(&self, route: String, method: &str, status: u16, elapsed: Duration) {
        let labels = RouteLabels {
            route,
            method: method.to_owned(),
        };
        self.http_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.http_requests
            .get_or_create(&HttpLabels {
                route: labels.route,
                method: labels.method,
                status: status.to_string(),
            })
            .inc();
    }

    pub fn login(&self, step: &'static str, kind: &str, outcome: &'static str) {
        self.logins
            .get_or_create(&LoginLabels {
                step,
                kind: kind.to_owned(),
                outcome,
            })
            .inc();
    }

    pub fn throttle(&self, kind: &'static str) {
        self.throttled.get_or_create(&ThrottleLabels { kind }).inc();
    }

    /// The text exposition, with the outbox and the pool read now.
    pub fn render(&self, store: &gatehouse_store::Store) -> Result<String, std::fmt::Error> {
        let now = chrono::Utc::now();
        if let Ok(counts) = store.outbox_counts() {
            self.outbox_pending
                .set(i64::try_from(counts.pending).unwrap_or(i64::MAX));
            let overdue = counts.oldest_due_at.map_or(0.0, |due| {
                (now - due).num_milliseconds().max(0) as f64 / 1000.0
            });
            self.outbox_oldest_due.set(overdue);
        }
        let pool = store.pool_stats();
        self.pool_connections.set(i64::from(pool.connections));
        self.pool_idle.set(i64::from(pool.idle));
        let (checkouts, waited) = (pool.checkouts, pool.waited.as_secs_f64());
        // Counters only move forward: add what accrued since the last scrape.
        self.pool_waits
            .inc_by(checkouts.saturating_sub(self.pool_waits.get()));
        self.db_statements
            .inc_by(pool.statements.saturating_sub(self.db_statements.get()));
        self.db_commits
            .inc_by(pool.commits.saturating_sub(self.db_commits.get()));
        let seen = self.pool_wait_seconds.get();
        if waited > seen {
            self.pool_wait_seconds.inc_by(waited - seen);
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
