// The WebAuthn glue: the API speaks the WebAuthn Level 3 JSON forms (binary fields
// base64url), which browsers convert themselves:
//   options  → PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON
//   answer   → credential.toJSON()
// (Chrome 129+, Firefox 119+, Safari 18.4+; older browsers need a base64url shim.)

import type { Schemas } from "./client";

// The WebAuthn L3 JSON dictionaries (§5.1.8, §5.5.1, §5.1), as the spec's IDL has
// them. Two reasons to declare them here rather than take TypeScript's DOM lib:
// - the DOM lib types `credential.toJSON()` as `any`: assigning these to the document's
//   `RegistrationResponseJson` / `AuthenticationResponseJson` checks that the document
//   takes what a browser sends;
// - the DOM lib narrows the options' enumerations (`residentKey`, `authenticatorAttachment`,
//   `userVerification`, `pubKeyCredParams[].type`, …) to its unions, where the spec has
//   DOMString (a browser ignores a value it does not know); the document's plain strings
//   are what the spec allows. What the spec does not allow is `null`: WebIDL turns
//   `timeout: null` into 0 ms and refuses a `null` list, so these types have none.
type Base64URLString = string;

export interface PublicKeyCredentialDescriptorJSON {
  id: Base64URLString;
  type: string;
  transports?: string[];
}

export interface AuthenticationExtensionsClientInputsJSON {
  appid?: string;
  appidExclude?: string;
  credProps?: boolean;
  uvm?: boolean;
  minPinLength?: boolean;
  hmacCreateSecret?: boolean;
  credentialProtectionPolicy?: string;
  enforceCredentialProtectionPolicy?: boolean;
}

export interface PublicKeyCredentialCreationOptionsJSON {
  rp: { id?: string; name: string };
  user: { id: Base64URLString; name: string; displayName: string };
  challenge: Base64URLString;
  pubKeyCredParams: { type: string; alg: number }[];
  timeout?: number;
  excludeCredentials?: PublicKeyCredentialDescriptorJSON[];
  authenticatorSelection?: {
    authenticatorAttachment?: string;
    residentKey?: string;
    requireResidentKey?: boolean;
    userVerification?: string;
  };
  hints?: string[];
  attestation?: string;
  attestationFormats?: string[];
  extensions?: AuthenticationExtensionsClientInputsJSON;
}

export interface PublicKeyCredentialRequestOptionsJSON {
  challenge: Base64URLString;
  timeout?: number;
  rpId?: string;
  allowCredentials?: PublicKeyCredentialDescriptorJSON[];
  userVerification?: string;
  hints?: string[];
  extensions?: AuthenticationExtensionsClientInputsJSON;
}

export interface AuthenticationExtensionsClientOutputsJSON {
  appid?: boolean;
  credProps?: { rk?: boolean };
  hmacCreateSecret?: boolean;
}

export interface AuthenticatorAttestationResponseJSON {
  clientDataJSON: Base64URLString;
  authenticatorData: Base64URLString;
  transports: string[];
  publicKey?: Base64URLString;
  publicKeyAlgorithm: number;
  attestationObject: Base64URLString;
}

export interface RegistrationResponseJSON {
  id: string;
  rawId: Base64URLString;
  response: AuthenticatorAttestationResponseJSON;
  authenticatorAttachment?: string;
  clientExtensionResults: AuthenticationExtensionsClientOutputsJSON;
  type: string;
}

export interface AuthenticatorAssertionResponseJSON {
  clientDataJSON: Base64URLString;
  authenticatorData: Base64URLString;
  signature: Base64URLString;
  userHandle?: Base64URLString;
  attestationObject?: Base64URLString;
}

export interface AuthenticationResponseJSON {
  id: string;
  rawId: Base64URLString;
  response: AuthenticatorAssertionResponseJSON;
  authenticatorAttachment?: string;
  clientExtensionResults: AuthenticationExtensionsClientOutputsJSON;
  type: string;
}

// The browser's parsers, typed with the spec's dictionaries above.
const parseCreationOptionsFromJSON: (options: PublicKeyCredentialCreationOptionsJSON) => PublicKeyCredentialCreationOptions = (
  options,
) => PublicKeyCredential.parseCreationOptionsFromJSON(options as globalThis.PublicKeyCredentialCreationOptionsJSON);
const parseRequestOptionsFromJSON: (options: PublicKeyCredentialRequestOptionsJSON) => PublicKeyCredentialRequestOptions = (
  options,
) => PublicKeyCredential.parseRequestOptionsFromJSON(options as globalThis.PublicKeyCredentialRequestOptionsJSON);

/** Thrown when the user cancels, the authenticator refuses, or the browser has no WebAuthn. */
export class WebAuthnCancelled extends Error {}

/**
 * `navigator.credentials.create` for an enrolment's setup (`security_key`, `passkey`,
 * `platform`): the options the API sent, the browser's answer as the JSON the confirm
 * step takes.
 */
export async function createCredential(
  options: Schemas["CredentialCreationOptionsJson"],
): Promise<Schemas["RegistrationResponseJson"]> {
  const publicKey = parseCreationOptionsFromJSON(options.publicKey);
  const credential = await navigator.credentials.create({ publicKey }).catch((e: unknown) => {
    throw new WebAuthnCancelled(String(e));
  });
  if (!(credential instanceof PublicKeyCredential)) throw new WebAuthnCancelled("no credential");
  const json: RegistrationResponseJSON = credential.toJSON();
  return json;
}

/**
 * `navigator.credentials.get` for a login challenge (`security_key`, `passkey`,
 * `platform`) or a passkey sign-in. With `mediation: "conditional"` (passkey sign-in)
 * the browser offers the passkeys in the identifier field's autofill (`autocomplete=
 * "username webauthn"`) and the promise settles only when the user picks one: pass a
 * `signal` to abort it when the user types a password instead.
 */
export async function getCredential(
  options: Schemas["CredentialRequestOptionsJson"],
  signal?: AbortSignal,
): Promise<Schemas["AuthenticationResponseJson"]> {
  const request: CredentialRequestOptions = {
    publicKey: parseRequestOptionsFromJSON(options.publicKey),
  };
  if (options.mediation === "conditional") request.mediation = "conditional";
  if (signal !== undefined) request.signal = signal;
  const credential = await navigator.credentials.get(request).catch((e: unknown) => {
    throw new WebAuthnCancelled(String(e));
  });
  if (!(credential instanceof PublicKeyCredential)) throw new WebAuthnCancelled("no credential");
  const json: AuthenticationResponseJSON = credential.toJSON();
  return json;
}

/** Whether to start a passkey sign-in in the identifier field's autofill. */
export async function conditionalMediationAvailable(): Promise<boolean> {
  return (
    typeof PublicKeyCredential !== "undefined" &&
    typeof PublicKeyCredential.isConditionalMediationAvailable === "function" &&
    (await PublicKeyCredential.isConditionalMediationAvailable())
  );
}
