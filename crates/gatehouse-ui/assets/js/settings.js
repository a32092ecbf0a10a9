// The account settings page (`/ui/settings`, scenario B), a first-party application of
// Gatehouse itself: it signs in through /authorize as the public client `gatehouse-ui`
// (oidc.js) and calls the account API with the bearer token (account.js). Panels:
// profile (the retired username shown, names, language, time zone, analytics
// consent), the e-mail address (a code to the new address, then sign in again with
// it), the password (the registration's live checklist), the sign-in methods
// (methods.js), the applications given access (consent grants), sessions, and recent
// security events.

import { ApiError, seg } from './api.js';
import { Redirected, account, onLeaving, setLoginHint } from './account.js';
import { markViolations, renderChecklist, updateChecklist } from './checklist.js';
import {
  alertMessage, busy, byId, clearErrors, clearFieldError, el, fieldError, h, languageSwitcher, showStep,
  status, text,
} from './dom.js';
import { chooseLocale } from './i18n.js';
import { loadMethods, onChange, relocalise, resumeMethods, setProfile } from './methods.js';
import { scopeText } from './names.js';
import { SignInError, completeSignIn, forget, signIn, signOut, tokens } from './oidc.js';
import {
  browserOf, clearPanel, panelAlert, panelProblem, panelStatus, setTimeZone, time,
} from './panels.js';

/** @typedef {import('gatehouse-api').components['schemas']} S */
/** @typedef {S['ProfileView']} ProfileView */
/** @typedef {S['ProfilePatch']} ProfilePatch */
/** @typedef {S['PasswordRuleView']} PasswordRuleView */
/** @typedef {S['PasswordChange']} PasswordChange */
/** @typedef {S['PasswordChanged']} PasswordChanged */
/** @typedef {S['EmailChangeRequest']} EmailChangeRequest */
/** @typedef {S['EmailChangeStarted']} EmailChangeStarted */
/** @typedef {S['EmailChangeConfirmation']} EmailChangeConfirmation */
/** @typedef {S['EmailChanged']} EmailChanged */
/** @typedef {S['GrantList']} GrantList */
/** @typedef {S['GrantView']} GrantView */
/** @typedef {S['SessionList']} SessionList */
/** @typedef {S['SessionView']} SessionView */
/** @typedef {S['SessionsRevoked']} SessionsRevoked */
/** @typedef {S['EventPage']} EventPage */
/** @typedef {S['EventView']} EventView */
/** @typedef {import('./account.js').Resume} Resume */
/** @typedef {import('./i18n.js').Key} Key */
/** @typedef {import('./api.js').ProblemCode<'get_profile' | 'patch_profile' | 'request_change' | 'confirm_change' | 'change_password' | 'list_sessions' | 'revoke_session' | 'revoke_other_sessions' | 'list_events' | 'list_grants' | 'revoke_grant'>} SettingsProblem */

/** The code of a refusal, as one the document lists for the settings page's operations.
 * @param {unknown} error @returns {SettingsProblem | null} */
const codeOf = (error) => (error instanceof ApiError ? /** @type {SettingsProblem} */ (error.code) : null);

const ACCOUNT = '/api/v1/account';

const profileForm = byId('profile-form', HTMLFormElement);
const givenName = byId('given-name', HTMLInputElement);
const familyName = byId('family-name', HTMLInputElement);
const localeSelect = byId('locale', HTMLSelectElement);
const zoneSelect = byId('zoneinfo', HTMLSelectElement);
const analytics = byId('analytics', HTMLInputElement);
const emailForm = byId('email-form', HTMLFormElement);
const newEmail = byId('new-email', HTMLInputElement);
const emailCodeForm = byId('email-code-form', HTMLFormElement);
const emailCode = byId('email-code', HTMLInputElement);
const passwordForm = byId('password-form', HTMLFormElement);
const currentPassword = byId('current-password', HTMLInputElement);
const newPassword = byId('new-password', HTMLInputElement);
const confirmPassword = byId('confirm-password', HTMLInputElement);
const passwordSave = byId('password-save', HTMLButtonElement);

