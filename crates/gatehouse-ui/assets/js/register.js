// Registration (scenario A): `/ui/register?token=…` from the mailed "Complete
// Registration" link. "Set your password" with a live checklist, then two-step
// verification: "I'll do this later" (e-mail codes) or a method set up right here,
// then "Registration completed". An expired link leads to the resend page.

import { ApiError, api, commonMessage, seg } from './api.js';
import { markViolations, renderChecklist as renderPolicy, updateChecklist as tick } from './checklist.js';
import {
  alertMessage, busy, byId, clearAlert, clearErrors, clearFieldError, el, fieldError, h,
  languageSwitcher, showStep, status, text,
} from './dom.js';
import { chooseLocale } from './i18n.js';
import * as webauthn from './webauthn.js';

/** @typedef {import('gatehouse-api').components['schemas']} S */
/** @typedef {S['RegistrationView']} RegistrationView */
/** @typedef {S['PasswordRuleView']} PasswordRuleView */
/** @typedef {S['SetPassword']} SetPassword */
/** @typedef {S['SecondFactorChoice']} SecondFactorChoice */
/** @typedef {S['StartEnrolment']} StartEnrolment */
/** @typedef {S['EnrolmentStarted']} EnrolmentStarted */
/** @typedef {S['FactorConfirmation']} FactorConfirmation */
/** @typedef {S['FactorView']} FactorView */
/** @typedef {S['CompleteRegistration']} CompleteRegistration */
/** @typedef {S['RegistrationCompleted']} RegistrationCompleted */
/** @typedef {S['FactorKindName']} FactorKindName */
/** @typedef {import('./i18n.js').Key} Key */
/** @typedef {import('./api.js').ProblemCode<'get_registration' | 'set_password' | 'start_factor' | 'confirm_factor' | 'complete'>} RegistrationProblem */

/** The code of a refusal, as one the document lists for the registration's operations.
 * @param {unknown} error @returns {RegistrationProblem | null} */
const codeOf = (error) => (error instanceof ApiError ? /** @type {RegistrationProblem} */ (error.code) : null);

const token = new URLSearchParams(location.search).get('token') ?? '';
const base = `/api/v1/registration/${seg(token)}`;

const passwordForm = byId('password-form', HTMLFormElement);
const passwordInput = byId('new-password', HTMLInputElement);
const confirmInput = byId('confirm-password', HTMLInputElement);
const continueButton = byId('password-continue', HTMLButtonElement);
const totpForm = byId('totp-form', HTMLFormElement);
const totpInput = byId('totp-code', HTMLInputElement);
const webauthnForm = byId('webauthn-form', HTMLFormElement);
const nameInput = byId('factor-name', HTMLInputElement);

/** @type {PasswordRuleView[]} */
let policy = [];
/** The factor being set up. @type {FactorView | null} */
let pending = null;
/** Stops polling for a phone's registration when the user leaves the push set-up. */
let stopPolling = new AbortController();

// ---- The link's state ----------------------------------------------------------

/** @param {'expired' | 'used' | 'unknown'} state */
function showLinkState(state) {
  stopPolling.abort();
  const texts = /** @type {const} */ ({
    expired: ['register.expired_title', 'register.expired_text'],
    used: ['register.used_title', 'register.used_text'],
    unknown: ['register.unknown_title', 'register.unknown_text'],
  });
  text(el('link-title'), texts[state][0]);
  text(el('link-text'), texts[state][1]);
  // A used link means the account is registered: sign in. Otherwise: a new link.
  el('link-resend').hidden = state === 'used';
  el('link-sign-in').hidden = state !== 'used';
  showStep('step-link');
}

/** Problems of any step about the link itself.
 * @param {unknown} error @returns {boolean} handled */
function linkProblem(error) {
  const code = codeOf(error);
  if (code === 'registration_link_unknown') showLinkState('unknown');
  else if (code === 'registration_link_expired') showLinkState('expired');
  else if (code === 'registration_link_used') showLinkState('used');
  else if (code === 'password_required') showStep('step-password');
  else return false;
  return true;
}

/** @param {unknown} error */
function showProblem(error) {
  if (linkProblem(error)) return;
  if (!(error instanceof ApiError)) console.error(error);
  alertMessage(...commonMessage(error));
}

// ---- Set your password: the live checklist -------------------------------------

function renderChecklist() {
  renderPolicy(el('checklist'), policy);
  updateChecklist();
}

/** Ticks each rule as the user types; Continue waits until every rule holds. */
function updateChecklist() {
  continueButton.disabled = !tick(el('checklist'), policy, passwordInput.value, confirmInput.value);
}

for (const input of [passwordInput, confirmInput]) {
  input.addEventListener('input', () => {
    clearFieldError(passwordInput);
    updateChecklist();
  });
}

passwordForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (continueButton.disabled) return;
  clearErrors(passwordForm);
  clearAlert();
  /** @type {SetPassword} */
  const body = { password: passwordInput.value, password_confirmation: confirmInput.value };
  try {
    const choice = /** @type {SecondFactorChoice} */ (await busy(passwordForm, () => api('POST', `${base}/password`, body)));
    passwordForm.reset();
    showChoices(choice);
  } catch (error) {
    if (error instanceof ApiError && codeOf(error) === 'password_policy') {
      // The server's verdict wins over the page's: mark every rule it named.
      markViolations(el('checklist'), error.problem['violations']);
      fieldError(passwordInput, 'register.policy_error');
      passwordInput.focus();
    } else {
      showProblem(error);
    }
  }
});

// ---- Two-step verification ---------------------------------------------------------

/** The kinds this page can set up, and what each one is. */
const CHOICES = /** @type {const} */ (['totp', 'security_key', 'passkey', 'platform', 'push']);

/** @param {SecondFactorChoice} choice */
async function showChoices(choice) {
  el('later').hidden = !choice.choices.includes('later');
  /** @type {(typeof CHOICES)[number][]} */
  const offered = [];
  for (const kind of CHOICES) {
    if (!choice.choices.includes(kind)) continue;
    const isWebauthn = kind === 'security_key' || kind === 'passkey' || kind === 'platform';
    if (isWebauthn && !webauthn.supported()) continue;
    // A biometric key only where this device has one.
    if (kind === 'platform' && !(await webauthn.platformAvailable())) continue;
    offered.push(kind);
  }
  el('choices-title').hidden = offered.length === 0;
  el('choice-list').replaceChildren(
    ...offered.map((kind) => {
      const button = h('button', { type: 'button', class: 'choice', 'data-kind': kind }, [
        text(h('span', { class: 'choice-title' }), `kind.${kind}`),
        text(h('span', { class: 'choice-detail' }), `choice.${kind}`),
      ]);
      button.addEventListener('click', () => void setUp(kind, button));
      return h('li', {}, [button]);
    }),
  );
  showStep('step-second-factor');
}

byId('later', HTMLButtonElement).addEventListener('click', () => void complete('later', el('step-second-factor')));

for (const button of document.querySelectorAll('button.choose-other')) {
  button.addEventListener('click', () => {
    stopPolling.abort();
    status(null);
    showStep('step-second-factor');
  });
}

/** Starts setting up `kind` and shows its screen.
 * @param {typeof CHOICES[number]} kind @param {HTMLElement} scope */
async function setUp(kind, scope) {
  clearAlert();
  if (kind === 'security_key' || kind === 'passkey' || kind === 'platform') {
    // The ceremony starts on the next screen's button: a fresh challenge, and the
    // browser's prompt right after the user's click.
    showWebauthnStep(kind);
    return;
  }
  try {
    /** @type {StartEnrolment} */
    const body = { kind };
    const started = /** @type {EnrolmentStarted} */ (await busy(scope, () => api('POST', `${base}/factors`, body)));
    pending = started.factor;
    const setup = started.setup;
    if (setup.kind === 'totp') showTotp(setup);
    else if (setup.kind === 'push') void showPush(setup);
    else alertMessage('factor.unavailable');
  } catch (error) {
    enrolProblem(error);
  }
}

/** @param {unknown} error */
function enrolProblem(error) {
  const code = codeOf(error);
  if (code) {
    /** @type {Partial<Record<RegistrationProblem, Key>>} */
    const messages = {
      factor_not_available: 'factor.unavailable',
      factor_kind_unknown: 'factor.unavailable',
      factor_disabled: 'factor.unavailable',
      factor_retired: 'enrol.retired',
      enrolment_expired: 'enrol.expired',
      factor_not_pending: 'enrol.expired',
      webauthn_ceremony_expired: 'webauthn.expired',
      webauthn_invalid: 'webauthn.invalid',
      webauthn_not_platform: 'webauthn.not_platform',
      webauthn_credential_exists: 'webauthn.exists',
      factor_not_confirmed: 'enrol.expired',
    };
    const key = messages[code];
    if (key) return alertMessage(key);
  }
  showProblem(error);
}

// Authenticator app: the QR code (an <img> of a data: URL, which the page's CSP
// allows), the secret as text, and a code to prove the app has it.

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
  const code = totpInput.value.replace(/\s+/g, '');
  if (!code) {
    fieldError(totpInput, 'code.required');
    totpInput.focus();
    return;
  }
  if (!pending) return;
  /** @type {FactorConfirmation} */
  const body = { kind: 'totp', code };
  const path = `${base}/factors/${seg(pending.id)}/confirm`;
  try {
    await busy(totpForm, () => api('POST', path, body));
    await complete('totp', totpForm);
  } catch (error) {
    const code = codeOf(error);
    if (error instanceof ApiError && (code === 'otp_invalid' || code === 'otp_replayed')) {
      const left = error.attemptsLeft;
      if (code === 'otp_replayed') fieldError(totpInput, 'code.replayed');
      else if (left === null) fieldError(totpInput, 'code.invalid_plain');
      else fieldError(totpInput, 'code.invalid', { n: left });
      totpInput.select();
      totpInput.focus();
    } else if (error instanceof ApiError && code === 'rate_limited') {
      alertMessage('code.throttled', { when: { seconds: error.retryAfter ?? 60 } });
    } else {
      enrolProblem(error);
    }
  }
});

