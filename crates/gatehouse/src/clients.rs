//! `gatehouse clients …`: register and inspect OAuth clients.

use clap::{Args, Subcommand};
use gatehouse_core::client::TokenLifetimes;
use gatehouse_core::ports::{ClientRepository, RepositoryError};
use gatehouse_core::{ClientId, GrantType, SigningAlg, TokenEndpointAuthMethod};
use gatehouse_provider::clients::{ClientRequest, ClientView, register};

use crate::{Context, Failure, print_json};

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints it as JSON, with its secret (shown this once).
    Add(AddClient),
    /// All clients, as a JSON array.
    List,
    /// One client, as JSON.
    Show { id: String },
    /// Delete a client.
    Remove { id: String },
}

#[derive(Debug, Args)]
pub struct AddClient {
    /// The client_id; generated when left out.
    #[arg(long)]
    id: Option<String>,
    /// Shown to users (and on the login screen).
    #[arg(long)]
    name: String,
    /// An allowed redirect URI, matched exactly (repeat for more).
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// An allowed post-logout redirect URI (repeat for more).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// authorization_code, refresh_token, client_credentials (repeat; default: the first two).
    #[arg(long = "grant", value_name = "GRANT")]
    grants: Vec<GrantType>,
    /// An allowed scope (repeat; default: openid email profile offline_access).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// client_secret_basic (default), client_secret_post, private_key_jwt, none.
    #[arg(long)]
    auth_method: Option<TokenEndpointAuthMethod>,
    /// A public client (SPA or native app): no secret, PKCE only. Same as --auth-method none.
    #[arg(long, conflicts_with = "auth_method")]
    public: bool,
    /// The client's JWKS file, for private_key_jwt.
    #[arg(long, value_name = "FILE")]
    jwks: Option<std::path::PathBuf>,
    /// ID token signing algorithm: RS256 (default), ES256, EdDSA.
    #[arg(long)]
    id_token_alg: Option<SigningAlg>,
    /// A first-party client: no consent screen.
    #[arg(long)]
    first_party: bool,
    /// Issue refresh tokens without the offline_access scope: true or false
    /// (default: true for a first-party client, false otherwise).
    #[arg(long, value_name = "BOOL")]
    refresh_without_offline_access: Option<bool>,
    /// Take authorization requests from this client only pushed (PAR, RFC 9126).
    #[arg(long)]
    require_pushed_authorization_requests: bool,
    /// Issue tokens to this client only with a DPoP proof (RFC 9449).
    #[arg(long)]
    dpop_bound_access_tokens: bool,
    /// Where logout tokens are POSTed when a session ends (Back-Channel Logout 1.0):
    /// https, or http on loopback.
    #[arg(long, value_name = "URI")]
    backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in its logout tokens (they always carry it).
    #[arg(long)]
    backchannel_logout_session_required: bool,
    #[arg(long, value_name = "SECONDS")]
    access_token_ttl: Option<u32>,
    #[arg(long, value_name = "SECONDS")]
    id_token_ttl: Option<u32>,
    #[arg(long, value_name = "SECONDS")]
    refresh_token_ttl: Option<u32>,
}

fn client_id(raw: &str) -> Result<ClientId, Failure> {
    ClientId::parse(raw).map_err(Failure::refused)
}

fn not_found(id: &ClientId) -> Failure {
    Failure::runtime(format!("no client {id:?}"))
}

pub fn run(command: ClientsCommand, context: &Context) -> Result<(), Failure> {
    let store = context.store()?;
    match command {
        ClientsCommand::Add(add) => {
            let jwks = match &add.jwks {
                Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                    Failure::refused(format!("cannot read {}: {e}", path.display()))
                })?),
                None => None,
            };
            let defaults = TokenLifetimes::default();
            let request = ClientRequest {
                id: add.id,
                name: add.name,
                redirect_uris: add.redirect_uris,
                post_logout_redirect_uris: add.post_logout_redirect_uris,
                grant_types: add.grants,
                scopes: add.scopes,
                auth_method: if add.public {
                    Some(TokenEndpointAuthMethod::None)
                } else {
                    add.auth_method
                },
                jwks,
                id_token_alg: add.id_token_alg,
                first_party: add.first_party,
                refresh_without_offline_access: add.refresh_without_offline_access,
                require_pushed_authorization_requests: add.require_pushed_authorization_requests,
                dpop_bound_access_tokens: add.dpop_bound_access_tokens,
                backchannel_logout_uri: add.backchannel_logout_uri,
                backchannel_logout_session_required: add.backchannel_logout_session_required,
                lifetimes: Some(TokenLifetimes {
                    access_token: add.access_token_ttl.unwrap_or(defaults.access_token),
                    id_token: add.id_token_ttl.unwrap_or(defaults.id_token),
                    refresh_token: add.refresh_token_ttl.unwrap_or(defaults.refresh_token),
                }),
            };
            let secrets = context.secrets()?;
            let (client, secret) = register(&store, &secrets.hasher, request, chrono::Utc::now())
                .map_err(Failure::refused)?;
            print_json(&ClientView::of(&client, secret))
        }
        ClientsCommand::List => {
            let clients = store.list_clients().map_err(Failure::runtime)?;
            let views: Vec<_> = clients.iter().map(|c| ClientView::of(c, None)).collect();
            print_json(&views)
        }
        ClientsCommand::Show { id } => {
            let id = client_id(&id)?;
            let client = store
                .client_by_id(&id)
                .map_err(Failure::runtime)?
                .ok_or_else(|| not_found(&id))?;
            print_json(&ClientView::of(&client, None))
        }
        ClientsCommand::Remove { id } => {
            let id = client_id(&id)?;
            match store.delete_client(&id) {
                Ok(()) => {
                    println!("removed client {id}");
                    Ok(())
                }
                Err(RepositoryError::NotFound) => Err(not_found(&id)),
                Err(e) => Err(Failure::runtime(e)),
            }
        }
    }
}
