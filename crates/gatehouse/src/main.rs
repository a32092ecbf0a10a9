//! The `gatehouse` command: run the server and operate it.

mod accounts;
mod clients;
mod keys;
mod migration;
mod outbox;
mod push_device;

use clap::{Parser, Subcommand};
use gatehouse_provider::crypto::Secrets;
use gatehouse_provider::{Application, Config};
use gatehouse_store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Headless OpenID Connect provider with mandatory MFA and account migration"
)]
struct Cli {
    /// TOML configuration file; without one, the embedded defaults and GATEHOUSE_* variables apply.
    #[arg(
        long,
        short,
        global = true,
        env = "GATEHOUSE_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (applies pending migrations unless database.auto_migrate = false).
    Serve,
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// OAuth clients (relying parties).
    Clients {
        #[command(subcommand)]
        command: clients::ClientsCommand,
    },
    /// Token-signing keys.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// The master key that seals secrets at rest.
    Secrets {
        #[command(subcommand)]
        command: keys::SecretsCommand,
    },
    /// Accounts: import from an old system, the username-retirement report.
    Accounts {
        #[command(subcommand)]
        command: migration::AccountsCommand,
    },
    /// Re-registration invitations for imported accounts.
    Invitations {
        #[command(subcommand)]
        command: migration::InvitationsCommand,
    },
    /// Where the migration stands.
    Migration {
        #[command(subcommand)]
        command: migration::MigrationCommand,
    },
    /// The mail outbox: recent mails, and one decoded (development and support).
    Outbox {
        #[command(subcommand)]
        command: outbox::OutboxCommand,
    },
    /// Print the OpenAPI document of the REST API.
    Openapi,
    /// A reference phone for push approval (enroll, pending, approve, deny) over HTTP.
    PushDevice {
        #[command(subcommand)]
        command: push_device::PushDeviceCommand,
    },
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Apply pending migrations.
    Migrate,
    /// Delete expired login requests, codes, push challenges, revocations, client
    /// assertions, and delivered or given-up logout notices now (the server does it
    /// hourly); prints how many of each, as JSON.
    Purge {
        /// Keep rows that expired less than this many hours ago (by default, as the
        /// server's own hourly purge does).
        #[arg(long, default_value_t = gatehouse_provider::janitor::KEEP_EXPIRED.num_hours() as u32)]
        keep_hours: u32,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print the effective values, secrets redacted.
    Check,
}

/// A failure, reported as one line on stderr.
#[derive(Debug)]
pub struct Failure {
    message: String,
    exit: u8,
}

impl Failure {
    /// Configuration problems exit with 2, like a usage error (clap's); everything
    /// else with 1.
    pub fn config(error: impl std::fmt::Display) -> Self {
        Self {
            message: error.to_string(),
            exit: 2,
        }
    }

    /// A request the command cannot carry out as asked (a bad value, an unknown id):
    /// exit 1, like any failure that is not the command line's or the configuration's.
    pub fn refused(error: impl std::fmt::Display) -> Self {
        Self::runtime(error)
    }

    pub fn runtime(error: impl std::fmt::Display) -> Self {
        Self {
            message: error.to_string(),
            exit: 1,
        }
    }
}

/// What operator commands share: the configuration, and the store and secrets opened
/// from it on demand.
#[derive(Debug)]
pub struct Context {
    pub config: Config,
}

impl Context {
    /// Opens the database (creating a SQLite file if there is none) and applies pending
    /// migrations, as `serve` would.
    pub fn store(&self) -> Result<Store, Failure> {
        self.open(false)
    }

    /// Opens the database for a command that only reads: one that does not exist is an
    /// error, never a new empty one whose zeros would be taken for the real figures.
    pub fn read_store(&self) -> Result<Store, Failure> {
        self.open(true)
    }

    fn open(&self, existing_only: bool) -> Result<Store, Failure> {
        let url = self.config.database.parsed_url().map_err(Failure::config)?;
        if existing_only
            && let gatehouse_store::DatabaseUrl::Sqlite(path) = &url
            && !path.exists()
        {
            return Err(Failure::refused(format!(
                "there is no database at {} (this command only reads): run it where the \
                 server keeps its data, or name the database with --config or \
                 GATEHOUSE_DATABASE_URL",
                path.display()
            )));
        }
        // Which database a command works on, always: a command run from the wrong folder
        // must not pass for one that found nothing.
        eprintln!("gatehouse: database {}", url.redacted());
        let store =
            Store::open(&url, &self.config.database.pool_options()).map_err(Failure::runtime)?;
        if self.config.database.auto_migrate {
            store.migrate().map_err(Failure::runtime)?;
        }
        Ok(store)
    }

