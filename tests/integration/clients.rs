//! `gatehouse clients …` as an operator runs it.

use gatehouse_core::ClientId;
use gatehouse_core::ports::ClientRepository;
use gatehouse_provider::config::SecretsConfig;
use gatehouse_provider::crypto::{KeyedHasher, MasterKey};
use serde_json::Value;
use std::process::Output;

use crate::support::{TestDatabase, gatehouse};

struct Operator {
    dir: tempfile::TempDir,
    db: TestDatabase,
    key: String,
}

impl Operator {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("dir"),
            db: TestDatabase::sqlite(),
            key: MasterKey::generate().expect("key").1,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        gatehouse(self.dir.path())
            .args(args)
            .env("GATEHOUSE_DATABASE_URL", &self.db.url)
            .env("GATEHOUSE_SECRETS_KEY", &self.key)
            .output()
            .expect("run gatehouse")
    }

    fn json(&self, args: &[&str]) -> Value {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("json")
    }

    fn hasher(&self) -> KeyedHasher {
        KeyedHasher::new(
            &MasterKey::load(&SecretsConfig {
                key: self.key.clone(),
                key_file: String::new(),
            })
            .expect("key"),
        )
    }
}

/// The one line a failed command wrote on stderr, besides the database it opened.
fn failure(output: &Output) -> String {
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("gatehouse: database "))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    lines[0].to_owned()
}

