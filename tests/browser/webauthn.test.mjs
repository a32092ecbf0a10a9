// Every WebAuthn ceremony of Gatehouse in a real browser: headless Chromium (Debian's
// package) with the DevTools protocol's virtual authenticator, the page on the
// server's own origin, on SQLite and on PostgreSQL.
//
// The soft authenticators of the Rust suite sign what they are handed; Chromium also
// enforces what a browser does (option sets it refuses, origins, the RP ID, focus,
// the toJSON() form webauthn-rs must read). A security-key option set Chromium
// refused (credProtect with userVerification "preferred") once passed the soft tests.

import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';

import { AUTHENTICATORS, Browser } from './lib/browser.mjs';
import { ACCOUNT_SCOPE, PASSWORD, Site, backends, claims } from './lib/gatehouse.mjs';

const PHR = 'phr';
const TIMEOUT = 90_000;

let accounts = 0;
/** A fresh address per test: tests share a server. */
const newEmail = (name) => `${name}-${++accounts}@example.com`;

function amr(tokens) {
  return claims(tokens.id_token).amr;
}

/** An imported account that re-registers through its mailed link with a password and
 * "later" (the e-mail code): active, with no WebAuthn factor yet. */
async function registeredAccount(site, tab, name) {
  const email = newEmail(name);
  const token = await site.invite(email);
  const link = await registrationLink(tab, token);
  await link.step('/password', { password: PASSWORD, password_confirmation: PASSWORD }, 200);
  const done = await link.step('/complete', { second_factor: 'later' }, 200);
  assert.equal(done.status, 'registered');
  return email;
}