/** @type {ProfileView | null} */
let profile = null;
/** The password rules, when the server tells them (`password_policy`). @type {PasswordRuleView[]} */
let policy = [];
/** The grants, sessions and events as last read (re-rendered on a language switch). */
/** @type {GrantView[]} */
let grants = [];
/** @type {SessionView[]} */
let sessions = [];
/** @type {EventView[]} */
let events = [];
/** @type {string | null} */
let eventsCursor = null;
/** The new address of the change just confirmed. */
let changedTo = '';

// ---- Profile -----------------------------------------------------------------------

/** The languages the account's mails and this page speak. */
const LANGUAGES = /** @type {const} */ ([['en', 'English'], ['ja', '日本語']]);

/** The time zones this browser knows (`Etc/UTC` first: scenario B's example). */
function zones() {
  /** @type {string[]} */
  let known = [];
  try {
    known = Intl.supportedValuesOf('timeZone');
  } catch {
    known = [];
  }
  return ['Etc/UTC', ...known.filter((z) => z !== 'Etc/UTC' && z !== 'UTC')];
}

/**
 * Fills a `<select>`: "Not set", then `options`, plus the current value when it is
 * not among them (an imported `en-GB`, a zone this browser does not list).
 * @param {HTMLSelectElement} select @param {[string, string][]} options @param {string | null | undefined} value
 */
function fillSelect(select, options, value) {
  const none = text(h('option', { value: '' }), 'profile.not_set');
  const items = options.map(([v, label]) => h('option', { value: v, lang: select === localeSelect ? v : false }, [label]));
  if (value && !options.some(([v]) => v === value)) items.unshift(h('option', { value }, [value]));
  select.replaceChildren(none, ...items);
  select.value = value ?? '';
}

/** @param {ProfileView} view @param {boolean} [initial] the page's first look (the
 * e-mail and password forms are set up once; later, they keep what is typed) */
function showProfile(view, initial = false) {
  profile = view;
  setLoginHint(view.email);
  setTimeZone(view.zoneinfo);
  setProfile(view);
  text(el('signed-in-as'), 'settings.signed_in_as', { email: view.email ?? '' });
  el('username-row').hidden = !view.username;
  el('username-value').textContent = view.username?.value ?? '';
  el('profile-email').textContent = view.email ?? '';
  byId('password-username', HTMLInputElement).value = view.email ?? '';
  givenName.value = view.given_name ?? '';
  familyName.value = view.family_name ?? '';
  fillSelect(localeSelect, LANGUAGES.map(([v, l]) => [v, l]), view.locale);
  fillSelect(zoneSelect, zones().map((z) => [z, z]), view.zoneinfo);
  analytics.checked = view.analytics_consent;
  if (!initial) return;
  showEmail(view);
  // The password policy as the profile tells it (`password_policy`).
  policy = view.password_policy;
  el('password-rules').hidden = policy.length === 0;
  renderChecklist(el('password-checklist'), policy);
  checkPasswords();
}

/** What changed in the form, as a merge patch (empty names clear them). */
function profilePatch() {
  if (!profile) return {};
  /** @type {ProfilePatch} */
  const patch = {};
  const given = givenName.value.trim();
  const family = familyName.value.trim();
  if (given !== (profile.given_name ?? '')) patch.given_name = given || null;
  if (family !== (profile.family_name ?? '')) patch.family_name = family || null;
  if (localeSelect.value !== (profile.locale ?? '')) patch.locale = localeSelect.value || null;
  if (zoneSelect.value !== (profile.zoneinfo ?? '')) patch.zoneinfo = zoneSelect.value || null;
  if (analytics.checked !== profile.analytics_consent) patch.analytics_consent = analytics.checked;
  return patch;
}

/** The form's field for an `invalid_fields` entry. */
const PROFILE_FIELDS = /** @type {Record<string, HTMLInputElement | HTMLSelectElement>} */ ({
  given_name: givenName,
  family_name: familyName,
  locale: localeSelect,
  zoneinfo: zoneSelect,
  analytics_consent: analytics,
});

/** @type {Record<string, Key>} */
const FIELD_CODES = {
  name_invalid: 'field.name_invalid',
  locale_invalid: 'field.locale_invalid',
  zoneinfo_invalid: 'field.zoneinfo_invalid',
  type_invalid: 'field.type_invalid',
};

profileForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(profileForm);
  clearPanel('profile');
  const patch = profilePatch();
  if (Object.keys(patch).length === 0) {
    panelStatus('profile', 'profile.unchanged');
    return;
  }
  try {
    const view = /** @type {ProfileView} */ (await busy(profileForm, () => account('PATCH', ACCOUNT, patch)));
    const relocale = patch.locale !== undefined;
    showProfile(view);
    // The account's language is this page's too, unless this browser chose one.
    if (relocale) chooseLocale(view.locale);
    panelStatus('profile', 'profile.saved');
    relocalise();
    renderLists();
  } catch (error) {
    if (error instanceof ApiError && codeOf(error) === 'invalid_fields' && Array.isArray(error.problem['fields'])) {
      /** @type {(HTMLInputElement | HTMLSelectElement)[]} */
      const marked = [];
      for (const entry of error.problem['fields']) {
        const field = entry && typeof entry === 'object' ? /** @type {Record<string, unknown>} */ (entry) : {};
        const input = PROFILE_FIELDS[String(field['field'])];
        if (!input) continue;
        fieldError(input, FIELD_CODES[String(field['code'])] ?? 'field.invalid');
        marked.push(input);
      }
      if (marked[0]) marked[0].focus();
      else panelAlert('profile', 'field.invalid');
    } else {
      panelProblem('profile', error);
    }
  }
});

// ---- E-mail address ------------------------------------------------------------------

/** @param {ProfileView} view */
function showEmail(view) {
  text(el('email-intro'), 'email.intro', { email: view.email ?? '' });
  if (view.pending_email) {
    text(el('email-code-intro'), 'email.pending_intro', { to: view.pending_email });
    showCodeForm(false);
  } else {
    showAddressForm(false);
  }
}

/** @param {boolean} focus */
function showCodeForm(focus) {
  emailForm.hidden = true;
  emailCodeForm.hidden = false;
  emailCodeForm.reset();
  clearErrors(emailCodeForm);
  if (focus) emailCode.focus();
}

/** @param {boolean} focus */
function showAddressForm(focus) {
  emailCodeForm.hidden = true;
  emailForm.hidden = false;
  clearErrors(emailForm);
  if (focus) newEmail.focus();
}

/** @param {string} email */
async function requestEmailChange(email) {
  clearErrors(emailForm);
  clearPanel('email');
  if (!email) {
    fieldError(newEmail, 'email.required');
    newEmail.focus();
    return;
  }
  /** @type {EmailChangeRequest} */
  const body = { email };
  try {
    const started = /** @type {EmailChangeStarted} */ (
      await busy(emailForm, () => account('POST', `${ACCOUNT}/email`, body, { do: 'email', email }))
    );
    text(el('email-code-intro'), 'email.code_intro', { digits: started.code_length, to: started.sent_to });
    showCodeForm(true);
  } catch (error) {
    if (error instanceof ApiError && codeOf(error) === 'invalid_fields') {
      const fields = Array.isArray(error.problem['fields']) ? error.problem['fields'] : [];
      const first = fields[0] && typeof fields[0] === 'object' ? /** @type {Record<string, unknown>} */ (fields[0]) : {};
      const code = String(first['code'] ?? '');
      fieldError(newEmail, code === 'email_unchanged' ? 'email.unchanged' : code === 'email_missing' ? 'email.required' : 'email.invalid');
      newEmail.focus();
    } else {
      panelProblem('email', error);
    }
  }
}

emailForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void requestEmailChange(newEmail.value.trim());
});

byId('email-other', HTMLButtonElement).addEventListener('click', () => {
  clearPanel('email');
  showAddressForm(true);
});

emailCodeForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(emailCodeForm);
  clearPanel('email');
  const code = emailCode.value.replace(/\s+/g, '');
  if (!code) {
    fieldError(emailCode, 'code.required');
    emailCode.focus();
    return;
  }
  /** @type {EmailChangeConfirmation} */
  const body = { code };
  try {
    const changed = /** @type {EmailChanged} */ (
      await busy(emailCodeForm, () => account('POST', `${ACCOUNT}/email/confirm`, body, { do: 'email-code' }))
    );
    changedTo = changed.email;
    text(el('email-changed-text'), 'email.changed_text', { email: changed.email });
    showStep('step-email-changed');
  } catch (error) {
    const code = codeOf(error);
    if (error instanceof ApiError && code === 'otp_invalid') {
      const left = error.attemptsLeft;
      if (left === null) fieldError(emailCode, 'code.invalid_plain');
      else fieldError(emailCode, 'code.invalid', { n: left });
      emailCode.select();
      emailCode.focus();
    } else if (code === 'otp_expired' || code === 'otp_exhausted' || code === 'email_change_not_pending') {
      showAddressForm(true);
      panelAlert('email', code === 'email_change_not_pending' ? 'email.not_pending' : 'email.expired');
    } else {
      panelProblem('email', error);
    }
  }
});

// After the switch, the user signs in again with the new address (scenario B): this
// browser's session is signed out first, so the login page asks for it.
byId('sign-in-again', HTMLButtonElement).addEventListener('click', async () => {
  const sid = tokens()?.sid;
  if (sid) {
    try {
      await busy(el('step-email-changed'), () => account('DELETE', `${ACCOUNT}/sessions/${seg(sid)}`));
    } catch {
      // Signed out already (or the token is gone): the login page asks anyway.
    }
  }
  forget();
  status('settings.signing_in');
  await signIn({ loginHint: changedTo });
});

// ---- Password --------------------------------------------------------------------------

/** Ticks the checklist as the user types; Save waits until every rule holds. */
function checkPasswords() {
  const all = updateChecklist(el('password-checklist'), policy, newPassword.value, confirmPassword.value);
  passwordSave.disabled = policy.length > 0 && !all;
}

for (const input of [newPassword, confirmPassword]) {
  input.addEventListener('input', () => {
    clearFieldError(newPassword);
    checkPasswords();
  });
}
currentPassword.addEventListener('input', () => clearFieldError(currentPassword));

passwordForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (passwordSave.disabled) return;
  clearErrors(passwordForm);
  clearPanel('password');
  if (!currentPassword.value) fieldError(currentPassword, 'password.current_required');
  if (!newPassword.value) fieldError(newPassword, 'password.new_required');
  if (!currentPassword.value || !newPassword.value) {
    (currentPassword.value ? newPassword : currentPassword).focus();
    return;
  }
  /** @type {PasswordChange} */
  const body = {
    current_password: currentPassword.value,
    new_password: newPassword.value,
    new_password_confirmation: confirmPassword.value,
  };
  try {
    const changed = /** @type {PasswordChanged} */ (await busy(passwordForm, () => account('POST', `${ACCOUNT}/password`, body)));
    passwordForm.reset();
    checkPasswords();
    const n = changed.sessions_revoked;
    panelStatus('password', n > 0 ? 'password.changed' : 'password.changed_alone', { n });
    void loadSessions();
    void loadEvents();
  } catch (error) {
    if (error instanceof ApiError && codeOf(error) === 'password_policy') {
      markViolations(el('password-checklist'), error.problem['violations']);
      fieldError(newPassword, 'register.policy_error');
      newPassword.focus();
    } else if (error instanceof ApiError && codeOf(error) === 'current_password_invalid') {
      const left = error.attemptsLeft;
      fieldError(currentPassword, left === null ? 'password.current_invalid_plain' : 'password.current_invalid', { n: left ?? 0 });
      currentPassword.select();
      currentPassword.focus();
    } else {
      panelProblem('password', error);
    }
  }
});

// ---- Applications given access ------------------------------------------------------------

async function loadGrants() {
  try {
    grants = /** @type {GrantList} */ (await account('GET', `${ACCOUNT}/grants`)).grants;
    renderGrants();
  } catch (error) {
    panelProblem('apps', error);
  }
}