#[test]
fn a_confidential_client_gets_a_secret_once_stored_only_as_a_keyed_hash() {
    let op = Operator::new();
    let added = op.json(&[
        "clients",
        "add",
        "--id",
        "portal",
        "--name",
        "Support Portal",
        "--redirect-uri",
        "https://portal.example.com/callback",
        "--post-logout-redirect-uri",
        "https://portal.example.com/",
        "--id-token-alg",
        "ES256",
        "--first-party",
        "--require-pushed-authorization-requests",
        "--dpop-bound-access-tokens",
    ]);
    assert_eq!(added["client_id"], "portal");
    assert_eq!(added["require_pushed_authorization_requests"], true);
    assert_eq!(added["dpop_bound_access_tokens"], true);
    assert_eq!(added["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(added["id_token_signed_response_alg"], "ES256");
    assert_eq!(
        added["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(added["first_party"], true);
    // A first-party client keeps refresh tokens without offline_access by default.
    assert_eq!(added["refresh_without_offline_access"], true);
    let secret = added["client_secret"]
        .as_str()
        .expect("secret shown once")
        .to_owned();
    assert!(secret.len() >= 43, "256 bits");

    let shown = op.json(&["clients", "show", "portal"]);
    assert!(shown.get("client_secret").is_none(), "never shown again");
    assert_eq!(
        shown["redirect_uris"],
        serde_json::json!(["https://portal.example.com/callback"])
    );

    let stored = op
        .db
        .store()
        .client_by_id(&ClientId::parse("portal").expect("id"))
        .expect("read")
        .expect("stored");
    let hash = stored.secret_hash.expect("hash");
    assert_ne!(hash, secret);
    assert!(op.hasher().verify(&secret, &hash));
    assert!(!op.hasher().verify("guess", &hash));
}

#[test]
fn public_and_machine_clients() {
    let op = Operator::new();
    let spa = op.json(&[
        "clients",
        "add",
        "--name",
        "SPA",
        "--public",
        "--redirect-uri",
        "http://localhost:5173/cb",
    ]);
    assert_eq!(spa["token_endpoint_auth_method"], "none");
    assert_eq!(spa["refresh_without_offline_access"], false);
    assert_eq!(spa["require_pushed_authorization_requests"], false);
    assert_eq!(spa["dpop_bound_access_tokens"], false);
    assert!(spa.get("client_secret").is_none());
    assert_eq!(
        spa["client_id"].as_str().map(str::len),
        Some(22),
        "generated id"
    );

    let native = op.json(&[
        "clients",
        "add",
        "--name",
        "Partner app",
        "--public",
        "--redirect-uri",
        "http://localhost:5174/cb",
        "--refresh-without-offline-access",
        "true",
    ]);
    assert_eq!(native["first_party"], false);
    assert_eq!(native["refresh_without_offline_access"], true);

    let machine = op.json(&[
        "clients",
        "add",
        "--id",
        "importer",
        "--name",
        "Migration script",
        "--grant",
        "client_credentials",
        "--scope",
        "gatehouse:admin",
    ]);
    assert_eq!(machine["scopes"], serde_json::json!(["gatehouse:admin"]));
    assert!(machine["client_secret"].is_string());

    let listed = op.json(&["clients", "list"]);
    let ids: Vec<_> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["client_id"].clone())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&Value::from("importer")));
    assert!(
        listed
            .as_array()
            .expect("array")
            .iter()
            .all(|c| c.get("client_secret").is_none())
    );
}

#[test]
fn bad_registrations_are_one_line_refusals() {
    let op = Operator::new();
    for (args, expected) in [
        (
            vec!["--redirect-uri", "http://evil.example.com/cb"],
            "loopback",
        ),
        (
            vec!["--redirect-uri", "https://rp.example.com/cb#x"],
            "fragment",
        ),
        (
            vec!["--public", "--grant", "client_credentials"],
            "confidential",
        ),
        (
            vec![
                "--id",
                "bad id",
                "--redirect-uri",
                "https://rp.example.com/cb",
            ],
            "client id",
        ),
    ] {
        let mut full = vec!["clients", "add", "--name", "X"];
        full.extend(args.iter().copied());
        let message = failure(&op.run(&full));
        assert!(message.contains(expected), "{full:?}: {message}");
    }
    // Unknown enum values are clap's usage errors: exit 2, naming the value.
    let output = op.run(&["clients", "add", "--name", "X", "--grant", "implicit"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("implicit"));

    let args = [
        "clients",
        "add",
        "--id",
        "twice",
        "--name",
        "A",
        "--redirect-uri",
        "https://a.example.com/cb",
    ];
    op.json(&args);
    assert!(failure(&op.run(&args)).contains("already exists"));
}

#[test]
fn remove_and_unknown_clients() {
    let op = Operator::new();
    op.json(&[
        "clients",
        "add",
        "--id",
        "gone",
        "--name",
        "G",
        "--redirect-uri",
        "https://g.example.com/cb",
    ]);
    let removed = op.run(&["clients", "remove", "gone"]);
    assert!(removed.status.success());
    assert!(failure(&op.run(&["clients", "show", "gone"])).contains("no client"));
    assert!(failure(&op.run(&["clients", "remove", "gone"])).contains("no client"));
}

#[test]
fn a_client_may_ask_for_back_channel_logout() {
    let op = Operator::new();
    let plain = op.json(&[
        "clients",
        "add",
        "--id",
        "plain",
        "--name",
        "Plain",
        "--redirect-uri",
        "https://plain.example.com/cb",
    ]);
    assert!(plain.get("backchannel_logout_uri").is_none());
    assert_eq!(plain["backchannel_logout_session_required"], false);
    let added = op.json(&[
        "clients",
        "add",
        "--id",
        "shop",
        "--name",
        "Shop",
        "--redirect-uri",
        "https://shop.example.com/cb",
        "--backchannel-logout-uri",
        "https://shop.example.com/backchannel?x=1",
        "--backchannel-logout-session-required",
    ]);
    assert_eq!(
        added["backchannel_logout_uri"],
        "https://shop.example.com/backchannel?x=1"
    );
    assert_eq!(added["backchannel_logout_session_required"], true);
    let shown = op.json(&["clients", "show", "shop"]);
    assert_eq!(
        shown["backchannel_logout_uri"],
        added["backchannel_logout_uri"]
    );
    assert_eq!(shown["backchannel_logout_session_required"], true);
    for bad in [
        "http://shop.example.com/backchannel",
        "https://shop.example.com/backchannel#frag",
        "com.example.shop:/backchannel",
    ] {
        let output = op.run(&[
            "clients",
            "add",
            "--name",
            "Bad",
            "--redirect-uri",
            "https://shop.example.com/cb",
            "--backchannel-logout-uri",
            bad,
        ]);
        assert!(!output.status.success(), "{bad} is refused");
        assert!(failure(&output).contains(bad), "{bad}");
    }
}
