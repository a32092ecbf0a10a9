//! The mails Gatehouse writes, in English and Japanese.
//!
//! Each kind of mail is one method of [`Templates`] returning a [`Message`]: the
//! method says what the mail says in each [`Language`]; [`Templates::compose`] adds
//! what every mail shares (the closing line naming the product). A new kind
//! (registration invitation, e-mail changed, factor added) is one more method.

use chrono::TimeDelta;

use super::Message;
use crate::email::Email;

/// The languages mails are written in. The account's locale picks one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Language {
    #[default]
    English,
    Japanese,
}

impl Language {
    /// The language for a BCP 47 locale: Japanese when the primary language subtag is
    /// `ja` (`ja`, `ja-JP`, `ja-Jpan-JP`; case-insensitive, `_` tolerated), English for
    /// anything else and for no locale at all.
    pub fn from_locale(locale: Option<&str>) -> Self {
        let primary = locale
            .map(str::trim)
            .and_then(|tag| tag.split(['-', '_']).next())
            .unwrap_or_default();
        if primary.eq_ignore_ascii_case("ja") {
            Self::Japanese
        } else {
            Self::English
        }
    }

    /// The BCP 47 tag of the language, for a `Content-Language` header.
    pub fn tag(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::Japanese => "ja",
        }
    }
}

/// Renders mails for one product name (configuration: `mail.product_name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Templates {
    product: String,
}

/// Whole minutes, rounded up, at least one: "valid for 10 minutes".
fn minutes(validity: TimeDelta) -> i64 {
    let seconds = validity.num_seconds().max(1);
    (seconds + 59) / 60
}

impl Templates {
    pub fn new(product: impl Into<String>) -> Self {
        Self {
            product: product.into(),
        }
    }

    pub fn product(&self) -> &str {
        &self.product
    }

    /// The mail carrying a one-time code (the `email_otp` factor). The code stands
    /// alone on the first line, so it shows in a notification preview.
    pub fn one_time_code(
        &self,
        to: &Email,
        locale: Option<&str>,
        code: &str,
        valid_for: TimeDelta,
    ) -> Message {
        let product = &self.product;
        let minutes = minutes(valid_for);
        let language = Language::from_locale(locale);
        let (subject, paragraphs) = match language {
            Language::English => {
                let unit = if minutes == 1 { "minute" } else { "minutes" };
                (
                    format!("Your {product} one-time code"),
                    vec![
                        code.to_owned(),
                        format!(
                            "This is your {product} one-time code. Enter it to continue \
                             signing in. It is valid for {minutes} {unit}."
                        ),
                        "If you did not try to sign in, someone may know your password: \
                         change it. Never tell this code to anyone."
                            .to_owned(),
                    ],
                )
            }
            Language::Japanese => (
                format!("{product} のワンタイムコード"),
                vec![
                    code.to_owned(),
                    format!(
                        "{product} のワンタイムコードです。サインインを続けるには、\
                         このコードを入力してください。有効期限は{minutes}分です。"
                    ),
                    "サインインした覚えがない場合は、第三者がパスワードを知っている可能性が\
                     あります。パスワードを変更してください。このコードは誰にも教えないで\
                     ください。"
                        .to_owned(),
                ],
            ),
        };
        self.compose(to, language, subject, &paragraphs)
            .valid_for(valid_for)
    }

    /// The re-registration invitation of a migrated account (scenario A): the link
    /// completes the move to the new sign-in system.
    pub fn registration_invitation(
        &self,
        to: &Email,
        locale: Option<&str>,
        link: &str,
        valid_for: TimeDelta,
    ) -> Message {
        let product = &self.product;
        let days = (valid_for.num_hours() + 23) / 24;
        let language = Language::from_locale(locale);
        let (subject, paragraphs) = match language {
            Language::English => (
                format!("SSO Registration for {product}"),
                vec![
                    format!(
                        "{product} has moved to a new sign-in system. Your account and its \
                         history have been carried over, but your old password no longer \
                         works: set a new one to finish the move."
                    ),
                    format!("Complete Registration: {link}"),
                    format!(
                        "The link works once and expires in {days} days. If it has expired, \
                         ask for a new one from the sign-in page."
                    ),
                    "If you did not expect this mail, you can ignore it.".to_owned(),
                ],
            ),
            Language::Japanese => (
                format!("{product} SSO 登録のご案内"),
                vec![
                    format!(
                        "{product} は新しいサインインシステムに移行しました。アカウントと履歴は\
                         引き継がれていますが、以前のパスワードは使用できません。新しい\
                         パスワードを設定して移行を完了してください。"
                    ),
                    format!("登録を完了する (Complete Registration): {link}"),
                    format!(
                        "このリンクは一度だけ使用でき、{days}日後に失効します。失効した場合は\
                         サインイン画面から再送を依頼してください。"
                    ),
                    "このメールに心当たりがない場合は、破棄してください。".to_owned(),
                ],
            ),
        };
        self.compose(to, language, subject, &paragraphs)
            .valid_for(valid_for)
    }

