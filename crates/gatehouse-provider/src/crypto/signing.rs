//! Token-signing keys: RS256 (mandatory in OIDC), ES256 and EdDSA (Ed25519), signed on
//! aws-lc-rs and plugged into `openidconnect` through its `PrivateSigningKey` trait.
//! The `kid` is the key's RFC 7638 thumbprint.

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use gatehouse_core::SigningAlg;
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{PrivateSigningKey, SigningError};
use serde_json::{Value, json};

use super::CryptoError;

enum Material {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    material: Material,
    public_jwk: Value,
    verification_key: CoreJsonWebKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn backend(what: &'static str) -> impl Fn(aws_lc_rs::error::Unspecified) -> CryptoError {
    move |_| CryptoError::Backend(what)
}

fn key_rejected(e: aws_lc_rs::error::KeyRejected) -> CryptoError {
    CryptoError::Key(format!("stored signing key does not load: {e}"))
}

/// The JWS `alg` of a signing algorithm, as openidconnect names it.
pub fn jws_alg(alg: SigningAlg) -> CoreJwsSigningAlgorithm {
    match alg {
        SigningAlg::Rs256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        SigningAlg::Es256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        SigningAlg::EdDsa => CoreJwsSigningAlgorithm::EdDsa,
    }
}

impl SigningKey {
    /// A fresh key and its PKCS#8 (v1) encoding, to be sealed and stored.
    pub fn generate(alg: SigningAlg) -> Result<(Self, Vec<u8>), CryptoError> {
        let pkcs8 = match alg {
            SigningAlg::Rs256 => {
                let pair =
                    RsaKeyPair::generate(KeySize::Rsa2048).map_err(backend("rsa generate"))?;
                let der: Pkcs8V1Der<'static> = pair.as_der().map_err(backend("rsa export"))?;
                der.as_ref().to_vec()
            }
            SigningAlg::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(backend("ec generate"))?
                .as_ref()
                .to_vec(),
            SigningAlg::EdDsa => Ed25519KeyPair::generate()
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(backend("ed25519 generate"))?
                .as_ref()
                .to_vec(),
        };
        Ok((Self::from_pkcs8(alg, &pkcs8)?, pkcs8))
    }

    pub fn from_pkcs8(alg: SigningAlg, pkcs8: &[u8]) -> Result<Self, CryptoError> {
        let (material, members) = match alg {
            SigningAlg::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(key_rejected)?;
                let public = pair.public_key();
                let n = B64.encode(public.modulus().big_endian_without_leading_zero());
                let e = B64.encode(public.exponent().big_endian_without_leading_zero());
                (Material::Rsa(pair), json!({"e": e, "kty": "RSA", "n": n}))
            }
            SigningAlg::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(key_rejected)?;
                // SEC1 uncompressed point: 0x04 ‖ x (32) ‖ y (32).
                let point = pair.public_key().as_ref();
                let (x, y) = match point {
                    [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                    _ => {
                        return Err(CryptoError::Key(
                            "unexpected P-256 point encoding".to_owned(),
                        ));
                    }
                };
                let members =
                    json!({"crv": "P-256", "kty": "EC", "x": B64.encode(x), "y": B64.encode(y)});
                (Material::Ec(pair), members)
            }
            SigningAlg::EdDsa => {
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(key_rejected)?;
                let x = B64.encode(pair.public_key().as_ref());
                (
                    Material::Ed(pair),
                    json!({"crv": "Ed25519", "kty": "OKP", "x": x}),
                )
            }
        };
        // RFC 7638: the thumbprint hashes the required members, sorted, no whitespace;
        // serde_json's map keeps keys sorted, and the literals above are the required set.
        let canonical = members.to_string();
        let kid = B64.encode(digest::digest(&digest::SHA256, canonical.as_bytes()));
        let mut public_jwk = members;
        if let Some(map) = public_jwk.as_object_mut() {
            map.insert("kid".to_owned(), Value::String(kid.clone()));
            map.insert("use".to_owned(), Value::String("sig".to_owned()));
            map.insert("alg".to_owned(), Value::String(alg.as_str().to_owned()));
        }
        let verification_key: CoreJsonWebKey = serde_json::from_value(public_jwk.clone())
            .map_err(|e| CryptoError::Key(format!("public JWK: {e}")))?;
        Ok(Self {
            kid,
            alg,
            material,
            public_jwk,
            verification_key,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public half as a JWK (with `kid`, `use` and `alg`), as published in the JWKS.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// A JWS signature over `message` in this key's algorithm.
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.material {
            Material::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(backend("rsa sign"))?;
                Ok(signature)
            }
            Material::Ec(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(backend("ec sign")),
            Material::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    /// A compact JWS over `claims` with the given `typ` (e.g. `at+jwt`, RFC 9068).
    pub fn sign_jwt(&self, typ: &str, claims: &Value) -> Result<String, CryptoError> {
        let header = json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": typ});
        let signing_input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature = self.sign_bytes(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", B64.encode(signature)))
    }
}

impl PrivateSigningKey for SigningKey {
    type VerificationKey = CoreJsonWebKey;

    fn sign(&self, alg: &CoreJwsSigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        if *alg != jws_alg(self.alg) {
            return Err(SigningError::UnsupportedAlg(format!("{alg:?}")));
        }
        // openidconnect's error has no room for the cause: it is logged here.
        self.sign_bytes(message).map_err(|e| {
            tracing::error!(error = %e, "signing an ID token failed");
            SigningError::CryptoError
        })
    }

    fn as_verification_key(&self) -> CoreJsonWebKey {
        self.verification_key.clone()
    }
}
