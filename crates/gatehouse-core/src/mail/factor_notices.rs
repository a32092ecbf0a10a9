//! Notices about the account's sign-in methods: one was added or removed, or new
//! recovery codes were made. They go to the account's address so the owner learns
//! of a change they did not make.

use chrono::{DateTime, Utc};

use super::{Language, Message, Templates};
use crate::email::Email;
use crate::factor::FactorKind;

/// What a kind is called in mails.
fn kind_name(kind: FactorKind, language: Language) -> &'static str {
    match (language, kind) {
        (Language::English, FactorKind::EmailOtp) => "E-mail code",
        (Language::English, FactorKind::Totp) => "Authenticator app",
        (Language::English, FactorKind::SecurityKey) => "Security key",
        (Language::English, FactorKind::Passkey) => "Passkey",
        (Language::English, FactorKind::Platform) => "Biometric key",
        (Language::English, FactorKind::Push) => "Push notification",
        (Language::English, FactorKind::RecoveryCode) => "Recovery codes",
        (Language::English, FactorKind::Sms) => "Phone number (SMS)",
        (Language::Japanese, FactorKind::EmailOtp) => "メールによるコード",
        (Language::Japanese, FactorKind::Totp) => "認証アプリ",
        (Language::Japanese, FactorKind::SecurityKey) => "セキュリティキー",
        (Language::Japanese, FactorKind::Passkey) => "パスキー",
        (Language::Japanese, FactorKind::Platform) => "生体認証キー",
        (Language::Japanese, FactorKind::Push) => "プッシュ通知",
        (Language::Japanese, FactorKind::RecoveryCode) => "リカバリーコード",
        (Language::Japanese, FactorKind::Sms) => "電話番号 (SMS)",
    }
}

/// The method as the reader knows it: its kind, and the name they gave it.
fn method(kind: FactorKind, label: Option<&str>, language: Language) -> String {
    let name = kind_name(kind, language);
    match (label, language) {
        (Some(label), Language::English) if label != name => format!("{name} \"{label}\""),
        (Some(label), Language::Japanese) if label != name => format!("{name}「{label}」"),
        _ => name.to_owned(),
    }
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[derive(Clone, Copy)]
enum Change {
    Added,
    Removed,
}

impl Templates {
    /// "A sign-in method was added to your account".
    pub fn factor_added(
        &self,
        to: &Email,
        locale: Option<&str>,
        kind: FactorKind,
        label: Option<&str>,
        at: DateTime<Utc>,
    ) -> Message {
        self.factor_changed(to, locale, kind, label, at, Change::Added)
    }

    /// "A sign-in method was removed from your account".
    pub fn factor_removed(
        &self,
        to: &Email,
        locale: Option<&str>,
        kind: FactorKind,
        label: Option<&str>,
        at: DateTime<Utc>,
    ) -> Message {
        self.factor_changed(to, locale, kind, label, at, Change::Removed)
    }

    fn factor_changed(
        &self,
        to: &Email,
        locale: Option<&str>,
        kind: FactorKind,
        label: Option<&str>,
        at: DateTime<Utc>,
        change: Change,
    ) -> Message {
        let product = self.product();
        let language = Language::from_locale(locale);
        let method = method(kind, label, language);
        let at = when(at);
        let (subject, paragraphs) = match (language, change) {
            (Language::English, Change::Added) => (
                format!("A sign-in method was added to your {product} account"),
                vec![
                    format!("{method} was added as a sign-in method to your {product} account on {at}."),
                    "If this was not you, sign in, remove it, and change your password.".to_owned(),
                ],
            ),
            (Language::English, Change::Removed) => (
                format!("A sign-in method was removed from your {product} account"),
                vec![
                    format!("{method} was removed from the sign-in methods of your {product} account on {at}."),
                    "If this was not you, sign in and change your password.".to_owned(),
                ],
            ),
            (Language::Japanese, Change::Added) => (
                format!("{product} アカウントにサインイン方法が追加されました"),
                vec![
                    format!("{at} に、{product} アカウントのサインイン方法として{method}が追加されました。"),
                    "お心当たりがない場合は、サインインしてこの方法を削除し、パスワードを変更してください。".to_owned(),
                ],
            ),
            (Language::Japanese, Change::Removed) => (
                format!("{product} アカウントからサインイン方法が削除されました"),
                vec![
                    format!("{at} に、{product} アカウントのサインイン方法から{method}が削除されました。"),
                    "お心当たりがない場合は、サインインしてパスワードを変更してください。".to_owned(),
                ],
            ),
        };
        self.compose(to, language, subject, &paragraphs)
    }

    /// New recovery codes replaced the old ones (which no longer work).
    pub fn recovery_codes_regenerated(
        &self,
        to: &Email,
        locale: Option<&str>,
        at: DateTime<Utc>,
    ) -> Message {
        let product = self.product();
        let language = Language::from_locale(locale);
        let at = when(at);
        let (subject, paragraphs) = match language {
            Language::English => (
                format!("New recovery codes were created for your {product} account"),
                vec![
                    format!("New recovery codes were created for your {product} account on {at}. The previous codes no longer work."),
                    "If this was not you, sign in, create new codes, and change your password.".to_owned(),
                ],
            ),
            Language::Japanese => (
                format!("{product} アカウントの新しいリカバリーコードが作成されました"),
                vec![
                    format!("{at} に、{product} アカウントの新しいリカバリーコードが作成されました。以前のコードは使用できなくなりました。"),
                    "お心当たりがない場合は、サインインしてコードを作り直し、パスワードを変更してください。".to_owned(),
                ],
            ),
        };
        self.compose(to, language, subject, &paragraphs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("rie@example.com").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn added_in_english_names_the_method_and_its_name() {
        let at = DateTime::UNIX_EPOCH;
        let mail = Templates::new("Acme ID").factor_added(
            &email(),
            Some("en"),
            FactorKind::Totp,
            Some("Pixel"),
            at,
        );
        assert_eq!(
            mail.subject,
            "A sign-in method was added to your Acme ID account"
        );
        assert!(
            mail.text_body
                .contains("Authenticator app \"Pixel\" was added"),
            "{}",
            mail.text_body
        );
        assert!(mail.text_body.contains("1970-01-01 00:00 UTC"));
    }

    #[test]
    fn removed_and_regenerated_in_japanese() {
        let at = DateTime::UNIX_EPOCH;
        let t = Templates::new("Gatehouse");
        let removed = t.factor_removed(&email(), Some("ja-JP"), FactorKind::Sms, None, at);
        assert_eq!(
            removed.subject,
            "Gatehouse アカウントからサインイン方法が削除されました"
        );
        assert!(
            removed.text_body.contains("電話番号 (SMS)が削除されました"),
            "{}",
            removed.text_body
        );
        let codes = t.recovery_codes_regenerated(&email(), Some("ja"), at);
        assert!(codes.subject.contains("リカバリーコード"));
        assert!(
            codes
                .text_body
                .contains("以前のコードは使用できなくなりました")
        );
    }
}
