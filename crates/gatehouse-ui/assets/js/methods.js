// The settings page's "Multi-factor authentication" panel: the account's sign-in
// methods (SMS struck through and retired; Remove where `removable`) and the kinds
// it may add, each with "+ Add" where `enrollable`: an authenticator app (QR code and
// secret, a code, a name), a security key, a passkey or a biometric key (the
// browser's prompt), push (QR code and enrolment address; the list is polled until
// the phone has registered), recovery codes (shown once). Adding and removing need a
// recent login: account.js signs in again and the page comes back here (`resume`).

import { ApiError, commonMessage, seg } from './api.js';
import { ReauthenticationLoop, Redirected, account } from './account.js';
import {
  alertMessage, busy, byId, clearAlert, clearErrors, el, fieldError, h, showStep, status, text,
} from './dom.js';
import { clearPanel, panelAlert, panelProblem, panelStatus, time } from './panels.js';
import * as webauthn from './webauthn.js';

/** @typedef {import('gatehouse-api').components['schemas']} S */
/** @typedef {S['FactorList']} FactorList */
/** @typedef {S['FactorView']} FactorView */
/** @typedef {S['KindView']} KindView */
/** @typedef {S['FactorKindName']} FactorKindName */
/** @typedef {S['StartEnrolment']} StartEnrolment */
/** @typedef {S['EnrolmentStarted']} EnrolmentStarted */
/** @typedef {S['FactorConfirmation']} FactorConfirmation */
/** @typedef {S['ProfileView']} ProfileView */
/** @typedef {import('./account.js').Resume} Resume */
/** @typedef {import('./i18n.js').Key} Key */
/** @typedef {import('./dom.js').Message} Message */
/** @typedef {'security_key' | 'passkey' | 'platform'} WebauthnKind */
/** @typedef {import('./api.js').ProblemCode<'list_factors' | 'start_enrolment' | 'confirm_enrolment' | 'remove_factor' | 'regenerate_recovery_codes'>} MethodProblem */

/** The code of a refusal, as one the document lists for the methods' operations.
 * @param {unknown} error @returns {MethodProblem | null} */
const codeOf = (error) => (error instanceof ApiError ? /** @type {MethodProblem} */ (error.code) : null);

const FACTORS = '/api/v1/account/factors';

const totpForm = byId('totp-form', HTMLFormElement);
const totpCode = byId('totp-code', HTMLInputElement);
const totpName = byId('totp-name', HTMLInputElement);
const webauthnForm = byId('webauthn-form', HTMLFormElement);
const webauthnName = byId('factor-name', HTMLInputElement);

/** The list as last read. @type {FactorList | null} */
let list = null;
/** Whether the account has no method beyond the e-mail code ("Enable"). */
let onlyEmail = false;
/** The method being added (authenticator app, push). @type {FactorView | null} */
let pending = null;
/** The WebAuthn kind being added. @type {WebauthnKind} */
let webauthnKind = 'security_key';
/** The method the remove screen asks about. @type {FactorView | null} */
let removing = null;
/** Stops polling for a phone's registration when the user leaves the push set-up. */
let stopPolling = new AbortController();
/** Told after every change (the profile's summary and the events follow). */
let changed = () => {};
/** Whether this device has a biometric authenticator (asked once). */
const platformHere = webauthn.platformAvailable();

const WEBAUTHN_KINDS = /** @type {readonly string[]} */ (['security_key', 'passkey', 'platform']);
/** @param {string} kind @returns {kind is WebauthnKind} */
const isWebauthn = (kind) => WEBAUTHN_KINDS.includes(kind);

/** The names the server gives methods the user did not name (English; the page
 * names them by kind in its own language instead). */
const DEFAULT_LABELS = ['Authenticator app', 'Security key', 'Passkey', 'Biometric key', 'Recovery code', 'Phone (SMS)'];

/**
 * How a method is named: its kind in the page's language, and the user's name for
 * it, or what the server says about it (a masked address, a phone's last digits).
 * @param {FactorView} factor
 * @returns {{ kind: Message, name: Message | string | null }}
 */
