// The REST API from the pages: JSON in, JSON out, same-origin cookies (the login's
// browser binding and the session are cookies), and every refusal as an ApiError
// carrying the problem's stable `code`, so screens switch on codes, never on titles.

/** @typedef {import('gatehouse-api').operations} Operations */

/**
 * The problem codes the document lists for the refusals of the operations `Op` (by
 * operationId). Pages type the codes they handle with it (see `codeOf` in each page),
 * so tsc (tests/contract) refuses a code the document does not list for them: a
 * renamed or dropped code fails the check, not the user.
 * @template {keyof Operations} Op
 * @typedef {Op extends keyof Operations ? { [S in keyof Operations[Op]['responses']]: Operations[Op]['responses'][S] extends { content: { 'application/problem+json': { code?: infer C } } } ? Exclude<C, undefined> : never }[keyof Operations[Op]['responses']] : never} ProblemCode
 */

/** A refused request: an RFC 9457 problem (or a network failure, code `network`). */
export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status (0 when the server could not be reached)
   * @param {Record<string, unknown>} problem the problem+json body, extension members included
   * @param {number | null} retryAfterHeader the `Retry-After` header, in seconds, if any
   */
  constructor(status, problem, retryAfterHeader = null) {
    const code = typeof problem['code'] === 'string' ? problem['code'] : `http_${status}`;
    super(`${status} ${code}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    /** @type {string | null} what went wrong this time, in English (for logs, not for users) */
    this.detail = typeof problem['detail'] === 'string' ? problem['detail'] : null;
    /** @type {Record<string, unknown>} every member, e.g. `violations`, `choices` */
    this.problem = problem;
    /** @type {number | null} */
    this.attemptsLeft = integer(problem['attempts_left']);
    // The body's member first; throttles also say it in the header (RFC 9110 §10.2.3).
    /** @type {number | null} seconds to wait */
    this.retryAfter = integer(problem['retry_after']) ?? retryAfterHeader;
  }
}

/** @param {unknown} value */
function integer(value) {
  return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.round(value)) : null;
}

/**
 * One call. Resolves to the parsed JSON body of a 2xx answer (null when there is
 * none), rejects with an ApiError otherwise. Callers give the body its type with
 * a JSDoc cast to the document's schema (e.g. LoginView).
 * @param {'GET' | 'POST' | 'PATCH' | 'DELETE'} method
 * @param {string} path e.g. `/api/v1/login/…`
 * @param {unknown} [body] sent as JSON when given
 * @param {{ token?: string }} [auth] a bearer access token (the account API)
 * @returns {Promise<unknown>}
 */
export async function api(method, path, body, auth = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json, application/problem+json' };
  if (auth.token) headers['authorization'] = `Bearer ${auth.token}`;
  /** @type {RequestInit} */
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, { code: 'network' });
  }
  const text = await res.text();
  /** @type {unknown} */
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (res.ok) return json;
  const problem = json && typeof json === 'object' ? /** @type {Record<string, unknown>} */ (json) : {};
  const header = Number.parseInt(res.headers.get('retry-after') ?? '', 10);
  throw new ApiError(res.status, problem, Number.isNaN(header) ? null : header);
}

/** Path segments are tokens and challenges from URLs: encode them, never trust them.
 * @param {string} segment */
export const seg = (segment) => encodeURIComponent(segment);

/** @typedef {import('./dom.js').Message} Message */

/**
 * The message for refusals every screen treats alike (the server unreachable or busy,
 * too many attempts, anything unexpected); screens handle their own codes first.
 * @param {unknown} error
 * @returns {Message}
 */
export function commonMessage(error) {
  if (!(error instanceof ApiError)) return ['error.unexpected', { code: 'script' }];
  const wait = error.retryAfter;
  switch (error.code) {
    case 'network':
      return ['error.network'];
    case 'busy':
    case 'database_unavailable':
      return ['error.busy', { when: { seconds: wait ?? 5 } }];
    case 'rate_limited':
      return wait === null ? ['error.rate_limited_later'] : ['error.rate_limited', { when: { seconds: wait } }];
    default:
      return ['error.unexpected', { code: error.code }];
  }
}
