// English and Japanese. Every visible text goes through `t` (usually via dom.js
// `text`, which also records the key on the element), so switching the language
// re-renders the page in place with `localise`. Keys ending `#one` are the singular
// forms Intl.PluralRules picks for `{n}`.

const EN = {
  // Shared
  'common.loading': 'Loading…',
  'common.continue': 'Continue',
  'common.back': 'Back',
  'common.email': 'Email address',
  'common.language': 'Language',
  'common.the_application': 'the application',
  'common.home': 'Home',
  'common.help': 'I need help with registration',
  'common.required': 'This field is required.',
  'error.network': 'The server cannot be reached. Check your connection and try again.',
  'error.busy': 'The service is busy. Try again {when}.',
  'error.rate_limited': 'Too many attempts. Try again {when}.',
  'error.rate_limited_later': 'Too many attempts. Try again later.',
  'error.unexpected': 'Something went wrong ({code}). Try again.',

  // Factor kinds, as the lists and headings name them
  'kind.email_otp': 'Email on {to}',
  'kind.email_otp_plain': 'Email',
  'kind.totp': 'Authenticator app',
  'kind.security_key': 'Security key',
  'kind.passkey': 'Passkey',
  'kind.platform': 'Biometric key',
  'kind.push': 'Push notification',
  'kind.recovery_code': 'Recovery code',
  'kind.sms': 'Phone number (SMS)',
  'kind.named': '{kind}: {name}',

  // Login
  'login.title': 'Sign in',
  'login.to_client': 'to continue to {client}',
  'login.identifier': 'Email address',
  'login.password': 'Password',
  'login.submit': 'Continue',
  'login.passkey': 'Sign in with a passkey',
  'login.identifier_required': 'Enter your e-mail address.',
  'login.password_required': 'Enter your password.',
  'login.invalid_credentials': 'The e-mail address or password is not right.',
  'login.identifier_invalid': 'Enter a valid e-mail address.',
  'login.username_login_disabled': 'Usernames are no longer accepted: sign in with your e-mail address.',
  'login.account_locked': 'This account is locked. Contact your administrator.',
  'login.account_disabled': 'This account is disabled. Contact your administrator.',
  'login.identifier_deprecated':
    'You signed in with your username. Usernames are being retired: next time, sign in with your e-mail address.',
  'login.factors_title': 'Two-step verification',
  'login.factors_intro': 'Choose how to confirm it is you:',
  'login.another_method': 'Try another method',
  'login.returned':
    '{client} requires a security key, passkey or biometric key, and your account has none yet. Returning to {client}…',

  'code.email_title': 'Check your e-mail',
  'code.email_intro': 'We sent a {digits}-digit one-time passcode to {to}. It works for {minutes} minutes.',
  'code.totp_title': 'Enter the code from your authenticator app',
  'code.totp_intro': 'Open your authenticator app and type the {digits}-digit code it shows for this account.',
  'code.recovery_title': 'Enter a recovery code',
  'code.recovery_intro': 'Type one of your recovery codes ({format}). You have {n} left; each works once.',
  'code.recovery_intro#one': 'Type one of your recovery codes ({format}). You have 1 left; it works once.',
  'code.label': 'One-time passcode',
  'code.recovery_label': 'Recovery code',
  'code.submit': 'Log in',
  'code.resend': 'Send a new code',
  'code.resent': 'A new code is on its way to {to}.',
  'code.required': 'Enter the code.',
  'code.invalid': 'That code is not right. {n} attempts left.',
  'code.invalid#one': 'That code is not right. 1 attempt left.',
  'code.invalid_plain': 'That code is not right.',
  'code.replayed': 'That code was already used. Wait for the next code in your app.',
  'code.expired': 'The code has expired. Send a new one.',
  'code.exhausted': 'Too many wrong codes. Send a new one.',
  'code.not_sent': 'No code has been sent yet. Send one.',
  'code.send_limit': 'Too many codes were sent. Try again {when}, or use another method.',
  'code.throttled': 'Too many wrong codes. Try again {when}, or use another method.',

  'push.title': 'Approve on your phone',
  'push.intro': 'We sent a notification to your phone. Pick this number there:',
  'push.number': 'Number to pick',
  'push.waiting': 'Waiting for your phone…',
  'push.denied': 'The sign-in was denied on your phone.',
  'push.mismatch': 'The wrong number was picked on your phone.',
  'push.expired': 'Your phone did not answer in time.',
  'push.send_limit': 'Too many notifications were sent. Try again {when}, or use another method.',
  'push.retry': 'Send a new notification',

  'webauthn.security_key_title': 'Use your security key',
  'webauthn.passkey_title': 'Use your passkey',
  'webauthn.platform_title': 'Use your biometric key',
  'webauthn.get_intro': 'Follow your browser’s prompt: insert and touch your key, or use this device’s screen lock.',
  'webauthn.try_again': 'Try again',
  'webauthn.cancelled': 'The request was cancelled or timed out.',
  'webauthn.unsupported': 'This browser cannot use security keys or passkeys. Use another method or another browser.',
  'webauthn.invalid': 'This key was not accepted.',
  'webauthn.counter_regression':
    'This key was refused because it may have been copied. Use another method and tell your administrator.',
  'webauthn.expired': 'That took too long. Try again.',
  'webauthn.unavailable': 'Security keys and passkeys are not available here.',
  'webauthn.exists': 'This key is already registered to your account.',
  'webauthn.not_platform': 'This is not a biometric key of this device.',

  'factor.not_allowed': '{client} requires a security key, passkey or biometric key.',
  'factor.retired': 'This method is no longer supported. Use another one.',
  'factor.unavailable': 'This method cannot be used right now. Use another one.',

  'ended.title': 'This sign-in cannot continue',
  'ended.expired': 'The sign-in took too long and has expired. Go back to {client} and sign in again.',
  'ended.completed': 'This sign-in is already complete. Go back to {client} to continue.',
  'ended.not_found': 'This sign-in is not valid. Go back to the application and sign in again.',
  'ended.browser_mismatch':
    'This sign-in was started in another browser. Go back to the application in this browser and sign in again.',
  'ended.no_challenge': 'Open this page from the application you want to sign in to.',
  'ended.back': 'Go back',
  'ended.return': 'Back to the application',

  'consent.title': 'Allow access?',
  'consent.asks': '{client} asks to use your account. Choose what it may see.',
  'consent.scopes': 'It asks for',
  'consent.scope.openid': 'Who you are (always shared)',
  'consent.scope.email': 'Your e-mail address',
  'consent.scope.profile': 'Your name, language and time zone',
  'consent.scope.offline_access': 'Access while you are away (it stays signed in)',
  'consent.scope.other': 'Access named “{scope}”',
  'consent.allow': 'Allow',
  'consent.deny': 'Deny',
  'done.title': 'You are signed in',
  'done.redirecting': 'Returning to {client}…',
  'done.offer_title': 'Add a biometric key?',
  'done.offer': 'Sign in faster next time with this device’s fingerprint, face or screen lock.',
  'done.add': 'Add',
  'done.not_now': 'Not now',
  'done.platform_added': 'Biometric key added. Returning to {client}…',

  // Registration
  'register.title': 'Set your password',
  'register.intro':
    'Your account {email} has moved to a new sign-in system. Your history is kept, but your old password no longer works: choose a new one.',
  'register.password': 'New password',
  'register.confirm': 'Confirm password',
  'register.checklist': 'Your password needs:',
  'register.policy_error': 'The password does not meet every rule yet.',
  'rule.too_short': 'At least {n} characters',
  'rule.too_short#one': 'At least 1 character',
  'rule.too_long': 'At most {n} characters',
  'rule.too_long#one': 'At most 1 character',
  'rule.needs_uppercase': 'At least {n} uppercase letters',
  'rule.needs_uppercase#one': 'At least 1 uppercase letter',
  'rule.needs_lowercase': 'At least {n} lowercase letters',
  'rule.needs_lowercase#one': 'At least 1 lowercase letter',
  'rule.needs_digit': 'At least {n} numbers',
  'rule.needs_digit#one': 'At least 1 number',
  'rule.needs_special': 'At least {n} special characters',
  'rule.needs_special#one': 'At least 1 special character',
  'rule.forbidden_character': 'No control characters',
  'rule.mismatch': 'Passwords match',
  'rule.met': '(done)',
  'rule.unmet': '(not yet)',

  'register.2fa_title': 'Set up two-step verification',
  'register.2fa_intro':
    'Every sign-in needs a second step after your password. Whatever you used before, you can press “I’ll do this later”: we will then e-mail you a one-time code at each sign-in.',
  'register.later': 'I’ll do this later',
  'register.or_now': 'Or set up one of these now:',
  'choice.totp': 'Google Authenticator, Microsoft Authenticator or similar',
  'choice.security_key': 'A USB or NFC key such as a YubiKey',
  'choice.passkey': 'Saved on your phone, computer or password manager',
  'choice.platform': 'This device’s fingerprint, face or screen lock',
  'choice.push': 'Approve sign-ins in the mobile authenticator app',
  'register.choose_other': 'Choose another way',

  'totp.title': 'Set up your authenticator app',
  'totp.scan': 'Scan this QR code with your authenticator app.',
  'totp.qr_alt': 'QR code for your authenticator app',
  'totp.manual': 'Can’t scan it? Enter this key in the app:',
  'totp.code': 'Code from the app',
  'totp.verify': 'Verify',

  'enrol.security_key_title': 'Add your security key',
  'enrol.passkey_title': 'Create a passkey',
  'enrol.platform_title': 'Add a biometric key',
  'enrol.webauthn_intro': 'Press the button, then follow your browser’s prompt.',
  'enrol.name': 'Name (optional)',
  'enrol.name_hint': 'For example “YubiKey” or “Work laptop”.',
  'enrol.start': 'Add it',
  'enrol.invalid_name': 'Use at most 64 characters.',
  'enrol.push_title': 'Set up push notifications',
  'enrol.push_scan':
    'Scan this QR code with the mobile authenticator app. This page continues by itself once your phone is registered.',
  'enrol.push_qr_alt': 'QR code for the mobile authenticator app',
  'enrol.push_waiting': 'Waiting for your phone…',
  'enrol.push_open': 'On this phone? Open the authenticator app instead',
  'enrol.expired': 'This setup took too long. Start again.',
  'enrol.retired': 'This method is no longer supported. Choose another one.',

  'register.done_title': 'Registration completed',
  'register.done_email':
    'From now on, sign in with your e-mail address and new password. After the password, we will e-mail you a one-time passcode.',
  'register.done_factor':
    'From now on, sign in with your e-mail address and new password, then confirm with your {factor}.',
  'register.sign_in': 'Sign in',
  'register.expired_title': 'This link has expired',
  'register.expired_text':
    'Registration links work for a limited time, and only the newest one works. Ask for a new link.',
  'register.resend_link': 'Send me a new link',
  'register.used_title': 'This link has already been used',
  'register.used_text': 'Your registration is complete. Sign in with your e-mail address and password.',
  'register.unknown_title': 'This link is not valid',
  'register.unknown_text': 'Check that you opened the whole link from the mail, or ask for a new one.',

  // Resend
  'resend.title': 'I need help with registration',
  'resend.intro':
    'Request for resending the SSO registration link: enter your account’s e-mail address and we will send a new link. Older links stop working.',
  'resend.submit': 'Send me a new link',
  'resend.sent_title': 'Check your e-mail',
  'resend.sent_text':
    'If {email} belongs to an account waiting for registration, a new link is on its way. It can take a few minutes; check your spam folder too.',
  'resend.again': 'Use another address',

  // Logout
  'logout.title': 'Sign out?',
  'logout.intro': '{client} asks to sign you out of this browser.',
  'logout.confirm': 'Sign out',
  'logout.cancel': 'Stay signed in',
  'logout.not_signed_in_title': 'You are signed out',
  'logout.not_signed_in': 'This browser is not signed in.',
  'logout.return': 'Return to {client}',
  'logout.done_title': 'You are signed out',
  'logout.done': 'You have signed out of this browser.',
  'logout.kept_title': 'You are still signed in',
  'logout.invalid_title': 'This sign-out link is no longer valid',
  'logout.invalid': 'It has expired or is unknown. Go back to the application and sign out again.',

  // E-mail change undo
  'undo.title': 'Restore your e-mail address',
  'undo.intro':
    'The e-mail address of your account was changed. If you did not ask for this, restore your previous address: it signs in again, and every session of your account is signed out.',
  'undo.submit': 'Restore my previous address',
  'undo.done_title': 'Your e-mail address is restored',
  'undo.done':
    '{email} signs in again, and every session was signed out. If someone else may know your password, sign in and change it.',
  'undo.invalid_title': 'This link cannot be used',
  'undo.unknown': 'This link is not valid. Check that you opened the whole link from the mail.',
  'undo.used': 'This link has already been used.',
  'undo.expired': 'This link has expired. Contact your administrator.',
  'undo.email_taken':
    'Your previous address now belongs to another account, so it cannot be restored. Contact your administrator.',
  'undo.sign_in': 'Sign in',

  // Landing page
  'home.title': 'Your account',
  'home.intro': 'Manage your password, e-mail address and sign-in methods.',
  'home.sign_in': 'Sign in to your account',

  // Settings (scenario B)
  'settings.title': 'Account settings',
  'settings.signed_in_as': 'Signed in as {email}',
  'settings.sign_out': 'Sign out',
  'settings.sign_in': 'Sign in',
  'settings.signed_out_title': 'Sign in to your account',
  'settings.signing_in': 'Signing you in…',
  'settings.signing_in_again': 'This needs a recent sign-in. Taking you to sign in again…',
  'settings.reauth_loop':
    'The server asked for a new sign-in right after one. Check that this device’s clock is right, then try again.',
  'settings.resumed': 'You signed in again. Press “Add it” to continue.',
  'settings.toc': 'On this page',
  'settings.profile': 'Profile',
  'settings.email': 'E-mail address',
  'settings.password': 'Password',
  'settings.mfa': 'Multi-factor authentication',
  'settings.sessions': 'Sessions',
  'settings.apps': 'Apps',
  'settings.events': 'Security events',
  'settings.save': 'Save',
  'settings.cancel': 'Cancel',
  'signin.cancelled': 'The sign-in was cancelled.',
  'signin.state_mismatch': 'This sign-in was not started here, or was started again in another tab. Sign in again.',
  'signin.expired': 'The sign-in took too long. Sign in again.',
  'signin.failed': 'The sign-in did not complete ({code}). Try again.',

  'profile.username': 'Username',
  'profile.retired': 'retired',
  'profile.username_hint': 'Usernames are being retired: sign in with your e-mail address.',
  'profile.change_email': 'Change',
  'profile.given_name': 'First name',
  'profile.family_name': 'Last name',
  'profile.locale': 'Language',
  'profile.locale_hint': 'For this page and the e-mails we send you.',
  'profile.zoneinfo': 'Time zone',
  'profile.not_set': 'Not set',
  'profile.analytics': 'Share usage analytics',
  'profile.analytics_hint': 'Anonymous statistics that help improve the service. You can change this at any time.',
  'profile.saved': 'Your profile is saved.',
  'profile.unchanged': 'Nothing to save: no field has changed.',
  'field.name_invalid': 'Use at most 100 characters, without control characters.',
  'field.locale_invalid': 'Choose a language from the list.',
  'field.zoneinfo_invalid': 'Choose a time zone from the list.',
  'field.type_invalid': 'This value is not valid.',
  'field.invalid': 'This cannot be changed here.',

  'email.title': 'Change your e-mail address',
  'email.intro':
    'You sign in with {email}. To change it, enter the new address: we send a code there, and the address changes once you type it here. Your previous address is told.',
  'email.new': 'New e-mail address',
  'email.send': 'Send a code',
  'email.code_intro': 'We sent a {digits}-digit code to {to}. Type it here to switch to the new address.',
  'email.pending_intro': 'A change to {to} is waiting for its code. Type the code we sent there.',
  'email.confirm': 'Change my address',
  'email.other': 'Use another address',
  'email.required': 'Enter the new e-mail address.',
  'email.invalid': 'Enter a valid e-mail address.',
  'email.unchanged': 'This is already your address.',
  'email.expired': 'The code has expired or was tried too many times. Send a new one.',
  'email.not_pending': 'No change is waiting for a code. Send one again.',
  'email.resumed': 'You signed in again. Type the code again to finish.',
  'email.changed_title': 'Your e-mail address is changed',
  'email.changed_text':
    'From now on, sign in with {email}. Your previous address was told, with a link to undo the change. Sign in again with your new address now.',
  'email.sign_in_again': 'Sign in again',

  'password.title': 'Change your password',
  'password.current': 'Current password',
  'password.save': 'Change password',
  'password.current_required': 'Enter your current password.',
  'password.new_required': 'Enter a new password.',
  'password.current_invalid': 'The current password is not right. {n} attempts left.',
  'password.current_invalid#one': 'The current password is not right. 1 attempt left.',
  'password.current_invalid_plain': 'The current password is not right.',
  'password.changed': 'Your password is changed, and {n} other sessions were signed out.',
  'password.changed#one': 'Your password is changed, and 1 other session was signed out.',
  'password.changed_alone': 'Your password is changed.',

  'mfa.title': 'Multi-factor authentication',
  'mfa.only_email':
    'Only one-time codes by e-mail protect your account after the password. Enable a stronger method: an authenticator app, a security key or a passkey.',
  'mfa.enabled': 'After your password, you confirm it is you with one of these methods.',
  'mfa.enable': 'Enable',
  'mfa.yours': 'Your sign-in methods',
  'mfa.add_title': 'Add a sign-in method',
  'mfa.add': '+ Add',
  'mfa.regenerate': 'New codes',
  'mfa.remove': 'Remove',
  'mfa.status_active': 'Active',
  'mfa.status_pending': 'Not finished setting up',
  'mfa.status_disabled': 'Turned off on this server',
  'mfa.status_retired': 'Retired: no longer supported',
  'mfa.email_always': 'Always on: every sign-in can fall back on it',
  'mfa.added_on': 'added',
  'mfa.last_used': 'last used',
  'mfa.phone_ending': 'phone ending {digits}',
  'mfa.sms_retired': 'No longer supported',
  'mfa.not_available': 'Not available on this server',
  'mfa.not_in_browser': 'This browser cannot set it up',
  'mfa.platform_none':
    'No biometric keys registered. You will be offered to register one at your next login on a device with a fingerprint reader, face recognition or a screen lock.',
  'mfa.added': '{kind} added.',
  'mfa.removed': 'The sign-in method was removed.',
  'mfa.codes_saved': 'Your recovery codes are ready. The old ones no longer work.',
  'choice.recovery_code': 'Ten single-use codes for when no other method is at hand',
  'enrol.totp_name_hint': 'For example “Phone”.',
  'enrol.push_uri': 'Or enter this enrolment address in the app:',
  'recovery.title': 'Your recovery codes',
  'recovery.warning':
    'Save these codes now: they are shown only this once. Each works once, when you cannot use your other methods; anyone who has them and your password can sign in.',
  'recovery.how': 'Keep them somewhere safe, such as a password manager or a printed copy.',
  'recovery.done': 'I have saved them',
  'remove.title': 'Remove this sign-in method?',
  'remove.text': 'You will no longer be able to sign in with:',
  'remove.confirm': 'Remove',

  'sessions.title': 'Where you are signed in',
  'apps.title': 'Apps with access to your account',
  'apps.intro': 'Applications you allowed to use your account, and what each may see. Removing one ends its access; it asks again next time.',
  'apps.since': 'Allowed',
  'apps.remove': 'Remove access',
  'apps.removed': '{client} no longer has access.',
  'apps.none': 'No application has access.',
  'sessions.intro': 'The browsers signed in to your account. Sign out any you do not recognise.',
  'sessions.current': 'This browser',
  'sessions.sign_out': 'Sign out',
  'sessions.sign_out_others': 'Sign out all other sessions',
  'sessions.signed_in': 'Signed in',
  'sessions.last_seen': 'last active',
  'sessions.ip': 'IP address {ip}',
  'sessions.with': 'with',
  'sessions.unknown_browser': 'Unknown browser',
  'sessions.browser_on': '{browser} on {os}',
  'sessions.revoked': 'The session was signed out.',
  'sessions.revoked_many': '{n} sessions were signed out.',
  'sessions.revoked_many#one': '1 session was signed out.',
  'amr.pwd': 'password',
  'amr.otp': 'one-time code',
  'amr.hwk': 'security key',
  'amr.swk': 'phone app or passkey',

  'events.title': 'Recent security events',
  'events.more': 'Show older events',
  'events.none': 'No events yet.',
  'event.account_created': 'Account created',
  'event.account_imported': 'Account moved from the previous system',
  'event.account_updated': 'Profile changed',
  'event.registration_completed': 'Registration completed',
  'event.login_succeeded': 'Signed in',
  'event.login_failed': 'Failed sign-in',
  'event.password_changed': 'Password changed',
  'event.password_change_failed': 'Wrong current password at a password change',
  'event.email_change_requested': 'E-mail address change requested',
  'event.email_changed': 'E-mail address changed',
  'event.email_change_undone': 'E-mail address change undone',
  'event.factor_added': 'Sign-in method added',
  'event.factor_removed': 'Sign-in method removed',
  'event.recovery_codes_regenerated': 'New recovery codes',
  'event.recovery_code_used': 'Recovery code used',
  'event.push_device_enrolled': 'Phone registered for push',
  'event.push_approved': 'Sign-in approved on the phone',
  'event.push_denied': 'Sign-in denied on the phone',
  'event.session_revoked': 'Session signed out',
  'event.sessions_revoked': 'Sessions signed out',
  'event.consent_granted': 'Access allowed to an app',
  'event.consent_denied': 'Access denied to an app',
  'event.consent_revoked': 'App access removed',
  'event.account_locked': 'Account locked',
  'event.account_unlocked': 'Account unlocked',
  'event.account_disabled': 'Account disabled',
  'event.account_enabled': 'Account enabled',
  'event.registration_link_sent': 'Registration link sent',
  'event.failed_logins_alert': 'Warning about failed sign-ins sent',
};