/** The registration UI's calls for the mailed link's `token`, made from the page. */
async function registrationLink(tab, token) {
  await tab.page.goto(tab.site.url(`/healthz?token=${token}`));
  const at = `/api/v1/registration/${token}`;
  return {
    async step(path, body, status) {
      const res = await tab.call('POST', `${at}${path}`, body);
      assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async view() {
      return (await tab.call('GET', at)).body;
    },
  };
}

/** The account API as the product's UI calls it, with a bearer token of the first-party
 * client carrying the account scope (from a login with the mailed code). */
async function accountApi(tab, email) {
  const tokens = await tab.signInWithEmailCode(email, { scope: ACCOUNT_SCOPE });
  const token = tokens.access_token;
  return {
    token,
    async call(method, path, body, status) {
      const res = await tab.call(method, `/api/v1/account${path}`, body, token);
      assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
      return res.body;
    },
  };
}

/** Adds a WebAuthn factor of `kind` through the account API, the browser creating the
 * credential; the active factor. */
async function enrolThroughAccountApi(tab, api, kind, name) {
  const started = await api.call('POST', '/factors', { kind }, 201);
  assert.equal(started.factor.status, 'pending');
  assert.equal(started.setup.binary_encoding, 'base64url');
  const options = started.setup.public_key;
  assert.equal(options.publicKey.rp.id, 'localhost');
  const credential = await tab.create(options);
  assert.equal(credential.type, 'public-key');
  const confirmed = await api.call('POST', `/factors/${started.factor.id}/confirm`, { kind, credential, name }, 200);
  assert.equal(confirmed.status, 'active');
  assert.equal(confirmed.kind, kind);
  assert.equal(confirmed.label, name);
  return { factor: confirmed, options, credential };
}

/** A login with the password, then the WebAuthn factor `factorId`, in the browser. */
async function secondFactorLogin(tab, email, factorId) {
  const login = await tab.authorize({ extra: { prompt: 'login' } });
  const offered = await login.password(email);
  assert.ok(offered.factors.some((f) => f.id === factorId), JSON.stringify(offered));
  const challenge = await login.step(`factors/${factorId}/challenge`, {}, 200);
  assert.equal(challenge.binary_encoding, 'base64url');
  const assertion = await tab.get(challenge.public_key);
  return { login, challenge, assertion };
}

/** A tiny web server on another port of localhost: an origin the server does not allow
 * (allow_any_port = false), where a phishing page would run. */
async function otherOrigin() {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Not Gatehouse</title><p>Sign in</p>');
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { origin: `http://localhost:${port}`, close: () => new Promise((ok) => server.close(ok)) };
}

for (const backend of backends()) {
  describe(`WebAuthn in headless Chromium on ${backend.name}`, { skip: backend.skip, timeout: 600_000 }, () => {
    let site;
    let browser;

    before(async () => {
      browser = await Browser.launch();
      site = await Site.start(backend);
      await site.addClient('app');
    });

    afterEach(async () => {
      await browser?.closeTabs();
    });

    after(async () => {
      await browser?.close();
      // What the server warned about, for whoever reads a failed run.
      for (const line of site?.log ?? []) {
        if (/"level":"(WARN|ERROR)"/.test(line)) console.error(`[gatehouse on ${backend.name}] ${line}`);
      }
      await site?.stop();
    });

    for (const [label, authenticator, verifiesUser] of [
      ['ctap2 usb, no resident key, no user verification', AUTHENTICATORS.securityKey, false],
      ['ctap2 usb, resident keys and a PIN', AUTHENTICATORS.securityKeyWithPin, true],
      ['u2f usb', AUTHENTICATORS.u2fKey, false],
    ]) {
      it(`a security key (${label}) is added through the account API and proves the second factor`, { timeout: TIMEOUT }, async () => {
        const tab = await browser.tab(site, authenticator);
        const email = await registeredAccount(site, tab, 'key');
        const api = await accountApi(tab, email);
        const { factor, options, credential } = await enrolThroughAccountApi(tab, api, 'security_key', 'YubiKey');
        // The option set Chromium refused before: no credProtect request.
        assert.equal(options.publicKey.extensions?.credentialProtectionPolicy, undefined);
        assert.equal(options.publicKey.authenticatorSelection.authenticatorAttachment, 'cross-platform');
        assert.equal(credential.authenticatorAttachment, 'cross-platform');
        assert.deepEqual(credential.response.transports, ['usb']);

        const { login, challenge, assertion } = await secondFactorLogin(tab, email, factor.id);
        assert.deepEqual(
          challenge.public_key.publicKey.allowCredentials.map((c) => c.id),
          [credential.id],
        );
        assert.equal(assertion.id, credential.id);
        const done = await login.step(`factors/${factor.id}/verify`, { kind: factor.kind, credential: assertion }, 200);
        assert.equal(done.next, 'done');
        assert.equal(done.offer_platform_enrolment, true, 'no biometric key yet');
        const id = claims((await login.tokens(done)).id_token);
        assert.deepEqual(id.amr, verifiesUser ? ['pwd', 'hwk', 'user', 'mfa'] : ['pwd', 'hwk', 'mfa']);
        assert.equal(id.acr, PHR);

        // The next enrolment excludes it: the same authenticator cannot register twice.
        const again = await api.call('POST', '/factors', { kind: 'security_key' }, 201);
        assert.deepEqual(again.setup.public_key.publicKey.excludeCredentials.map((c) => c.id), [credential.id]);
        await assert.rejects(tab.create(again.setup.public_key), /InvalidStateError/);
      });
    }

    it('a security key set up through the mailed registration link proves the second factor', { timeout: TIMEOUT }, async () => {
      const tab = await browser.tab(site, AUTHENTICATORS.securityKey);
      const email = newEmail('link');
      const token = await site.invite(email);
      const link = await registrationLink(tab, token);
      assert.equal((await link.view()).status, 'valid');
      const step = await link.step('/password', { password: PASSWORD, password_confirmation: PASSWORD }, 200);
      assert.ok(step.choices.includes('security_key'), JSON.stringify(step));
      const started = await link.step('/factors', { kind: 'security_key' }, 201);
      const credential = await tab.create(started.setup.public_key);
      const confirmed = await link.step(`/factors/${started.factor.id}/confirm`, { kind: 'security_key', credential, name: 'Key' }, 200);
      assert.equal(confirmed.status, 'active');
      const done = await link.step('/complete', { second_factor: 'security_key' }, 200);
      assert.equal(done.status, 'registered');

      const { login, assertion } = await secondFactorLogin(tab, email, started.factor.id);
      const finished = await login.step(`factors/${started.factor.id}/verify`, { kind: started.factor.kind, credential: assertion }, 200);
      const id = claims((await login.tokens(finished)).id_token);
      assert.deepEqual(id.amr, ['pwd', 'hwk', 'mfa']);
      assert.equal(id.acr, PHR);
    });

    it('a passkey is added and signs in without a password through conditional mediation', { timeout: TIMEOUT }, async (t) => {
      const tab = await browser.tab(site, AUTHENTICATORS.securityKeyWithPin);
      const email = await registeredAccount(site, tab, 'passkey');
      const api = await accountApi(tab, email);
      const { options, credential } = await enrolThroughAccountApi(tab, api, 'passkey', 'My passkey');
      assert.equal(options.publicKey.authenticatorSelection.residentKey, 'required');
      assert.equal(options.publicKey.authenticatorSelection.userVerification, 'required');
      const held = await tab.credentials();
      assert.equal(held.length, 1);
      assert.equal(held[0].isResidentCredential, true, 'a discoverable credential');

      // The next visit: nothing typed yet; the identifier field offers the passkey.
      await tab.context.clearCookies();
      const login = await tab.authorize({ scope: 'openid email' });
      const view = await login.view();
      assert.equal(view.next, 'password');
      assert.equal(view.passkey_sign_in, true);
      // Chromium 156 answers false here while the virtual authenticator runs without
      // browser UI (WebAuthn.enable enableUI: false, as a headless run must: with the UI
      // on, ceremonies wait for clicks), yet it runs the conditional request against
      // the virtual authenticator, which answers as the user's pick from the
      // identifier field's suggestions would.
      const available = await tab.run(() => PublicKeyCredential.isConditionalMediationAvailable());
      t.diagnostic(`isConditionalMediationAvailable() = ${available}`);
      const challenge = await login.step('passkey/challenge', {}, 200);
      assert.equal(challenge.public_key.mediation, 'conditional');
      assert.equal(challenge.public_key.publicKey.userVerification, 'required');
      assert.ok(!challenge.public_key.publicKey.allowCredentials?.length, 'no credential is named');
      // The login form's identifier field, as the UI renders it for autofill.
      await tab.run(() => {
        document.body.innerHTML = '<form><input name="identifier" autocomplete="username webauthn" autofocus></form>';
        document.querySelector('input').focus();
      });
      const assertion = await tab.get(challenge.public_key);
      assert.equal(assertion.id, credential.id);
      assert.ok(assertion.response.userHandle, 'the authenticator names the account');
      const done = await login.step('passkey/verify', { credential: assertion }, 200);
      assert.equal(done.next, 'done');
      const cookies = await tab.context.cookies();
      assert.ok(cookies.some((c) => c.name === 'gatehouse_session'), 'a session cookie');
      const id = claims((await login.tokens(done)).id_token);
      assert.deepEqual(id.amr, ['hwk', 'user', 'mfa']);
      assert.equal(id.acr, PHR);
      assert.equal(id.email.toLowerCase(), email);
    });

    it('a platform (biometric) key is offered, added, proves the second factor and signs in alone', { timeout: TIMEOUT }, async () => {
      const tab = await browser.tab(site, AUTHENTICATORS.platform);
      const email = await registeredAccount(site, tab, 'platform');
      const api = await accountApi(tab, email);
      const listed = await api.call('GET', '/factors', undefined, 200);
      assert.ok(JSON.stringify(listed).includes('platform'), JSON.stringify(listed));
      const { factor, options, credential } = await enrolThroughAccountApi(tab, api, 'platform', 'This laptop');
      assert.equal(options.publicKey.authenticatorSelection.authenticatorAttachment, 'platform');
      assert.equal(options.publicKey.authenticatorSelection.userVerification, 'required');
      assert.equal(credential.authenticatorAttachment, 'platform');
      assert.deepEqual(credential.response.transports, ['internal']);

      const { login, assertion } = await secondFactorLogin(tab, email, factor.id);
      assert.equal(assertion.authenticatorAttachment, 'platform');
      const done = await login.step(`factors/${factor.id}/verify`, { kind: factor.kind, credential: assertion }, 200);
      assert.equal(done.offer_platform_enrolment, false, 'it has one now');
      assert.deepEqual(amr(await login.tokens(done)), ['pwd', 'hwk', 'user', 'mfa']);

      // And alone, without the password (a modal request this time).
      const alone = await tab.authorize({ extra: { prompt: 'login' } });
      const challenge = await alone.step('passkey/challenge', {}, 200);
      const modal = { ...challenge.public_key, mediation: undefined };
      const signed = await tab.get(modal);
      const finished = await alone.step('passkey/verify', { credential: signed }, 200);
      assert.deepEqual(amr(await alone.tokens(finished)), ['hwk', 'user', 'mfa']);
    });

    it('an assertion whose signature counter went backwards is refused and audited', { timeout: TIMEOUT }, async () => {
      const tab = await browser.tab(site, AUTHENTICATORS.securityKey);
      const email = await registeredAccount(site, tab, 'counter');
      const api = await accountApi(tab, email);
      const { factor } = await enrolThroughAccountApi(tab, api, 'security_key', 'Key');
      const first = await secondFactorLogin(tab, email, factor.id);
      await first.login.step(`factors/${factor.id}/verify`, { kind: factor.kind, credential: first.assertion }, 200);
      const [held] = await tab.credentials();
      assert.ok(held.signCount >= 2, `counter ${held.signCount}`);

      // A clone of the key as it was before: the same private key, a lower counter.
      await tab.replaceCredential({ ...held, signCount: 0 });
      const second = await secondFactorLogin(tab, email, factor.id);
      const signed = Buffer.from(second.assertion.response.authenticatorData, 'base64url').readUInt32BE(33);
      assert.ok(signed < held.signCount, `signed ${signed}, stored ${held.signCount}`);
      const refused = await second.login.step(`factors/${factor.id}/verify`, { kind: factor.kind, credential: second.assertion });
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.equal(refused.body.code, 'webauthn_counter_regression');

      // The login itself is still good: the e-mail code finishes it.
      const before = (await site.codes(email)).length;
      await second.login.step('factors/email/challenge', {}, 200);
      const code = await site.waitForCode(email, before);
      const done = await second.login.step('factors/email/verify', { kind: 'email_otp', code }, 200);
      const fresh = await second.login.tokens(done);
      assert.deepEqual(claims(fresh.id_token).amr, ['pwd', 'otp', 'mfa']);
      const trail = await api.call('GET', '/events?limit=50', undefined, 200);
      assert.ok(JSON.stringify(trail).includes('webauthn_counter_regression'), JSON.stringify(trail));
    });

    it('an assertion made on another origin is refused', { timeout: TIMEOUT }, async () => {
      const phishing = await otherOrigin();
      try {
        const tab = await browser.tab(site, AUTHENTICATORS.securityKey);
        const email = await registeredAccount(site, tab, 'origin');
        const api = await accountApi(tab, email);
        const { factor } = await enrolThroughAccountApi(tab, api, 'security_key', 'Key');

        // The phishing site relays the real login's challenge and has the user's key
        // sign it on its own page: another port of localhost, a valid RP ID there.
        const login = await tab.authorize({ extra: { prompt: 'login' } });
        await login.password(email);
        const challenge = await login.step(`factors/${factor.id}/challenge`, {}, 200);
        await tab.page.goto(`${phishing.origin}/`);
        const assertion = await tab.get(challenge.public_key);
        const clientData = JSON.parse(Buffer.from(assertion.response.clientDataJSON, 'base64url'));
        assert.equal(clientData.origin, phishing.origin);

        // Relayed to the server, it is refused.
        await tab.page.goto(site.url('/healthz'));
        const refused = await login.step(`factors/${factor.id}/verify`, { kind: factor.kind, credential: assertion });
        assert.equal(refused.status, 422, JSON.stringify(refused.body));
        assert.equal(refused.body.code, 'webauthn_invalid');
        assert.match(refused.body.detail, /origin/i, 'refused for its origin');

        // The same key on the right origin finishes the same login.
        const again = await login.step(`factors/${factor.id}/challenge`, {}, 200);
        const good = await tab.get(again.public_key);
        const done = await login.step(`factors/${factor.id}/verify`, { kind: factor.kind, credential: good }, 200);
        assert.equal(done.next, 'done');
      } finally {
        await phishing.close();
      }
    });

    it('a credential created on another origin is refused at enrolment', { timeout: TIMEOUT }, async () => {
      const phishing = await otherOrigin();
      try {
        const tab = await browser.tab(site, AUTHENTICATORS.securityKey);
        const email = await registeredAccount(site, tab, 'origin-enrol');
        const api = await accountApi(tab, email);
        const started = await api.call('POST', '/factors', { kind: 'security_key' }, 201);
        await tab.page.goto(`${phishing.origin}/`);
        const credential = await tab.create(started.setup.public_key);
        await tab.page.goto(site.url('/healthz'));
        const refused = await tab.call('POST', `/api/v1/account/factors/${started.factor.id}/confirm`,
          { kind: 'security_key', credential, name: 'Key' }, api.token);
        assert.equal(refused.status, 422, JSON.stringify(refused.body));
        assert.equal(refused.body.code, 'webauthn_invalid');
        assert.match(refused.body.detail, /origin/i, 'refused for its origin');
        const listed = await api.call('GET', '/factors', undefined, 200);
        assert.ok(!listed.factors.some((f) => f.kind === 'security_key' && f.status === 'active'), JSON.stringify(listed));
      } finally {
        await phishing.close();
      }
    });
  });
}
