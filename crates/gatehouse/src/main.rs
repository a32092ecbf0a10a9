//! The `gatehouse` command: run the server and operate it.

use clap::{Parser, Subcommand};
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
    /// Print the OpenAPI document of the REST API.
    Openapi,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Apply pending migrations.
    Migrate,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print the effective values, secrets redacted.
    Check,
}

/// A failure, reported as one line on stderr.
#[derive(Debug)]
struct Failure {
    message: String,
    exit: u8,
}

impl Failure {
    /// Configuration problems exit with 2, like a usage error; everything else with 1.
    fn config(error: impl std::fmt::Display) -> Self {
        Self {
            message: error.to_string(),
            exit: 2,
        }
    }

    fn runtime(error: impl std::fmt::Display) -> Self {
        Self {
            message: error.to_string(),
            exit: 1,
        }
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
