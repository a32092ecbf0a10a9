//! Building and running the server.

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use chrono::TimeDelta;
use gatehouse_core::{Clock, SystemClock};
use gatehouse_store::{Store, StoreError};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use utoipa_swagger_ui::SwaggerUi;

use crate::background::Background;
use crate::config::{Config, ConfigError};
use crate::crypto::keyring::KeyRingError;
use crate::crypto::{CryptoError, KeyRing, Secrets};
use crate::fallback::{AllowedMethods, fallback};
use crate::mail::{MailError, Outbox, Wake, Worker};
use crate::metrics::Metrics;
use crate::oidc::client_cache::ClientCache;
use crate::oidc::verified_tokens::VerifiedTokens;
use crate::password_pool::PasswordPool;
use crate::periodic::{self, FirstRun};
use crate::problem::{Problem, ProblemCode, rewrite_error_response};
use crate::state::AppState;
use crate::{cors, health, oidc, openapi, request_id};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Keys(#[from] KeyRingError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("cannot start {what}: {reason}")]
    Spawn { what: &'static str, reason: String },
    #[error("cannot listen on {bind}: {reason}")]
    Bind { bind: String, reason: String },
}

/// Largest JSON body any endpoint accepts.
const JSON_LIMIT: usize = 64 * 1024;
/// Pieces of after-the-answer work (resends) queued or running at once.
const BACKGROUND_LIMIT: usize = 64;
/// Where the OpenAPI document is served (and where `/docs` reads it).
const OPENAPI_JSON: &str = "/openapi.json";

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|err, _| {
            let problem = match &err {
                actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
                | actix_web::error::JsonPayloadError::Overflow { .. } => {
                    Problem::new(ProblemCode::PayloadTooLarge, "Request body too large")
                }
                actix_web::error::JsonPayloadError::ContentType => {
                    Problem::new(ProblemCode::UnsupportedMediaType, "Send application/json")
                }
                other => Problem::new(
                    ProblemCode::InvalidJson,
                    "The request body is not valid JSON for this endpoint",
                )
                .with_detail(other.to_string()),
            };
            problem.into()
        })
}

/// Query parameters that do not parse as the operation's (a number that is not one,
/// a parameter given twice): 400 `invalid_query`, as the document says.
fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        Problem::new(
            ProblemCode::InvalidQuery,
            "The query parameters are not valid for this endpoint",
        )
        .with_detail(err.to_string())
        .into()
    })
}

/// A bound, not yet running server.
pub struct Application {
    addr: SocketAddr,
    server: Server,
    /// `/metrics` on `metrics.bind`, when set.
    metrics_server: Option<Server>,
    store: Store,
    keys: KeyRing,
    reload_every: Duration,
    mail: Worker,
    logout_notifier: crate::backchannel_logout::Notifier,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.addr)
            .finish()
    }
}

/// How long a stopping server waits for its HTTP workers to let go of the database.
const STOP_WAIT: Duration = Duration::from_secs(10);

impl Application {
    /// Opens (and by default migrates) the database, then binds `server.bind`.
    /// With port 0 the OS picks a port: read it back with [`Application::port`].
    pub fn build(config: Config) -> Result<Self, StartError> {
        Self::build_with(config, Arc::new(SystemClock))
    }

