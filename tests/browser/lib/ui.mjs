// Driving the reference UI like a user, for the UI tests (ui.test.mjs, settings.test.mjs):
// a fresh browser profile in a language, axe-core and a CSP-violation recorder in every
// page, the relying party's redirect URI answered by a stub page, and a `ui` object that
// waits for steps, presses buttons (by mouse or keyboard), checks each page state with
// axe-core and takes screenshots for the README when GATEHOUSE_UI_SCREENSHOTS=1.

import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

import { REDIRECT } from './gatehouse.mjs';

const AXE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const BROWSER_LOCALE = { en: 'en-US', ja: 'ja-JP' };

/** Where the README's screenshots go, only when GATEHOUSE_UI_SCREENSHOTS=1 (CI never
 * sets it, so a test run leaves the tree as it was). */
export const SCREENSHOTS = resolve(import.meta.dirname, '../../../crates/gatehouse-ui/screenshots');
const screenshots = process.env.GATEHOUSE_UI_SCREENSHOTS === '1';

/**
 * A fresh browser profile in `lang`, with axe-core and a CSP-violation recorder in every
 * page (both injected through DevTools, which the page's CSP does not govern), and the
 * relying party's redirect URI answered by a stub page. `phone`: a small touch screen in
 * dark mode; `viewport`: a size of its own (e.g. the screenshots' 390×844);
 * `keyboard`: buttons are reached with Tab and pressed with Enter, forms sent with
 * Enter; `authenticator`: a virtual WebAuthn authenticator of lib/browser.mjs's
 * AUTHENTICATORS in the tab (more with `ui.addAuthenticator`); `onChecked`: called
 * after each page state axe-core passed.
 * @param {import('./browser.mjs').Browser} browser
 */
export async function openUi(browser, lang = 'en', {
  phone = false, viewport = null, keyboard = false, authenticator = null, onChecked = () => {},
} = {}) {
  const context = await browser.browser.newContext({
    locale: BROWSER_LOCALE[lang],
    ...(phone ? { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, colorScheme: 'dark' } : {}),
    ...(viewport ? { viewport } : {}),
  });
  browser.contexts.push(context);
  await context.addInitScript({ content: AXE });
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  await context.route(`${new URL(REDIRECT).origin}/**`, (route) =>
    route.fulfill({
      contentType: 'text/html; charset=utf-8',
      body: '<!doctype html><html lang="en"><title>Portal</title><main><h1>Portal</h1></main></html>',
    }));
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  // Anything the pages load that is not there (a favicon included) is an error; the
  // API's refusals are answers.
  page.on('response', (r) => {
    if (r.status() === 404 && !new URL(r.url()).pathname.startsWith('/api/')) errors.push(`404: ${r.url()}`);
  });
  page.on('console', (m) => {
    // API refusals show as "Failed to load resource" (the page handles them).
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  let webauthnOn = false;
  const ui = {
    page,
    context,
    cdp,
    lang,
    errors,
    /** Adds a virtual authenticator to the tab; its id. */
    async addAuthenticator(options) {
      if (!webauthnOn) {
        await cdp.send('WebAuthn.enable', { enableUI: false });
        webauthnOn = true;
      }
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { automaticPresenceSimulation: true, ...options },
      });
      return authenticatorId;
    },
    /** Whether the authenticator answers at once (true) or waits for a touch that never comes. */
    async presence(authenticatorId, enabled) {
      await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
    },
    /** Waits for a step, checks its heading (and that it holds the focus when
     * `focused`), then runs axe on the page. */
    async step(id, heading, { focused = true, axe = true } = {}) {
      const section = page.locator(`#${id}`);
      await section.waitFor({ state: 'visible' });
      const h1 = section.locator('h1');
      if (heading !== undefined) assert.equal((await h1.textContent()).trim(), heading, `#${id}'s heading`);
      if (focused) {
        // A step shown again (a retry) is visible before the page's answer moves the
        // focus: give it the moment it needs, then insist.
        await page
          .waitForFunction((selector) => document.activeElement === document.querySelector(selector), `#${id} h1`, { timeout: 5000 })
          .catch(() => {});
        assert.equal(await h1.evaluate((h) => document.activeElement === h), true, `focus on #${id}'s heading`);
      }
      if (axe) await ui.axe(`${id} (${ui.lang})`);
    },
    /** Presses a button or link: reached with Tab from where the focus is, or clicked. */
    async press(selector) {
      if (!keyboard) return page.click(selector);
      for (let i = 0; i < 20; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate((sel) => document.activeElement?.matches(sel), selector)) {
          return page.keyboard.press('Enter');
        }
      }
      throw new Error(`${selector} cannot be reached with Tab`);
    },
    /** Sends a form: Enter in its field, or a click on its button. */
    async submit(field, button) {
      if (!keyboard) return page.click(button);
      await page.focus(field);
      return page.keyboard.press('Enter');
    },
    /** axe-core on the page as it is: no serious or critical violation, no CSP
     * violation, no script error, no sideways scrolling, and the page in `lang`. */
    async axe(where, { lang: expected = ui.lang } = {}) {
      assert.equal(await page.getAttribute('html', 'lang'), expected, `<html lang> on ${where}`);
      const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
      const serious = violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      assert.deepEqual(serious, [], `axe-core on ${where}`);
      assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], `CSP violations on ${where}`);
      assert.deepEqual(errors, [], `script errors on ${where}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${where} scrolls sideways by ${overflow}px`);
      onChecked(where);
    },
    /** axe-core in both languages: this one, then the other through the page's language
     * switcher, then back (the switcher's choice is remembered by the browser). */
    async axeBoth(where) {
      const other = ui.lang === 'en' ? 'ja' : 'en';
      await ui.axe(`${where} (${ui.lang})`);
      await page.click(`#languages button[lang="${other}"]`);
      await ui.axe(`${where} (${other})`, { lang: other });
      await page.click(`#languages button[lang="${ui.lang}"]`);
      assert.equal(await page.getAttribute('html', 'lang'), ui.lang);
    },
    /** A PNG of the page (or of `selector`) for the README, only when
     * GATEHOUSE_UI_SCREENSHOTS=1. */
    async screenshot(name, { selector = null, fullPage = false } = {}) {
      if (!screenshots) return;
      await mkdir(SCREENSHOTS, { recursive: true });
      // No focus ring in the picture; the focus comes back afterwards.
      await page.evaluate((top) => {
        window.__focused = document.activeElement;
        if (window.__focused instanceof HTMLElement) window.__focused.blur();
        if (top) window.scrollTo(0, 0);
      }, !selector);
      const path = join(SCREENSHOTS, `${name}.png`);
      if (selector) await page.locator(selector).screenshot({ path, animations: 'disabled', caret: 'hide' });
      else await page.screenshot({ path, fullPage, animations: 'disabled', caret: 'hide' });
      await page.evaluate(() => window.__focused instanceof HTMLElement && window.__focused.focus());
    },
  };
  if (authenticator) await ui.addAuthenticator(authenticator);
  return ui;
}
