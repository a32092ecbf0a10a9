//! Secrets at rest and keyed hashes, through the provider's crypto module.

use gatehouse_provider::config::SecretsConfig;
use gatehouse_provider::crypto::{KeyedHasher, MasterKey, Sealer};

fn master(text: Option<&str>) -> MasterKey {
    let key = match text {
        Some(t) => t.to_owned(),
        None => MasterKey::generate().expect("generate").1,
    };
    MasterKey::load(&SecretsConfig {
        key,
        key_file: String::new(),
    })
    .expect("load")
}

#[test]
fn sealed_secrets_open_only_with_their_key_and_context() {
    let key = master(None);
    let sealer = Sealer::new(&key).expect("sealer");
    let sealed = sealer.seal(b"totp seed 12345", "factor:1").expect("seal");
    assert!(
        !sealed.windows(9).any(|w| w == b"totp seed"),
        "no plaintext in the blob"
    );
    assert_eq!(
        sealer.open(&sealed, "factor:1").expect("open"),
        b"totp seed 12345"
    );
    assert_ne!(
        sealer.seal(b"totp seed 12345", "factor:1").expect("seal"),
        sealed,
        "fresh nonce each time"
    );

    assert!(
        sealer.open(&sealed, "factor:2").is_err(),
        "moved to another row"
    );
    let other = Sealer::new(&master(None)).expect("sealer");
    assert!(
        other.open(&sealed, "factor:1").is_err(),
        "another master key"
    );
    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(sealer.open(&tampered, "factor:1").is_err(), "tampered");
    assert!(sealer.open(&[], "factor:1").is_err());
    assert!(sealer.open(&sealed[..20], "factor:1").is_err());
}

#[test]
fn keyed_hashes_verify_the_secret_and_nothing_else() {
    let key = master(None);
    let hasher = KeyedHasher::new(&key);
    let stored = hasher.hash("s3cret-value");
    assert_ne!(stored, "s3cret-value");
    assert!(hasher.verify("s3cret-value", &stored));
    assert!(!hasher.verify("s3cret-valuE", &stored));
    assert!(!hasher.verify("s3cret-value", "not base64 !"));
    assert!(
        !KeyedHasher::new(&master(None)).verify("s3cret-value", &stored),
        "the key matters"
    );
}

#[test]
fn the_master_key_file_is_generated_once_private_and_reused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("data/secret.key");
    let config = SecretsConfig {
        key: String::new(),
        key_file: path.display().to_string(),
    };
    let first = Sealer::new(&MasterKey::load(&config).expect("generated")).expect("sealer");
    let sealed = first.seal(b"x", "c").expect("seal");
    let again = Sealer::new(&MasterKey::load(&config).expect("reloaded")).expect("sealer");
    assert_eq!(again.open(&sealed, "c").expect("same key"), b"x");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    }
}

#[test]
fn bad_master_keys_are_refused_by_name() {
    for (key, expected) in [("not base64 !!", "base64url"), ("c2hvcnQ", "32 bytes")] {
        let err = MasterKey::load(&SecretsConfig {
            key: key.to_owned(),
            key_file: String::new(),
        })
        .expect_err("refused");
        let message = err.to_string();
        assert!(
            message.contains("secrets.key") && message.contains(expected),
            "{message}"
        );
    }
}