export function describe(factor) {
  const kind = /** @type {Key} */ (`kind.${factor.kind}`);
  if (factor.kind === 'email_otp') {
    const to = /\S+@\S+$/.exec(factor.label)?.[0];
    return { kind: to ? ['kind.email_otp', { to }] : ['kind.email_otp_plain'], name: null };
  }
  let name = factor.label;
  if (factor.kind === 'push') name = name.replace(/^Push notification to /, '').replace(/^your phone$/, '');
  const phone = /^Phone ending (\d+)$/.exec(name);
  if (phone) return { kind: [kind], name: ['mfa.phone_ending', { digits: phone[1] ?? '' }] };
  return { kind: [kind], name: name && !DEFAULT_LABELS.includes(name) ? name : null };
}

/** @param {FactorView} factor @returns {HTMLElement} the method's name, as a title */
function title(factor) {
  const { kind, name } = describe(factor);
  const node = h('span', { class: 'row-title' }, [text(h('span'), ...kind)]);
  if (name) {
    node.append(': ');
    node.append(typeof name === 'string' ? h('span', {}, [name]) : text(h('span'), ...name));
  }
  return node;
}

// ---- The panel -------------------------------------------------------------------

/** Reads the list again and shows it. */
export async function loadMethods() {
  list = /** @type {FactorList} */ (await account('GET', FACTORS));
  await render();
}

/** @param {ProfileView} profile */
export function setProfile(profile) {
  onlyEmail = !profile.mfa.enabled_beyond_email;
  summary();
}

/** @param {() => void} callback */
export function onChange(callback) {
  changed = callback;
}

function summary() {
  text(el('mfa-summary'), onlyEmail ? 'mfa.only_email' : 'mfa.enabled');
  el('mfa-enable-row').hidden = !onlyEmail;
}

/** Re-renders in the page's language (dates are formatted, not keyed). */
export function relocalise() {
  if (list) void render();
}

async function render() {
  if (!list) return;
  const factors = list.factors;
  el('factor-list').replaceChildren(...factors.map(factorRow));
  const here = await platformHere;
  const rows = [];
  for (const kind of list.kinds) {
    if (kind.kind === 'email_otp') continue; // Listed above, always on.
    rows.push(kindRow(kind, factors, here));
  }
  el('kind-list').replaceChildren(...rows);
}

/** @param {FactorView} factor */
function factorRow(factor) {
  const retired = factor.status === 'retired' || factor.kind === 'sms';
  const name = title(factor);
  const details = h('span', { class: 'row-detail' });
  if (factor.kind === 'email_otp') {
    details.append(text(h('span'), 'mfa.email_always'));
  } else {
    const state = text(h('span', { class: retired ? 'badge retired' : 'badge' }), /** @type {Key} */ (`mfa.status_${factor.status}`));
    details.append(state, ' ', text(h('span'), 'mfa.added_on'), ' ', time(factor.created_at));
  }
  if (factor.last_used_at) details.append(' · ', text(h('span'), 'mfa.last_used'), ' ', time(factor.last_used_at));
  const main = h('div', { class: 'row-main' }, [retired ? h('s', {}, [name]) : name, details]);
  const row = h('li', { class: 'row', 'data-factor': factor.id, 'data-kind': factor.kind, 'data-status': factor.status }, [main]);
  if (factor.removable) {
    const button = h('button', { type: 'button', class: 'secondary small', 'data-remove': factor.id }, [
      text(h('span'), 'mfa.remove'),
      h('span', { class: 'visually-hidden' }, [' ', title(factor)]),
    ]);
    button.addEventListener('click', () => showRemove(factor));
    row.append(button);
  }
  return row;
}

