//! `gatehouse push-device`: a reference phone for push approval, over HTTP like an
//! app. `enroll` makes a P-256 key (aws-lc-rs), keeps it in `--key-file` as a PKCS#8
//! PEM (0600) and registers it with the ticket of a `gatehouse-push://enroll` URI;
//! the server and device id go beside it in `<key-file>.json`. `pending`, `approve`
//! and `deny` sign each request with that key (ES256 JWT: `kid`/`iss`/`sub` = the
//! device id, `aud` = the server, 60 s lifetime, a fresh `jti`).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clap::Subcommand;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

use crate::{Failure, print_json};

const DEFAULT_KEY_FILE: &str = "gatehouse-push-device.pem";
/// The lifetime of each signed request.
const REQUEST_LIFETIME_SECONDS: i64 = 60;

#[derive(Debug, Subcommand)]
pub enum PushDeviceCommand {
    /// Register this device with the URI from the enrolment QR code.
    Enroll {
        /// `gatehouse-push://enroll?server=…&ticket=…`
        uri: String,
        /// The name shown in the account's sign-in methods.
        #[arg(long)]
        name: Option<String>,
        /// A push token for the gateway (APNs/FCM); none by default.
        #[arg(long)]
        push_token: Option<String>,
        #[arg(long, value_name = "FILE", default_value = DEFAULT_KEY_FILE)]
        key_file: PathBuf,
    },
    /// List the sign-ins waiting for an answer (JSON).
    Pending {
        #[arg(long, value_name = "FILE", default_value = DEFAULT_KEY_FILE)]
        key_file: PathBuf,
    },
    /// Approve a sign-in with the number its screen shows.
    Approve {
        #[arg(allow_hyphen_values = true)]
        challenge: String,
        #[arg(long)]
        number: u8,
        #[arg(long, value_name = "FILE", default_value = DEFAULT_KEY_FILE)]
        key_file: PathBuf,
        /// Also write the signed request (the JWT) to this file.
        #[arg(long, value_name = "FILE")]
        save_request: Option<PathBuf>,
    },
    /// Deny a sign-in.
    Deny {
        #[arg(allow_hyphen_values = true)]
        challenge: String,
        #[arg(long, value_name = "FILE", default_value = DEFAULT_KEY_FILE)]
        key_file: PathBuf,
        #[arg(long, value_name = "FILE")]
        save_request: Option<PathBuf>,
    },
}

/// What the device remembers beside its key.
#[derive(Debug, Serialize, Deserialize)]
struct DeviceState {
    server: String,
    device_id: String,
    audience: String,
}

fn state_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut text = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in body.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(chunk));
        text.push('\n');
    }
    text.push_str("-----END PRIVATE KEY-----\n");
    text
}

fn der_of(pem: &str) -> Result<Vec<u8>, Failure> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    STANDARD
        .decode(body)
        .map_err(|e| Failure::refused(format!("the key file is not a PEM key: {e}")))
}

fn write_private(path: &Path, text: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| Failure::runtime(format!("{}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Failure::runtime(format!("{}: {e}", path.display())))
}

fn load(key_file: &Path) -> Result<(Vec<u8>, DeviceState), Failure> {
    let key = std::fs::read_to_string(key_file)
        .map_err(|e| Failure::refused(format!("{}: {e}", key_file.display())))?;
    let state_file = state_path(key_file);
    let state = std::fs::read_to_string(&state_file)
        .map_err(|e| Failure::refused(format!("{}: {e} (enroll first)", state_file.display())))?;
    let state: DeviceState = serde_json::from_str(&state)
        .map_err(|e| Failure::refused(format!("{}: {e}", state_file.display())))?;
    Ok((der_of(&key)?, state))
}

/// The server and ticket of an enrolment URI.
fn parse_uri(uri: &str) -> Result<(String, String), Failure> {
    let parsed = url::Url::parse(uri).map_err(|e| Failure::refused(format!("not a URI: {e}")))?;
    if parsed.scheme() != "gatehouse-push" || parsed.host_str() != Some("enroll") {
        return Err(Failure::refused("expected a gatehouse-push://enroll URI"));
    }
    let get = |name: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let server = get("server").ok_or_else(|| Failure::refused("the URI has no server"))?;
    let ticket = get("ticket").ok_or_else(|| Failure::refused("the URI has no ticket"))?;
    Ok((server.trim_end_matches('/').to_owned(), ticket))
}

fn sign(der: &[u8], state: &DeviceState, extra: Value) -> Result<String, Failure> {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": state.device_id,
        "sub": state.device_id,
        "aud": state.audience,
        "iat": now,
        "exp": now + REQUEST_LIFETIME_SECONDS,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        claims.extend(extra);
    }
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(state.device_id.clone());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(der))
        .map_err(|e| Failure::runtime(format!("signing: {e}")))
}

