//! The master key: 32 random bytes from `secrets.key`, or from `secrets.key_file`,
//! generated there on first start when neither exists. Every other key is derived
//! from it, one per purpose, so no key ever serves two purposes.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::io::Write;
use std::path::Path;

use super::{CryptoError, random};
use crate::config::SecretsConfig;

#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// The causes are dropped on purpose: a decode error names the offending byte, and the
/// failed conversion holds the bytes, both of a secret.
fn decode(text: &str, origin: &str) -> Result<MasterKey, CryptoError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .map_err(|_| CryptoError::Key(format!("{origin} is not base64url")))?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| CryptoError::Key(format!("{origin} must hold exactly 32 bytes")))?;
    Ok(MasterKey(key))
}

impl MasterKey {
    /// A fresh random key, printed as configuration expects it.
    pub fn generate() -> Result<(Self, String), CryptoError> {
        let bytes: [u8; 32] = random::bytes()?;
        Ok((Self(bytes), URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn load(config: &SecretsConfig) -> Result<Self, CryptoError> {
        if !config.key.trim().is_empty() {
            return decode(&config.key, "secrets.key");
        }
        let path = Path::new(&config.key_file);
        match std::fs::read_to_string(path) {
            Ok(text) => decode(&text, &format!("secrets.key_file {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path),
            Err(e) => Err(CryptoError::Key(format!(
                "cannot read secrets.key_file {}: {e}",
                path.display()
            ))),
        }
    }

    /// Writes a new key file readable by its owner only. `create_new` makes two
    /// instances starting at once agree: the loser reads the winner's key.
    fn create(path: &Path) -> Result<Self, CryptoError> {
        let fail = |e: std::io::Error| {
            CryptoError::Key(format!(
                "cannot create secrets.key_file {}: {e}",
                path.display()
            ))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let (key, text) = Self::generate()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(format!("{text}\n").as_bytes())
                    .map_err(fail)?;
                tracing::warn!(
                    path = %path.display(),
                    "generated a new master key: back it up, and give every instance the same \
                     key (secrets.key or GATEHOUSE_SECRETS_KEY), or sealed secrets cannot be read"
                );
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(fail)?;
                decode(&text, &format!("secrets.key_file {}", path.display()))
            }
            Err(e) => Err(fail(e)),
        }
    }

    /// The key for one purpose: HMAC-SHA256(master, "gatehouse/" + purpose).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let tag = hmac::sign(&key, format!("gatehouse/{purpose}").as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}
