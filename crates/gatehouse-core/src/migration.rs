//! The migration planner: decides, for every record of an old user base, whether it
//! can become an account here, and says why not when it cannot.
//!
//! It never merges: two records that name one e-mail address (or one username) are
//! both reported, and neither is imported, because picking one would silently hand
//! someone else's history to the other.
//!
//! Inputs of any size stream through it in passes, and it keeps 8 bytes per record
//! and identifier, never whole records: [`MigrationPlanner::observe`] every record
//! (keyed hashes of subject, e-mail and username), then, only when some hash repeats,
//! [`MigrationPlanner::observe_suspects`] every record (the exact values behind the
//! repeated hashes, so a hash collision never rejects a record), then
//! [`MigrationPlanner::classify`] every record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use crate::account::Subject;
use crate::email::{Email, EmailError};
use crate::password::legacy::LegacyHash;
use crate::username::LegacyUsername;

/// One user as the old system knew them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LegacyRecord {
    /// The old system's subject; becomes the OIDC `sub` here.
    pub legacy_subject: String,
    pub email: Option<String>,
    pub username: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub locale: Option<String>,
    pub zoneinfo: Option<String>,
    pub email_verified: Option<bool>,
    pub created_at: Option<DateTime<Utc>>,
    /// bcrypt, PBKDF2 or argon2 (PHC or modular crypt); used only when the operator
    /// keeps old passwords.
    pub password_hash: Option<String>,
    /// The old SMS factor's number: imported as a retired factor.
    pub sms_phone: Option<String>,
    /// The old authenticator-app secret (base32): validated, not yet imported.
    pub totp_secret: Option<String>,
}

/// The planner's verdict on one record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Importable as it is.
    Ok,
    /// Importable; the username is the e-mail address. It is kept (as information: the
    /// usernames report shows it `same`), and logging in with it is logging in by e-mail.
    UsernameIsEmail,
    EmailMissing,
    EmailInvalid,
    /// Other records name the same address: none of them is imported.
    EmailShared {
        with: Vec<String>,
    },
    /// The subject appears on more than one record: none of them is imported.
    DuplicateSubject,
    /// Not a usable OIDC subject (1–255 printable ASCII characters).
    SubjectInvalid,
    UsernameInvalid,
    /// Other records use the same username (compared case-insensitively).
    UsernameShared {
        with: Vec<String>,
    },
    /// Not a BCP 47 language tag.
    LocaleInvalid,
    /// Not an IANA time zone name.
    ZoneinfoInvalid,
    /// A password hash in no format Gatehouse can verify.
    PasswordHashInvalid,
    /// A TOTP secret that is not base32 of at least 80 bits.
    TotpSecretInvalid,
}

impl Outcome {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::UsernameIsEmail => "username_is_email",
            Self::EmailMissing => "email_missing",
            Self::EmailInvalid => "email_invalid",
            Self::EmailShared { .. } => "email_shared",
            Self::DuplicateSubject => "duplicate_subject",
            Self::SubjectInvalid => "subject_invalid",
            Self::UsernameInvalid => "username_invalid",
            Self::UsernameShared { .. } => "username_shared",
            Self::LocaleInvalid => "locale_invalid",
            Self::ZoneinfoInvalid => "zoneinfo_invalid",
            Self::PasswordHashInvalid => "password_hash_invalid",
            Self::TotpSecretInvalid => "totp_secret_invalid",
        }
    }

    pub fn is_importable(&self) -> bool {
        matches!(self, Self::Ok | Self::UsernameIsEmail)
    }
}

/// What an importable record becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedIdentity {
    pub subject: Subject,
    pub email: Email,
    /// `None` when the record had none.
    pub legacy_username: Option<LegacyUsername>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedRecord {
    pub legacy_subject: String,
    pub outcome: Outcome,
    /// Present exactly when the outcome is importable.
    pub identity: Option<PlannedIdentity>,
}

