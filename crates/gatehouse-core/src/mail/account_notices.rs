//! Mails about the account itself: its password or e-mail address changed, or a
//! change of address is waiting for its code. Each in English and Japanese.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Language, Message, Templates};
use crate::email::Email;

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn minutes(validity: TimeDelta) -> i64 {
    (validity.num_seconds().max(1) + 59) / 60
}

impl Templates {
    /// The password of the account was changed; other sessions were signed out.
    pub fn password_changed(&self, to: &Email, locale: Option<&str>, at: DateTime<Utc>) -> Message {
        let product = self.product();
        let language = Language::from_locale(locale);
        let at = when(at);
        let (subject, paragraphs) = match language {
            Language::English => (
                format!("Your {product} password was changed"),
                vec![
                    format!("The password of your {product} account was changed on {at}. Every other signed-in device was signed out."),
                    "If this was not you, reset your password at once and contact support.".to_owned(),
                ],
            ),
            Language::Japanese => (
                format!("{product} のパスワードが変更されました"),
                vec![
                    format!("{at} に {product} アカウントのパスワードが変更されました。他の端末はすべてサインアウトされました。"),
                    "お心当たりがない場合は、すぐにパスワードを再設定し、サポートにご連絡ください。".to_owned(),
                ],
            ),
        };
        self.compose(to, language, subject, &paragraphs)
    }

    /// Many wrong passwords were tried for the account: the owner should know, and
    /// needs to do nothing while the password is a good one (no one was let in).
    pub fn failed_logins_alert(
        &self,
        to: &Email,
        locale: Option<&str>,
        failures: u32,
        window: TimeDelta,
    ) -> Message {
        let product = self.product();
        let language = Language::from_locale(locale);
        let minutes = minutes(window);
        let (subject, paragraphs) = match language {
            Language::English => (
                format!("Someone is trying to sign in to your {product} account"),
                vec![
                    format!("{failures} sign-in attempts with a wrong password were made for your {product} account within {minutes} minutes. Nobody signed in with them: a password alone never opens your account."),
                    "If this was you, nothing needs doing. If not, your account is still safe; choose a password you use nowhere else, and check your security events.".to_owned(),
                ],
            ),
            Language::Japanese => (
                format!("{product} アカウントへのサインインが試みられています"),
                vec![
                    format!("{minutes} 分間に、{product} アカウントへ誤ったパスワードでのサインインが {failures} 回試みられました。これによってサインインした人はいません。パスワードだけではアカウントは開けません。"),
                    "ご自身の操作であれば、何もする必要はありません。お心当たりがない場合も、アカウントは守られています。他で使っていないパスワードに変更し、セキュリティイベントをご確認ください。".to_owned(),
                ],
            ),
        };
        self.compose(to, language, subject, &paragraphs)
    }

    /// The code that proves the new address of an e-mail change; first line alone.
    pub fn email_change_code(
        &self,
        to: &Email,
        locale: Option<&str>,
        code: &str,
        valid_for: TimeDelta,
    ) -> Message {
        let product = self.product();
        let language = Language::from_locale(locale);
        let minutes = minutes(valid_for);
        let (subject, paragraphs) = match language {
            Language::English => (
                format!("Confirm your new {product} e-mail address"),
                vec![
                    code.to_owned(),
                    format!("Enter this code to make this address the sign-in address of your {product} account. It is valid for {minutes} minutes."),
                    "If you did not ask for this, ignore this mail: nothing changes without the code.".to_owned(),
                ],
            ),
            Language::Japanese => (
                format!("{product} の新しいメールアドレスの確認"),
                vec![
                    code.to_owned(),
                    format!("このアドレスを {product} アカウントのサインイン用アドレスにするには、このコードを入力してください。有効期限は{minutes}分です。"),
                    "お心当たりがない場合は、このメールを破棄してください。コードがなければ何も変更されません。".to_owned(),
                ],
            ),
        };
        self.compose(to, language, subject, &paragraphs)
            .valid_for(valid_for)
    }

