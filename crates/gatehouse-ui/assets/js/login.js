// The login screen: `/ui/login?login_challenge=…`, where /authorize sends the browser.
// Password (or a passkey from the identifier field's autofill), then one of the
// offered second factors, rendered by the challenge's `kind`; "Try another method"
// goes back to the list. A finished login follows `redirect_to` back to the client.

import { ApiError, api, commonMessage, seg } from './api.js';
import {
  alertMessage, busy, byId, clearAlert, clearErrors, clearFieldError, el, fieldError, h,
  languageSwitcher, showStep, status, text,
} from './dom.js';
import { createCredential, enrolMessage } from './enrol.js';
import { chooseLocale } from './i18n.js';
import { describe, scopeText } from './names.js';
import * as webauthn from './webauthn.js';

/** @typedef {import('gatehouse-api').components['schemas']} S */
/** @typedef {S['LoginView']} LoginView */
/** @typedef {S['SecondFactorStep']} SecondFactorStep */
/** @typedef {S['FactorOfferView']} FactorOfferView */
/** @typedef {S['FactorChallenge']} FactorChallenge */
/** @typedef {S['EmailOtpChallenge'] | S['TotpChallenge'] | S['RecoveryCodeChallenge']} CodeChallenge */
/** @typedef {S['PushChallenge']} PushChallenge */
/** @typedef {S['SecurityKeyChallenge'] | S['PasskeyChallenge'] | S['PlatformChallenge']} WebauthnFactorChallenge */
/** @typedef {S['FactorProof']} FactorProof */
/** @typedef {S['LoginDone']} LoginDone */
/** @typedef {S['ConsentView']} ConsentView */
/** @typedef {S['ConsentDone']} ConsentDone */
/** @typedef {S['LoginPending']} LoginPending */
/** @typedef {S['WebauthnChallenge']} WebauthnChallenge */
/** @typedef {S['PasskeySignIn']} PasskeySignIn */
/** @typedef {S['PasswordStep']} PasswordStep */
/** @typedef {import('./dom.js').Message} Message */
/** @typedef {import('./i18n.js').Key} Key */
/** @typedef {import('./api.js').ProblemCode<'get_login' | 'password' | 'factor_challenge' | 'factor_verify' | 'passkey_challenge' | 'passkey_verify' | 'login_enrolment_start' | 'login_enrolment_confirm' | 'get_consent' | 'post_consent'>} LoginProblem */

/** The code of a refusal, as one the document lists for the login's operations.
 * @param {unknown} error @returns {LoginProblem | null} */
const codeOf = (error) => (error instanceof ApiError ? /** @type {LoginProblem} */ (error.code) : null);

const loginChallenge = new URLSearchParams(location.search).get('login_challenge') ?? '';
const base = `/api/v1/login/${seg(loginChallenge)}`;
// The factor list survives a reload of the page (GET says `second_factor` but not
// which factors): only masked labels and ids, for this tab only.
const remembered = `gatehouse.login.${loginChallenge}`;

/** The tab's memory of the factor list; storage may be off (then a reload asks for
 * the password again). @param {SecondFactorStep | null} step */
function remember(step) {
  try {
    if (step) sessionStorage.setItem(remembered, JSON.stringify(step));
    else sessionStorage.removeItem(remembered);
  } catch {
    // Nothing to keep it in.
  }
}

/** @returns {SecondFactorStep | null} */
function recall() {
  try {
    const saved = sessionStorage.getItem(remembered);
    return saved ? /** @type {SecondFactorStep} */ (JSON.parse(saved)) : null;
  } catch {
    return null;
  }
}

const passwordForm = byId('password-form', HTMLFormElement);
const identifierInput = byId('identifier', HTMLInputElement);
const passwordInput = byId('password', HTMLInputElement);
const codeForm = byId('code-form', HTMLFormElement);
const codeInput = byId('code', HTMLInputElement);
const resendButton = byId('code-resend', HTMLButtonElement);

/** @type {LoginView | null} */
let view = null;
/** @type {FactorOfferView[]} */
let factors = [];
/** The factor being tried and its challenge. @type {{ offer: FactorOfferView, challenge: FactorChallenge } | null} */
let current = null;
/** Stops what the current factor screen waits for (push polling, a WebAuthn prompt). */
let stopCurrent = new AbortController();
/** Stops the passkey autofill request once a password is sent. */
let passkeyAutofill = new AbortController();

