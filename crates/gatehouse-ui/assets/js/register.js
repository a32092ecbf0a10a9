// Registration (scenario A): `/ui/register?token=…` from the mailed "Complete
// Registration" link. "Set your password" with a live checklist, then two-step
// verification: "I'll do this later" (e-mail codes) or a method set up right here,
// then "Registration completed". An expired link leads to the resend page.

import { ApiError, api, commonMessage, seg } from './api.js';
import { markViolations, renderChecklist as renderPolicy, updateChecklist as tick } from './checklist.js';
import {
  alertMessage, busy, byId, clearAlert, clearErrors, clearFieldError, el, fieldError, h,
  languageSwitcher, showStep, text,
} from './dom.js';
import { enrolment, isWebauthn } from './enrol.js';
import { chooseLocale } from './i18n.js';
import * as webauthn from './webauthn.js';

/** @typedef {import('gatehouse-api').components['schemas']} S */
/** @typedef {S['RegistrationView']} RegistrationView */
/** @typedef {S['PasswordRuleView']} PasswordRuleView */
/** @typedef {S['SetPassword']} SetPassword */
/** @typedef {S['SecondFactorChoice']} SecondFactorChoice */
/** @typedef {S['StartEnrolment']} StartEnrolment */
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

/** @type {PasswordRuleView[]} */
let policy = [];

// The set-up of a second factor: the shared enrolment screens, authorised by the link.
const enrol = enrolment({
  start: (kind) => {
    /** @type {StartEnrolment} */
    const body = { kind };
    return api('POST', `${base}/factors`, body);
  },
  confirm: (factor, body) => api('POST', `${base}/factors/${seg(factor.id)}/confirm`, body),
  done: (kind) => complete(/** @type {typeof CHOICES[number]} */ (kind), document.body),
  problem: showProblem,
  back: () => showStep('step-second-factor'),
  backLabel: 'register.choose_other',
});

// ---- The link's state ----------------------------------------------------------

/** @param {'expired' | 'used' | 'unknown'} state */
function showLinkState(state) {
  enrol.stop();
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
    if (isWebauthn(kind) && !webauthn.supported()) continue;
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
      button.addEventListener('click', () => void enrol.begin(kind, button));
      return h('li', {}, [button]);
    }),
  );
  showStep('step-second-factor');
}

byId('later', HTMLButtonElement).addEventListener('click', () => void complete('later', el('step-second-factor')));

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
    if (codeOf(error) === 'factor_not_confirmed') alertMessage('enrol.expired');
    else if (codeOf(error) === 'factor_not_available') alertMessage('factor.unavailable');
    else showProblem(error);
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