function renderGrants() {
  el('app-list').replaceChildren(
    ...grants.map((grant) => {
      const title = h('span', { class: 'row-title' }, [grant.client_name]);
      const seen = h('span', { class: 'row-detail' });
      grant.scopes.forEach((scope, i) => {
        const [key, params] = scopeText(scope);
        seen.append(...(i ? [' · '] : []), text(h('span'), key, params));
      });
      const since = h('span', { class: 'row-detail' }, [text(h('span'), 'apps.since'), ' ', time(grant.granted_at)]);
      const row = h('li', { class: 'row', 'data-client': grant.client_id }, [
        h('div', { class: 'row-main' }, [title, seen, since]),
      ]);
      const button = h('button', { type: 'button', class: 'secondary small' }, [
        text(h('span'), 'apps.remove'),
        h('span', { class: 'visually-hidden' }, [' ', grant.client_name]),
      ]);
      button.addEventListener('click', () => void revokeGrant(grant, row));
      row.append(button);
      return row;
    }),
  );
  if (grants.length === 0) el('app-list').append(text(h('li', { class: 'row' }), 'apps.none'));
}

/** Ends the application's access: its grant and its refresh tokens.
 * @param {GrantView} grant @param {HTMLElement} scope */
async function revokeGrant(grant, scope) {
  clearPanel('apps');
  try {
    await busy(scope, () => account('DELETE', `${ACCOUNT}/grants/${seg(grant.client_id)}`));
  } catch (error) {
    if (codeOf(error) !== 'grant_not_found') {
      panelProblem('apps', error);
      return;
    }
  }
  await loadGrants();
  panelStatus('apps', 'apps.removed', { client: grant.client_name });
  focusHeading('apps-title');
  void loadEvents();
}

// ---- Sessions ----------------------------------------------------------------------------

async function loadSessions() {
  try {
    sessions = /** @type {SessionList} */ (await account('GET', `${ACCOUNT}/sessions`)).sessions;
    renderSessions();
  } catch (error) {
    panelProblem('sessions', error);
  }
}

/** "Chrome on Linux", or the user agent's absence said so.
 * @param {string | null | undefined} ua @returns {HTMLElement} */
function device(ua) {
  const found = browserOf(ua);
  const node = h('span', { class: 'row-title' });
  if (!found) return text(node, 'sessions.unknown_browser');
  if (!found.os) node.textContent = found.browser;
  else text(node, 'sessions.browser_on', { browser: found.browser, os: found.os });
  return node;
}

/** How a session signed in (RFC 8176 `amr`), in words. @param {string[]} amr */
function methodsOf(amr) {
  /** @type {Record<string, Key>} */
  const names = { pwd: 'amr.pwd', otp: 'amr.otp', hwk: 'amr.hwk', swk: 'amr.swk' };
  return amr.flatMap((m) => (names[m] ? [names[m]] : []));
}

function renderSessions() {
  const others = sessions.filter((s) => !s.current);
  el('session-list').replaceChildren(
    ...sessions.map((session) => {
      const title = device(session.user_agent);
      const head = h('span', { class: 'row-head' }, [title]);
      if (session.current) head.append(' ', text(h('span', { class: 'badge' }), 'sessions.current'));
      const details = h('span', { class: 'row-detail' }, [
        text(h('span'), 'sessions.signed_in'), ' ', time(session.auth_time), ' · ',
        text(h('span'), 'sessions.last_seen'), ' ', time(session.last_seen_at),
      ]);
      if (session.ip) details.append(' · ', text(h('span'), 'sessions.ip', { ip: session.ip }));
      const how = methodsOf(session.amr);
      if (how.length) {
        details.append(' · ', text(h('span'), 'sessions.with'), ' ');
        how.forEach((key, i) => details.append(...(i ? [', '] : []), text(h('span'), key)));
      }
      const row = h('li', { class: 'row', 'data-session': session.id, 'data-current': String(session.current) }, [
        h('div', { class: 'row-main' }, [head, details]),
      ]);
      if (!session.current) {
        const button = h('button', { type: 'button', class: 'secondary small' }, [
          text(h('span'), 'sessions.sign_out'),
          h('span', { class: 'visually-hidden' }, [' ', device(session.user_agent)]),
        ]);
        button.addEventListener('click', () => void revokeSession(session, row));
        row.append(button);
      }
      return row;
    }),
  );
  el('sessions-others').hidden = others.length === 0;
}