/** The client's name for the texts ("to continue to Support Portal").
 * @returns {import('./i18n.js').Param} */
const clientName = () => view?.client.client_name ?? { key: 'common.the_application' };

// Ending states: the login request is over, whatever the screen.
/** @type {Partial<Record<LoginProblem, Key>>} */
const ENDED = {
  login_request_expired: 'ended.expired',
  login_request_completed: 'ended.completed',
  login_request_not_found: 'ended.not_found',
  browser_mismatch: 'ended.browser_mismatch',
};

/** @param {Key} key @param {unknown} [returnTo] the problem's way back to the application */
function ended(key, returnTo) {
  stopCurrent.abort();
  passkeyAutofill.abort();
  remember(null);
  el('nudge').hidden = true;
  text(el('ended-text'), key, { client: clientName() });
  // The server's way back (the client's redirect URI with an error), where it still
  // knows the client: never a script URL, whatever the answer holds.
  const back = byId('ended-return', HTMLAnchorElement);
  const url = typeof returnTo === 'string' && URL.canParse(returnTo) ? new URL(returnTo) : null;
  back.hidden = !url || ['javascript:', 'data:', 'vbscript:', 'blob:', 'file:'].includes(url.protocol);
  back.href = back.hidden || !url ? '#' : url.href;
  // Otherwise Back leads to the page that started the sign-in (the /authorize
  // redirect left no entry of its own), where the user can start again.
  el('ended-back').hidden = !back.hidden || history.length < 2;
  showStep('step-ended');
}

/**
 * Problems any step may meet: the login is over, or the password must come first.
 * @param {unknown} error
 * @returns {boolean} handled
 */
function loginProblem(error) {
  const code = codeOf(error);
  if (!code) return false;
  const key = ENDED[code];
  if (key) {
    ended(key, error instanceof ApiError ? error.problem['return_to'] : null);
    return true;
  }
  if (code === 'password_required') {
    showPassword();
    return true;
  }
  return false;
}

/** @param {unknown} error @param {Message} [fallback] */
function showProblem(error, fallback) {
  if (!(error instanceof ApiError)) console.error(error);
  const [key, params] = fallback ?? commonMessage(error);
  alertMessage(key, params);
}

// ---- Password step -------------------------------------------------------------

function showPassword() {
  stopCurrent.abort();
  text(el('client-line'), 'login.to_client', { client: clientName() });
  showStep('step-password', { focus: false });
  (identifierInput.value ? passwordInput : identifierInput).focus();
  void startPasskeyAutofill();
}

passwordForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(passwordForm);
  clearAlert();
  const identifier = identifierInput.value.trim();
  const password = passwordInput.value;
  if (!identifier) fieldError(identifierInput, 'login.identifier_required');
  if (!password) fieldError(passwordInput, 'login.password_required');
  if (!identifier || !password) {
    (identifier ? passwordInput : identifierInput).focus();
    return;
  }
  passkeyAutofill.abort();
  try {
    /** @type {PasswordStep} */
    const body = { identifier, password };
    const step = /** @type {SecondFactorStep} */ (await busy(passwordForm, () => api('POST', `${base}/password`, body)));
    passwordInput.value = '';
    afterPassword(step);
  } catch (error) {
    passwordProblem(error);
    void startPasskeyAutofill();
  }
});

/** Refusals of the identifier itself, shown at its field.
 * @type {Partial<Record<LoginProblem, Key>>} */
const IDENTIFIER_PROBLEMS = {
  identifier_missing: 'login.identifier_required',
  identifier_invalid: 'login.identifier_invalid',
  email_invalid: 'login.identifier_invalid',
  username_login_disabled: 'login.username_login_disabled',
};

/** @param {unknown} error */
function passwordProblem(error) {
  if (loginProblem(error)) return;
  const code = codeOf(error);
  if (code === 'invalid_credentials') {
    fieldError(passwordInput, 'login.invalid_credentials');
    passwordInput.select();
    passwordInput.focus();
  } else if (code && code in IDENTIFIER_PROBLEMS) {
    fieldError(identifierInput, IDENTIFIER_PROBLEMS[code] ?? 'login.identifier_invalid');
    identifierInput.focus();
  } else if (code === 'account_locked' || code === 'account_disabled') {
    alertMessage(code === 'account_locked' ? 'login.account_locked' : 'login.account_disabled');
  } else {
    showProblem(error);
  }
}

