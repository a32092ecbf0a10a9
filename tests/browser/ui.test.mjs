// The reference UI (crates/gatehouse-ui/assets, served at /ui/ from this checkout's
// files) in headless Chromium, driven like a user: typing, clicking, reading what the
// page shows. The relying party is simulated: it sends the browser to /authorize,
// catches the redirect back to its URI and redeems the code with PKCE. Every page
// is checked with axe-core (no serious or critical violations) in English and in
// Japanese, and must not trip its Content-Security-Policy.

import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { AUTHENTICATORS, Browser } from './lib/browser.mjs';
import { PASSWORD, REDIRECT, Site, backends, claims, pkce } from './lib/gatehouse.mjs';
import { openUi } from './lib/ui.mjs';

const TIMEOUT = 120_000;
const SIGNED_OUT = 'https://app.example.com/signed-out';

/** What the pages say, where a test reads it. */
const TEXT = {
  en: {
    setPassword: 'Set your password',
    twoStep: 'Set up two-step verification',
    later: 'I’ll do this later',
    completed: 'Registration completed',
    signIn: 'Sign in',
    chooser: 'Two-step verification',
    emailOn: (masked) => `Email on ${masked}`,
    checkMail: 'Check your e-mail',
    app: 'Enter the code from your authenticator app',
    expired: 'This link has expired',
    help: 'I need help with registration',
    sent: 'Check your e-mail',
  },
  ja: {
    setPassword: 'パスワードを設定',
    twoStep: '2 段階認証の設定',
    later: '後で設定する',
    completed: '登録が完了しました',
    signIn: 'サインイン',
    chooser: '2 段階認証',
    emailOn: (masked) => `${masked} へのメール`,
    checkMail: 'メールを確認してください',
    app: '認証アプリのコードを入力してください',
    expired: 'このリンクは有効期限切れです',
    help: '登録でお困りの方',
    sent: 'メールを確認してください',
  },
};

let accounts = 0;
const newEmail = (name) => `${name}-${++accounts}@example.com`;
const masked = (email) => `${email[0]}***@${email.split('@')[1]}`;

/** RFC 6238 code for a base32 secret at time step `counter`. */
function totp(secret, counter) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/[\s=]/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = mac[19] & 15;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
const timeStep = () => Math.floor(Date.now() / 30_000);

/** Imports one account of the old system (its `sub` is `legacy_subject`) and mails it
 * its registration link, as an operator does. */
async function importAndInvite(site, email, legacySubject, extra = {}) {
  const file = join(site.dir, `${legacySubject.replace(/\W/g, '_')}.jsonl`);
  await writeFile(file, `${JSON.stringify({ legacy_subject: legacySubject, email, given_name: 'Rie', ...extra })}\n`);
  await site.cli('accounts', 'import', file);
  await site.cli('invitations', 'send', '--account', email);
}

/** The "Complete Registration" link of the `skip`-th registration mail to `email`. */
async function registrationMailLink(site, email, skip = 0) {
  const mail = await site.waitForMail(email, (m) => m.subject.includes('SSO Registration'), skip);
  return site.registrationLink(mail);
}

