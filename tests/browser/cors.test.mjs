// A login UI on another origin of the same site, in a real browser: Chromium sends the
// preflight, enforces the CORS answer, and carries the SameSite=Lax binding cookie on
// the UI's credentialed fetches. A page on an origin the server does not list can
// reach nothing (Chromium blocks the answer).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';

import { Browser } from './lib/browser.mjs';
import { REDIRECT, Site, backends, pkce } from './lib/gatehouse.mjs';

/** A UI server on another port: any path answers an empty page. */
async function uiServer(host) {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Login UI</title><p>Sign in</p>');
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { origin: `http://${host}:${port}`, close: () => new Promise((ok) => server.close(ok)) };
}

/** The UI's password step, from the page: the status and body the page could read, or
 * the error the browser raised. */
async function passwordStep({ issuer, challenge }) {
  try {
    const res = await fetch(`${issuer}/api/v1/login/${challenge}/password`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identifier: 'nobody@example.com', password: 'Wrong-Horse#42' }),
    });
    return { status: res.status, body: await res.json() };
  } catch (e) {
    return { error: String(e) };
  }
}

for (const backend of backends().slice(0, 1)) {
  describe(`A UI on another origin, in headless Chromium on ${backend.name}`, { timeout: 120_000 }, () => {
    let site;
    let browser;
    let ui;
    let stranger;

    before(async () => {
      ui = await uiServer('localhost');
      stranger = await uiServer('127.0.0.1');
      site = await Site.start(backend, {
        login: { ui_url: `${ui.origin}/login` },
        cors: { allowed_origins: ui.origin },
      });
      await site.addClient('app');
      browser = await Browser.launch();
    });

    after(async () => {
      await browser?.close();
      await site?.stop();
      await ui?.close();
      await stranger?.close();
    });

    it('lets the listed origin drive a login with its cookies, and nobody else', async () => {
      const context = await browser.browser.newContext();
      const page = await context.newPage();
      const { challenge: code_challenge } = pkce();
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: 'app',
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge,
        code_challenge_method: 'S256',
      });
      // /authorize binds the login to this browser (a cookie on the issuer's origin) and
      // sends it to the UI, on its own origin.
      await page.goto(`${site.origin}/authorize?${query}`);
      const landed = new URL(page.url());
      assert.equal(landed.origin, ui.origin);
      const challenge = landed.searchParams.get('login_challenge');
      assert.ok(challenge);

      const answer = await page.evaluate(passwordStep, { issuer: site.origin, challenge });
      // Readable, and with the binding cookie: a wrong password, not another browser.
      assert.equal(answer.status, 401, JSON.stringify(answer));
      assert.equal(answer.body.code, 'invalid_credentials');

      // The same request from a page on an origin the server does not list.
      await page.goto(`${stranger.origin}/`);
      const refused = await page.evaluate(passwordStep, { issuer: site.origin, challenge });
      assert.ok(refused.error, `the browser let a stranger read the answer: ${JSON.stringify(refused)}`);
      await context.close();
    });
  });
}