/** @param {SecondFactorStep} step */
function afterPassword(step) {
  if (step.next === 'return_to_client' && step.redirect_to) {
    // A phishing-resistant login the account cannot give: the client is told.
    status('login.returned', { client: clientName() });
    location.assign(step.redirect_to);
    return;
  }
  remember(step);
  el('nudge').hidden = !step.identifier_deprecated;
  factors = step.factors;
  // One method: the chooser shows it ("Email on r***@example.com") and nothing is
  // sent before the user asks. Several: start with the default (the one used last),
  // "Try another method" lists the others.
  const first = factors.find((f) => f.id === step.default_factor) ?? factors[0];
  if (factors.length > 1 && first) void start(first, el('step-password'));
  else showFactors();
}

// ---- Passkey sign-in (autofill) ------------------------------------------------

async function startPasskeyAutofill() {
  passkeyAutofill.abort();
  if (!view?.passkey_sign_in || !webauthn.supported()) return;
  const conditional = await webauthn.conditionalAvailable();
  // Without autofill, a button asks for a passkey in the browser's own dialog.
  el('passkey-button').hidden = conditional;
  if (!conditional) return;
  const controller = new AbortController();
  passkeyAutofill = controller;
  await signInWithPasskey(controller.signal, true);
}

byId('passkey-button', HTMLButtonElement).addEventListener('click', () => {
  passkeyAutofill.abort();
  const controller = new AbortController();
  passkeyAutofill = controller;
  void signInWithPasskey(controller.signal, false);
});

/** @param {AbortSignal} signal @param {boolean} conditional */
async function signInWithPasskey(signal, conditional) {
  try {
    const options = /** @type {WebauthnChallenge} */ (await api('POST', `${base}/passkey/challenge`));
    if (signal.aborted) return;
    const credential = await webauthn.get(options.public_key, { signal, conditional });
    /** @type {PasskeySignIn} */
    const body = { credential };
    finish(/** @type {LoginDone} */ (await api('POST', `${base}/passkey/verify`, body)));
  } catch (error) {
    if (signal.aborted || loginProblem(error)) return;
    const code = codeOf(error);
    if (code) {
      if (code === 'passkey_sign_in_disabled') return;
      if (code === 'webauthn_ceremony_expired') {
        if (conditional) void startPasskeyAutofill();
        return;
      }
      if (code === 'webauthn_invalid') alertMessage('webauthn.invalid');
      else if (code === 'webauthn_counter_regression') alertMessage('webauthn.counter_regression');
      else showProblem(error);
    } else if (webauthn.failure(error) === 'cancelled') {
      // The autofill request timed out (or the dialog was closed): offer it again.
      if (conditional) void startPasskeyAutofill();
      else alertMessage('webauthn.cancelled');
      return;
    } else {
      showProblem(error);
    }
    if (conditional) void startPasskeyAutofill();
  }
}

// ---- Second step: the list and "Try another method" ----------------------------

function showFactors() {
  stopCurrent.abort();
  status(null);
  const list = el('factor-list');
  list.replaceChildren(
    ...factors.map((offer) => {
      const { kind, name } = describe(offer);
      const button = h('button', { type: 'button', class: 'choice', 'data-factor': offer.id }, [
        text(h('span', { class: 'choice-title' }), ...kind),
      ]);
      if (typeof name === 'string') button.append(h('span', { class: 'choice-detail' }, [name]));
      else if (name) button.append(text(h('span', { class: 'choice-detail' }), ...name));
      button.addEventListener('click', () => void start(offer, list));
      return h('li', {}, [button]);
    }),
  );
  showStep('step-factors');
}

for (const button of document.querySelectorAll('button.another')) {
  button.addEventListener('click', () => showFactors());
}

/** Asks the server for the factor's challenge and shows its screen.
 * @param {FactorOfferView} offer @param {HTMLElement} scope what to keep busy meanwhile */
