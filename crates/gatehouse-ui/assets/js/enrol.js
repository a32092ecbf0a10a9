// One enrolment screen for every page that adds a sign-in method: the registration
// (authorised by its link), the settings (the account API) and the biometric key a
// finished login offers. `enrolment()` builds the screens into the page (an
// authenticator app's QR code, key, code and name; a security key's, passkey's or
// biometric key's name and the browser's prompt; push's QR code and address while
// the phone registers; recovery codes shown once) and runs each ceremony through the
// page's `Enroller`: where to start and confirm, and what follows.

import { ApiError } from './api.js';
import {
  alertMessage, busy, clearAlert, clearErrors, el, fieldError, h, showStep, status, text,
} from './dom.js';
import * as webauthn from './webauthn.js';

/** @typedef {import('gatehouse-api').components['schemas']} S */
/** @typedef {S['EnrolmentStarted']} EnrolmentStarted */
/** @typedef {S['FactorConfirmation']} FactorConfirmation */
/** @typedef {S['FactorView']} FactorView */
/** @typedef {import('./i18n.js').Key} Key */
/** @typedef {'totp' | 'security_key' | 'passkey' | 'platform' | 'push' | 'recovery_code'} EnrolKind */
/** @typedef {'security_key' | 'passkey' | 'platform'} WebauthnKind */
/** @typedef {import('./api.js').ProblemCode<'start_enrolment' | 'confirm_enrolment' | 'regenerate_recovery_codes' | 'start_factor' | 'confirm_factor' | 'login_enrolment_start' | 'login_enrolment_confirm'>} EnrolProblem */

/**
 * How a page enrols.
 * @typedef {object} Enroller
 * @property {(kind: EnrolKind, how: { name?: string, renew?: boolean }) => Promise<unknown>} start
 *   starts it: the `EnrolmentStarted` answer (`renew`: new recovery codes)
 * @property {(factor: FactorView, body: FactorConfirmation) => Promise<unknown>} confirm
 * @property {(kind: EnrolKind) => void | Promise<void>} done the method is active (recovery codes: saved)
 * @property {(error: unknown) => void} problem a refusal the screens have no message for
 * @property {() => void} back the user leaves the screens
 * @property {Key} backLabel the way out ("Choose another way", "Cancel")
 * @property {(key: Key) => void} [say] where a refusal of a start shows (the page's alert)
 */

const WEBAUTHN_KINDS = /** @type {readonly string[]} */ (['security_key', 'passkey', 'platform']);
/** @param {string} kind @returns {kind is WebauthnKind} */
export const isWebauthn = (kind) => WEBAUTHN_KINDS.includes(kind);

/** The message of a refusal of adding a method, if it has one.
 * @type {Partial<Record<EnrolProblem, Key>>} */
const MESSAGES = {
  factor_not_available: 'factor.unavailable',
  factor_kind_unknown: 'factor.unavailable',
  factor_disabled: 'factor.unavailable',
  factor_not_enrollable: 'factor.unavailable',
  factor_retired: 'enrol.retired',
  webauthn_unavailable: 'webauthn.unavailable',
  enrolment_expired: 'enrol.expired',
  factor_not_pending: 'enrol.expired',
  factor_not_found: 'enrol.expired',
  webauthn_ceremony_expired: 'webauthn.expired',
  webauthn_invalid: 'webauthn.invalid',
  webauthn_not_platform: 'webauthn.not_platform',
  webauthn_credential_exists: 'webauthn.exists',
};

/**
 * The message of a refusal of adding a method, or of the browser's prompt; null for
 * one the page handles itself.
 * @param {unknown} error
 * @returns {Key | null}
 */
export function enrolMessage(error) {
  if (error instanceof ApiError) return MESSAGES[/** @type {EnrolProblem} */ (error.code)] ?? null;
  const failure = webauthn.failure(error);
  if (failure === 'exists') return 'webauthn.exists';
  return failure === 'failed' ? null : 'webauthn.cancelled';
}

/**
 * A WebAuthn method added: start, the browser's prompt (call it on a user's click),
 * confirm. Rejects as they do.
 * @param {Pick<Enroller, 'start' | 'confirm'>} enroller
 * @param {WebauthnKind} kind @param {string} name
 */
export async function createCredential(enroller, kind, name) {
  const started = /** @type {EnrolmentStarted} */ (await enroller.start(kind, name ? { name } : {}));
  const setup = started.setup;
  if (setup.kind !== kind || !('public_key' in setup)) throw new Error(`unexpected set-up ${setup.kind}`);
  const credential = await webauthn.create(setup.public_key);
  /** @type {FactorConfirmation} */
  const body = name ? { kind, credential, name } : { kind, credential };
  await enroller.confirm(started.factor, body);
}

/** A data: URL of an SVG (the QR codes: an <img>, which the pages' CSP allows).
 * @param {string} svg */