/** @typedef {keyof typeof EN} Key */

/** @type {Record<Key, string>} */
const JA = {
  'common.loading': '読み込み中…',
  'common.continue': '続行',
  'common.back': '戻る',
  'common.email': 'メールアドレス',
  'common.language': '言語',
  'common.the_application': 'アプリケーション',
  'common.home': 'ホーム',
  'common.help': '登録でお困りの方',
  'common.required': 'この項目は必須です。',
  'error.network': 'サーバーに接続できません。接続を確認して、もう一度お試しください。',
  'error.busy': 'サービスが混み合っています。{when}にもう一度お試しください。',
  'error.rate_limited': '試行回数が多すぎます。{when}にもう一度お試しください。',
  'error.rate_limited_later': '試行回数が多すぎます。しばらくしてからもう一度お試しください。',
  'error.unexpected': '問題が発生しました ({code})。もう一度お試しください。',

  'kind.email_otp': '{to} へのメール',
  'kind.email_otp_plain': 'メール',
  'kind.totp': '認証アプリ',
  'kind.security_key': 'セキュリティキー',
  'kind.passkey': 'パスキー',
  'kind.platform': '生体認証キー',
  'kind.push': 'プッシュ通知',
  'kind.recovery_code': 'リカバリーコード',
  'kind.sms': '電話番号 (SMS)',
  'kind.named': '{kind}「{name}」',

  'login.title': 'サインイン',
  'login.to_client': '{client} を利用するにはサインインしてください',
  'login.identifier': 'メールアドレス',
  'login.password': 'パスワード',
  'login.submit': '次へ',
  'login.passkey': 'パスキーでサインイン',
  'login.identifier_required': 'メールアドレスを入力してください。',
  'login.password_required': 'パスワードを入力してください。',
  'login.invalid_credentials': 'メールアドレスまたはパスワードが正しくありません。',
  'login.identifier_invalid': '有効なメールアドレスを入力してください。',
  'login.username_login_disabled': 'ユーザー名ではサインインできなくなりました。メールアドレスでサインインしてください。',
  'login.account_locked': 'このアカウントはロックされています。管理者にお問い合わせください。',
  'login.account_disabled': 'このアカウントは無効になっています。管理者にお問い合わせください。',
  'login.identifier_deprecated':
    'ユーザー名でサインインしました。ユーザー名は廃止されます。次回からはメールアドレスでサインインしてください。',
  'login.factors_title': '2 段階認証',
  'login.factors_intro': '本人確認の方法を選択してください:',
  'login.another_method': '別の方法を試す',
  'login.returned':
    '{client} ではセキュリティキー、パスキー、または生体認証キーが必要ですが、アカウントにまだ登録されていません。{client} に戻っています…',

  'code.email_title': 'メールを確認してください',
  'code.email_intro': '{to} に {digits} 桁のワンタイムパスコードを送信しました。有効期限は {minutes} 分です。',
  'code.totp_title': '認証アプリのコードを入力してください',
  'code.totp_intro': '認証アプリを開き、このアカウントに表示されている {digits} 桁のコードを入力してください。',
  'code.recovery_title': 'リカバリーコードを入力してください',
  'code.recovery_intro': 'リカバリーコード ({format}) を 1 つ入力してください。残りは {n} 個で、各コードは 1 回だけ使えます。',
  'code.recovery_intro#one': 'リカバリーコード ({format}) を 1 つ入力してください。残りは 1 個で、1 回だけ使えます。',
  'code.label': 'ワンタイムパスコード',
  'code.recovery_label': 'リカバリーコード',
  'code.submit': 'ログイン',
  'code.resend': '新しいコードを送信',
  'code.resent': '{to} に新しいコードを送信しました。',
  'code.required': 'コードを入力してください。',
  'code.invalid': 'コードが正しくありません。あと {n} 回試せます。',
  'code.invalid#one': 'コードが正しくありません。あと 1 回試せます。',
  'code.invalid_plain': 'コードが正しくありません。',
  'code.replayed': 'このコードは使用済みです。アプリに次のコードが表示されるまでお待ちください。',
  'code.expired': 'コードの有効期限が切れました。新しいコードを送信してください。',
  'code.exhausted': '誤ったコードが多すぎます。新しいコードを送信してください。',
  'code.not_sent': 'まだコードが送信されていません。コードを送信してください。',
  'code.send_limit': 'コードの送信回数が上限に達しました。{when}にもう一度お試しいただくか、別の方法を使用してください。',
  'code.throttled': '誤ったコードが多すぎます。{when}にもう一度お試しいただくか、別の方法を使用してください。',

  'push.title': 'スマートフォンで承認してください',
  'push.intro': 'スマートフォンに通知を送信しました。スマートフォンで次の番号を選択してください:',
  'push.number': '選択する番号',
  'push.waiting': 'スマートフォンの応答を待っています…',
  'push.denied': 'スマートフォンでサインインが拒否されました。',
  'push.mismatch': 'スマートフォンで誤った番号が選択されました。',
  'push.expired': 'スマートフォンから時間内に応答がありませんでした。',
  'push.send_limit': '通知の送信回数が上限に達しました。{when}にもう一度お試しいただくか、別の方法を使用してください。',
  'push.retry': '通知を再送信',

  'webauthn.security_key_title': 'セキュリティキーを使用してください',
  'webauthn.passkey_title': 'パスキーを使用してください',
  'webauthn.platform_title': '生体認証キーを使用してください',
  'webauthn.get_intro': 'ブラウザーの指示に従ってください。キーを差し込んでタッチするか、このデバイスの画面ロックを使用します。',
  'webauthn.try_again': 'もう一度試す',
  'webauthn.cancelled': 'リクエストがキャンセルされたか、タイムアウトしました。',
  'webauthn.unsupported': 'このブラウザーではセキュリティキーやパスキーを使用できません。別の方法または別のブラウザーをお使いください。',
  'webauthn.invalid': 'このキーは受け付けられませんでした。',
  'webauthn.counter_regression': 'このキーは複製された可能性があるため拒否されました。別の方法を使用し、管理者に連絡してください。',
  'webauthn.expired': '時間がかかりすぎました。もう一度お試しください。',
  'webauthn.unavailable': 'ここではセキュリティキーとパスキーを利用できません。',
  'webauthn.exists': 'このキーは既にアカウントに登録されています。',
  'webauthn.not_platform': 'これはこのデバイスの生体認証キーではありません。',

  'factor.not_allowed': '{client} ではセキュリティキー、パスキー、または生体認証キーが必要です。',
  'factor.retired': 'この方法はサポートされなくなりました。別の方法を使用してください。',
  'factor.unavailable': 'この方法は現在使用できません。別の方法を使用してください。',

  'ended.title': 'このサインインは続行できません',
  'ended.expired': 'サインインの有効期限が切れました。{client} に戻って、もう一度サインインしてください。',
  'ended.completed': 'このサインインは既に完了しています。{client} に戻って続行してください。',
  'ended.not_found': 'このサインインは無効です。アプリケーションに戻って、もう一度サインインしてください。',
  'ended.browser_mismatch':
    'このサインインは別のブラウザーで開始されました。このブラウザーでアプリケーションに戻り、もう一度サインインしてください。',
  'ended.no_challenge': 'サインインしたいアプリケーションからこのページを開いてください。',
  'ended.back': '戻る',
  'ended.return': 'アプリケーションに戻る',

  'consent.title': 'アクセスを許可しますか?',
  'consent.asks': '{client} があなたのアカウントの利用を求めています。共有する情報を選んでください。',
  'consent.scopes': '求められている情報',
  'consent.scope.openid': 'あなたが誰であるか(常に共有されます)',
  'consent.scope.email': 'メールアドレス',
  'consent.scope.profile': '氏名、言語、タイムゾーン',
  'consent.scope.offline_access': '不在時のアクセス(サインインしたままになります)',
  'consent.scope.other': '「{scope}」へのアクセス',
  'consent.allow': '許可',
  'consent.deny': '拒否',
  'done.title': 'サインインしました',
  'done.redirecting': '{client} に戻っています…',
  'done.offer_title': '生体認証キーを追加しますか?',
  'done.offer': '次回から、このデバイスの指紋・顔認証・画面ロックですばやくサインインできます。',
  'done.add': '追加する',
  'done.not_now': '今はしない',
  'done.platform_added': '生体認証キーを追加しました。{client} に戻っています…',

  'register.title': 'パスワードを設定',
  'register.intro':
    'アカウント {email} は新しいサインインシステムに移行しました。履歴は引き継がれていますが、以前のパスワードは使用できません。新しいパスワードを設定してください。',
  'register.password': '新しいパスワード',
  'register.confirm': 'パスワード (確認)',
  'register.checklist': 'パスワードの条件:',
  'register.policy_error': 'パスワードがまだすべての条件を満たしていません。',
  'rule.too_short': '{n} 文字以上',
  'rule.too_short#one': '1 文字以上',
  'rule.too_long': '{n} 文字以下',
  'rule.too_long#one': '1 文字以下',
  'rule.needs_uppercase': '英大文字を {n} 文字以上',
  'rule.needs_uppercase#one': '英大文字を 1 文字以上',
  'rule.needs_lowercase': '英小文字を {n} 文字以上',
  'rule.needs_lowercase#one': '英小文字を 1 文字以上',
  'rule.needs_digit': '数字を {n} 文字以上',
  'rule.needs_digit#one': '数字を 1 文字以上',
  'rule.needs_special': '記号を {n} 文字以上',
  'rule.needs_special#one': '記号を 1 文字以上',
  'rule.forbidden_character': '制御文字を含まない',
  'rule.mismatch': 'パスワードが一致している',
  'rule.met': '(達成)',
  'rule.unmet': '(未達成)',

  'register.2fa_title': '2 段階認証の設定',
  'register.2fa_intro':
    'サインインのたびに、パスワードの後にもう 1 段階の確認が必要です。以前に何を使っていたかにかかわらず、「後で設定する」を押すことができます。その場合、サインインのたびにワンタイムパスコードをメールでお送りします。',
  'register.later': '後で設定する',
  'register.or_now': 'または、次のいずれかを今すぐ設定します:',
  'choice.totp': 'Google Authenticator、Microsoft Authenticator など',
  'choice.security_key': 'YubiKey などの USB または NFC キー',
  'choice.passkey': 'スマートフォン、コンピューター、パスワードマネージャーに保存',
  'choice.platform': 'このデバイスの指紋・顔認証・画面ロック',
  'choice.push': 'モバイル認証アプリでサインインを承認',
  'register.choose_other': '別の方法を選ぶ',

  'totp.title': '認証アプリの設定',
  'totp.scan': '認証アプリでこの QR コードをスキャンしてください。',
  'totp.qr_alt': '認証アプリ用の QR コード',
  'totp.manual': 'スキャンできない場合は、アプリに次のキーを入力してください:',
  'totp.code': 'アプリに表示されたコード',
  'totp.verify': '確認',

  'enrol.security_key_title': 'セキュリティキーを追加',
  'enrol.passkey_title': 'パスキーを作成',
  'enrol.platform_title': '生体認証キーを追加',
  'enrol.webauthn_intro': 'ボタンを押して、ブラウザーの指示に従ってください。',
  'enrol.name': '名前 (任意)',
  'enrol.name_hint': '例: 「YubiKey」「仕事用ノートパソコン」',
  'enrol.start': '追加する',
  'enrol.invalid_name': '64 文字以内で入力してください。',
  'enrol.push_title': 'プッシュ通知の設定',
  'enrol.push_scan':
    'モバイル認証アプリでこの QR コードをスキャンしてください。スマートフォンが登録されると、このページは自動的に進みます。',
  'enrol.push_qr_alt': 'モバイル認証アプリ用の QR コード',
  'enrol.push_waiting': 'スマートフォンの登録を待っています…',
  'enrol.push_open': 'このスマートフォンで設定する場合は、認証アプリを開いてください',
  'enrol.expired': '設定に時間がかかりすぎました。もう一度やり直してください。',
  'enrol.retired': 'この方法はサポートされなくなりました。別の方法を選択してください。',

  'register.done_title': '登録が完了しました',
  'register.done_email':
    '今後は、メールアドレスと新しいパスワードでサインインしてください。パスワードの後に、ワンタイムパスコードをメールでお送りします。',
  'register.done_factor': '今後は、メールアドレスと新しいパスワードでサインインし、続いて{factor}で確認してください。',
  'register.sign_in': 'サインイン',
  'register.expired_title': 'このリンクは有効期限切れです',
  'register.expired_text': '登録リンクには有効期限があり、最新のリンクのみ有効です。新しいリンクを依頼してください。',
  'register.resend_link': '新しいリンクを送信',
  'register.used_title': 'このリンクは使用済みです',
  'register.used_text': '登録は完了しています。メールアドレスとパスワードでサインインしてください。',
  'register.unknown_title': 'このリンクは無効です',
  'register.unknown_text': 'メールのリンク全体を開いたか確認するか、新しいリンクを依頼してください。',

  'resend.title': '登録でお困りの方',
  'resend.intro':
    'SSO 登録リンクの再送を依頼します。アカウントのメールアドレスを入力すると、新しいリンクをお送りします。以前のリンクは使用できなくなります。',
  'resend.submit': '新しいリンクを送信',
  'resend.sent_title': 'メールを確認してください',
  'resend.sent_text':
    '{email} が登録待ちのアカウントのものであれば、新しいリンクを送信しました。届くまで数分かかることがあります。迷惑メールフォルダーもご確認ください。',
  'resend.again': '別のアドレスを使う',

  'logout.title': 'サインアウトしますか?',
  'logout.intro': '{client} がこのブラウザーからのサインアウトを求めています。',
  'logout.confirm': 'サインアウト',
  'logout.cancel': 'サインインしたままにする',
  'logout.not_signed_in_title': 'サインアウトしています',
  'logout.not_signed_in': 'このブラウザーはサインインしていません。',
  'logout.return': '{client} に戻る',
  'logout.done_title': 'サインアウトしました',
  'logout.done': 'このブラウザーからサインアウトしました。',
  'logout.kept_title': 'サインインしたままです',
  'logout.invalid_title': 'このサインアウトのリンクは無効です',
  'logout.invalid': '有効期限が切れているか、不明なリンクです。アプリケーションに戻って、もう一度サインアウトしてください。',

  'undo.title': 'メールアドレスを元に戻す',
  'undo.intro':
    'アカウントのメールアドレスが変更されました。心当たりがない場合は、以前のアドレスに戻してください。以前のアドレスで再びサインインできるようになり、アカウントのすべてのセッションがサインアウトされます。',
  'undo.submit': '以前のアドレスに戻す',
  'undo.done_title': 'メールアドレスを元に戻しました',
  'undo.done':
    '{email} で再びサインインできます。すべてのセッションはサインアウトされました。パスワードを他人に知られた可能性がある場合は、サインインしてパスワードを変更してください。',
  'undo.invalid_title': 'このリンクは使用できません',
  'undo.unknown': 'このリンクは無効です。メールのリンク全体を開いたか確認してください。',
  'undo.used': 'このリンクは使用済みです。',
  'undo.expired': 'このリンクは有効期限切れです。管理者にお問い合わせください。',
  'undo.email_taken': '以前のアドレスは現在別のアカウントで使用されているため、元に戻せません。管理者にお問い合わせください。',
  'undo.sign_in': 'サインイン',

  'home.title': 'アカウント',
  'home.intro': 'パスワード、メールアドレス、サインイン方法を管理できます。',
  'home.sign_in': 'アカウントにサインイン',

  'settings.title': 'アカウント設定',
  'settings.signed_in_as': '{email} でサインイン中',
  'settings.sign_out': 'サインアウト',
  'settings.sign_in': 'サインイン',
  'settings.signed_out_title': 'アカウントにサインイン',
  'settings.signing_in': 'サインインしています…',
  'settings.signing_in_again': 'この操作には最近のサインインが必要です。もう一度サインインします…',
  'settings.reauth_loop':
    'サインインの直後に、サーバーが再度サインインを求めました。このデバイスの時刻が正しいか確認して、もう一度お試しください。',
  'settings.resumed': 'もう一度サインインしました。「追加する」を押して続行してください。',
  'settings.toc': 'このページの内容',
  'settings.profile': 'プロフィール',
  'settings.email': 'メールアドレス',
  'settings.password': 'パスワード',
  'settings.mfa': '多要素認証',
  'settings.sessions': 'セッション',
  'settings.apps': 'アプリ',
  'settings.events': 'セキュリティイベント',
  'settings.save': '保存',
  'settings.cancel': 'キャンセル',
  'signin.cancelled': 'サインインがキャンセルされました。',
  'signin.state_mismatch': 'このサインインはここで開始されたものではないか、別のタブで開始し直されました。もう一度サインインしてください。',
  'signin.expired': 'サインインに時間がかかりすぎました。もう一度サインインしてください。',
  'signin.failed': 'サインインが完了しませんでした ({code})。もう一度お試しください。',

  'profile.username': 'ユーザー名',
  'profile.retired': '廃止',
  'profile.username_hint': 'ユーザー名は廃止されます。メールアドレスでサインインしてください。',
  'profile.change_email': '変更',
  'profile.given_name': '名',
  'profile.family_name': '姓',
  'profile.locale': '言語',
  'profile.locale_hint': 'このページと、お送りするメールの言語です。',
  'profile.zoneinfo': 'タイムゾーン',
  'profile.not_set': '未設定',
  'profile.analytics': '利用状況の分析に協力する',
  'profile.analytics_hint': 'サービス改善のための匿名の統計です。いつでも変更できます。',
  'profile.saved': 'プロフィールを保存しました。',
  'profile.unchanged': '変更された項目がないため、保存するものはありません。',
  'field.name_invalid': '制御文字を含めず、100 文字以内で入力してください。',
  'field.locale_invalid': '一覧から言語を選択してください。',
  'field.zoneinfo_invalid': '一覧からタイムゾーンを選択してください。',
  'field.type_invalid': 'この値は無効です。',
  'field.invalid': 'ここでは変更できません。',

  'email.title': 'メールアドレスの変更',
  'email.intro':
    '{email} でサインインしています。変更するには新しいアドレスを入力してください。そのアドレスにコードを送信し、ここでコードを入力するとアドレスが変更されます。以前のアドレスにもお知らせします。',
  'email.new': '新しいメールアドレス',
  'email.send': 'コードを送信',
  'email.code_intro': '{to} に {digits} 桁のコードを送信しました。ここに入力すると新しいアドレスに切り替わります。',
  'email.pending_intro': '{to} への変更がコードの入力を待っています。そのアドレスに送信したコードを入力してください。',
  'email.confirm': 'アドレスを変更',
  'email.other': '別のアドレスを使う',
  'email.required': '新しいメールアドレスを入力してください。',
  'email.invalid': '有効なメールアドレスを入力してください。',
  'email.unchanged': 'これは現在のアドレスです。',
  'email.expired': 'コードの有効期限が切れたか、試行回数が多すぎます。新しいコードを送信してください。',
  'email.not_pending': 'コードを待っている変更はありません。もう一度コードを送信してください。',
  'email.resumed': 'もう一度サインインしました。完了するには、コードをもう一度入力してください。',
  'email.changed_title': 'メールアドレスを変更しました',
  'email.changed_text':
    '今後は {email} でサインインしてください。以前のアドレスには、変更を取り消すためのリンクをお送りしました。新しいアドレスでもう一度サインインしてください。',
  'email.sign_in_again': 'もう一度サインイン',

  'password.title': 'パスワードの変更',
  'password.current': '現在のパスワード',
  'password.save': 'パスワードを変更',
  'password.current_required': '現在のパスワードを入力してください。',
  'password.new_required': '新しいパスワードを入力してください。',
  'password.current_invalid': '現在のパスワードが正しくありません。あと {n} 回試せます。',
  'password.current_invalid#one': '現在のパスワードが正しくありません。あと 1 回試せます。',
  'password.current_invalid_plain': '現在のパスワードが正しくありません。',
  'password.changed': 'パスワードを変更し、他の {n} 件のセッションをサインアウトしました。',
  'password.changed#one': 'パスワードを変更し、他の 1 件のセッションをサインアウトしました。',
  'password.changed_alone': 'パスワードを変更しました。',

  'mfa.title': '多要素認証',
  'mfa.only_email':
    'パスワードの後の確認は、メールで届くワンタイムコードだけです。認証アプリ、セキュリティキー、パスキーなど、より強力な方法を有効にしてください。',
  'mfa.enabled': 'パスワードの後、次のいずれかの方法で本人確認を行います。',
  'mfa.enable': '有効にする',
  'mfa.yours': '登録済みのサインイン方法',
  'mfa.add_title': 'サインイン方法を追加',
  'mfa.add': '+ 追加',
  'mfa.regenerate': '新しいコード',
  'mfa.remove': '削除',
  'mfa.status_active': '有効',
  'mfa.status_pending': '設定が完了していません',
  'mfa.status_disabled': 'このサーバーで無効になっています',
  'mfa.status_retired': '廃止: サポートされなくなりました',
  'mfa.email_always': '常に有効: どのサインインでも利用できます',
  'mfa.added_on': '追加日時',
  'mfa.last_used': '最終使用',
  'mfa.phone_ending': '末尾 {digits} の電話番号',
  'mfa.sms_retired': 'サポートされなくなりました',
  'mfa.not_available': 'このサーバーでは利用できません',
  'mfa.not_in_browser': 'このブラウザーでは設定できません',
  'mfa.platform_none':
    '生体認証キーは登録されていません。指紋認証・顔認証・画面ロックのあるデバイスで次回ログインしたときに、登録をご案内します。',
  'mfa.added': '{kind}を追加しました。',
  'mfa.removed': 'サインイン方法を削除しました。',
  'mfa.codes_saved': 'リカバリーコードを用意しました。以前のコードは使用できなくなりました。',
  'choice.recovery_code': '他の方法が使えないときのための、1 回限りのコード 10 個',
  'enrol.totp_name_hint': '例: 「スマートフォン」',
  'enrol.push_uri': 'または、アプリに次の登録用アドレスを入力してください:',
  'recovery.title': 'リカバリーコード',
  'recovery.warning':
    '今すぐこれらのコードを保存してください。表示されるのはこの 1 回だけです。各コードは、他の方法が使えないときに 1 回だけ使えます。コードとパスワードを知っている人は誰でもサインインできます。',
  'recovery.how': 'パスワードマネージャーや印刷した紙など、安全な場所に保管してください。',
  'recovery.done': '保存しました',
  'remove.title': 'このサインイン方法を削除しますか?',
  'remove.text': '次の方法ではサインインできなくなります:',
  'remove.confirm': '削除',

  'sessions.title': 'サインイン中のデバイス',
  'apps.title': 'アカウントへのアクセスを許可したアプリ',
  'apps.intro': 'アカウントの利用を許可したアプリと、それぞれが見られる情報です。削除するとアクセスが終わり、次回また許可を求められます。',
  'apps.since': '許可日時',
  'apps.remove': 'アクセスを削除',
  'apps.removed': '{client} のアクセスを削除しました。',
  'apps.none': 'アクセスを許可したアプリはありません。',
  'sessions.intro': 'アカウントにサインインしているブラウザーです。心当たりのないものはサインアウトしてください。',
  'sessions.current': 'このブラウザー',
  'sessions.sign_out': 'サインアウト',
  'sessions.sign_out_others': '他のすべてのセッションをサインアウト',
  'sessions.signed_in': 'サインイン',
  'sessions.last_seen': '最終アクセス',
  'sessions.ip': 'IP アドレス {ip}',
  'sessions.with': '確認方法',
  'sessions.unknown_browser': '不明なブラウザー',
  'sessions.browser_on': '{os} の {browser}',
  'sessions.revoked': 'セッションをサインアウトしました。',
  'sessions.revoked_many': '{n} 件のセッションをサインアウトしました。',
  'sessions.revoked_many#one': '1 件のセッションをサインアウトしました。',
  'amr.pwd': 'パスワード',
  'amr.otp': 'ワンタイムコード',
  'amr.hwk': 'セキュリティキー',
  'amr.swk': 'スマートフォンのアプリまたはパスキー',

  'events.title': '最近のセキュリティイベント',
  'events.more': '以前のイベントを表示',
  'events.none': 'イベントはまだありません。',
  'event.account_created': 'アカウント作成',
  'event.account_imported': '以前のシステムからのアカウント移行',
  'event.account_updated': 'プロフィールの変更',
  'event.registration_completed': '登録の完了',
  'event.login_succeeded': 'サインイン',
  'event.login_failed': 'サインインの失敗',
  'event.password_changed': 'パスワードの変更',
  'event.password_change_failed': 'パスワード変更時の現在のパスワードの誤り',
  'event.email_change_requested': 'メールアドレス変更の依頼',
  'event.email_changed': 'メールアドレスの変更',
  'event.email_change_undone': 'メールアドレス変更の取り消し',
  'event.factor_added': 'サインイン方法の追加',
  'event.factor_removed': 'サインイン方法の削除',
  'event.recovery_codes_regenerated': 'リカバリーコードの再発行',
  'event.recovery_code_used': 'リカバリーコードの使用',
  'event.push_device_enrolled': 'プッシュ通知用スマートフォンの登録',
  'event.push_approved': 'スマートフォンでのサインイン承認',
  'event.push_denied': 'スマートフォンでのサインイン拒否',
  'event.session_revoked': 'セッションのサインアウト',
  'event.sessions_revoked': '複数セッションのサインアウト',
  'event.consent_granted': 'アプリへのアクセス許可',
  'event.consent_denied': 'アプリへのアクセス拒否',
  'event.consent_revoked': 'アプリのアクセス削除',
  'event.account_locked': 'アカウントのロック',
  'event.account_unlocked': 'アカウントのロック解除',
  'event.account_disabled': 'アカウントの無効化',
  'event.account_enabled': 'アカウントの有効化',
  'event.registration_link_sent': '登録リンクの送信',
  'event.failed_logins_alert': 'サインイン失敗の警告の送信',
};

