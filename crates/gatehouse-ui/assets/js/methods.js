// The settings page's "Multi-factor authentication" panel: the account's sign-in
// methods (SMS struck through and retired; Remove where `removable`) and the kinds
// it may add, each with "+ Add" where `enrollable`: an authenticator app (QR code and
// secret, a code, a name), a security key, a passkey or a biometric key (the
// browser's prompt), push (QR code and enrolment address; the list is polled until
// the phone has registered), recovery codes (shown once). Adding and removing need a
// recent login: account.js signs in again and the page comes back here (`resume`).

import { ApiError, commonMessage, seg } from './api.js';
import { ReauthenticationLoop, Redirected, account } from './account.js';
import { alertMessage, busy, byId, clearAlert, el, h, showStep, status, text } from './dom.js';
import { enrolment, isWebauthn } from './enrol.js';
import { describe } from './names.js';
import { clearPanel, panelAlert, panelProblem, panelStatus, time } from './panels.js';
import * as webauthn from './webauthn.js';

/** @typedef {import('gatehouse-api').components['schemas']} S */
/** @typedef {S['FactorList']} FactorList */
/** @typedef {S['FactorView']} FactorView */
/** @typedef {S['KindView']} KindView */
/** @typedef {S['FactorKindName']} FactorKindName */
/** @typedef {S['StartEnrolment']} StartEnrolment */
/** @typedef {S['ProfileView']} ProfileView */
/** @typedef {import('./account.js').Resume} Resume */
/** @typedef {import('./i18n.js').Key} Key */
/** @typedef {import('./dom.js').Message} Message */
/** @typedef {import('./api.js').ProblemCode<'list_factors' | 'start_enrolment' | 'confirm_enrolment' | 'remove_factor' | 'regenerate_recovery_codes'>} MethodProblem */

/** The code of a refusal, as one the document lists for the methods' operations.
 * @param {unknown} error @returns {MethodProblem | null} */
const codeOf = (error) => (error instanceof ApiError ? /** @type {MethodProblem} */ (error.code) : null);

const FACTORS = '/api/v1/account/factors';

/** The list as last read. @type {FactorList | null} */
let list = null;
/** Whether the account has no method beyond the e-mail code ("Enable"). */
let onlyEmail = false;
/** The method the remove screen asks about. @type {FactorView | null} */
let removing = null;
/** Told after every change (the profile's summary and the events follow). */
let changed = () => {};
/** Whether this device has a biometric authenticator (asked once). */
const platformHere = webauthn.platformAvailable();

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
  enrol.stop();
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

// ---- Adding: the shared enrolment screens, through the account API ---------------------

const enrol = enrolment({
  start: (kind, { name, renew }) => {
    if (kind === 'recovery_code' && renew) return account('POST', '/api/v1/account/recovery-codes', undefined, { do: 'recovery' });
    /** @type {Resume} */
    const resume = name ? { do: 'add', kind, name } : { do: 'add', kind };
    /** @type {StartEnrolment} */
    const body = { kind };
    return account('POST', FACTORS, body, resume);
  },
  confirm: (factor, body) => {
    /** @type {Resume} */
    const resume = 'name' in body && body.name ? { do: 'add', kind: body.kind, name: body.name } : { do: 'add', kind: body.kind };
    return account('POST', `${FACTORS}/${seg(factor.id)}/confirm`, body, resume);
  },
  done: (kind) => done(kind === 'recovery_code' ? ['mfa.codes_saved'] : ['mfa.added', { kind: { key: /** @type {Key} */ (`kind.${kind}`) } }]),
  problem: screenProblem,
  back: () => backToPanel(null),
  backLabel: 'settings.cancel',
  say: (key) => (el('step-settings').hidden ? alertMessage(key) : panelAlert('mfa', key)),
});

/**
 * "+ Add" (or "New codes"): the set-up screen of `kind`.
 * @param {string} kind @param {HTMLElement} scope @param {boolean} [renew] new recovery codes
 */
async function add(kind, scope, renew = false) {
  clearPanel('mfa');
  await enrol.begin(/** @type {import('./enrol.js').EnrolKind} */ (kind), scope, renew);
}

/** The problems no screen has a message for: in the page's alert, or the panel's
 * while the panel shows. @param {unknown} error */
function screenProblem(error) {
  if (!el('step-settings').hidden) return panelProblem('mfa', error);
  if (error instanceof Redirected) return;
  if (error instanceof ReauthenticationLoop) {
    alertMessage('settings.reauth_loop');
    return;
  }
  if (!(error instanceof ApiError)) console.error(error);
  alertMessage(...commonMessage(error));
}

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
      enrol.showWebauthn(resume.kind, resume.name ?? '');
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