    /// Joins the paragraphs and adds the closing every mail shares.
    pub(super) fn compose(
        &self,
        to: &Email,
        language: Language,
        subject: String,
        paragraphs: &[String],
    ) -> Message {
        let product = &self.product;
        let closing = match language {
            Language::English => {
                format!("This mail was sent automatically by {product}. Replies are not read.")
            }
            Language::Japanese => {
                format!("このメールは {product} から自動送信されています。返信はできません。")
            }
        };
        let mut text_body = paragraphs.join("\n\n");
        text_body.push_str("\n\n-- \n");
        text_body.push_str(&closing);
        text_body.push('\n');
        Message {
            to: to.as_str().to_owned(),
            subject,
            text_body,
            valid_for: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn email() -> Email {
        Email::parse("Rie.Tanaka@example.com").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_locale_picks_the_language() {
        for tag in ["ja", "ja-JP", "JA-jp", "ja_JP", "ja-Jpan-JP", " ja "] {
            assert_eq!(
                Language::from_locale(Some(tag)),
                Language::Japanese,
                "{tag}"
            );
        }
        for tag in ["en", "en-US", "jav", "jpn", "japanese", "fr-JP", "", "-ja"] {
            assert_eq!(Language::from_locale(Some(tag)), Language::English, "{tag}");
        }
        assert_eq!(Language::from_locale(None), Language::English);
        assert_eq!(Language::Japanese.tag(), "ja");
    }

    #[test]
    fn the_one_time_code_mail_in_english() {
        let templates = Templates::new("Acme ID");
        let mail =
            templates.one_time_code(&email(), Some("en-GB"), "042917", TimeDelta::minutes(10));
        assert_eq!(mail.to, "Rie.Tanaka@example.com");
        assert_eq!(mail.subject, "Your Acme ID one-time code");
        assert_eq!(mail.text_body.lines().next(), Some("042917"));
        assert!(
            mail.text_body.contains("valid for 10 minutes"),
            "{}",
            mail.text_body
        );
        assert!(mail.text_body.contains("sent automatically by Acme ID"));
        assert!(mail.text_body.ends_with('\n'));
    }

    #[test]
    fn the_one_time_code_mail_in_japanese() {
        let templates = Templates::new("Gatehouse");
        let mail =
            templates.one_time_code(&email(), Some("ja-JP"), "123456", TimeDelta::minutes(5));
        assert_eq!(mail.subject, "Gatehouse のワンタイムコード");
        assert_eq!(mail.text_body.lines().next(), Some("123456"));
        assert!(
            mail.text_body.contains("有効期限は5分です"),
            "{}",
            mail.text_body
        );
        assert!(mail.text_body.contains("Gatehouse から自動送信"));
    }

    #[test]
    fn validity_is_shown_in_whole_minutes_rounded_up() {
        assert_eq!(minutes(TimeDelta::minutes(10)), 10);
        assert_eq!(minutes(TimeDelta::seconds(601)), 11);
        assert_eq!(minutes(TimeDelta::seconds(30)), 1);
        assert_eq!(minutes(TimeDelta::zero()), 1);
        let one = Templates::new("G").one_time_code(&email(), None, "1", TimeDelta::seconds(60));
        assert!(
            one.text_body.contains("valid for 1 minute."),
            "{}",
            one.text_body
        );
    }

    proptest! {
        #[test]
        fn any_japanese_tag_gives_japanese(region in "[A-Za-z0-9]{1,8}") {
            prop_assert_eq!(Language::from_locale(Some(&format!("ja-{region}"))), Language::Japanese);
        }

        #[test]
        fn other_primary_subtags_give_english(primary in "[A-Za-z]{1,8}", rest in "(-[A-Za-z0-9]{1,8}){0,2}") {
            prop_assume!(!primary.eq_ignore_ascii_case("ja"));
            prop_assert_eq!(Language::from_locale(Some(&format!("{primary}{rest}"))), Language::English);
        }

        #[test]
        fn the_code_is_always_the_first_line(
            code in "[0-9]{6}",
            minutes in 1i64..=120,
            japanese in any::<bool>(),
            product in "[A-Za-z][A-Za-z ]{0,20}",
        ) {
            let locale = if japanese { "ja" } else { "en" };
            let mail = Templates::new(product.clone())
                .one_time_code(&email(), Some(locale), &code, TimeDelta::minutes(minutes));
            prop_assert_eq!(mail.text_body.lines().next(), Some(code.as_str()));
            prop_assert!(mail.subject.contains(&product));
            prop_assert!(mail.text_body.contains(&minutes.to_string()));
            prop_assert!(!mail.subject.contains(&code), "the code never goes into the subject");
        }
    }
}