/** @param {SessionView} session @param {HTMLElement} scope */
async function revokeSession(session, scope) {
  clearPanel('sessions');
  try {
    await busy(scope, () => account('DELETE', `${ACCOUNT}/sessions/${seg(session.id)}`));
  } catch (error) {
    if (codeOf(error) !== 'session_not_found') {
      panelProblem('sessions', error);
      return;
    }
  }
  await loadSessions();
  panelStatus('sessions', 'sessions.revoked');
  focusHeading('sessions-title');
  void loadEvents();
}

byId('sessions-others', HTMLButtonElement).addEventListener('click', async (event) => {
  clearPanel('sessions');
  const scope = /** @type {HTMLElement} */ (event.currentTarget).parentElement ?? el('sessions');
  try {
    const done = /** @type {SessionsRevoked} */ (await busy(scope, () => account('DELETE', `${ACCOUNT}/sessions`)));
    await loadSessions();
    panelStatus('sessions', 'sessions.revoked_many', { n: done.revoked });
    focusHeading('sessions-title');
    void loadEvents();
  } catch (error) {
    panelProblem('sessions', error);
  }
});

/** @param {string} id */
function focusHeading(id) {
  const heading = el(id);
  heading.tabIndex = -1;
  heading.focus();
}

// ---- Security events -----------------------------------------------------------------------

const EVENT_PAGE = 10;

/** The first page again (after a change), or the next (older) one.
 * @param {boolean} [more] */
async function loadEvents(more = false) {
  const query = new URLSearchParams({ limit: String(EVENT_PAGE) });
  if (more && eventsCursor) query.set('cursor', eventsCursor);
  try {
    const page = /** @type {EventPage} */ (await account('GET', `${ACCOUNT}/events?${query}`));
    events = more ? [...events, ...page.events] : page.events;
    eventsCursor = page.next_cursor ?? null;
    renderEvents();
  } catch (error) {
    panelProblem('events', error);
  }
}

/** The events this page has a name for; others show their code. */
const EVENT_KINDS = [
  'account_created', 'account_imported', 'account_updated', 'registration_completed', 'login_succeeded',
  'login_failed', 'password_changed', 'password_change_failed', 'email_change_requested', 'email_changed',
  'email_change_undone', 'factor_added', 'factor_removed', 'recovery_codes_regenerated', 'recovery_code_used',
  'push_device_enrolled', 'push_approved', 'push_denied', 'session_revoked', 'sessions_revoked',
  'consent_granted', 'consent_denied', 'consent_revoked',
  'account_locked', 'account_unlocked', 'account_disabled', 'account_enabled', 'registration_link_sent',
  'failed_logins_alert',
];
const FACTOR_KINDS = ['email_otp', 'totp', 'security_key', 'passkey', 'platform', 'push', 'recovery_code', 'sms'];

function renderEvents() {
  el('event-list').replaceChildren(
    ...events.map((event) => {
      const name = h('span', { class: 'row-title' });
      if (EVENT_KINDS.includes(event.kind)) text(name, /** @type {Key} */ (`event.${event.kind}`));
      else name.textContent = event.kind;
      const kind = event.detail['kind'] ?? event.detail['factor_kind'];
      if (kind && FACTOR_KINDS.includes(kind)) name.append(': ', text(h('span'), /** @type {Key} */ (`kind.${kind}`)));
      const details = h('span', { class: 'row-detail' }, [time(event.at)]);
      if (event.ip) details.append(' · ', text(h('span'), 'sessions.ip', { ip: event.ip }));
      const found = browserOf(event.user_agent);
      if (found) details.append(' · ', device(event.user_agent));
      return h('li', { class: 'row', 'data-event': event.kind }, [h('div', { class: 'row-main' }, [name, details])]);
    }),
  );
  if (events.length === 0) el('event-list').append(text(h('li', { class: 'row' }), 'events.none'));
  el('events-more').hidden = !eventsCursor;
}

byId('events-more', HTMLButtonElement).addEventListener('click', async (event) => {
  const scope = /** @type {HTMLElement} */ (event.currentTarget).parentElement ?? el('events');
  const before = events.length;
  await busy(scope, () => loadEvents(true));
  // The first of the older events takes the focus, so the list reads on from there.
  const first = el('event-list').children[before];
  if (first instanceof HTMLElement) {
    first.tabIndex = -1;
    first.focus();
  }
});