async function start(offer, scope) {
  stopCurrent.abort();
  stopCurrent = new AbortController();
  clearAlert();
  try {
    const challenge = /** @type {FactorChallenge} */ (
      await busy(scope, () => api('POST', `${base}/factors/${seg(offer.id)}/challenge`))
    );
    current = { offer, challenge };
    for (const button of document.querySelectorAll('button.another')) {
      if (button instanceof HTMLElement) button.hidden = factors.length < 2;
    }
    switch (challenge.kind) {
      case 'email_otp':
      case 'totp':
      case 'recovery_code':
        showCode(challenge);
        break;
      case 'push':
        void showPush(challenge, stopCurrent.signal);
        break;
      case 'security_key':
      case 'passkey':
      case 'platform':
        void showWebauthn(challenge, stopCurrent.signal);
        break;
      default: {
        /** @type {never} */
        const unknown = challenge;
        console.error('unknown factor kind', unknown);
        alertMessage('factor.unavailable');
      }
    }
  } catch (error) {
    factorProblem(error);
  }
}

/** Problems of a factor's challenge or proof that are not about the code typed.
 * @param {unknown} error */
function factorProblem(error) {
  if (loginProblem(error)) return;
  if (!(error instanceof ApiError)) return showProblem(error);
  const when = { seconds: error.retryAfter ?? 60 };
  /** @type {Partial<Record<LoginProblem, Message>>} */
  const messages = {
    factor_not_allowed: ['factor.not_allowed', { client: clientName() }],
    factor_retired: ['factor.retired'],
    factor_disabled: ['factor.unavailable'],
    factor_not_active: ['factor.unavailable'],
    factor_not_found: ['factor.unavailable'],
    webauthn_unavailable: ['webauthn.unavailable'],
    otp_send_limit: ['code.send_limit', { when }],
    push_send_limit: ['push.send_limit', { when }],
    rate_limited: ['code.throttled', { when }],
  };
  showProblem(error, messages[/** @type {LoginProblem} */ (error.code)]);
}

// ---- Codes: e-mail, authenticator app, recovery code --------------------------

/** @param {CodeChallenge} challenge */
function showCode(challenge) {
  codeForm.reset();
  clearErrors(codeForm);
  const recovery = challenge.kind === 'recovery_code';
  codeInput.inputMode = recovery ? 'text' : 'numeric';
  codeInput.autocomplete = recovery ? 'off' : 'one-time-code';
  text(el('code-label'), recovery ? 'code.recovery_label' : 'code.label');
  const title = el('code-title');
  const intro = el('code-intro');
  if (challenge.kind === 'email_otp') {
    text(title, 'code.email_title');
    text(intro, 'code.email_intro', {
      to: challenge.sent_to,
      digits: challenge.code_length,
      minutes: Math.round(challenge.expires_in / 60),
    });
  } else if (challenge.kind === 'totp') {
    text(title, 'code.totp_title');
    text(intro, 'code.totp_intro', { digits: challenge.code_length });
  } else {
    text(title, 'code.recovery_title');
    text(intro, 'code.recovery_intro', { format: challenge.format, n: challenge.remaining });
  }
  resendButton.hidden = challenge.kind !== 'email_otp';
  showStep('step-code');
}

codeForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(codeForm);
  clearAlert();
  const code = codeInput.value.trim();
  if (!code) {
    fieldError(codeInput, 'code.required');
    codeInput.focus();
    return;
  }
  const challenge = current?.challenge;
  if (!current || !challenge || !(challenge.kind === 'email_otp' || challenge.kind === 'totp' || challenge.kind === 'recovery_code')) return;
  /** @type {FactorProof} */
  const proof = { kind: challenge.kind, code };
  const path = `${base}/factors/${seg(current.offer.id)}/verify`;
  try {
    finish(/** @type {LoginDone} */ (await busy(codeForm, () => api('POST', path, proof))));
  } catch (error) {
    codeProblem(error);
  }
});

/** @param {unknown} error */
function codeProblem(error) {
  const code = codeOf(error);
  if (error instanceof ApiError && code === 'otp_invalid') {
    const left = error.attemptsLeft;
    if (left === null) fieldError(codeInput, 'code.invalid_plain');
    else fieldError(codeInput, 'code.invalid', { n: left });
  } else if (code === 'otp_replayed') {
    fieldError(codeInput, 'code.replayed');
  } else if (code === 'otp_expired' || code === 'otp_exhausted' || code === 'otp_not_sent') {
    const key = code === 'otp_expired' ? 'code.expired' : code === 'otp_exhausted' ? 'code.exhausted' : 'code.not_sent';
    fieldError(codeInput, key);
  } else {
    factorProblem(error);
    return;
  }
  codeInput.select();
  codeInput.focus();
}