/** @param {KindView} kind @param {FactorView[]} factors @param {boolean} here */
function kindRow(kind, factors, here) {
  const name = text(h('span', { class: 'row-title' }), /** @type {Key} */ (`kind.${kind.kind}`));
  const main = h('div', { class: 'row-main' }, []);
  const row = h('li', { class: 'row', 'data-kind': kind.kind }, [main]);
  if (kind.kind === 'sms' || kind.reason === 'retired') {
    // Scenario B: shown struck through, and nobody can add it.
    main.append(h('s', {}, [name]), text(h('span', { class: 'row-detail' }), 'mfa.sms_retired'));
    return row;
  }
  main.append(name);
  /** @type {Record<string, Key>} */
  const details = {
    totp: 'choice.totp', security_key: 'choice.security_key', passkey: 'choice.passkey',
    platform: 'choice.platform', push: 'choice.push', recovery_code: 'choice.recovery_code',
  };
  const detail = details[kind.kind];
  if (detail) main.append(text(h('span', { class: 'row-detail' }), detail));
  const hasPlatform = factors.some((f) => f.kind === 'platform' && f.status === 'active');
  if (kind.kind === 'platform' && !hasPlatform) {
    // Scenario B: "no biometric keys registered; you will be offered one at your next login".
    main.append(text(h('span', { class: 'row-detail', id: 'platform-hint' }), 'mfa.platform_none'));
  }
  const hasCodes = factors.some((f) => f.kind === 'recovery_code' && f.status === 'active');
  /** @type {Key | null} */
  let why = null;
  if (!kind.enrollable) why = 'mfa.not_available';
  else if (isWebauthn(kind.kind) && !webauthn.supported()) why = 'mfa.not_in_browser';
  else if (kind.kind === 'platform' && !here) why = null; // The hint says it all.
  if (why) {
    main.append(text(h('span', { class: 'row-detail' }), why));
    return row;
  }
  if (kind.kind === 'platform' && !here) return row;
  const label = kind.kind === 'recovery_code' && hasCodes ? 'mfa.regenerate' : 'mfa.add';
  const button = h('button', { type: 'button', class: 'secondary small add', 'data-kind': kind.kind }, [
    text(h('span'), label),
    h('span', { class: 'visually-hidden' }, [' ', text(h('span'), /** @type {Key} */ (`kind.${kind.kind}`))]),
  ]);
  // The row is busy while it starts (busy() disables the buttons inside its scope).
  button.addEventListener('click', () => void add(kind.kind, row, hasCodes));
  row.append(button);
  return row;
}

// "Enable" (scenario B: "Multi-factor authentication is disabled — Enable"): to the list.
byId('mfa-enable', HTMLButtonElement).addEventListener('click', () => {
  const first = el('kind-list').querySelector('button.add');
  if (first instanceof HTMLElement) first.focus();
});

/** Back to the settings, at this panel, with a note. @param {Message | null} note */
function backToPanel(note) {
  stopPolling.abort();
  status(null);
  showStep('step-settings', { focus: false });
  clearPanel('mfa');
  if (note) panelStatus('mfa', ...note);
  const heading = el('mfa-title');
  heading.tabIndex = -1;
  heading.focus();
}

for (const button of document.querySelectorAll('button.back')) {
  button.addEventListener('click', () => backToPanel(null));
}

/** After a change: the list again, and whoever follows it. @param {Message} note */
async function done(note) {
  backToPanel(note);
  changed();
  try {
    await loadMethods();
  } catch (error) {
    panelProblem('mfa', error);
  }
}

// ---- Adding ------------------------------------------------------------------------

/**
 * "+ Add": the authenticator app, push and recovery codes start at once; a WebAuthn
 * kind starts on the next screen's button (the browser's prompt right after a click).
 * @param {string} kind @param {HTMLElement} scope @param {boolean} [renew] new recovery codes
 */
async function add(kind, scope, renew = false) {
  clearPanel('mfa');
  clearAlert();
  if (isWebauthn(kind)) {
    showWebauthn(kind, '');
    return;
  }
  /** @type {Resume} */
  const resume = kind === 'recovery_code' && renew ? { do: 'recovery' } : { do: 'add', kind };
  try {
    const started = /** @type {EnrolmentStarted} */ (await busy(scope, () => (
      kind === 'recovery_code' && renew
        ? account('POST', '/api/v1/account/recovery-codes', undefined, resume)
        : account('POST', FACTORS, /** @type {StartEnrolment} */ ({ kind: /** @type {FactorKindName} */ (kind) }), resume)
    )));
    pending = started.factor;
    const setup = started.setup;
    if (setup.kind === 'totp') showTotp(setup);
    else if (setup.kind === 'push') void showPush(setup);
    else if (setup.kind === 'recovery_code') showCodes(setup);
    else panelAlert('mfa', 'factor.unavailable');
  } catch (error) {
    enrolProblem(error, (key) => panelAlert('mfa', key), (e) => panelProblem('mfa', e));
  }
}

/**
 * The refusals of adding a method. `say` shows a message where the user is.
 * @param {unknown} error @param {(key: Key) => void} say @param {(error: unknown) => void} otherwise
 */