    pub fn secrets(&self) -> Result<Secrets, Failure> {
        Secrets::load(&self.config.secrets).map_err(Failure::config)
    }

    /// The master key for a command that only reads: a key file that does not exist
    /// is an error, never a new key (which would open nothing).
    pub fn read_secrets(&self) -> Result<Secrets, Failure> {
        let secrets = &self.config.secrets;
        if secrets.key.trim().is_empty() && !std::path::Path::new(&secrets.key_file).exists() {
            return Err(Failure::refused(format!(
                "there is no master key at {} (this command only reads): run it where the \
                 server keeps its data, or give secrets.key",
                secrets.key_file
            )));
        }
        self.secrets()
    }
}

pub fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    use std::io::Write as _;
    let text = serde_json::to_string_pretty(value).map_err(Failure::runtime)?;
    match writeln!(std::io::stdout(), "{text}") {
        // A reader that stopped early (`| head`) is not a failure of ours.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::runtime(e)),
        _ => Ok(()),
    }
}

fn load_config(path: Option<&std::path::Path>) -> Result<Config, Failure> {
    Config::load(path, std::env::vars()).map_err(Failure::config)
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Openapi => {
            let json = gatehouse_provider::openapi::document_json().map_err(Failure::runtime)?;
            print!("{json}");
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            let config = load_config(cli.config.as_deref())?;
            print!("{}", config.redacted_toml().map_err(Failure::config)?);
            Ok(())
        }
        Command::Db {
            command: DbCommand::Migrate,
        } => {
            let config = load_config(cli.config.as_deref())?;
            let url = config.database.parsed_url().map_err(Failure::config)?;
            let store =
                Store::open(&url, &config.database.pool_options()).map_err(Failure::runtime)?;
            let applied = store.migrate().map_err(Failure::runtime)?;
            if applied.is_empty() {
                println!("{}: up to date", url.redacted());
            } else {
                for name in applied {
                    println!("applied {name}");
                }
            }
            Ok(())
        }
        Command::Db {
            command: DbCommand::Purge { keep_hours },
        } => {
            let context = Context {
                config: load_config(cli.config.as_deref())?,
            };
            let now = chrono::Utc::now();
            let before = now - chrono::TimeDelta::hours(keep_hours.into());
            let purged = context
                .store()?
                .purge_expired(before, now)
                .map_err(Failure::runtime)?;
            print_json(&purged)
        }
        Command::Clients { command } => {
            let context = Context {
                config: load_config(cli.config.as_deref())?,
            };
            clients::run(command, &context)
        }
        Command::Keys { command } => {
            let context = Context {
                config: load_config(cli.config.as_deref())?,
            };
            keys::run(command, &context)
        }
        Command::Accounts { command } => {
            let context = Context {
                config: load_config(cli.config.as_deref())?,
            };
            migration::run_accounts(command, &context)
        }
        Command::Invitations { command } => {
            let context = Context {
                config: load_config(cli.config.as_deref())?,
            };
            migration::run_invitations(command, &context)
        }
        Command::Migration { command } => {
            let context = Context {
                config: load_config(cli.config.as_deref())?,
            };
            migration::run_migration(command, &context)
        }
        Command::Outbox { command } => {
            let context = Context {
                config: load_config(cli.config.as_deref())?,
            };
            outbox::run(command, &context)
        }
        Command::Secrets { command } => keys::run_secrets(command),
        Command::PushDevice { command } => push_device::run(command),
        Command::Serve => {
            let config = load_config(cli.config.as_deref())?;
            gatehouse_provider::telemetry::init(&config.logging).map_err(Failure::config)?;
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(config).map_err(Failure::runtime)?;
                app.run_until_stopped().await.map_err(Failure::runtime)
            })
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("gatehouse: error: {}", failure.message);
            ExitCode::from(failure.exit)
        }
    }
}