resendButton.addEventListener('click', async () => {
  if (!current) return;
  clearErrors(codeForm);
  clearAlert();
  try {
    const challenge = /** @type {FactorChallenge} */ (
      await busy(el('step-code'), () => api('POST', `${base}/factors/${seg(current?.offer.id ?? '')}/challenge`))
    );
    if (challenge.kind === 'email_otp') status('code.resent', { to: challenge.sent_to });
    codeInput.value = '';
    codeInput.focus();
  } catch (error) {
    factorProblem(error);
  }
});

// ---- Push approval ---------------------------------------------------------------

/** Shows the number and polls `verify` every `poll_interval` seconds until the phone
 * answers, the push expires, or the user leaves for another method.
 * @param {PushChallenge} challenge @param {AbortSignal} signal */
async function showPush(challenge, signal) {
  el('push-number').textContent = String(challenge.number);
  el('push-retry').hidden = true;
  showStep('step-push');
  status('push.waiting');
  const path = `${base}/factors/${seg(current?.offer.id ?? '')}/verify`;
  const interval = Math.max(1, challenge.poll_interval) * 1000;
  try {
    for (;;) {
      await sleep(interval, signal);
      const answer = /** @type {LoginDone | LoginPending} */ (await api('POST', path, { kind: 'push' }));
      if (signal.aborted) return;
      if (answer.next !== 'pending') return finish(answer);
    }
  } catch (error) {
    if (signal.aborted) return;
    status(null);
    const code = codeOf(error);
    /** @type {Partial<Record<LoginProblem, Key>>} */
    const messages = {
      push_denied: 'push.denied',
      push_number_mismatch: 'push.mismatch',
      push_expired: 'push.expired',
      push_used: 'push.expired',
      push_not_sent: 'push.expired',
    };
    const key = code && messages[code];
    if (key) {
      alertMessage(key);
      el('push-retry').hidden = false;
    } else {
      factorProblem(error);
    }
  }
}

byId('push-retry', HTMLButtonElement).addEventListener('click', () => {
  if (current) void start(current.offer, el('step-push'));
});

/** @param {number} ms @param {AbortSignal} signal */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

// ---- Security key, passkey, biometric key --------------------------------------

/** @param {WebauthnFactorChallenge} challenge @param {AbortSignal} signal */
async function showWebauthn(challenge, signal) {
  const titles = /** @type {const} */ ({
    security_key: 'webauthn.security_key_title',
    passkey: 'webauthn.passkey_title',
    platform: 'webauthn.platform_title',
  });
  text(el('webauthn-title'), titles[challenge.kind]);
  const retry = el('webauthn-retry');
  retry.hidden = true;
  showStep('step-webauthn');
  if (!webauthn.supported()) {
    alertMessage('webauthn.unsupported');
    return;
  }
  try {
    const credential = await webauthn.get(challenge.public_key, { signal });
    /** @type {FactorProof} */
    const proof = { kind: challenge.kind, credential };
    const path = `${base}/factors/${seg(current?.offer.id ?? '')}/verify`;
    finish(/** @type {LoginDone} */ (await api('POST', path, proof)));
  } catch (error) {
    if (signal.aborted) return;
    retry.hidden = false;
    const code = codeOf(error);
    if (code) {
      if (code === 'webauthn_invalid') alertMessage('webauthn.invalid');
      else if (code === 'webauthn_counter_regression') alertMessage('webauthn.counter_regression');
      else if (code === 'webauthn_ceremony_expired') alertMessage('webauthn.expired');
      else factorProblem(error);
    } else if (webauthn.failure(error) === 'cancelled') {
      alertMessage('webauthn.cancelled');
    } else {
      showProblem(error);
    }
  }
}

byId('webauthn-retry', HTMLButtonElement).addEventListener('click', () => {
  if (current) void start(current.offer, el('step-webauthn'));
});

// ---- Done ------------------------------------------------------------------------

/** @param {LoginDone} done */
async function finish(done) {
  stopCurrent.abort();
  passkeyAutofill.abort();
  remember(null);
  // A client that is not first-party asks the user first.
  if (done.next === 'consent' && done.consent) return showConsent(done.consent);
  const redirectTo = done.redirect_to;
  if (redirectTo === undefined) return ended('ended.not_found');
  // The biometric key is offered only where this device has one to add.
  if (done.offer_platform_enrolment && webauthn.supported() && (await webauthn.platformAvailable())) {
    leaving = redirectTo;
    showStep('step-done');
    return;
  }
  backToClient(redirectTo);
}

