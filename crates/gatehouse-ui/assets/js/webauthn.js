// WebAuthn through the browser's own JSON conversions: the API sends the WebAuthn
// Level 3 JSON forms (binary fields base64url), `PublicKeyCredential.parse…FromJSON`
// turns them into what `navigator.credentials` takes, and `credential.toJSON()` is
// what the API reads back. No base64 code of our own. (Chrome 129+, Firefox 119+,
// Safari 18.4+; older browsers are told to use another method.)

/** @typedef {import('gatehouse-api').components['schemas']['CredentialRequestOptionsJson']} CredentialRequestOptionsJson */
/** @typedef {import('gatehouse-api').components['schemas']['CredentialCreationOptionsJson']} CredentialCreationOptionsJson */
/** @typedef {import('gatehouse-api').components['schemas']['AuthenticationResponseJson']} AuthenticationResponseJson */
/** @typedef {import('gatehouse-api').components['schemas']['RegistrationResponseJson']} RegistrationResponseJson */

/** Whether this browser has WebAuthn with the JSON conversions. */
export function supported() {
  return (
    typeof PublicKeyCredential === 'function' &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function' &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function'
  );
}

/** Whether passkeys can be offered in the identifier field's autofill. */
export async function conditionalAvailable() {
  if (!supported() || typeof PublicKeyCredential.isConditionalMediationAvailable !== 'function') return false;
  try {
    return await PublicKeyCredential.isConditionalMediationAvailable();
  } catch {
    return false;
  }
}

/** Whether this device has a biometric (user-verifying platform) authenticator. */
export async function platformAvailable() {
  if (!supported()) return false;
  try {
    return await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable();
  } catch {
    return false;
  }
}

/**
 * The JSON with its `null` members left out: WebIDL reads a `null` timeout as 0 ms
 * and refuses a `null` list, where an absent member takes the default.
 * @param {unknown} value
 * @returns {unknown}
 */
function withoutNulls(value) {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

/**
 * Registers a new credential (`setup.public_key` of an enrolment); its JSON answer.
 * @param {CredentialCreationOptionsJson} options
 * @returns {Promise<RegistrationResponseJson>}
 */
export async function create(options) {
  const json = /** @type {PublicKeyCredentialCreationOptionsJSON} */ (withoutNulls(options.publicKey));
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(json);
  const credential = await navigator.credentials.create({ publicKey });
  if (!(credential instanceof PublicKeyCredential)) throw new DOMException('No credential', 'NotAllowedError');
  return /** @type {RegistrationResponseJson} */ (credential.toJSON());
}

/**
 * Asks for an assertion (`public_key` of a challenge); its JSON answer. With
 * `conditional`, the browser offers the passkeys in the identifier field's autofill
 * and the promise waits until one is picked (or `signal` aborts it).
 * @param {CredentialRequestOptionsJson} options
 * @param {{ signal?: AbortSignal, conditional?: boolean }} [how]
 * @returns {Promise<AuthenticationResponseJson>}
 */
export async function get(options, { signal, conditional = false } = {}) {
  const json = /** @type {PublicKeyCredentialRequestOptionsJSON} */ (withoutNulls(options.publicKey));
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(json);
  /** @type {CredentialRequestOptions} */
  const request = { publicKey };
  if (conditional) request.mediation = 'conditional';
  if (signal) request.signal = signal;
  const credential = await navigator.credentials.get(request);
  if (!(credential instanceof PublicKeyCredential)) throw new DOMException('No credential', 'NotAllowedError');
  return /** @type {AuthenticationResponseJson} */ (credential.toJSON());
}

/**
 * What a failed ceremony means to the user: cancelled (or timed out: browsers do
 * not tell them apart, on purpose), an authenticator already registered, or
 * anything else.
 * @param {unknown} error
 * @returns {'cancelled' | 'exists' | 'aborted' | 'failed'}
 */
export function failure(error) {
  const name = error instanceof DOMException ? error.name : '';
  if (name === 'AbortError') return 'aborted';
  if (name === 'InvalidStateError') return 'exists';
  if (name === 'NotAllowedError') return 'cancelled';
  return 'failed';
}