// ---- The page ------------------------------------------------------------------------------

/** Dates are formatted, not keyed: re-render the lists in a new language. */
function renderLists() {
  renderGrants();
  renderSessions();
  renderEvents();
}
document.addEventListener('gatehouse:locale', () => {
  if (!profile) return;
  renderLists();
  relocalise();
});

onChange(() => {
  void reloadProfile();
  void loadEvents();
});

/** After a method was added or removed: the summary follows (the forms keep what
 * the user may be typing). */
async function reloadProfile() {
  try {
    const view = /** @type {ProfileView} */ (await account('GET', ACCOUNT));
    if (profile) profile = { ...profile, mfa: view.mfa };
    setProfile(view);
  } catch (error) {
    panelProblem('mfa', error);
  }
}

onLeaving(() => status('settings.signing_in_again'));

byId('sign-out', HTMLButtonElement).addEventListener('click', () => signOut());
byId('sign-in', HTMLButtonElement).addEventListener('click', () => void signIn());

/** The sign-in did not finish: say why, with a button to try again.
 * @param {string} code */
function signedOut(code) {
  /** @type {Record<string, Key>} */
  const messages = {
    access_denied: 'signin.cancelled',
    login_required: 'signin.cancelled',
    state_mismatch: 'signin.state_mismatch',
    invalid_grant: 'signin.expired',
    network: 'error.network',
  };
  text(el('signed-out-text'), messages[code] ?? 'signin.failed', { code });
  showStep('step-signed-out', { focus: false });
}

/** Reads what `resume` holds (this tab's own sessionStorage, still checked). @param {unknown} value
 * @returns {Resume | null} */
function parseResume(value) {
  if (!value || typeof value !== 'object') return null;
  const r = /** @type {Record<string, unknown>} */ (value);
  const str = (/** @type {string} */ key) => (typeof r[key] === 'string' ? /** @type {string} */ (r[key]) : null);
  const kind = str('kind');
  const name = str('name');
  const factor = str('factor');
  const email = str('email');
  switch (r['do']) {
    case 'add': return kind ? (name ? { do: 'add', kind, name } : { do: 'add', kind }) : null;
    case 'remove': return factor ? { do: 'remove', factor } : null;
    case 'recovery': return { do: 'recovery' };
    case 'email': return email ? { do: 'email', email } : null;
    case 'email-code': return { do: 'email-code' };
    default: return null;
  }
}

/** Back from a new sign-in: on with what the user was doing. @param {Resume} resume */
async function pickUp(resume) {
  if (resume.do === 'email') {
    newEmail.value = resume.email;
    showAddressForm(false);
    el('email').scrollIntoView({ block: 'start' });
    await requestEmailChange(resume.email);
  } else if (resume.do === 'email-code') {
    el('email').scrollIntoView({ block: 'start' });
    showCodeForm(true);
    panelStatus('email', 'email.resumed');
  } else {
    el('mfa').scrollIntoView({ block: 'start' });
    await resumeMethods(resume);
  }
}

async function main() {
  chooseLocale();
  languageSwitcher();
  /** @type {Resume | null} */
  let resumed = null;
  try {
    const back = await completeSignIn();
    resumed = back ? parseResume(back.resume) : null;
  } catch (error) {
    if (error instanceof SignInError) return signedOut(error.code);
    throw error;
  }
  if (!tokens()) {
    status('settings.signing_in');
    await signIn();
    return;
  }
  try {
    const view = /** @type {ProfileView} */ (await account('GET', ACCOUNT));
    showProfile(view, true);
    chooseLocale(view.locale);
    await loadMethods();
  } catch (error) {
    if (error instanceof Redirected) return;
    if (!(error instanceof ApiError)) console.error(error);
    signedOut(error instanceof ApiError ? error.code : 'script');
    return;
  }
  showStep('step-settings', { focus: false });
  void loadGrants();
  void loadSessions();
  void loadEvents();
  if (resumed) await pickUp(resumed);
}

void main().catch((error) => {
  console.error(error);
  alertMessage('error.unexpected', { code: 'script' });
});