/** @typedef {'en' | 'ja'} Locale */
/** @type {Record<Locale, Record<string, string>>} */
const STRINGS = { en: EN, ja: JA };
export const LOCALES = /** @type {const} */ (['en', 'ja']);
// An explicit choice on the language switcher outlives the page (this browser only).
const STORED = 'gatehouse.locale';

/** @type {Locale} */
let current = 'en';

/**
 * A value for a `{name}` in a text: `{seconds}` renders as "in 5 minutes", `{key}` as
 * that text in the current language (so both follow a language switch).
 * @typedef {string | number | { seconds: number } | { key: Key }} Param
 */

/**
 * The first supported locale among BCP 47 tags, by primary language (`ja-JP` → `ja`).
 * @param {readonly string[]} tags most preferred first
 * @returns {Locale | null}
 */
export function match(tags) {
  for (const tag of tags) {
    const primary = tag.trim().toLowerCase().split(/[-_]/)[0];
    const found = LOCALES.find((l) => l === primary);
    if (found) return found;
  }
  return null;
}

/**
 * Picks the language: the user's own choice on this browser, else what the
 * application asked (`ui_locales`, space-separated), else the browser's languages.
 * Sets `<html lang>` and translates the page.
 * @param {string | null | undefined} [uiLocales]
 */
