//! Randomness from the operating system's CSPRNG.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::CryptoError;

pub fn bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        // `Unspecified`: nothing more to carry.
        .map_err(|_| CryptoError::Backend("random"))?;
    Ok(out)
}

/// An unguessable token: 256 random bits, base64url (43 characters).
pub fn token() -> Result<String, CryptoError> {
    Ok(URL_SAFE_NO_PAD.encode(bytes::<32>()?))
}

/// A one-time code of uniformly random digits (`gatehouse_core::otp::generate_code`).
/// When the CSPRNG fails there is no code at all, never a predictable one.
pub fn one_time_code() -> Result<String, CryptoError> {
    let mut failed = None;
    let code = gatehouse_core::otp::generate_code(|| match bytes::<4>() {
        Ok(draw) => u32::from_le_bytes(draw),
        Err(e) => {
            failed = Some(e);
            0
        }
    });
    failed.map_or(Ok(code), Err)
}

/// A recovery code (`gatehouse_core::recovery_code::generate`), or an error when the
/// CSPRNG fails: never a predictable code.
pub fn recovery_code() -> Result<String, CryptoError> {
    let mut failed = None;
    let code = gatehouse_core::recovery_code::generate(|| match bytes::<1>() {
        Ok([draw]) => draw,
        Err(e) => {
            failed = Some(e);
            0
        }
    });
    failed.map_or(Ok(code), Err)
}
