// The settings page signs in to its own server as any OpenID Connect application
// would: the public client `gatehouse-ui` (the server registers it for itself), the
// authorization code flow with PKCE (S256), `state` and `nonce` checked, the code
// redeemed at /token with its verifier and no secret. The request and the tokens live
// in this tab's sessionStorage, never in localStorage: they end with the tab, and
// another tab signs in on its own (silently, while the browser's session lasts).

import { locale } from './i18n.js';

/** @typedef {import('gatehouse-api').components['schemas']} S */
/** @typedef {S['TokenResponse']} TokenResponse */

export const CLIENT_ID = 'gatehouse-ui';
const SCOPE = 'openid email gatehouse:account';
/** The authorization request under way: state, verifier, nonce, and what to resume. */
const REQUEST = 'gatehouse.settings.request';
/** The tokens of this tab's sign-in. */
const TOKENS = 'gatehouse.settings.tokens';

/**
 * @typedef {object} Tokens
 * @property {string} accessToken the bearer token of the account API
 * @property {string | null} idToken the `id_token_hint` of the sign-out
 * @property {number} expiresAt when the access token expires (ms since the epoch)
 * @property {string | null} sid the session it was issued under (the ID token's `sid`)
 * @property {number} signedInAt when this tab got them (ms since the epoch)
 * @property {boolean} fresh the sign-in asked for a recent login (`max_age`)
 */

/**
 * @typedef {object} SavedRequest
 * @property {string} state
 * @property {string} verifier
 * @property {string} nonce
 * @property {boolean} fresh `max_age` was asked
 * @property {unknown} resume what the page was doing when it had to sign in
 */

/** A sign-in that did not finish: an OAuth `error` from /authorize or /token, or
 * ours (`state_mismatch`, `issuer_mismatch`, `nonce_mismatch`, `network`). */
export class SignInError extends Error {
  /** @param {string} code */
  constructor(code) {
    super(code);
    this.name = 'SignInError';
    this.code = code;
  }
}

/** Where /authorize sends the browser back: this page, exactly as registered. */
export const redirectUri = () => `${location.origin}/ui/settings`;

/** @param {Uint8Array} bytes */
function base64url(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** @param {number} size bytes of randomness */
const random = (size) => base64url(crypto.getRandomValues(new Uint8Array(size)));

/**
 * @param {string} key
 * @returns {Record<string, unknown> | null}
 */
function stored(key) {
  try {
    const value = JSON.parse(sessionStorage.getItem(key) ?? 'null');
    return value && typeof value === 'object' ? value : null;
  } catch {
    return null;
  }
}

/**
 * Sends the browser to /authorize. `maxAge`: the account API asked for a recent
 * login (`reauthentication_required`): a session older than that signs in again.
 * `resume` comes back from `completeSignIn` (plain JSON: what to do next).
 * @param {{ maxAge?: number, loginHint?: string, resume?: unknown }} [options]
 * @returns {Promise<void>}
 */
export async function signIn({ maxAge, loginHint, resume } = {}) {
  const verifier = random(32);
  const state = random(16);
  const nonce = random(16);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  /** @type {SavedRequest} */
  const request = { state, verifier, nonce, fresh: maxAge !== undefined, resume: resume ?? null };
  sessionStorage.setItem(REQUEST, JSON.stringify(request));
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirectUri(),
    scope: SCOPE,
    state,
    nonce,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: 'S256',
    // The login page speaks the language this page speaks.
    ui_locales: locale(),
  });
  if (maxAge !== undefined) query.set('max_age', String(maxAge));
  if (loginHint) query.set('login_hint', loginHint);
  location.assign(`/authorize?${query}`);
}

/** The claims of a JWT the server just gave us over TLS (not verified: only read).
 * @param {string} jwt @returns {Record<string, unknown>} */
function claims(jwt) {
  try {
    const part = jwt.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const value = JSON.parse(new TextDecoder().decode(bytes));
    return value && typeof value === 'object' ? value : {};
  } catch {
    return {};
  }
}

/**
 * The way back from /authorize (`?code=…&state=…`, or `?error=…`): checks `state`
 * (and `iss`, RFC 9207), redeems the code with the verifier, keeps the tokens. The
 * query leaves the address bar at once. Null when this load is no such return.
 * @returns {Promise<{ resume: unknown } | null>}
 * @throws {SignInError}
 */
export async function completeSignIn() {
  const params = new URLSearchParams(location.search);
  if (!params.has('code') && !params.has('error')) return null;
  history.replaceState(null, '', location.pathname);
  const saved = stored(REQUEST);
  sessionStorage.removeItem(REQUEST);
  if (!saved || typeof saved['state'] !== 'string' || params.get('state') !== saved['state']) {
    throw new SignInError('state_mismatch');
  }
  const iss = params.get('iss');
  if (iss !== null && iss.replace(/\/$/, '') !== location.origin) throw new SignInError('issuer_mismatch');
  const error = params.get('error');
  if (error) throw new SignInError(error);
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code: params.get('code') ?? '',
    redirect_uri: redirectUri(),
    client_id: CLIENT_ID,
    code_verifier: String(saved['verifier']),
  });
  let res;
  try {
    res = await fetch('/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new SignInError('network');
  }
  /** @type {unknown} */
  const json = await res.json().catch(() => null);
  if (!res.ok || !json || typeof json !== 'object') {
    const code = json && typeof json === 'object' && 'error' in json ? String(json.error) : `http_${res.status}`;
    throw new SignInError(code);
  }
  const answer = /** @type {TokenResponse} */ (json);
  const idToken = answer.id_token ?? null;
  const id = idToken ? claims(idToken) : {};
  if (idToken && id['nonce'] !== saved['nonce']) throw new SignInError('nonce_mismatch');
  /** @type {Tokens} */
  const tokens = {
    accessToken: answer.access_token,
    idToken,
    expiresAt: Date.now() + answer.expires_in * 1000,
    sid: typeof id['sid'] === 'string' ? id['sid'] : null,
    signedInAt: Date.now(),
    fresh: saved['fresh'] === true,
  };
  sessionStorage.setItem(TOKENS, JSON.stringify(tokens));
  return { resume: saved['resume'] ?? null };
}

/** This tab's tokens, while the access token has a minute left; else null (sign in).
 * @returns {Tokens | null} */
export function tokens() {
  const saved = stored(TOKENS);
  if (!saved || typeof saved['accessToken'] !== 'string' || typeof saved['expiresAt'] !== 'number') return null;
  if (saved['expiresAt'] - Date.now() < 60_000) return null;
  return /** @type {Tokens} */ (/** @type {unknown} */ (saved));
}

/** Forgets this tab's tokens (the account API refused them, or the user signed out). */
export function forget() {
  sessionStorage.removeItem(TOKENS);
}

/** Signs the browser out (RP-initiated logout: the ID token as `id_token_hint`, so no
 * confirmation is asked) and comes back to the landing page. */
export function signOut() {
  const idToken = stored(TOKENS)?.['idToken'];
  forget();
  const query = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: `${location.origin}/ui/` });
  if (typeof idToken === 'string') query.set('id_token_hint', idToken);
  location.assign(`/end_session?${query}`);
}