for (const backend of backends()) {
  describe(`The reference UI in headless Chromium on ${backend.name}`, { skip: backend.skip, timeout: 900_000 }, () => {
    let site;
    let browser;
    let checked = 0;

    before(async () => {
      site = await Site.start(backend, {}, { ui: true });
      await site.addClient('app');
      browser = await Browser.launch();
    });

    afterEach(async () => {
      await browser?.closeTabs();
    });

    after(async () => {
      console.log(`# axe-core: ${checked} page states checked on ${backend.name}`);
      await browser?.close();
      for (const line of site?.log ?? []) {
        if (/"level":"(WARN|ERROR)"/.test(line)) console.error(`[gatehouse on ${backend.name}] ${line}`);
      }
      await site?.stop();
    });

    /** A fresh browser profile in `lang` (lib/ui.mjs `openUi`: axe-core, the CSP
     * recorder, the relying party's stub page), with the texts this test reads. */
    async function open(lang = 'en', options = {}) {
      const ui = await openUi(browser, lang, { ...options, onChecked: () => { checked += 1; } });
      ui.text = TEXT[lang];
      return ui;
    }

    /** The checklist as shown: the codes of the rules ticked, and whether Continue
     * can be pressed. Each ticked rule also says so to screen readers. */
    async function checklist(page) {
      return page.evaluate(() => {
        const ticked = [...document.querySelectorAll('#checklist li')]
          .filter((li) => li.classList.contains('met'))
          .map((li) => li.dataset.rule);
        const spoken = [...document.querySelectorAll('#checklist li.met .visually-hidden')].map((s) => s.textContent);
        return { ticked: ticked.sort(), spoken, disabled: document.getElementById('password-continue').disabled };
      });
    }

    /** Opens the mailed link, sets the password (checking the checklist keystroke by
     * keystroke) and lands on the two-step verification choice. */
    async function setPassword(ui, link, email) {
      const { page, text } = ui;
      await page.goto(link);
      await ui.step('step-password', text.setPassword, { focused: false });
      assert.match(await page.textContent('#register-intro'), new RegExp(masked(email).replace(/\*/g, '\\*')));
      const rules = await page.$$eval('#checklist li', (lis) => lis.map((li) => li.dataset.rule));
      assert.deepEqual(rules, [
        'too_short', 'too_long', 'needs_uppercase', 'needs_lowercase', 'needs_digit', 'needs_special',
        'forbidden_character', 'mismatch',
      ]);
      assert.deepEqual(await checklist(page), { ticked: [], spoken: [], disabled: true }, 'nothing typed');
      // PASSWORD is "Tanaka-Rie#2026!": after each keystroke, the rules it newly meets.
      const newlyMet = {
        1: ['needs_uppercase', 'too_long', 'forbidden_character'], // T
        3: ['needs_lowercase'], // Tan: two lowercase letters
        11: ['needs_special'], // Tanaka-Rie#: "-" and "#"
        12: ['needs_digit', 'too_short'], // Tanaka-Rie#2: a digit, 12 characters
      };
      const expected = [];
      for (let i = 1; i <= PASSWORD.length; i++) {
        await page.locator('#new-password').pressSequentially(PASSWORD[i - 1]);
        expected.push(...(newlyMet[i] ?? []));
        const shown = await checklist(page);
        assert.deepEqual(shown.ticked, [...expected].sort(), `after ${i} characters`);
        assert.equal(shown.spoken.length, expected.length);
        assert.equal(shown.disabled, true, `Continue is disabled after ${i} characters`);
      }
      await page.locator('#confirm-password').pressSequentially(PASSWORD.slice(0, -1));
      assert.equal((await checklist(page)).ticked.includes('mismatch'), false, 'one character short');
      assert.equal((await checklist(page)).disabled, true);
      await page.locator('#confirm-password').pressSequentially(PASSWORD.slice(-1));
      const all = await checklist(page);
      assert.equal(all.ticked.length, 8, 'every rule holds');
      assert.equal(all.disabled, false, 'Continue can be pressed');
      await ui.axe(`the checklist, all ticked (${ui.lang})`);
      await ui.submit('#confirm-password', '#password-continue');
      await ui.step('step-second-factor', text.twoStep);
      assert.equal((await page.textContent('#later')).trim(), text.later);
    }

    /** The relying party's /authorize URL (PKCE) and its verifier. */
    function authorizeUrl(extra = {}) {
      const { verifier, challenge } = pkce();
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: 'app',
        redirect_uri: REDIRECT,
        scope: 'openid email',
        state: 'rp-state-1',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        prompt: 'login',
        ...extra,
      });
      return { url: site.url(`/authorize?${query}`), verifier };
    }

    /** The relying party sends the browser to /authorize; it lands on the login page. */
    async function authorize(ui, extra = {}) {
      const { url, verifier } = authorizeUrl(extra);
      await ui.page.goto(url);
      const landed = new URL(ui.page.url());
      assert.equal(landed.pathname, '/ui/login');
      assert.ok(landed.searchParams.get('login_challenge'));
      await ui.step('step-password', ui.text.signIn, { focused: false });
      assert.equal(await ui.page.evaluate(() => document.activeElement?.id), 'identifier', 'focus in the e-mail field');
      assert.equal(await ui.page.getAttribute('#identifier', 'autocomplete'), 'username webauthn');
      return verifier;
    }

    async function password(ui, email) {
      await ui.page.fill('#identifier', email);
      await ui.page.fill('#password', PASSWORD);
      await ui.submit('#password', '#password-form button[type=submit]');
    }

    /** Back at the relying party: the code in the redirect, redeemed with PKCE. */
    async function redeemed(ui, verifier) {
      await ui.page.waitForURL((u) => u.href.startsWith(REDIRECT));
      const back = new URL(ui.page.url());
      assert.equal(back.searchParams.get('state'), 'rp-state-1');
      return claims((await site.redeem(back.href, verifier)).id_token);
    }

    for (const [lang, how] of [['en', 'desktop, mouse'], ['ja', 'phone in dark mode, keyboard only']]) {
      it(`scenario A (${lang}, ${how}): the mailed link, Set your password, I'll do this later, then login with e-mail + password and the mailed code; the RP gets the legacy sub`, { timeout: TIMEOUT }, async () => {
        const email = newEmail(`scenario-a-${lang}`);
        const legacy = `old-portal|${lang}-0042`;
        await importAndInvite(site, email, legacy);
        const ui = await open(lang, lang === 'ja' ? { phone: true, keyboard: true } : {});
        const { page, text } = ui;

        await setPassword(ui, await registrationMailLink(site, email), email);
        await ui.press('#later');
        await ui.step('step-done', text.completed);

        const verifier = await authorize(ui);
        await password(ui, email);
        // The first time, the chooser shows the one method: "Email on r***@example.com".
        await ui.step('step-factors', text.chooser);
        // A reload keeps the second step (the list is remembered by the tab).
        await page.reload();
        await ui.step('step-factors', text.chooser, { focused: false });
        const offered = page.locator('#factor-list button');
        assert.equal(await offered.count(), 1);
        assert.equal((await offered.textContent()).trim(), text.emailOn(masked(email)));
        const before = (await site.codes(email)).length;
        await ui.press('#factor-list button');
        await ui.step('step-code', text.checkMail);
        assert.match(await page.textContent('#code-intro'), new RegExp(masked(email).replace(/\*/g, '\\*')));
        assert.equal(await page.getAttribute('#code', 'autocomplete'), 'one-time-code');
        assert.equal(await page.isHidden('#step-code button.another'), true, 'one method: nothing else to try');
        const code = await site.waitForCode(email, before);
        await page.fill('#code', code);
        await ui.submit('#code', '#code-form button[type=submit]');

        const id = await redeemed(ui, verifier);
        assert.equal(id.sub, legacy, 'the sub of the old system');
        assert.deepEqual(id.amr, ['pwd', 'otp', 'mfa']);
      });
    }

    it('an expired link offers a new one: the resend page, the new mail, and its link works', { timeout: TIMEOUT }, async () => {
      const email = newEmail('expired');
      await importAndInvite(site, email, `old-portal|expired-${accounts}`);
      const old = await registrationMailLink(site, email);
      // Aged in the database, as the Rust tests do (a link already expired when queued
      // is never mailed, so a short TTL would race its own mail).
      const account = `(SELECT id FROM accounts WHERE email = '${email}')`;
      await site.sql(`UPDATE registration_tokens SET expires_at = 1000 WHERE account_id = ${account}`);
      await site.sql(`UPDATE account_migrations SET link_expires_at = 1000 WHERE account_id = ${account}`);

      const ui = await open('en');
      const { page, text } = ui;
      await page.goto(old);
      await ui.step('step-link', text.expired, { focused: false });
      await page.click('#link-resend');
      await page.waitForURL((u) => u.pathname === '/ui/resend');
      await ui.step('step-request', text.help, { focused: false });
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'email');
      // An empty field is refused in place, the message tied to the field.
      await page.click('#resend-form button[type=submit]');
      assert.equal(await page.getAttribute('#email', 'aria-invalid'), 'true');
      assert.match(await page.getAttribute('#email', 'aria-describedby'), /email-error/);
      await ui.axe('resend, empty field');
      await page.fill('#email', email.toUpperCase());
      await page.click('#resend-form button[type=submit]');
      await ui.step('step-sent', text.sent);
      const answer = await page.textContent('#sent-text');

      // The same answer for an address with no account.
      await page.click('#again');
      await page.fill('#email', 'nobody@example.com');
      await page.click('#resend-form button[type=submit]');
      await ui.step('step-sent', text.sent);
      assert.equal((await page.textContent('#sent-text')).replace('nobody@example.com', email.toUpperCase()), answer);

      const fresh = await registrationMailLink(site, email, 1);
      assert.notEqual(fresh, old);
      await setPassword(ui, fresh, email);
      await page.click('#later');
      await ui.step('step-done', text.completed);
      // The old link stays dead.
      await page.goto(old);
      await ui.step('step-link', text.expired, { focused: false });
    });

    it('a login switches between the authenticator app and the e-mail code with "Try another method"; wrong codes show the attempts left, then the wait', { timeout: TIMEOUT }, async () => {
      const email = newEmail('app');
      const legacy = `old-portal|app-${accounts}`;
      const username = `app.user.${accounts}`;
      await importAndInvite(site, email, legacy, { username });
      const ui = await open('en');
      const { page, text } = ui;

      // Registration with the authenticator app, set up in place.
      await setPassword(ui, await registrationMailLink(site, email), email);
      await page.click('#choice-list button[data-kind="totp"]');
      await ui.step('step-totp', 'Set up your authenticator app');
      const qr = await page.getAttribute('#totp-qr', 'src');
      assert.match(qr, /^data:image\/svg\+xml/);
      assert.equal(await page.getAttribute('#totp-qr', 'alt'), 'QR code for your authenticator app');
      const secret = (await page.textContent('#totp-secret')).replace(/\s+/g, '');
      assert.match(secret, /^[A-Z2-7]{16,}$/);
      const enrolled = timeStep();
      await page.fill('#totp-code', totp(secret, enrolled));
      await page.click('#totp-form button[type=submit]');
      await ui.step('step-done', text.completed);
      assert.match(await page.textContent('#done-text'), /Authenticator app/);

      // Signing in with the old username still works, with a nudge towards the address.
      const verifier = await authorize(ui);
      await password(ui, username);
      // Two methods: the last used (the app) starts at once.
      await ui.step('step-code', text.app);
      assert.equal(await page.isVisible('#nudge'), true);
      assert.match(await page.textContent('#nudge'), /Usernames are being retired/);
      const wrong = (code) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
      await page.fill('#code', wrong(totp(secret, timeStep())));
      await page.click('#code-form button[type=submit]');
      await page.locator('#code-error').waitFor({ state: 'visible' });
      assert.equal((await page.textContent('#code-error')).trim(), 'That code is not right. 4 attempts left.');
      assert.equal(await page.getAttribute('#code', 'aria-invalid'), 'true');
      assert.match(await page.getAttribute('#code', 'aria-describedby'), /code-error/);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'code', 'focus back in the field');
      await ui.axe('a wrong code (en)');

      // Try another method: the list, then the e-mail code.
      await page.click('#step-code button.another');
      await ui.step('step-factors', text.chooser);
      const labels = (await page.locator('#factor-list button').allTextContents()).map((l) => l.trim());
      assert.deepEqual(labels, ['Authenticator app', text.emailOn(masked(email))]);
      const before = (await site.codes(email)).length;
      await page.click('#factor-list button[data-factor="email"]');
      await ui.step('step-code', text.checkMail);
      assert.equal(await page.isHidden('#code-error'), true, 'the old error is gone');
      const mailed = await site.waitForCode(email, before);
      await page.fill('#code', wrong(mailed));
      await page.click('#code-form button[type=submit]');
      await page.locator('#code-error').waitFor({ state: 'visible' });
      assert.equal((await page.textContent('#code-error')).trim(), 'That code is not right. 4 attempts left.');

      // And back to the app, which finishes the login (a time step after the one
      // enrolment used: each step is accepted once).
      await page.click('#step-code button.another');
      await ui.step('step-factors', text.chooser);
      await page.locator('#factor-list button').first().click();
      await ui.step('step-code', text.app);
      await page.fill('#code', totp(secret, Math.max(timeStep(), enrolled + 1)));
      await page.click('#code-form button[type=submit]');
      const id = await redeemed(ui, verifier);
      assert.equal(id.sub, legacy);
      assert.deepEqual(id.amr, ['pwd', 'otp', 'mfa']);

      // The next login: wrong app codes until the factor is throttled; the page says how
      // long to wait and the e-mail code still finishes the login.
      const again = await authorize(ui);
      await password(ui, email);
      await ui.step('step-code', text.app);
      assert.equal(await page.isVisible('#nudge'), false, 'signed in with the address: no nudge');
      let lefts = [];
      for (let i = 0; i < 6; i++) {
        await page.fill('#code', wrong(totp(secret, timeStep())));
        await page.click('#code-form button[type=submit]');
        await page.waitForFunction(() => !document.getElementById('code-error').hidden || document.getElementById('alert').textContent);
        const alert = (await page.textContent('#alert')).trim();
        if (alert) {
          assert.match(alert, /^Too many wrong codes\. Try again in \d+ (minutes|seconds), or use another method\.$/);
          break;
        }
        lefts.push(Number(/(\d+) attempts? left/.exec(await page.textContent('#code-error'))?.[1]));
      }
      assert.ok(lefts.length >= 1 && lefts.every((n, i) => i === 0 || n === lefts[i - 1] - 1), `attempts left ${lefts}`);
      await ui.axe('a throttled factor (en)');
      await page.click('#step-code button.another');
      await ui.step('step-factors', text.chooser);
      const sent = (await site.codes(email)).length;
      await page.click('#factor-list button[data-factor="email"]');
      await ui.step('step-code', text.checkMail);
      await page.fill('#code', await site.waitForCode(email, sent));
      await page.click('#code-form button[type=submit]');
      assert.equal((await redeemed(ui, again)).sub, legacy);
    });

    for (const lang of ['en', 'ja']) {
      it(`the other pages (${lang}): logout confirmation, e-mail undo, landing page, an ended login; language from ui_locales and the switcher`, { timeout: TIMEOUT }, async () => {
        if (!site.clients?.portal) {
          const out = await site.cli(
            'clients', 'add', '--id', 'portal', '--name', 'Support Portal', '--redirect-uri', REDIRECT,
            '--post-logout-redirect-uri', SIGNED_OUT, '--scope', 'openid',
          );
          site.clients = { ...site.clients, portal: JSON.parse(out).client_secret };
        }
        const ui = await open(lang);
        const { page } = ui;

        // The landing page, where / leads.
        await page.goto(site.url('/'));
        assert.equal(new URL(page.url()).pathname, '/ui/');
        await ui.step('step-home', undefined, { focused: false });
        assert.equal(await page.getAttribute('a.button', 'href'), '/ui/settings');

        // Logout without an id_token_hint: the confirmation; not signed in here.
        await page.goto(site.url(`/end_session?client_id=portal&post_logout_redirect_uri=${encodeURIComponent(SIGNED_OUT)}&state=bye`));
        assert.equal(new URL(page.url()).pathname, '/ui/logout');
        await ui.step('step-signed-out', undefined, { focused: false });
        assert.match(await page.textContent('#return'), /Support Portal/);
        await page.click('#return');
        await page.waitForURL((u) => u.href.startsWith(SIGNED_OUT));
        assert.equal(new URL(page.url()).searchParams.get('state'), 'bye');

        // The e-mail undo link: nothing happens before the press; a bad token says so.
        await page.goto(site.url('/ui/email-undo?token=not-a-real-token'));
        await ui.step('step-confirm', undefined, { focused: false });
        await page.click('#restore');
        await ui.step('step-invalid');

        // A login started in another browser cannot be finished in this one.
        const elsewhere = await open(lang);
        await elsewhere.page.goto(authorizeUrl().url);
        const started = elsewhere.page.url();
        assert.match(started, /\/ui\/login\?login_challenge=/);
        await page.goto(started);
        await ui.step('step-ended');
        assert.match(await page.textContent('#ended-text'), lang === 'en' ? /started in another browser/ : /別のブラウザー/);

        // A login page whose request is unknown: the login cannot continue.
        await page.goto(site.url('/ui/login?login_challenge=unknown'));
        await ui.step('step-ended');

        // The switcher: the other language, remembered by this browser.
        const other = lang === 'en' ? 'ja' : 'en';
        await page.click(`#languages button[lang="${other}"]`);
        assert.equal(await page.getAttribute('html', 'lang'), other);
        assert.equal(await page.getAttribute(`#languages button[lang="${other}"]`, 'aria-pressed'), 'true');
        await page.reload();
        await page.locator('#step-ended').waitFor({ state: 'visible' });
        assert.equal(await page.getAttribute('html', 'lang'), other);
      });
    }

    it('a security key set up at registration (named) is where the next login starts', { timeout: TIMEOUT }, async () => {
      const email = newEmail('key');
      const legacy = `old-portal|key-${accounts}`;
      await importAndInvite(site, email, legacy);
      const ui = await open('en', { authenticator: AUTHENTICATORS.securityKey });
      const { page, text } = ui;
      await setPassword(ui, await registrationMailLink(site, email), email);
      assert.equal(await page.locator('#choice-list button[data-kind="platform"]').count(), 0, 'no biometric key on this device');
      await page.click('#choice-list button[data-kind="security_key"]');
      await ui.step('step-webauthn', 'Add your security key');
      await page.fill('#factor-name', 'YubiKey 5C');
      await page.click('#webauthn-form button[type=submit]');
      await ui.step('step-done', text.completed);
      assert.match(await page.textContent('#done-text'), /Security key/);

      const verifier = await authorize(ui);
      await password(ui, email);
      // The key is the default: its prompt comes at once, and the virtual key answers.
      const id = await redeemed(ui, verifier);
      assert.equal(id.sub, legacy);
      assert.deepEqual(id.amr, ['pwd', 'hwk', 'mfa']);
    });

    it('a passkey set up at registration signs in from the identifier field\'s autofill, without a password', { timeout: TIMEOUT }, async () => {
      const email = newEmail('passkey');
      const legacy = `old-portal|passkey-${accounts}`;
      await importAndInvite(site, email, legacy);
      const ui = await open('en', { authenticator: AUTHENTICATORS.securityKeyWithPin });
      const { page, text } = ui;
      // Headless Chromium answers false to isConditionalMediationAvailable() while the
      // virtual authenticator runs without browser UI, yet serves conditional requests
      // (see webauthn.test.mjs): say true, as a browser with its UI does.
      await page.addInitScript(() => {
        PublicKeyCredential.isConditionalMediationAvailable = async () => true;
      });
      await setPassword(ui, await registrationMailLink(site, email), email);
      await page.click('#choice-list button[data-kind="passkey"]');
      await ui.step('step-webauthn', 'Create a passkey');
      await page.click('#webauthn-form button[type=submit]');
      await ui.step('step-done', text.completed);

      // Nothing typed: the identifier field has the focus, the autofill request runs,
      // and the passkey picked from it finishes the login (at once: the virtual
      // authenticator picks without waiting for a user).
      const { url, verifier } = authorizeUrl();
      await page.goto(url);
      const id = await redeemed(ui, verifier);
      assert.equal(id.sub, legacy);
      assert.deepEqual(id.amr, ['hwk', 'user', 'mfa']);
    });

    it('push approval set up at registration by the reference phone; a login shows the number, a denial, then an approval', { timeout: TIMEOUT }, async () => {
      const email = newEmail('push');
      const legacy = `old-portal|push-${accounts}`;
      await importAndInvite(site, email, legacy);
      const ui = await open('en');
      const { page, text } = ui;
      const phone = ['--key-file', join(site.dir, `phone-${accounts}.pem`)];
      await setPassword(ui, await registrationMailLink(site, email), email);
      await page.click('#choice-list button[data-kind="push"]');
      await ui.step('step-push', 'Set up push notifications');
      assert.match(await page.getAttribute('#push-qr', 'src'), /^data:image\/svg\+xml/);
      // The phone scans the QR code (the same URI as the page's link for a phone).
      const uri = await page.getAttribute('#push-link', 'href');
      assert.match(uri, /^gatehouse-push:\/\/enroll\?/);
      await site.cli('push-device', 'enroll', uri, '--name', 'Pixel 8', ...phone);
      // The page notices by itself (it polls) and completes.
      await ui.step('step-done', text.completed, { focused: true });
      assert.match(await page.textContent('#done-text'), /Push notification/);

      const verifier = await authorize(ui);
      await password(ui, email);
      await ui.step('step-push', 'Approve on your phone');
      const number = Number(await page.textContent('#push-number'));
      assert.match(await page.textContent('#status'), /Waiting for your phone/);
      const pending = async () => {
        for (let i = 0; i < 50; i++) {
          const { challenges } = JSON.parse(await site.cli('push-device', 'pending', ...phone));
          if (challenges.length) return challenges[0];
          await new Promise((ok) => setTimeout(ok, 200));
        }
        throw new Error('no push reached the phone');
      };
      const first = await pending();
      assert.ok(first.candidates.includes(number), 'the number shown is among the phone\'s candidates');
      await site.cli('push-device', 'deny', first.id, ...phone);
      await page.locator('#push-retry').waitFor({ state: 'visible' });
      assert.equal((await page.textContent('#alert')).trim(), 'The sign-in was denied on your phone.');
      await ui.axe('push denied (en)');

      await page.click('#push-retry');
      await ui.step('step-push', 'Approve on your phone');
      const second = await pending();
      const shown = Number(await page.textContent('#push-number'));
      await site.cli('push-device', 'approve', second.id, '--number', String(shown), ...phone);
      const id = await redeemed(ui, verifier);
      assert.equal(id.sub, legacy);
      assert.deepEqual(id.amr, ['pwd', 'swk', 'mfa']);
    });

    /** A registered account ("I'll do this later") signed in with the mailed code,
     * up to the answer of the last step. */
    async function signInWithMailedCode(ui, email, { atChoices = async () => {} } = {}) {
      const { page, text } = ui;
      await setPassword(ui, await registrationMailLink(site, email), email);
      await atChoices();
      await page.click('#later');
      await ui.step('step-done', text.completed);
      const verifier = await authorize(ui);
      await password(ui, email);
      await ui.step('step-factors', text.chooser);
      const before = (await site.codes(email)).length;
      await page.click('#factor-list button');
      await ui.step('step-code', text.checkMail);
      await page.fill('#code', await site.waitForCode(email, before));
      await page.click('#code-form button[type=submit]');
      return verifier;
    }

    it('on a device with a biometric authenticator, a login without a biometric key offers one: Not now goes back to the application', { timeout: TIMEOUT }, async () => {
      const email = newEmail('offer');
      await importAndInvite(site, email, `old-portal|offer-${accounts}`);
      const ui = await open('en', { authenticator: AUTHENTICATORS.platform });
      const { page } = ui;
      const verifier = await signInWithMailedCode(ui, email, {
        atChoices: async () => {
          assert.equal(await page.locator('#choice-list button[data-kind="platform"]').count(), 1, 'this device has one');
        },
      });
      await ui.step('step-done', 'Add a biometric key?');
      assert.equal((await page.textContent('#done-add')).trim(), 'Add');
      await page.click('#done-continue');
      const id = await redeemed(ui, verifier);
      assert.deepEqual(id.amr, ['pwd', 'otp', 'mfa']);
    });

    for (const lang of ['en', 'ja']) {
      it(`the offer after a login adds the biometric key (${lang}): Add, the device's prompt, back to the application; the next login signs in with it alone`, { timeout: TIMEOUT }, async () => {
        const email = newEmail(`add-${lang}`);
        await importAndInvite(site, email, `old-portal|add-${lang}-${accounts}`);
        const ui = await open(lang, { authenticator: AUTHENTICATORS.platform, phone: lang === 'ja' });
        const { page } = ui;
        const verifier = await signInWithMailedCode(ui, email);
        await ui.step('step-done', lang === 'en' ? 'Add a biometric key?' : '生体認証キーを追加しますか?');
        await page.click('#done-add');
        const id = await redeemed(ui, verifier);
        assert.deepEqual(id.amr, ['pwd', 'otp', 'mfa']);
        // The owner is told, as for any method added.
        await site.waitForMail(email, (m) => /sign-in method was added|サインイン方法が追加されました/.test(m.subject));

        // The next login signs in with the biometric key from the identifier field's
        // autofill (a discoverable credential; the virtual authenticator verifies the
        // user and picks at once), no password, and, the key being there, offers nothing.
        const next = authorizeUrl();
        await page.goto(next.url);
        const back = await redeemed(ui, next.verifier);
        assert.ok(back.amr.includes('user') && back.amr.includes('mfa'), back.amr.join(' '));
        assert.ok(!back.amr.includes('pwd') && !back.amr.includes('otp'), back.amr.join(' '));
      });
    }

    it('a third-party application asks for consent: the scopes ticked, one cleared, Allow; the next login denies, and the application hears access_denied', { timeout: TIMEOUT }, async () => {
      await site.addThirdPartyClient('partner', ['openid', 'email', 'profile']);
      const email = newEmail('consent');
      await importAndInvite(site, email, `old-portal|consent-${accounts}`);
      const ui = await open('en');
      const { page } = ui;
      await setPassword(ui, await registrationMailLink(site, email), email);
      await page.click('#later');
      await ui.step('step-done', ui.text.completed);
      const consentLogin = async () => {
        const { url, verifier } = authorizeUrl({ client_id: 'partner', scope: 'openid email profile' });
        await page.goto(url);
        await ui.step('step-password', ui.text.signIn, { focused: false });
        await password(ui, email);
        await ui.step('step-factors', ui.text.chooser);
        const before = (await site.codes(email)).length;
        await page.click('#factor-list button');
        await ui.step('step-code', ui.text.checkMail);
        await page.fill('#code', await site.waitForCode(email, before));
        await page.click('#code-form button[type=submit]');
        await ui.step('step-consent', 'Allow access?');
        return verifier;
      };

      const verifier = await consentLogin();
      assert.match(await page.textContent('#consent-text'), /partner asks to use your account/);
      const boxes = page.locator('#consent-scopes input[type=checkbox]');
      assert.deepEqual(await boxes.evaluateAll((all) => all.map((b) => [b.value, b.checked, b.disabled])), [
        ['openid', true, true],
        ['email', true, false],
        ['profile', true, false],
      ]);
      assert.equal((await page.textContent('label[for="consent-profile"]')).trim(), 'Your name, language and time zone');
      await ui.axe('the consent step (en)');
      await page.uncheck('#consent-profile');
      await page.click('#consent-form button[type=submit]');
      await page.waitForURL((u) => u.href.startsWith(REDIRECT));
      const tokens = await site.redeem(page.url(), verifier, 'partner');
      assert.deepEqual(tokens.scope.split(' ').sort(), ['email', 'openid']);
      assert.equal(tokens.refresh_token, undefined, 'no offline_access, no refresh token');

      // The settings page (signed in by the same browser's session) lists the
      // application with what it may see; Remove access ends the grant.
      await page.goto(site.url('/ui/settings'));
      await page.locator('#step-settings').waitFor({ state: 'visible' });
      const app = page.locator('#app-list li[data-client="partner"]');
      await app.waitFor();
      assert.match(await app.textContent(), /partner/);
      assert.match(await app.textContent(), /Your e-mail address/);
      assert.doesNotMatch(await app.textContent(), /Your name, language and time zone/);
      await ui.axe('the settings page\'s apps (en)');
      await app.locator('button').click();
      await page.locator('#apps-status', { hasText: 'partner no longer has access.' }).waitFor();
      assert.match(await page.textContent('#app-list'), /No application has access/);
      await page.locator('#event-list li[data-event="consent_revoked"]').first().waitFor();

      // Nothing is granted now: the next login asks again; Deny.
      await consentLogin();
      await page.click('#consent-deny');
      await page.waitForURL((u) => u.href.startsWith(REDIRECT));
      const back = new URL(page.url());
      assert.equal(back.searchParams.get('error'), 'access_denied');
      assert.equal(back.searchParams.get('state'), 'rp-state-1');
      assert.equal(back.searchParams.get('code'), null);
    });

    it('an expired login leads back to the application: the client hears access_denied with its state', { timeout: TIMEOUT }, async () => {
      const ui = await open('en');
      const { page } = ui;
      await page.goto(authorizeUrl().url);
      await ui.step('step-password', ui.text.signIn, { focused: false });
      const challenge = new URL(page.url()).searchParams.get('login_challenge');
      // Aged in the database, as the Rust tests move the clock.
      await site.sql(`UPDATE login_requests SET expires_at = 1000 WHERE id = '${challenge.replace(/'/g, "''")}'`);
      await page.fill('#identifier', 'nobody@example.com');
      await page.fill('#password', PASSWORD);
      await page.click('#password-form button[type=submit]');
      await ui.step('step-ended', 'This sign-in cannot continue');
      assert.match(await page.textContent('#ended-text'), /expired/);
      assert.equal((await page.textContent('#ended-return')).trim(), 'Back to the application');
      await page.click('#ended-return');
      await page.waitForURL((u) => u.href.startsWith(REDIRECT));
      const back = new URL(page.url());
      assert.equal(back.searchParams.get('error'), 'access_denied');
      assert.equal(back.searchParams.get('state'), 'rp-state-1');
      assert.equal(back.searchParams.get('iss'), site.url('').replace(/\/$/, ''));
      assert.equal(back.searchParams.get('code'), null);
    });

    it('the login page follows the application\'s ui_locales over the browser\'s languages', { timeout: TIMEOUT }, async () => {
      const ui = await open('en');
      const query = new URLSearchParams({
        response_type: 'code', client_id: 'app', redirect_uri: REDIRECT, scope: 'openid',
        code_challenge: pkce().challenge, code_challenge_method: 'S256', ui_locales: 'ja en',
      });
      await ui.page.goto(site.url(`/authorize?${query}`));
      await ui.page.locator('#step-password').waitFor({ state: 'visible' });
      assert.equal(await ui.page.getAttribute('html', 'lang'), 'ja');
      assert.equal((await ui.page.textContent('#step-password h1')).trim(), TEXT.ja.signIn);
      assert.equal(await ui.page.title(), TEXT.ja.signIn);
    });
  });
}