const svgUrl = (svg) => `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;

/** A text input with its label, hint and error paragraph (ids from `id`).
 * @param {string} id @param {Key} label @param {Key | null} hint @param {Record<string, string | boolean>} attrs
 * @returns {[HTMLDivElement, HTMLInputElement]} the field and its input */
function field(id, label, hint, attrs) {
  const input = h('input', { id, type: 'text', autocomplete: 'off', ...attrs });
  const children = /** @type {HTMLElement[]} */ ([text(h('label', { for: id }), label)]);
  if (hint) {
    children.push(text(h('span', { id: `${id}-hint`, class: 'hint' }), hint));
    input.setAttribute('aria-describedby', `${id}-hint`);
  }
  children.push(input, h('p', { id: `${id}-error`, class: 'error', hidden: true }));
  return [h('div', { class: 'field' }, children), input];
}

/** A QR code image, its alternative text translated. @param {string} id @param {Key} alt */
function qr(id, alt) {
  return h('img', { id, class: 'qr', src: 'data:,', alt: '', 'data-i18n': alt, 'data-i18n-attr': 'alt' });
}

/** A step of the page: `<section class="step">` with a heading (`title`, or set later
 * through its id). @param {string} id @param {Key | null} title @param {(Node | string)[]} children */
function step(id, title, children) {
  const heading = h('h1', title ? {} : { id: `${id.slice('step-'.length)}-title` });
  if (title) text(heading, title);
  return h('section', { class: 'step', id, hidden: true }, [heading, ...children]);
}

/** A translated paragraph. @param {Key} key @param {Record<string, string>} [attrs] */
const para = (key, attrs = {}) => text(h('p', attrs), key);

/** The screens, added to the page's <main> before its status line; the controls the
 * ceremonies use. @param {Key} backLabel */
function build(backLabel) {
  const backs = /** @type {HTMLButtonElement[]} */ ([]);
  const back = () => {
    const button = text(h('button', { type: 'button', class: 'link' }), backLabel);
    backs.push(button);
    return h('p', { class: 'actions' }, [button]);
  };
  const [codeField, totpCode] = field('totp-code', 'totp.code', null, {
    name: 'code', inputmode: 'numeric', required: true, autocomplete: 'one-time-code',
    autocapitalize: 'none', spellcheck: 'false',
  });
  const [totpNameField, totpName] = field('totp-name', 'enrol.name', 'enrol.totp_name_hint', { name: 'name', maxlength: '64' });
  const totpForm = h('form', { id: 'totp-form', novalidate: true }, [
    codeField, totpNameField, text(h('button', { type: 'submit', class: 'primary' }), 'totp.verify'),
  ]);
  const totpQr = qr('totp-qr', 'totp.qr_alt');
  const totpSecret = h('p', { id: 'totp-secret', class: 'secret' });
  const totp = step('step-totp', 'totp.title', [
    h('ol', { class: 'steps' }, [
      h('li', {}, [para('totp.scan'), totpQr]),
      h('li', {}, [para('totp.manual'), totpSecret]),
      h('li', {}, [totpForm]),
    ]),
    back(),
  ]);
  const [nameField, webauthnName] = field('factor-name', 'enrol.name', 'enrol.name_hint', { name: 'name', maxlength: '64' });
  const webauthnForm = h('form', { id: 'webauthn-form', novalidate: true }, [
    nameField, text(h('button', { type: 'submit', class: 'primary' }), 'enrol.start'),
  ]);
  const key = step('step-webauthn', null, [para('enrol.webauthn_intro'), webauthnForm, back()]);
  const pushQr = qr('push-qr', 'enrol.push_qr_alt');
  const pushUri = h('p', { id: 'push-uri', class: 'secret' });
  const pushLink = text(h('a', { id: 'push-link', href: '#' }), 'enrol.push_open');
  const push = step('step-push', 'enrol.push_title', [
    para('enrol.push_scan'), pushQr, para('enrol.push_uri'), pushUri, h('p', {}, [pushLink]), back(),
  ]);
  const codes = h('ol', { id: 'recovery-codes', class: 'codes' });
  const codesSaved = text(h('button', { type: 'button', id: 'recovery-done', class: 'primary' }), 'recovery.done');
  const recovery = step('step-recovery', 'recovery.title', [
    para('recovery.warning', { class: 'note' }), codes, para('recovery.how'), h('p', { class: 'actions' }, [codesSaved]),
  ]);
  el('status').before(totp, key, push, recovery);
  return {
    backs, totpForm, totpCode, totpName, totpQr, totpSecret, webauthnForm, webauthnName,
    webauthnTitle: el('webauthn-title'), pushQr, pushUri, pushLink, codes, codesSaved,
  };
}

/**
 * Adds the enrolment screens to the page (before its first localisation: call it
 * when the module loads) and runs them for `enroller`. Their ids are the pages' own
 * (`step-totp`, `totp-code`, `webauthn-form`, `push-qr`, `recovery-codes`…).
 * @param {Enroller} enroller
 */
export function enrolment(enroller) {
  const {
    backs, totpForm, totpCode, totpName, totpQr, totpSecret, webauthnForm, webauthnName,
    webauthnTitle, pushQr, pushUri, pushLink, codes, codesSaved,
  } = build(enroller.backLabel);

  /** The method being set up. @type {FactorView | null} */
  let pending = null;
  /** @type {WebauthnKind} */
  let webauthnKind = 'security_key';
  /** Stops polling for a phone's registration when the user leaves the push set-up. */
  let stopPolling = new AbortController();

  /** A refusal: its message where the user is, or the page's own handling.
   * @param {unknown} error @param {(key: Key) => void} [say] */
  function problem(error, say = alertMessage) {
    const key = enrolMessage(error);
    if (key) say(key);
    else enroller.problem(error);
  }

  function stop() {
    stopPolling.abort();
    status(null);
  }

  for (const button of backs) {
    button.addEventListener('click', () => {
      stop();
      enroller.back();
    });
  }

  /**
   * Starts adding `kind`: the authenticator app, push and recovery codes at once; a
   * WebAuthn kind on the next screen's button (the browser's prompt right after a click).
   * @param {EnrolKind} kind @param {HTMLElement} scope kept busy meanwhile @param {boolean} [renew] new recovery codes
   */
  async function begin(kind, scope, renew = false) {
    clearAlert();
    if (isWebauthn(kind)) {
      showWebauthn(kind, '');
      return;
    }
    try {
      const started = /** @type {EnrolmentStarted} */ (await busy(scope, () => enroller.start(kind, { renew })));
      pending = started.factor;
      const setup = started.setup;
      if (setup.kind === 'totp') showTotp(setup);
      else if (setup.kind === 'push') void showPush(setup);
      else if (setup.kind === 'recovery_code') showCodes(setup);
      else (enroller.say ?? alertMessage)('factor.unavailable');
    } catch (error) {
      problem(error, enroller.say);
    }
  }

  // Authenticator app: the QR code, the secret as text, a code to prove the app has
  // it, and a name.

  /** @param {S['TotpSetup']} setup */
  function showTotp(setup) {
    totpQr.src = svgUrl(setup.qr_svg);
    // Groups of four are easier to copy by hand.
    totpSecret.textContent = setup.secret.replace(/(.{4})(?=.)/g, '$1 ');
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
    const factor = pending;
    if (!factor) return;
    /** @type {FactorConfirmation} */
    const body = name ? { kind: 'totp', code, name } : { kind: 'totp', code };
    try {
      await busy(totpForm, () => enroller.confirm(factor, body));
    } catch (error) {
      const code = error instanceof ApiError ? error.code : null;
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
        problem(error);
      }
      return;
    }
    await enroller.done('totp');
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
    text(webauthnTitle, titles[kind]);
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
    try {
      await busy(webauthnForm, () => createCredential(enroller, kind, name));
    } catch (error) {
      if (error instanceof ApiError && error.code === 'invalid_name') {
        fieldError(webauthnName, 'enrol.invalid_name');
        webauthnName.focus();
      } else {
        problem(error);
      }
      return;
    }
    await enroller.done(kind);
  });

  // Push: the phone scans the QR code (or is given the address) and registers itself;
  // confirming answers 409 push_device_pending until it has, then 200, so the page
  // asks again every two seconds.

  /** @param {S['PushSetup']} setup */
  async function showPush(setup) {
    stopPolling.abort();
    const controller = new AbortController();
    stopPolling = controller;
    pushQr.src = svgUrl(setup.qr_svg);
    pushUri.textContent = setup.enrolment_uri;
    // On the phone itself there is nothing to scan: the same URI as a link opens the
    // app (only this scheme: never a javascript: URL, whatever the answer holds).
    pushLink.hidden = !setup.enrolment_uri.startsWith('gatehouse-push:');
    pushLink.href = pushLink.hidden ? '#' : setup.enrolment_uri;
    showStep('step-push');
    status('enrol.push_waiting');
    const deadline = Date.now() + setup.expires_in * 1000;
    const factor = pending;
    while (factor && !controller.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      if (controller.signal.aborted) return;
      try {
        await enroller.confirm(factor, { kind: 'push' });
      } catch (error) {
        if (controller.signal.aborted) return;
        const code = error instanceof ApiError ? error.code : null;
        if (code === 'push_device_pending' && Date.now() < deadline) continue;
        status(null);
        if (code === 'push_device_pending') alertMessage('enrol.expired');
        else problem(error);
        return;
      }
      if (controller.signal.aborted) return;
      status(null);
      await enroller.done('push');
      return;
    }
  }

  // Recovery codes: shown once, with a warning.

  /** @param {S['RecoveryCodeSetup']} setup */
  function showCodes(setup) {
    codes.replaceChildren(...setup.codes.map((code) => h('li', {}, [h('code', {}, [code])])));
    showStep('step-recovery');
  }

  codesSaved.addEventListener('click', () => {
    codes.replaceChildren();
    void enroller.done('recovery_code');
  });

  return { begin, showWebauthn, stop };
}
