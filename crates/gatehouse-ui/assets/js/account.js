// The account API (`/api/v1/account…`) with this tab's bearer token. A refusal only a
// new sign-in can fix sends the browser through /authorize and back to what the user
// was doing: no token or 401 (expired or revoked: signs in again, silently while the
// browser's session lasts), or 403 `reauthentication_required` (adding or removing a
// method, changing the address: a login at most `max_age` seconds old).

import { ApiError, api } from './api.js';
import { forget, signIn, tokens } from './oidc.js';

/**
 * What the user was doing when the page had to sign in again; the page picks it up
 * when it comes back (`resume` of oidc.js `completeSignIn`).
 * @typedef {{ do: 'add', kind: string, name?: string }
 *   | { do: 'remove', factor: string }
 *   | { do: 'recovery' }
 *   | { do: 'email', email: string }
 *   | { do: 'email-code' }} Resume
 */

/** @typedef {import('./api.js').ProblemCode<'start_enrolment' | 'confirm_enrolment' | 'remove_factor' | 'regenerate_recovery_codes' | 'request_change' | 'confirm_change'>} AccountProblem */

/** The browser is on its way to /authorize: the caller has nothing more to do. */
export class Redirected extends Error {
  constructor() {
    super('redirected to sign in');
    this.name = 'Redirected';
  }
}

/** A new login was asked for right after one: something is wrong (the clocks?), and
 * sending the user round again would loop. */
export class ReauthenticationLoop extends Error {
  constructor() {
    super('reauthentication asked again right after a login');
    this.name = 'ReauthenticationLoop';
  }
}

/** Pre-fills the login page's e-mail field when the page signs in again. */
let hint = '';
/** @param {string | null | undefined} email */
export function setLoginHint(email) {
  hint = email ?? '';
}

/** Before the browser leaves (e.g. "Signing you in again…"). @type {() => void} */
let leaving = () => {};
/** @param {() => void} callback */
export function onLeaving(callback) {
  leaving = callback;
}

/**
 * @param {{ maxAge?: number, resume: Resume | null }} how
 * @returns {Promise<never>}
 */
async function again({ maxAge, resume }) {
  leaving();
  /** @type {{ maxAge?: number, loginHint?: string, resume: Resume | null }} */
  const options = { resume };
  if (maxAge !== undefined) options.maxAge = maxAge;
  if (hint) options.loginHint = hint;
  await signIn(options);
  throw new Redirected();
}

/**
 * One call of the account API. Resolves to the answer's JSON (null for 204), rejects
 * with an ApiError, or with Redirected once the browser is sent to sign in again.
 * @param {'GET' | 'POST' | 'PATCH' | 'DELETE'} method
 * @param {string} path `/api/v1/account…`
 * @param {unknown} [body]
 * @param {Resume | null} [resume] what to come back to after a new sign-in
 * @returns {Promise<unknown>}
 */
export async function account(method, path, body, resume = null) {
  const current = tokens();
  if (!current) return again({ resume });
  try {
    return await api(method, path, body, { token: current.accessToken });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) {
      forget();
      return again({ resume });
    }
    if (/** @type {AccountProblem} */ (error.code) === 'reauthentication_required') {
      // Asked again right after a login that was asked for this: do not loop.
      if (current.fresh && Date.now() - current.signedInAt < 30_000) throw new ReauthenticationLoop();
      const maxAge = error.problem['max_age'];
      return again({ maxAge: typeof maxAge === 'number' && maxAge >= 0 ? Math.floor(maxAge) : 0, resume });
    }
    throw error;
  }
}