/// A field's trimmed text, `None` when absent or blank.
pub fn non_blank(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// BCP 47 in the shape OIDC's `locale` uses: `ja`, `en-US`, `zh-Hant-TW`.
pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The shape of an IANA zone name (`Etc/UTC`, `Asia/Tokyo`, `UTC`); the zone database
/// itself is not consulted, so a well-formed but unknown name passes.
pub fn is_zone_name(zone: &str) -> bool {
    !zone.is_empty()
        && zone.len() <= 64
        && zone.split('/').all(|part| {
            !part.is_empty()
                && part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
        })
}

/// An authenticator-app secret: RFC 4648 base32 (padding optional) of 80+ bits.
pub fn is_totp_secret(secret: &str) -> bool {
    let body = secret.trim_end_matches('=');
    body.len() >= 16 && body.bytes().all(|b| matches!(b, b'A'..=b'Z' | b'2'..=b'7'))
}

/// Identifier hashes seen in the first pass, sorted once it is over.
#[derive(Debug, Default)]
struct Seen(Vec<u64>);

impl Seen {
    fn repeats(&self, hash: u64) -> bool {
        let start = self.0.partition_point(|h| *h < hash);
        self.0.get(start + 1) == Some(&hash)
    }

    /// Sorts; true when some hash occurs twice.
    fn seal(&mut self) -> bool {
        self.0.sort_unstable();
        self.0.windows(2).any(|w| w[0] == w[1])
    }
}

/// Streaming planner; see the module documentation.
#[derive(Debug, Default)]
pub struct MigrationPlanner {
    keys: std::collections::hash_map::RandomState,
    subjects: Seen,
    emails: Seen,
    usernames: Seen,
    sealed: bool,
    suspects_observed: bool,
    /// Exact subjects whose hash repeated, with how many records claim them.
    shared_subjects: HashMap<String, usize>,
    /// Exact identifiers whose hash repeated, with the subjects that claim them.
    shared_emails: HashMap<String, Vec<String>>,
    shared_usernames: HashMap<String, Vec<String>>,
}

fn email_key(record: &LegacyRecord) -> Option<String> {
    non_blank(&record.email)
        .and_then(|e| Email::parse(e).ok())
        .map(|e| e.normalized().to_owned())
}

fn username_key(record: &LegacyRecord) -> Option<String> {
    non_blank(&record.username)
        .and_then(|u| LegacyUsername::parse(u).ok())
        .map(|u| u.normalized().to_owned())
}

impl MigrationPlanner {
    pub fn new() -> Self {
        Self::default()
    }

    fn hash(&self, value: &str) -> u64 {
        self.keys.hash_one(value)
    }

    /// First pass: remember (as keyed hashes) which subjects and identifiers each
    /// record claims.
    pub fn observe(&mut self, record: &LegacyRecord) {
        self.subjects.0.push(self.hash(&record.legacy_subject));
        if let Some(key) = email_key(record) {
            self.emails.0.push(self.hash(&key));
        }
        if let Some(key) = username_key(record) {
            self.usernames.0.push(self.hash(&key));
        }
    }

    /// Ends the first pass; true when a second pass ([`Self::observe_suspects`] over
    /// every record) is needed because some subject or identifier may repeat.
    pub fn needs_suspect_pass(&mut self) -> bool {
        let repeats = [
            self.subjects.seal(),
            self.emails.seal(),
            self.usernames.seal(),
        ];
        self.sealed = true;
        repeats.contains(&true)
    }

    /// Second pass: the exact values behind every repeated hash.
    pub fn observe_suspects(&mut self, record: &LegacyRecord) {
        let me = &record.legacy_subject;
        if self.subjects.repeats(self.hash(me)) {
            *self.shared_subjects.entry(me.clone()).or_default() += 1;
        }
        if let Some(key) = email_key(record).filter(|k| self.emails.repeats(self.hash(k))) {
            self.shared_emails.entry(key).or_default().push(me.clone());
        }
        if let Some(key) = username_key(record).filter(|k| self.usernames.repeats(self.hash(k))) {
            self.shared_usernames
                .entry(key)
                .or_default()
                .push(me.clone());
        }
        self.suspects_observed = true;
    }

    /// Whether `key` is claimed by other records than `me`, and by which. Without the
    /// suspect pass a repeated hash counts as shared (with unnamed others): never a merge.
    fn others(
        &self,
        seen: &Seen,
        exact: &HashMap<String, Vec<String>>,
        key: &str,
        me: &str,
    ) -> Option<Vec<String>> {
        if !seen.repeats(self.hash(key)) {
            return None;
        }
        if !self.suspects_observed {
            return Some(Vec::new());
        }
        let with: Vec<String> = exact
            .get(key)
            .map(|subjects| subjects.iter().filter(|s| *s != me).cloned().collect())
            .unwrap_or_default();
        (!with.is_empty()).then_some(with)
    }

    fn duplicate_subject(&self, me: &str) -> bool {
        self.subjects.repeats(self.hash(me))
            && (!self.suspects_observed || self.shared_subjects.get(me).is_some_and(|n| *n > 1))
    }

    /// Last pass: the verdict on one record, first problem wins in the order subject,
    /// e-mail, username, then the other fields.
    pub fn classify(&mut self, record: &LegacyRecord) -> PlannedRecord {
        if !self.sealed {
            self.needs_suspect_pass();
        }
        let me = record.legacy_subject.as_str();
        let verdict = |outcome| PlannedRecord {
            legacy_subject: me.to_owned(),
            outcome,
            identity: None,
        };
        let Ok(subject) = Subject::parse(me) else {
            return verdict(Outcome::SubjectInvalid);
        };
        if self.duplicate_subject(me) {
            return verdict(Outcome::DuplicateSubject);
        }
        let email = match non_blank(&record.email).map(Email::parse) {
            None | Some(Err(EmailError::Empty)) => return verdict(Outcome::EmailMissing),
            Some(Err(_)) => return verdict(Outcome::EmailInvalid),
            Some(Ok(email)) => email,
        };
        if let Some(with) = self.others(&self.emails, &self.shared_emails, email.normalized(), me) {
            return verdict(Outcome::EmailShared { with });
        }
        let (outcome, legacy_username) = match non_blank(&record.username) {
            None => (Outcome::Ok, None),
            Some(raw) => match LegacyUsername::parse(raw) {
                Err(_) => return verdict(Outcome::UsernameInvalid),
                Ok(name) => {
                    let shared = self.others(
                        &self.usernames,
                        &self.shared_usernames,
                        name.normalized(),
                        me,
                    );
                    if let Some(with) = shared {
                        return verdict(Outcome::UsernameShared { with });
                    }
                    if name.normalized() == email.normalized() {
                        (Outcome::UsernameIsEmail, Some(name))
                    } else {
                        (Outcome::Ok, Some(name))
                    }
                }
            },
        };
        if non_blank(&record.locale).is_some_and(|l| !is_language_tag(l)) {
            return verdict(Outcome::LocaleInvalid);
        }
        if non_blank(&record.zoneinfo).is_some_and(|z| !is_zone_name(z)) {
            return verdict(Outcome::ZoneinfoInvalid);
        }
        if non_blank(&record.password_hash).is_some_and(|h| LegacyHash::parse(h).is_err()) {
            return verdict(Outcome::PasswordHashInvalid);
        }
        if non_blank(&record.totp_secret).is_some_and(|s| !is_totp_secret(s)) {
            return verdict(Outcome::TotpSecretInvalid);
        }
        PlannedRecord {
            legacy_subject: me.to_owned(),
            outcome,
            identity: Some(PlannedIdentity {
                subject,
                email,
                legacy_username,
            }),
        }
    }
}

/// Plans a batch held in memory: both passes at once.
pub fn plan(records: &[LegacyRecord]) -> Vec<PlannedRecord> {
    let mut planner = MigrationPlanner::new();
    records.iter().for_each(|r| planner.observe(r));
    if planner.needs_suspect_pass() {
        records.iter().for_each(|r| planner.observe_suspects(r));
    }
    records.iter().map(|r| planner.classify(r)).collect()
}

/// Counts per outcome code, for the end-of-run summary.
pub fn summarize<'a>(
    planned: impl IntoIterator<Item = &'a PlannedRecord>,
) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for record in planned {
        *counts.entry(record.outcome.code()).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(subject: &str, email: Option<&str>, username: Option<&str>) -> LegacyRecord {
        LegacyRecord {
            legacy_subject: subject.to_owned(),
            email: email.map(str::to_owned),
            username: username.map(str::to_owned),
            ..LegacyRecord::default()
        }
    }

    fn outcomes(records: &[LegacyRecord]) -> Vec<Outcome> {
        plan(records).into_iter().map(|p| p.outcome).collect()
    }

    #[test]
    fn a_clean_record_keeps_its_subject_as_sub() {
        let planned = plan(&[record("auth0|42", Some("Rie@Example.com"), Some("rtanaka"))]);
        assert_eq!(planned[0].outcome, Outcome::Ok);
        let identity = planned[0].identity.clone().unwrap();
        assert_eq!(identity.subject.as_str(), "auth0|42");
        assert_eq!(identity.email.as_str(), "Rie@Example.com");
        assert_eq!(
            identity.legacy_username.map(|u| u.as_str().to_owned()),
            Some("rtanaka".into())
        );
    }

    #[test]
    fn every_outcome() {
        let records = [
            record("1", Some("a@example.com"), None),
            record("2", None, Some("bob")),
            record("3", Some("   "), None),
            record("4", Some("not-an-address"), None),
            record("5", Some("shared@example.com"), None),
            record("6", Some("SHARED@example.com"), None),
            record("7", Some("u@example.com"), Some("U@Example.com")),
            record("8", Some("d1@example.com"), None),
            record("8", Some("d2@example.com"), None),
            record("", Some("e@example.com"), None),
            record("10", Some("f@example.com"), Some("bad\u{0}name")),
            record("11", Some("g@example.com"), Some("Sam")),
            record("12", Some("h@example.com"), Some("sam")),
        ];
        assert_eq!(
            outcomes(&records),
            vec![
                Outcome::Ok,
                Outcome::EmailMissing,
                Outcome::EmailMissing,
                Outcome::EmailInvalid,
                Outcome::EmailShared {
                    with: vec!["6".into()]
                },
                Outcome::EmailShared {
                    with: vec!["5".into()]
                },
                Outcome::UsernameIsEmail,
                Outcome::DuplicateSubject,
                Outcome::DuplicateSubject,
                Outcome::SubjectInvalid,
                Outcome::UsernameInvalid,
                Outcome::UsernameShared {
                    with: vec!["12".into()]
                },
                Outcome::UsernameShared {
                    with: vec!["11".into()]
                },
            ]
        );
        let summary = summarize(&plan(&records));
        assert_eq!(summary.get("email_shared"), Some(&2));
        assert_eq!(summary.get("ok"), Some(&1));
        assert_eq!(summary.values().sum::<usize>(), records.len());
    }

    #[test]
    fn the_suspect_pass_is_needed_only_when_something_repeats() {
        let mut planner = MigrationPlanner::new();
        let unique = [
            record("1", Some("a@example.com"), Some("a")),
            record("2", Some("b@example.com"), None),
        ];
        unique.iter().for_each(|r| planner.observe(r));
        assert!(!planner.needs_suspect_pass());
        assert!(
            unique
                .iter()
                .all(|r| planner.classify(r).outcome.is_importable())
        );

        let mut planner = MigrationPlanner::new();
        let shared = [
            record("1", Some("x@example.com"), None),
            record("2", Some("X@example.com"), None),
        ];
        shared.iter().for_each(|r| planner.observe(r));
        assert!(planner.needs_suspect_pass());
        // Skipping the suspect pass never merges: the repeat still blocks both records.
        assert_eq!(
            planner.classify(&shared[0]).outcome,
            Outcome::EmailShared { with: vec![] }
        );
    }

    #[test]
    fn field_formats_are_checked_after_identity() {
        let mut bad = record("1", Some("a@example.com"), None);
        bad.locale = Some("ja_JP!".into());
        assert_eq!(outcomes(&[bad.clone()]), vec![Outcome::LocaleInvalid]);
        bad.locale = Some("ja-JP".into());
        bad.zoneinfo = Some("Asia/Tokyo".into());
        bad.totp_secret = Some("not base32".into());
        assert_eq!(outcomes(&[bad.clone()]), vec![Outcome::TotpSecretInvalid]);
        bad.totp_secret = Some("JBSWY3DPEHPK3PXP".into());
        bad.password_hash = Some("md5:abc".into());
        assert_eq!(outcomes(&[bad.clone()]), vec![Outcome::PasswordHashInvalid]);
        bad.password_hash = None;
        assert_eq!(outcomes(&[bad]), vec![Outcome::Ok]);
        assert!(is_zone_name("Etc/UTC") && is_zone_name("America/Argentina/Buenos_Aires"));
        assert!(!is_zone_name("Etc//UTC") && !is_zone_name("../etc/passwd"));
        assert!(is_language_tag("zh-Hant-TW") && !is_language_tag("x"));
    }

    #[test]
    fn a_username_that_is_the_email_is_kept_as_information() {
        let planned = plan(&[record("7", Some("u@example.com"), Some("U@example.com"))]);
        assert_eq!(planned[0].outcome, Outcome::UsernameIsEmail);
        assert!(planned[0].outcome.is_importable());
        assert_eq!(
            planned[0]
                .identity
                .as_ref()
                .and_then(|i| i.legacy_username.as_ref())
                .map(LegacyUsername::as_str),
            Some("U@example.com")
        );
    }

    #[test]
    fn three_records_sharing_an_address_each_name_the_other_two() {
        let planned = outcomes(&[
            record("a", Some("x@example.com"), None),
            record("b", Some("x@example.com"), None),
            record("c", Some("X@EXAMPLE.COM"), None),
        ]);
        assert_eq!(
            planned[2],
            Outcome::EmailShared {
                with: vec!["a".into(), "b".into()]
            }
        );
    }

    fn any_record() -> impl Strategy<Value = LegacyRecord> {
        (
            "[a-d]{1,2}",
            proptest::option::of(prop_oneof![
                "[a-c]@example\\.com",
                "[a-c]",
                Just(String::new())
            ]),
            proptest::option::of("[a-cA-C]{1,2}"),
        )
            .prop_map(|(s, e, u)| LegacyRecord {
                legacy_subject: s,
                email: e,
                username: u,
                ..LegacyRecord::default()
            })
    }

    proptest! {
        /// The planner never merges: among importable records, subjects, addresses and
        /// usernames are all unique, and every record gets exactly one verdict.
        #[test]
        fn importable_records_never_collide(records in proptest::collection::vec(any_record(), 0..30)) {
            let planned = plan(&records);
            prop_assert_eq!(planned.len(), records.len());
            let mut subjects = std::collections::HashSet::new();
            let mut emails = std::collections::HashSet::new();
            let mut usernames = std::collections::HashSet::new();
            for p in &planned {
                prop_assert_eq!(p.identity.is_some(), p.outcome.is_importable());
                if let Some(id) = &p.identity {
                    prop_assert!(subjects.insert(id.subject.clone()));
                    prop_assert!(emails.insert(id.email.normalized().to_owned()));
                    if let Some(u) = &id.legacy_username {
                        prop_assert!(usernames.insert(u.normalized().to_owned()));
                    }
                }
            }
        }

        /// Planning is independent of input order (each record's verdict).
        #[test]
        fn verdicts_do_not_depend_on_order(records in proptest::collection::vec(any_record(), 0..20)) {
            let forward: Vec<_> = plan(&records).into_iter().map(|p| (p.legacy_subject, p.outcome.code())).collect();
            let mut reversed_input = records.clone();
            reversed_input.reverse();
            let mut backward: Vec<_> = plan(&reversed_input).into_iter().map(|p| (p.legacy_subject, p.outcome.code())).collect();
            backward.reverse();
            prop_assert_eq!(forward, backward);
        }
    }
}