function enrolProblem(error, say, otherwise) {
  const code = codeOf(error);
  if (code) {
    /** @type {Partial<Record<MethodProblem, Key>>} */
    const messages = {
      factor_retired: 'enrol.retired',
      factor_disabled: 'factor.unavailable',
      factor_not_enrollable: 'factor.unavailable',
      factor_kind_unknown: 'factor.unavailable',
      webauthn_unavailable: 'webauthn.unavailable',
      enrolment_expired: 'enrol.expired',
      factor_not_pending: 'enrol.expired',
      factor_not_found: 'enrol.expired',
      webauthn_ceremony_expired: 'webauthn.expired',
      webauthn_invalid: 'webauthn.invalid',
      webauthn_not_platform: 'webauthn.not_platform',
      webauthn_credential_exists: 'webauthn.exists',
    };
    const key = messages[code];
    if (key) return say(key);
  }
  return otherwise(error);
}

/** The screens' own problems: in the page's alert, as on the other pages. @param {unknown} error */
function screenProblem(error) {
  if (error instanceof Redirected) return;
  if (error instanceof ReauthenticationLoop) {
    alertMessage('settings.reauth_loop');
    return;
  }
  enrolProblem(error, (key) => alertMessage(key), (e) => {
    if (!(e instanceof ApiError)) console.error(e);
    alertMessage(...commonMessage(e));
  });
}

// Authenticator app: the QR code (an <img> of a data: URL, which the page's CSP
// allows), the secret as text, a code to prove the app has it, and a name.

/** @param {S['TotpSetup']} setup */
function showTotp(setup) {
  byId('totp-qr', HTMLImageElement).src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qr_svg)}`;
  // Groups of four are easier to copy by hand.
  el('totp-secret').textContent = setup.secret.replace(/(.{4})(?=.)/g, '$1 ');
  totpForm.reset();
  clearErrors(totpForm);
  showStep('step-totp');
}

totpForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(totpForm);
  clearAlert();
  const code = totpCode.value.replace(/\s+/g, '');
  const name = totpName.value.trim();
  if (!code) {
    fieldError(totpCode, 'code.required');
    totpCode.focus();
    return;
  }
  if (!pending) return;
  /** @type {FactorConfirmation} */
  const body = name ? { kind: 'totp', code, name } : { kind: 'totp', code };
  const path = `${FACTORS}/${seg(pending.id)}/confirm`;
  try {
    await busy(totpForm, () => account('POST', path, body, { do: 'add', kind: 'totp' }));
    await done(['mfa.added', { kind: { key: 'kind.totp' } }]);
  } catch (error) {
    const code = codeOf(error);
    if (error instanceof ApiError && (code === 'otp_invalid' || code === 'otp_replayed')) {
      const left = error.attemptsLeft;
      if (code === 'otp_replayed') fieldError(totpCode, 'code.replayed');
      else if (left === null) fieldError(totpCode, 'code.invalid_plain');
      else fieldError(totpCode, 'code.invalid', { n: left });
      totpCode.select();
      totpCode.focus();
    } else if (code === 'invalid_name') {
      fieldError(totpName, 'enrol.invalid_name');
      totpName.focus();
    } else if (error instanceof ApiError && code === 'rate_limited') {
      alertMessage('code.throttled', { when: { seconds: error.retryAfter ?? 60 } });
    } else {
      screenProblem(error);
    }
  }
});

// Security key, passkey, biometric key: navigator.credentials.create on the user's click.

/** @param {WebauthnKind} kind @param {string} name */
function showWebauthn(kind, name) {
  webauthnKind = kind;
  const titles = /** @type {const} */ ({
    security_key: 'enrol.security_key_title',
    passkey: 'enrol.passkey_title',
    platform: 'enrol.platform_title',
  });
  text(el('webauthn-title'), titles[kind]);
  webauthnForm.reset();
  clearErrors(webauthnForm);
  webauthnName.value = name;
  showStep('step-webauthn');
}

webauthnForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(webauthnForm);
  clearAlert();
  status(null);
  const kind = webauthnKind;
  const name = webauthnName.value.trim();
  /** @type {Resume} */
  const resume = name ? { do: 'add', kind, name } : { do: 'add', kind };
  try {
    await busy(webauthnForm, async () => {
      /** @type {StartEnrolment} */
      const start = { kind };
      const started = /** @type {EnrolmentStarted} */ (await account('POST', FACTORS, start, resume));
      const setup = started.setup;
      if (setup.kind !== kind || !('public_key' in setup)) throw new Error(`unexpected set-up ${setup.kind}`);
      const credential = await webauthn.create(setup.public_key);
      /** @type {FactorConfirmation} */
      const body = name ? { kind, credential, name } : { kind, credential };
      await account('POST', `${FACTORS}/${seg(started.factor.id)}/confirm`, body, resume);
    });
    await done(['mfa.added', { kind: { key: /** @type {Key} */ (`kind.${kind}`) } }]);
  } catch (error) {
    if (codeOf(error) === 'invalid_name') {
      fieldError(webauthnName, 'enrol.invalid_name');
      webauthnName.focus();
    } else if (!(error instanceof ApiError) && !(error instanceof Redirected) && webauthn.failure(error) !== 'failed') {
      alertMessage(webauthn.failure(error) === 'exists' ? 'webauthn.exists' : 'webauthn.cancelled');
    } else {
      screenProblem(error);
    }
  }
});

// Push: the phone scans the QR code (or is given the address) and registers itself;
// that activates the method, so the page reads the list until it is active.

/** @param {S['PushSetup']} setup */
async function showPush(setup) {
  stopPolling.abort();
  const controller = new AbortController();
  stopPolling = controller;
  byId('push-qr', HTMLImageElement).src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qr_svg)}`;
  el('push-uri').textContent = setup.enrolment_uri;
  // On the phone itself there is nothing to scan: the same URI as a link opens the
  // app (only this scheme: never a javascript: URL, whatever the answer holds).
  const link = byId('push-link', HTMLAnchorElement);
  link.hidden = !setup.enrolment_uri.startsWith('gatehouse-push:');
  link.href = link.hidden ? '#' : setup.enrolment_uri;
  showStep('step-push');
  status('enrol.push_waiting');
  const deadline = Date.now() + setup.expires_in * 1000;
  const id = pending?.id;
  while (!controller.signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    if (controller.signal.aborted) return;
    try {
      const now = /** @type {FactorList} */ (await account('GET', FACTORS, undefined, { do: 'add', kind: 'push' }));
      if (controller.signal.aborted) return;
      const factor = now.factors.find((f) => f.id === id);
      if (factor?.status === 'active') {
        await done(['mfa.added', { kind: { key: 'kind.push' } }]);
        return;
      }
      if (!factor || Date.now() > deadline) {
        status(null);
        alertMessage('enrol.expired');
        return;
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      status(null);
      screenProblem(error);
      return;
    }
  }
}