/// Sends one request; a non-2xx answer is a failure naming the problem's `code`.
fn send(request: reqwest::RequestBuilder) -> Result<Value, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::runtime)?;
    runtime.block_on(async move {
        let answer = request
            .send()
            .await
            .map_err(|e| Failure::runtime(format!("HTTP: {e}")))?;
        let status = answer.status();
        let retry_after = answer
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            let code = body
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            let mut message = format!("HTTP {} {code}", status.as_u16());
            if let Some(retry) = retry_after {
                message.push_str(&format!(" (Retry-After: {retry})"));
            }
            if let Some(detail) = body.get("detail").and_then(Value::as_str) {
                message.push_str(&format!(": {detail}"));
            }
            Err(Failure::runtime(message))
        }
    })
}

fn client() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(Failure::runtime)
}

fn answer(
    key_file: &Path,
    challenge: &str,
    claims: Value,
    save_request: Option<&Path>,
) -> Result<(), Failure> {
    let (der, state) = load(key_file)?;
    let token = sign(&der, &state, claims)?;
    if let Some(path) = save_request {
        write_private(path, &token)?;
    }
    let url = format!("{}/api/v1/push/challenges/{challenge}", state.server);
    let body = send(client()?.post(url).bearer_auth(token))?;
    print_json(&body)
}

pub fn run(command: PushDeviceCommand) -> Result<(), Failure> {
    match command {
        PushDeviceCommand::Enroll {
            uri,
            name,
            push_token,
            key_file,
        } => {
            let (server, ticket) = parse_uri(&uri)?;
            // Overwriting a key would orphan the device it belongs to.
            if key_file.exists() {
                return Err(Failure::refused(format!(
                    "{} exists: this device is enrolled already (choose another --key-file)",
                    key_file.display()
                )));
            }
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|e| Failure::runtime(format!("key generation: {e}")))?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
                .map_err(|e| Failure::runtime(format!("key: {e}")))?;
            let point = pair.public_key().as_ref();
            let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
                return Err(Failure::runtime("unexpected public key encoding"));
            };
            let jwk = json!({
                "kty": "EC",
                "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(x),
                "y": URL_SAFE_NO_PAD.encode(y),
            });
            let mut body = json!({ "ticket": ticket, "public_key": jwk });
            if let Some(fields) = body.as_object_mut() {
                if let Some(name) = name {
                    fields.insert("name".to_owned(), name.into());
                }
                if let Some(token) = push_token {
                    fields.insert("push_token".to_owned(), token.into());
                }
            }
            let url = format!("{server}/api/v1/push/devices");
            let registered = send(client()?.post(url).json(&body))?;
            let field = |name: &str| {
                registered
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| Failure::runtime(format!("the answer has no {name}")))
            };
            let state = DeviceState {
                server,
                device_id: field("device_id")?,
                audience: field("audience")?,
            };
            write_private(&key_file, &pem(pkcs8.as_ref()))?;
            let text = serde_json::to_string_pretty(&state).map_err(Failure::runtime)?;
            write_private(&state_path(&key_file), &text)?;
            print_json(&registered)
        }
        PushDeviceCommand::Pending { key_file } => {
            let (der, state) = load(&key_file)?;
            let token = sign(&der, &state, json!({}))?;
            let url = format!("{}/api/v1/push/challenges", state.server);
            let body = send(client()?.get(url).bearer_auth(token))?;
            print_json(&body)
        }
        PushDeviceCommand::Approve {
            challenge,
            number,
            key_file,
            save_request,
        } => answer(
            &key_file,
            &challenge,
            json!({ "action": "approve", "challenge": challenge, "number": number }),
            save_request.as_deref(),
        ),
        PushDeviceCommand::Deny {
            challenge,
            key_file,
            save_request,
        } => answer(
            &key_file,
            &challenge,
            json!({ "action": "deny", "challenge": challenge }),
            save_request.as_deref(),
        ),
    }
}