    /// Someone asked to move another account to this address, which is already the
    /// reader's: no code is sent, nothing changes.
    pub fn email_change_address_taken(
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
                format!("Someone tried to use your e-mail address on {product}"),
                vec![
                    format!(
                        "On {at} someone asked to change the e-mail address of a {product} account to this address. It already belongs to your account, so nothing was changed and no code was sent."
                    ),
                    "You need not do anything. If you keep receiving this notice, contact support."
                        .to_owned(),
                ],
            ),
            Language::Japanese => (
                format!("{product} であなたのメールアドレスが使用されようとしました"),
                vec![
                    format!(
                        "{at} に、{product} の別のアカウントのメールアドレスをこのアドレスに変更する依頼がありました。このアドレスは既にあなたのアカウントで使用されているため、変更は行われず、コードも送信されていません。"
                    ),
                    "対応は不要です。この通知が繰り返し届く場合は、サポートにご連絡ください。"
                        .to_owned(),
                ],
            ),
        };
        self.compose(to, language, subject, &paragraphs)
    }

    /// To the old address after a change: it no longer signs in; a link undoes it.
    pub fn email_changed_old_address(
        &self,
        to: &Email,
        locale: Option<&str>,
        new_masked: &str,
        undo_link: &str,
        undo_valid_for: TimeDelta,
        at: DateTime<Utc>,
    ) -> Message {
        let product = self.product();
        let language = Language::from_locale(locale);
        let at = when(at);
        let hours = undo_valid_for.num_hours();
        let (subject, paragraphs) = match language {
            Language::English => (
                format!("Your {product} e-mail address was changed"),
                vec![
                    format!(
                        "Your e-mail address was changed on {at}. You can no longer log in with this address; login instructions go to the new address ({new_masked})."
                    ),
                    format!(
                        "If you did not make this change, undo it within {hours} hours: {undo_link}"
                    ),
                ],
            ),
            Language::Japanese => (
                format!("{product} のメールアドレスが変更されました"),
                vec![
                    format!(
                        "{at} にメールアドレスが変更されました。今後このアドレスではログインできません。ログイン方法は新しいアドレス ({new_masked}) にお送りしました。"
                    ),
                    format!(
                        "この変更にお心当たりがない場合は、{hours}時間以内に次のリンクから元に戻してください: {undo_link}"
                    ),
                ],
            ),
        };
        self.compose(to, language, subject, &paragraphs)
            .valid_for(undo_valid_for)
    }

    /// To the new address after a change: how to log in from now on (scenario B).
    pub fn email_changed_new_address(
        &self,
        to: &Email,
        locale: Option<&str>,
        login_url: &str,
    ) -> Message {
        let product = self.product();
        let language = Language::from_locale(locale);
        let address = to.as_str();
        let (subject, paragraphs) = match language {
            Language::English => (
                format!("Log in to {product} with your new e-mail address"),
                vec![
                    format!(
                        "Log in with these credentials: new e-mail: {address}, with your current password and sign-in methods."
                    ),
                    format!("Sign out, then log in again at {login_url} with the new address."),
                ],
            ),
            Language::Japanese => (
                format!("{product} に新しいメールアドレスでログインしてください"),
                vec![
                    format!(
                        "次の情報でログインしてください。新しいメールアドレス: {address}(パスワードとサインイン方法は変わりません)"
                    ),
                    format!(
                        "一度ログアウトし、{login_url} から新しいアドレスで再度ログインしてください。"
                    ),
                ],
            ),
        };
        self.compose(to, language, subject, &paragraphs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn change_notices_in_both_languages() {
        let t = Templates::new("Portal");
        let at = DateTime::UNIX_EPOCH;
        let old = t.email_changed_old_address(
            &email("old@example.com"),
            Some("en"),
            "n***@example.com",
            "https://x/undo?token=t",
            TimeDelta::hours(72),
            at,
        );
        assert!(
            old.text_body
                .contains("You can no longer log in with this address")
        );
        assert!(old.text_body.contains("https://x/undo?token=t"));
        assert!(old.text_body.contains("72 hours"));
        let new = t.email_changed_new_address(&email("new@example.com"), Some("ja"), "https://x");
        assert!(
            new.text_body
                .contains("新しいメールアドレス: new@example.com")
        );
        let code = t.email_change_code(&email("new@example.com"), None, "123456", CODE);
        assert_eq!(code.text_body.lines().next(), Some("123456"));
        let pw = t.password_changed(&email("a@example.com"), Some("ja-JP"), at);
        assert!(pw.subject.contains("パスワードが変更されました"));
    }

    const CODE: TimeDelta = TimeDelta::minutes(30);
}