export function chooseLocale(uiLocales) {
  let stored = null;
  try {
    stored = localStorage.getItem(STORED);
  } catch {
    // Storage may be off (private mode): the choice then lasts this page only.
  }
  const fromClient = uiLocales ? uiLocales.split(/\s+/).filter(Boolean) : [];
  setLocale(match([stored ?? '', ...fromClient, ...navigator.languages]) ?? 'en');
}

/** @param {Locale} locale @param {boolean} [remember] the user picked it */
export function setLocale(locale, remember = false) {
  current = locale;
  document.documentElement.lang = locale;
  if (remember) {
    try {
      localStorage.setItem(STORED, locale);
    } catch {
      // See chooseLocale.
    }
  }
  localise(document);
  document.dispatchEvent(new Event('gatehouse:locale'));
}

export function locale() {
  return current;
}

/**
 * The text of `key` in the current language with `{name}` params filled in.
 * @param {Key} key
 * @param {Record<string, Param>} [params]
 * @returns {string}
 */
export function t(key, params = {}) {
  const strings = STRINGS[current];
  let template = strings[key] ?? EN[key] ?? key;
  const n = params['n'];
  if (typeof n === 'number' && new Intl.PluralRules(current).select(n) === 'one') {
    template = strings[`${key}#one`] ?? template;
  }
  return template.replace(/\{(\w+)\}/g, (whole, name) => {
    const value = params[name];
    if (value === undefined) return whole;
    if (typeof value !== 'object') return String(value);
    return 'key' in value ? t(value.key) : when(value.seconds);
  });
}

/** "in 30 seconds", "in 5 minutes" / "30 秒後", "5 分後".
 * @param {number} seconds */
function when(seconds) {
  const format = new Intl.RelativeTimeFormat(current, { numeric: 'always' });
  if (seconds < 90) return format.format(Math.max(1, Math.ceil(seconds)), 'second');
  if (seconds < 90 * 60) return format.format(Math.ceil(seconds / 60), 'minute');
  return format.format(Math.ceil(seconds / 3600), 'hour');
}

/**
 * Re-renders every element that `dom.text` (or a `data-i18n` attribute in the HTML)
 * gave a key: its text, or one of its attributes with `data-i18n-attr="alt"`.
 * @param {ParentNode} root
 */
export function localise(root) {
  for (const node of root.querySelectorAll('[data-i18n]')) {
    const key = /** @type {Key} */ (node.getAttribute('data-i18n'));
    const raw = node.getAttribute('data-i18n-params');
    const params = raw ? JSON.parse(raw) : {};
    const attr = node.getAttribute('data-i18n-attr');
    if (attr) node.setAttribute(attr, t(key, params));
    else node.textContent = t(key, params);
  }
}