/** Where the finished login sends the browser, once the offer is answered. */
let leaving = '';

/** @param {string} redirectTo @param {boolean} [say] announce it */
function backToClient(redirectTo, say = true) {
  if (say) status('done.redirecting', { client: clientName() });
  location.assign(redirectTo);
}

// "Add a biometric key?": Add runs the browser's prompt at once (the shared
// enrolment, authorised by the finished login for a few minutes), then on to the
// application; so does Not now, and a refusal that ends the offer.
/** @type {Pick<import('./enrol.js').Enroller, 'start' | 'confirm'>} */
const afterLogin = {
  start: () => api('POST', `${base}/enrolment`),
  confirm: (_factor, body) => api('POST', `${base}/enrolment/confirm`, body),
};

byId('done-add', HTMLButtonElement).addEventListener('click', async () => {
  clearAlert();
  try {
    await busy(el('step-done'), () => createCredential(afterLogin, 'platform', ''));
  } catch (error) {
    const code = codeOf(error);
    if (code === 'platform_enrolment_not_offered' || code === 'login_request_expired') return backToClient(leaving);
    const key = enrolMessage(error);
    if (key) alertMessage(key);
    else showProblem(error);
    return;
  }
  status('done.platform_added', { client: clientName() });
  backToClient(leaving, false);
});
byId('done-continue', HTMLButtonElement).addEventListener('click', () => backToClient(leaving));

byId('ended-back', HTMLButtonElement).addEventListener('click', () => history.back());

// ---- Consent ---------------------------------------------------------------------

/** The client's request: each scope a box the user may clear (`openid`, which only
 * says who they are, stays), ticked. @param {ConsentView} consent */
function showConsent(consent) {
  text(el('consent-text'), 'consent.asks', { client: consent.client.client_name });
  const list = el('consent-scopes');
  list.replaceChildren();
  for (const scope of consent.scopes) {
    const id = `consent-${scope}`;
    const box = h('input', { type: 'checkbox', id, name: 'scope', value: scope, checked: true, disabled: scope === 'openid' });
    const label = h('label', { for: id });
    const [key, params] = scopeText(scope);
    text(label, key, params);
    list.append(h('li', {}, [box, label]));
  }
  showStep('step-consent');
}

/** @param {{ grant: string[] } | { deny: true }} answer */
async function answerConsent(answer) {
  const form = byId('consent-form', HTMLFormElement);
  try {
    const done = /** @type {ConsentDone} */ (await busy(form, () => api('POST', `${base}/consent`, answer)));
    backToClient(done.redirect_to, answer && 'grant' in answer);
  } catch (error) {
    if (!loginProblem(error)) showProblem(error);
  }
}

byId('consent-form', HTMLFormElement).addEventListener('submit', (event) => {
  event.preventDefault();
  const boxes = el('consent-scopes').querySelectorAll('input[name="scope"]');
  const grant = [...boxes].flatMap((box) => (box instanceof HTMLInputElement && box.checked ? [box.value] : []));
  void answerConsent({ grant });
});
byId('consent-deny', HTMLButtonElement).addEventListener('click', () => void answerConsent({ deny: true }));

// ---- Start -----------------------------------------------------------------------

async function main() {
  chooseLocale();
  languageSwitcher();
  if (!loginChallenge) return ended('ended.no_challenge');
  try {
    view = /** @type {LoginView} */ (await api('GET', base));
  } catch (error) {
    if (!loginProblem(error)) showProblem(error);
    return;
  }
  chooseLocale(view.ui_locales);
  if (view.login_hint) identifierInput.value = view.login_hint;
  if (view.next === 'consent') {
    try {
      return showConsent(/** @type {ConsentView} */ (await api('GET', `${base}/consent`)));
    } catch (error) {
      if (!loginProblem(error)) showProblem(error);
      return;
    }
  }
  const step = view.next === 'second_factor' ? recall() : null;
  if (step) {
    factors = step.factors;
    el('nudge').hidden = !step.identifier_deprecated;
    showFactors();
  } else {
    showPassword();
  }
}

for (const input of [identifierInput, passwordInput, codeInput]) {
  input.addEventListener('input', () => clearFieldError(input));
}

void main();
