// The settings page is one page of panels (profile, e-mail, password, sign-in
// methods, sessions, events), each with its own `role="alert"` and `role="status"`
// regions beside its controls, so a message shows where the user is looking. Dates
// are shown in the account's time zone when it has one.

import { ApiError, commonMessage } from './api.js';
import { ReauthenticationLoop, Redirected } from './account.js';
import { el, text } from './dom.js';
import { locale } from './i18n.js';

/** @typedef {'profile' | 'email' | 'password' | 'mfa' | 'apps' | 'sessions' | 'events'} Panel */
/** @typedef {import('./i18n.js').Key} Key */
/** @typedef {import('./i18n.js').Param} Param */

/**
 * A message in the panel's alert region (announced at once).
 * @param {Panel} panel @param {Key} key @param {Record<string, Param>} [params]
 */
export function panelAlert(panel, key, params) {
  text(el(`${panel}-alert`), key, params);
}

/**
 * A polite note in the panel's status region ("Saved."); null clears it.
 * @param {Panel} panel @param {Key | null} key @param {Record<string, Param>} [params]
 */
export function panelStatus(panel, key, params) {
  const region = el(`${panel}-status`);
  if (key) text(region, key, params);
  else {
    region.textContent = '';
    region.removeAttribute('data-i18n');
    region.removeAttribute('data-i18n-params');
  }
}

/** Clears the panel's alert and status. @param {Panel} panel */
export function clearPanel(panel) {
  const alert = el(`${panel}-alert`);
  alert.textContent = '';
  alert.removeAttribute('data-i18n');
  alert.removeAttribute('data-i18n-params');
  panelStatus(panel, null);
}

/**
 * A refusal the panel has no message of its own for. Nothing when the browser is
 * already on its way to sign in again.
 * @param {Panel} panel @param {unknown} error
 */
export function panelProblem(panel, error) {
  if (error instanceof Redirected) return;
  if (error instanceof ReauthenticationLoop) {
    panelAlert(panel, 'settings.reauth_loop');
    return;
  }
  if (!(error instanceof ApiError)) console.error(error);
  panelAlert(panel, ...commonMessage(error));
}

/** The account's time zone (IANA), when it has one this browser knows. */
let zone = /** @type {string | undefined} */ (undefined);

/** @param {string | null | undefined} zoneinfo */
export function setTimeZone(zoneinfo) {
  zone = undefined;
  if (!zoneinfo) return;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zoneinfo });
    zone = zoneinfo;
  } catch {
    // Unknown to this browser: its own zone then.
  }
}

/**
 * A `<time>` showing `iso` as a date and time in the page's language.
 * @param {string} iso
 * @returns {HTMLTimeElement}
 */
export function time(iso) {
  const node = document.createElement('time');
  node.dateTime = iso;
  const date = new Date(iso);
  /** @type {Intl.DateTimeFormatOptions} */
  const options = { dateStyle: 'medium', timeStyle: 'short' };
  if (zone) options.timeZone = zone;
  node.textContent = Number.isNaN(date.getTime()) ? iso : new Intl.DateTimeFormat(locale(), options).format(date);
  return node;
}

/**
 * "Chrome on Linux" from a user agent, or null when it says nothing recognisable.
 * @param {string | null | undefined} ua
 * @returns {{ browser: string, os: string | null } | null}
 */
export function browserOf(ua) {
  if (!ua) return null;
  /** @type {[RegExp, string][]} */
  const browsers = [[/Edg\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\//, 'Firefox'], [/Chrom(e|ium)\//, 'Chrome'], [/Safari\//, 'Safari']];
  /** @type {[RegExp, string][]} */
  const systems = [[/iPhone|iPad/, 'iOS'], [/Android/, 'Android'], [/Windows/, 'Windows'], [/CrOS/, 'ChromeOS'], [/Macintosh|Mac OS X/, 'macOS'], [/Linux/, 'Linux']];
  const browser = browsers.find(([re]) => re.test(ua))?.[1];
  const os = systems.find(([re]) => re.test(ua))?.[1] ?? null;
  return browser ? { browser, os } : null;
}