// Security key, passkey, biometric key: navigator.credentials.create on the user's click.

/** @type {'security_key' | 'passkey' | 'platform'} */
let webauthnKind = 'security_key';

/** @param {'security_key' | 'passkey' | 'platform'} kind */
function showWebauthnStep(kind) {
  webauthnKind = kind;
  const titles = /** @type {const} */ ({
    security_key: 'enrol.security_key_title',
    passkey: 'enrol.passkey_title',
    platform: 'enrol.platform_title',
  });
  text(el('webauthn-title'), titles[kind]);
  webauthnForm.reset();
  clearErrors(webauthnForm);
  showStep('step-webauthn');
}

webauthnForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(webauthnForm);
  clearAlert();
  const kind = webauthnKind;
  const name = nameInput.value.trim();
  try {
    await busy(webauthnForm, async () => {
      /** @type {StartEnrolment} */
      const start = { kind };
      const started = /** @type {EnrolmentStarted} */ (await api('POST', `${base}/factors`, start));
      const setup = started.setup;
      if (setup.kind !== kind || !('public_key' in setup)) throw new Error(`unexpected set-up ${setup.kind}`);
      const credential = await webauthn.create(setup.public_key);
      /** @type {FactorConfirmation} */
      const body = name ? { kind, credential, name } : { kind, credential };
      await api('POST', `${base}/factors/${seg(started.factor.id)}/confirm`, body);
    });
    await complete(kind, webauthnForm);
  } catch (error) {
    if (codeOf(error) === 'invalid_name') {
      fieldError(nameInput, 'enrol.invalid_name');
      nameInput.focus();
    } else if (!(error instanceof ApiError) && webauthn.failure(error) !== 'failed') {
      alertMessage(webauthn.failure(error) === 'exists' ? 'webauthn.exists' : 'webauthn.cancelled');
    } else {
      enrolProblem(error);
    }
  }
});

// Push: the phone scans the QR code and registers itself; confirm answers 409
// push_device_pending until it has, then 200 with the active factor, so the page
// polls it.

/** @param {S['PushSetup']} setup */
async function showPush(setup) {
  stopPolling.abort();
  const controller = new AbortController();
  stopPolling = controller;
  byId('push-qr', HTMLImageElement).src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qr_svg)}`;
  // On the phone itself there is nothing to scan: the same URI as a link opens the
  // app (only this scheme: never a javascript: URL, whatever the answer holds).
  const link = byId('push-link', HTMLAnchorElement);
  link.hidden = !setup.enrolment_uri.startsWith('gatehouse-push:');
  link.href = link.hidden ? '#' : setup.enrolment_uri;
  showStep('step-push');
  status('enrol.push_waiting');
  const deadline = Date.now() + setup.expires_in * 1000;
  const path = `${base}/factors/${seg(pending?.id ?? '')}/confirm`;
  while (!controller.signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    if (controller.signal.aborted) return;
    try {
      /** @type {FactorConfirmation} */
      const body = { kind: 'push' };
      await api('POST', path, body);
    } catch (error) {
      const code = codeOf(error);
      if (code === 'push_device_pending' && Date.now() < deadline) continue;
      status(null);
      if (code === 'push_device_pending') alertMessage('enrol.expired');
      else enrolProblem(error);
      return;
    }
    status(null);
    await complete('push', el('step-push'));
    return;
  }
}

// ---- Finish --------------------------------------------------------------------

/** @param {'later' | typeof CHOICES[number]} secondFactor @param {HTMLElement} scope */
async function complete(secondFactor, scope) {
  clearAlert();
  /** @type {CompleteRegistration} */
  const body = { second_factor: secondFactor };
  try {
    const done = /** @type {RegistrationCompleted} */ (await busy(scope, () => api('POST', `${base}/complete`, body)));
    const kind = /** @type {FactorKindName} */ (done.second_factor);
    if (secondFactor === 'later' || kind === 'email_otp') text(el('done-text'), 'register.done_email');
    else text(el('done-text'), 'register.done_factor', { factor: { key: /** @type {Key} */ (`kind.${kind}`) } });
    showStep('step-done');
  } catch (error) {
    enrolProblem(error);
  }
}

// ---- Start -----------------------------------------------------------------------

async function main() {
  chooseLocale();
  languageSwitcher();
  if (!token) return showLinkState('unknown');
  /** @type {RegistrationView} */
  let view;
  try {
    view = /** @type {RegistrationView} */ (await api('GET', base));
  } catch (error) {
    return showProblem(error);
  }
  if (view.status === 'expired') return showLinkState('expired');
  if (view.status === 'used') return showLinkState('used');
  policy = view.password_policy;
  text(el('register-intro'), 'register.intro', { email: view.email ?? '' });
  renderChecklist();
  showStep('step-password', { focus: false });
}

void main();
