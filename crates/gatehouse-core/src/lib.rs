//! The Gatehouse domain: pure types and rules, no framework and no I/O.
//!
//! Storage, mail and push live behind the traits in [`ports`]; time comes in through
//! [`clock::Clock`], so every rule here can be tested with a fixed instant.

pub mod account;
pub mod audit;
pub mod authorization;
pub mod backchannel;
pub mod claims;
pub mod client;
pub mod clock;
pub mod consent;
pub mod email;
pub mod email_change;
pub mod factor;
pub mod factor_guard;
pub mod grant;
pub mod identifier;
pub mod login;
pub mod mail;
pub mod migration;
pub mod otp;
pub mod password;
pub mod pkce;
pub mod ports;
pub mod profile;
pub mod push;
pub mod recovery_code;
pub mod registration;
pub mod signing_key;
pub mod username;
pub mod webauthn;

pub use account::{Account, AccountId, AccountStatus, IllegalTransition, Subject};
pub use audit::{AuditEvent, AuditKind, NewAuditEvent};
pub use client::{Client, ClientError, ClientId, GrantType, SigningAlg, TokenEndpointAuthMethod};
pub use clock::{Clock, FixedClock, ShiftedClock, SystemClock};
pub use email::{Email, EmailError};
pub use factor::{Factor, FactorId, FactorKind, FactorRegistry, FactorStatus, KindState};
pub use identifier::{IdentifierError, IdentifierPolicy, LoginIdentifier};
pub use mail::{Language, MailId, Message, OutboxMail, Templates};
pub use password::{PasswordHasher, PasswordPolicy, PasswordRule};
pub use username::{LegacyUsername, UsernameError};
