// Debian's Chromium, headless, driven by playwright-core (never a downloaded browser),
// with the DevTools protocol's virtual authenticator standing in for a security key,
// a passkey provider or the device's own (platform) authenticator.
//
// Every ceremony runs in the page as a frontend runs it: fetch the server's options,
// `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`,
// `navigator.credentials.create` / `get`, and the answer's `toJSON()` back to the API.

import { chromium } from 'playwright-core';

import { ACCOUNT_SCOPE, PASSWORD, REDIRECT, pkce } from './gatehouse.mjs';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

// The flags this machine's closed network needs (no background connections at all).
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Authenticators as the virtual authenticator models them. */
export const AUTHENTICATORS = {
  /** A plain FIDO2 security key: no resident keys, no PIN. */
  securityKey: { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: false },
  /** An older U2F (CTAP1) security key. */
  u2fKey: { protocol: 'u2f', transport: 'usb', hasResidentKey: false, hasUserVerification: false },
  /** A FIDO2 security key with a PIN set: resident keys and user verification. */
  securityKeyWithPin: {
    protocol: 'ctap2', transport: 'usb', hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
  },
  /** The device's own authenticator (Touch ID, Windows Hello): a platform passkey. */
  platform: {
    protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
  },
};

/** The page-side "frontend": what a login UI's script does, nothing more. */
function frontend() {
  const call = async (method, path, body, token) => {
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'include',
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, body: json };
  };
  window.frontend = {
    call,
    /** navigator.credentials.create with the server's `public_key`; the answer's toJSON(). */
    async create(options) {
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey);
      const credential = await navigator.credentials.create({ publicKey });
      return credential.toJSON();
    },
    /** navigator.credentials.get with the server's `public_key` (and its mediation). */
    async get(options) {
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
      const request = { publicKey };
      if (options.mediation) request.mediation = options.mediation;
      const credential = await navigator.credentials.get(request);
      return credential.toJSON();
    },
  };
}

export class Browser {
  /** Launches Chromium headless. playwright-core gives it a new empty profile
   * (`--user-data-dir` in a temp dir of its own), removed when it closes. */
  static async launch() {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    return new Browser(browser);
  }

  constructor(browser) {
    this.browser = browser;
    this.contexts = [];
  }

  /** A new tab in a fresh browser profile (no cookies) on `site`, with `authenticator`. */
  async tab(site, authenticator) {
    const context = await this.browser.newContext();
    this.contexts.push(context);
    await context.addInitScript(frontend);
    const page = await context.newPage();
    await page.goto(site.url('/healthz'));
    const tab = new Tab(site, context, page);
    if (authenticator) await tab.addAuthenticator(authenticator);
    return tab;
  }

  /** Closes the tabs opened so far (each test's own browser profile). */
  async closeTabs() {
    const open = this.contexts.splice(0);
    await Promise.all(open.map((c) => c.close()));
  }

  async close() {
    await this.browser.close();
  }
}

export class Tab {
  constructor(site, context, page) {
    this.site = site;
    this.context = context;
    this.page = page;
  }

  async cdp() {
    this.session ??= await this.context.newCDPSession(this.page);
    return this.session;
  }

  async addAuthenticator(options) {
    const cdp = await this.cdp();
    await cdp.send('WebAuthn.enable', { enableUI: false });
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { automaticPresenceSimulation: true, ...options },
    });
    this.authenticatorId = authenticatorId;
    return authenticatorId;
  }

  /** The credentials the virtual authenticator holds (with private keys and counters). */
  async credentials() {
    const cdp = await this.cdp();
    return (await cdp.send('WebAuthn.getCredentials', { authenticatorId: this.authenticatorId })).credentials;
  }

  async replaceCredential(credential) {
    const cdp = await this.cdp();
    await cdp.send('WebAuthn.removeCredential', {
      authenticatorId: this.authenticatorId,
      credentialId: credential.credentialId,
    });
    await cdp.send('WebAuthn.addCredential', { authenticatorId: this.authenticatorId, credential });
  }

  /** Runs `fn(arg)` in the page, brought to the front first (Chromium runs WebAuthn
   * ceremonies only in a focused tab). */
  async run(fn, arg) {
    await this.page.bringToFront();
    return this.page.evaluate(fn, arg);
  }

  /** A JSON API call from the page (same origin, cookies included). */
  async call(method, path, body, token) {
    return this.run(({ method, path, body, token }) => window.frontend.call(method, path, body, token), {
      method, path, body, token,
    });
  }

  async create(options) {
    return this.run((options) => window.frontend.create(options), options);
  }

  async get(options) {
    return this.run((options) => window.frontend.get(options), options);
  }

  /** The relying party sends the browser to /authorize: it lands on the login UI (a
   * page of the server's own origin) with its login challenge. */
  async authorize({ scope = 'openid', extra = {} } = {}) {
    const { verifier, challenge } = pkce();
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: 'app',
      redirect_uri: REDIRECT,
      scope,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...extra,
    });
    await this.page.goto(this.site.url(`/authorize?${query}`));
    const landed = new URL(this.page.url());
    const loginChallenge = landed.searchParams.get('login_challenge');
    if (!loginChallenge) throw new Error(`/authorize did not lead to the login UI: ${landed}`);
    return new Login(this, loginChallenge, verifier);
  }

  /** A whole login with the password and the mailed code; the tokens. */
  async signInWithEmailCode(email, { scope = ACCOUNT_SCOPE } = {}) {
    const login = await this.authorize({ scope, extra: { prompt: 'login' } });
    await login.password(email);
    const before = (await this.site.codes(email)).length;
    await login.step('factors/email/challenge', {}, 200);
    const code = await this.site.waitForCode(email, before);
    const done = await login.step('factors/email/verify', { kind: 'email_otp', code }, 200);
    return login.tokens(done);
  }
}

export class Login {
  constructor(tab, challenge, verifier) {
    this.tab = tab;
    this.challenge = challenge;
    this.verifier = verifier;
  }

  path(step) {
    return `/api/v1/login/${this.challenge}${step ? `/${step}` : ''}`;
  }

  /** POSTs `body` to a step of this login; checks the status when given. */
  async step(step, body = {}, status) {
    const res = await this.tab.call('POST', this.path(step), body);
    if (status !== undefined && res.status !== status) {
      throw new Error(`${step}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
    }
    return status !== undefined ? res.body : res;
  }

  async view() {
    return (await this.tab.call('GET', this.path())).body;
  }

  /** The password step; the factors on offer. */
  async password(identifier, password = PASSWORD) {
    this.offered = await this.step('password', { identifier, password }, 200);
    return this.offered;
  }

  factor(kind) {
    return this.offered.factors.find((f) => f.kind === kind);
  }

  /** The finished login's code, redeemed at /token by the relying party. */
  async tokens(done) {
    if (done.next !== 'done') throw new Error(`the login is not done: ${JSON.stringify(done)}`);
    return this.tab.site.redeem(done.redirect_to, this.verifier);
  }
}