// Recovery codes: shown once, with a warning.

/** @param {S['RecoveryCodeSetup']} setup */
function showCodes(setup) {
  el('recovery-codes').replaceChildren(...setup.codes.map((code) => h('li', {}, [h('code', {}, [code])])));
  showStep('step-recovery');
}

byId('recovery-done', HTMLButtonElement).addEventListener('click', () => {
  el('recovery-codes').replaceChildren();
  void done(['mfa.codes_saved']);
});

// ---- Removing ----------------------------------------------------------------------

/** @param {FactorView} factor */
function showRemove(factor) {
  removing = factor;
  clearPanel('mfa');
  const name = el('remove-text');
  name.replaceChildren(text(h('span'), 'remove.text'), ' ', title(factor));
  showStep('step-remove');
}

byId('remove-confirm', HTMLButtonElement).addEventListener('click', async () => {
  if (removing) await remove(removing, el('step-remove'));
});

/** @param {FactorView} factor @param {HTMLElement} scope */
async function remove(factor, scope) {
  clearAlert();
  try {
    await busy(scope, () => account('DELETE', `${FACTORS}/${seg(factor.id)}`, undefined, { do: 'remove', factor: factor.id }));
    removing = null;
    await done(['mfa.removed']);
  } catch (error) {
    if (codeOf(error) === 'factor_not_found') {
      await done(['mfa.removed']);
    } else if (el('step-remove').hidden) {
      panelProblem('mfa', error);
    } else {
      screenProblem(error);
    }
  }
}

// ---- Back from a new sign-in ---------------------------------------------------------

/** Picks up what the user was doing when the page had to sign in again.
 * @param {Resume} resume */
export async function resumeMethods(resume) {
  const panel = el('mfa');
  if (resume.do === 'add') {
    if (isWebauthn(resume.kind)) {
      // The browser's prompt wants the user's click: the screen, filled in again.
      showWebauthn(resume.kind, resume.name ?? '');
      status('settings.resumed');
      return;
    }
    await add(resume.kind, panel);
  } else if (resume.do === 'recovery') {
    await add('recovery_code', panel, true);
  } else if (resume.do === 'remove') {
    const factor = list?.factors.find((f) => f.id === resume.factor);
    if (factor) await remove(factor, panel);
  }
}