    /// [`Application::build`] on `clock`: every rule that expires, throttles or counts
    /// asks it, so tests move time instead of waiting for it.
    pub fn build_with(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let config = config.with_ui_defaults();
        config.validate()?;
        let url = config.database.parsed_url()?;
        let store = Store::open(&url, &config.database.pool_options())?;
        if config.database.auto_migrate {
            let applied = store.migrate()?;
            if !applied.is_empty() {
                tracing::info!(?applied, "database migrations applied");
            }
        }
        let listener = TcpListener::bind(&config.server.bind).map_err(|e| StartError::Bind {
            bind: config.server.bind.clone(),
            reason: e.to_string(),
        })?;
        let addr = listener.local_addr().map_err(|e| StartError::Bind {
            bind: config.server.bind.clone(),
            reason: e.to_string(),
        })?;
        if config.ui.enabled {
            crate::ui::register_settings_client(&store, &config, clock.now()).map_err(
                |reason| StartError::Spawn {
                    what: "the reference UI (its settings client)",
                    reason,
                },
            )?;
        }
        let janitor_clock = clock.clone();
        let secrets = Secrets::load(&config.secrets)?;
        let keys = KeyRing::open(
            store.clone(),
            secrets.sealer.clone(),
            clock.now(),
            TimeDelta::seconds(config.keys.retired_key_ttl_seconds.into()),
        )?;
        let reload_every = Duration::from_secs(config.keys.reload_interval_seconds.max(1).into());
        let hasher =
            gatehouse_core::PasswordHasher::new(&config.password_hashing).map_err(|e| {
                ConfigError::Invalid {
                    key: "password_hashing".to_owned(),
                    reason: e.to_string(),
                }
            })?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = match config.login.password_threads {
            0 => cores,
            n => n as usize,
        };
        let metrics = Arc::new(Metrics::new());
        let passwords = PasswordPool::new(
            hasher,
            threads,
            config.login.password_queue as usize,
            metrics.clone(),
        )
        .map_err(|e| StartError::Spawn {
            what: "the password hashing threads",
            reason: e.to_string(),
        })?;
        let discovery = oidc::discovery::document(
            &config.server.issuer,
            &[
                oidc::tokens::ACR_MFA,
                config.webauthn.phishing_resistant_acr.as_str(),
            ],
            oidc::discovery::Features {
                par_required: config.par.required,
            },
        )
        .map_err(|reason| ConfigError::Invalid {
            key: "server.issuer".to_owned(),
            reason,
        })?;
        let webauthn = crate::factors::webauthn::relying_party(&config).map_err(|reason| {
            ConfigError::Invalid {
                key: "webauthn".to_owned(),
                reason,
            }
        })?;
        let workers = config.server.workers;
        // Each HTTP worker has a blocking pool of its own: together they need no more
        // threads than the database has connections.
        let worker_count = if workers > 0 {
            workers
        } else {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        };
        let blocking_threads = (config.database.max_connections as usize)
            .div_ceil(worker_count)
            .max(2);
        let mail = Worker::new(
            store.clone(),
            secrets.sealer.clone(),
            &config.mail,
            clock.clone(),
        )?;
        let logout_notifier = crate::backchannel_logout::Notifier::new(
            store.clone(),
            keys.clone(),
            clock.clone(),
            config.server.issuer.clone(),
            config.backchannel_logout.clone(),
        )
        .map_err(|reason| ConfigError::Invalid {
            key: "backchannel_logout.ca_file".to_owned(),
            reason,
        })?;
        let wake = Wake::default();
        let mail = mail.with_wake(wake.clone()).with_metrics(metrics.clone());
        let outbox = Outbox::new(secrets.sealer.clone(), &config.mail).with_wake(wake);
        let push =
            crate::push_notifier::from_config(&config.push).map_err(|e| StartError::Spawn {
                what: "the push notifier",
                reason: e.to_string(),
            })?;
        // Validated with the rest of the configuration.
        let trusted_proxies = config.server.trusted_proxy_nets().unwrap_or_default();
        let state = web::Data::new(AppState {
            trusted_proxies: trusted_proxies.into(),
            config: Arc::new(config),
            store: store.clone(),
            clock,
            secrets,
            keys: keys.clone(),
            passwords,
            metrics,
            discovery: discovery.into(),
            outbox,
            clients: ClientCache::default(),
            verified_tokens: VerifiedTokens::default(),
            webauthn: webauthn.map(Arc::new),
            background: Background::new(BACKGROUND_LIMIT),
            push,
        });
        let allowed = web::Data::new(AllowedMethods::from_document(openapi::PUBLISHED).map_err(
            |e| StartError::Spawn {
                what: "the OpenAPI document",
                reason: e.to_string(),
            },
        )?);
        // One copy shared by the workers (swagger-ui's own route would keep one per
        // worker and serialise it on every request).
        let document = web::Bytes::from_static(openapi::PUBLISHED.as_bytes());
        // Validated with the rest of the configuration.
        let cors_origins = state.config.cors_origins().unwrap_or_default();
        // `/metrics` on the main listener unless `metrics.bind` gives it one of its own.
        let metrics_bind = state.config.metrics.bind.trim().to_owned();
        let metrics_server = if metrics_bind.is_empty() {
            None
        } else {
            let metrics_state = state.clone();
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(metrics_state.clone())
                    .route("/metrics", web::get().to(health::metrics))
            })
            .workers(1)
            .bind(&metrics_bind)
            .map_err(|e| StartError::Bind {
                bind: metrics_bind.clone(),
                reason: e.to_string(),
            })?;
            tracing::info!(addrs = ?server.addrs(), "metrics listening");
            Some(server.run())
        };
        let public_metrics = metrics_server.is_none();
        let mut http = HttpServer::new(move || {
            let document = document.clone();
            let app = App::new()
                .app_data(state.clone())
                .app_data(allowed.clone())
                .app_data(json_config())
                .app_data(query_config())
                .configure(crate::routes::mount)
                .route(
                    OPENAPI_JSON,
                    web::get().to(move || {
                        let document = document.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type(actix_web::http::header::ContentType::json())
                                .body(document)
                        }
                    }),
                )
                .service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .config(utoipa_swagger_ui::Config::from(OPENAPI_JSON)),
                )
                .route(
                    "/docs",
                    web::get().to(|| async {
                        HttpResponse::PermanentRedirect()
                            .insert_header(("Location", "/docs/"))
                            .finish()
                    }),
                )
                .default_service(web::to(fallback));
            let app = if state.config.ui.enabled {
                app.configure(crate::ui::routes)
            } else {
                app
            };
            let app = if public_metrics {
                app.route("/metrics", web::get().to(health::metrics))
            } else {
                app
            };
            app.wrap(ErrorHandlers::new().default_handler(rewrite_error_response))
                .wrap(cors::middleware(&cors_origins))
                .wrap(from_fn(request_id::middleware))
        })
        // Small token responses must not wait for Nagle's algorithm.
        .on_connect(|conn, _| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        });
        if workers > 0 {
            http = http.workers(workers);
        }
        // Database calls run on the blocking pools and wait for one of the pool's
        // connections anyway; more threads than connections only cost memory and
        // context switches.
        http = http.worker_max_blocking_threads(blocking_threads);
        let server = http
            .listen(listener)
            .map_err(|e| StartError::Bind {
                bind: addr.to_string(),
                reason: e.to_string(),
            })?
            .run();
        tracing::info!(%addr, backend = %store.backend(), "gatehouse listening");
        Ok(Self {
            addr,
            server,
            metrics_server,
            store,
            keys,
            reload_every,
            mail,
            logout_notifier,
            clock: janitor_clock,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped, re-reading the signing keys now and then so a rotation
    /// made by another instance (or `gatehouse keys rotate`) is picked up, draining
    /// the mail outbox, and purging expired rows. All three run on threads of their
    /// own: they do blocking database work, and they must not depend on which async
    /// runtime drives the server. Once the server has stopped, this waits for them to
    /// finish what they are doing, so no mail is cut off halfway.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let mail = self.mail.spawn()?;
        let logout_notifier = self.logout_notifier.spawn()?;
        let janitor = crate::janitor::spawn(self.store.clone(), self.clock)?;
        let keys = self.keys;
        let key_reload = periodic::spawn(
            "gatehouse-keys",
            self.reload_every,
            FirstRun::AfterInterval,
            move || {
                if let Err(e) = keys.reload() {
                    tracing::warn!(error = %e, "reloading signing keys failed");
                }
            },
        )?;
        let result = match self.metrics_server {
            None => self.server.await,
            Some(metrics) => {
                // The metrics listener lives as long as the main one.
                let handle = metrics.handle();
                let main = async {
                    let result = self.server.await;
                    handle.stop(false).await;
                    result
                };
                let (result, _) = tokio::join!(main, metrics);
                result
            }
        };
        mail.stop();
        logout_notifier.stop();
        janitor.stop();
        key_reload.stop();
        // The HTTP workers drop their state, and its store, as they wind down. The
        // last clone closes the connections; it must be this thread's, before exit.
        if !self.store.wait_until_last(STOP_WAIT) {
            let reason = "the database pool was still in use after the server stopped";
            tracing::warn!(wait = ?STOP_WAIT, "{reason}");
            return result.and(Err(std::io::Error::other(reason)));
        }
        drop(self.store);
        result
    }
}
