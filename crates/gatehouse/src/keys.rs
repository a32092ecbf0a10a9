//! `gatehouse keys …` and `gatehouse secrets …`: signing keys and the master key.

use chrono::{DateTime, TimeDelta, Utc};
use clap::Subcommand;
use gatehouse_core::ports::SigningKeyRepository;
use gatehouse_provider::crypto::MasterKey;
use gatehouse_provider::crypto::keyring::maintain;
use serde::Serialize;

use crate::{Context, Failure, print_json};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The signing keys (public facts only), as JSON.
    List,
    /// Promote each algorithm's next key to active, retire the active one (published
    /// until its tokens expire) and publish a new next key.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a new random master key for `secrets.key` / GATEHOUSE_SECRETS_KEY.
    GenerateKey,
}

#[derive(Serialize)]
struct KeyView {
    kid: String,
    alg: &'static str,
    status: &'static str,
    created_at: DateTime<Utc>,
    activated_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

fn list(context: &Context) -> Result<(), Failure> {
    let keys = context
        .read_store()?
        .signing_keys()
        .map_err(Failure::runtime)?;
    let views: Vec<_> = keys
        .into_iter()
        .map(|k| KeyView {
            kid: k.kid,
            alg: k.alg.as_str(),
            status: k.status.as_str(),
            created_at: k.created_at,
            activated_at: k.activated_at,
            expires_at: k.expires_at,
        })
        .collect();
    print_json(&views)
}

pub fn run(command: KeysCommand, context: &Context) -> Result<(), Failure> {
    match command {
        KeysCommand::List => list(context),
        KeysCommand::Rotate => {
            let store = context.store()?;
            let secrets = context.secrets()?;
            let retire_after =
                TimeDelta::seconds(context.config.keys.retired_key_ttl_seconds.into());
            let now = Utc::now();
            // First bring the set into shape (a fresh database has no keys), then rotate.
            maintain(&store, &secrets.sealer, now, retire_after, false)
                .map_err(Failure::runtime)?;
            maintain(&store, &secrets.sealer, now, retire_after, true).map_err(Failure::runtime)?;
            list(context)
        }
    }
}

pub fn run_secrets(command: SecretsCommand) -> Result<(), Failure> {
    match command {
        SecretsCommand::GenerateKey => {
            let (_, text) = MasterKey::generate().map_err(Failure::runtime)?;
            println!("{text}");
            Ok(())
        }
    }
}
