// Adding a sign-in method: start (a kind) → the setup to show, by kind → the proof
// that it works, by kind. The same bodies serve the settings page (account API, bearer
// token) and the registration link's second-factor step.

import { failed, ok, request, sleep, type Outcome, type ProblemOf, type Schemas } from "./client";
import { createCredential, WebAuthnCancelled } from "./webauthn";

export type FactorKindName = Schemas["FactorKindName"];
export type FactorList = Schemas["FactorList"];
export type FactorView = Schemas["FactorView"];
export type EnrolmentStarted = Schemas["EnrolmentStarted"];
export type EnrolmentSetup = Schemas["EnrolmentSetup"];
export type FactorConfirmation = Schemas["FactorConfirmation"];

export type StartProblem = ProblemOf<"/api/v1/account/factors", "post">;
export type ConfirmProblem = ProblemOf<"/api/v1/account/factors/{factor}/confirm", "post">;
export type RegistrationStartProblem = ProblemOf<"/api/v1/registration/{token}/factors", "post">;
export type RegistrationConfirmProblem = ProblemOf<"/api/v1/registration/{token}/factors/{factor}/confirm", "post">;

/** Where an enrolment runs: the settings page's account API, or a registration link. */
export interface EnrolmentApi<StartP, ConfirmP> {
  start(kind: FactorKindName): Promise<Outcome<EnrolmentStarted, StartP>>;
  confirm(factorId: string, proof: FactorConfirmation): Promise<Outcome<FactorView, ConfirmP>>;
  /** Whether a push factor is active yet: the phone registers itself, there is no confirm. */
  pushActive(factorId: string): Promise<boolean>;
}

// ----- the account API (settings page; a bearer token with the account scope) -----

/** The methods, and the kinds on offer (or why not: retired, disabled, automatic, …). */
export async function listFactors(
  token: string,
): Promise<Outcome<FactorList, ProblemOf<"/api/v1/account/factors", "get">>> {
  const answer = await request("get", "/api/v1/account/factors", { token });
  return answer.status === 200 ? ok(answer.body) : failed(answer);
}

export async function removeFactor(
  token: string,
  factorId: string,
): Promise<Outcome<null, ProblemOf<"/api/v1/account/factors/{factor}", "delete">>> {
  const answer = await request("delete", "/api/v1/account/factors/{factor}", {
    token,
    path: { factor: factorId },
  });
  return answer.status === 204 ? ok(null) : failed(answer);
}

/** Ten new recovery codes (the old ones stop working): a `recovery_code` setup. */
export async function regenerateRecoveryCodes(
  token: string,
): Promise<Outcome<EnrolmentStarted, ProblemOf<"/api/v1/account/recovery-codes", "post">>> {
  const answer = await request("post", "/api/v1/account/recovery-codes", { token });
  return answer.status === 201 ? ok(answer.body) : failed(answer);
}

export function accountEnrolment(token: string): EnrolmentApi<StartProblem, ConfirmProblem> {
  return {
    async start(kind) {
      const body: Schemas["StartEnrolment"] = { kind };
      const answer = await request("post", "/api/v1/account/factors", { token, body });
      return answer.status === 201 ? ok(answer.body) : failed(answer);
    },
    async confirm(factorId, proof) {
      const answer = await request("post", "/api/v1/account/factors/{factor}/confirm", {
        token,
        path: { factor: factorId },
        body: proof,
      });
      return answer.status === 200 ? ok(answer.body) : failed(answer);
    },
    async pushActive(factorId) {
      const list = await listFactors(token);
      return list.ok && list.value.factors.some((f) => f.id === factorId && f.status === "active");
    },
  };
}

// ----- a registration link's second-factor step -----

export function registrationEnrolment(
  registrationToken: string,
): EnrolmentApi<RegistrationStartProblem, RegistrationConfirmProblem> {
  const api: EnrolmentApi<RegistrationStartProblem, RegistrationConfirmProblem> = {
    async start(kind) {
      const answer = await request("post", "/api/v1/registration/{token}/factors", {
        path: { token: registrationToken },
        body: { kind },
      });
      return answer.status === 201 ? ok(answer.body) : failed(answer);
    },
    async confirm(factorId, proof) {
      const answer = await request("post", "/api/v1/registration/{token}/factors/{factor}/confirm", {
        path: { token: registrationToken, factor: factorId },
        body: proof,
      });
      return answer.status === 200 ? ok(answer.body) : failed(answer);
    },
    async pushActive(factorId) {
      // No factor list here: a push confirmation answers 409 `push_device_pending`
      // until the phone has registered, `factor_not_pending` once it has.
      const answer = await api.confirm(factorId, { kind: "push" });
      return answer.ok || answer.problem.code === "factor_not_pending";
    },
  };
  return api;
}

// ----- the screens, by kind -----

/** What the enrolment UI shows; each method resolves when the user acts. */
export interface EnrolmentScreens {
  /** QR code (`qr_svg`) and `secret`; resolves with the app's code and a name. */
  showTotp(setup: Schemas["TotpSetup"], error?: string): Promise<{ code: string; name?: string }>;
  /** The ten codes, shown once; resolves when the user says they saved them. */
  showRecoveryCodes(codes: string[]): Promise<void>;
  /** The QR code of `enrolment_uri` for the phone app, until the phone registers. */
  showPushQr(setup: Schemas["PushSetup"]): void;
  /** "Touch your security key" / "Save a passkey" / "Use your fingerprint"; resolves with a name. */
  askWebAuthnName(kind: "security_key" | "passkey" | "platform", error?: string): Promise<string | undefined>;
  showError(message: string): void;
  /** 403 `reauthentication_required`: send the user through `/authorize?max_age=…&prompt=login`. */
  reauthenticate(maxAge: number | undefined): void;
}

/**
 * Adds one method: start, show its setup, confirm it. Resolves with the active method,
 * or `undefined` when the user gave up or it failed (the screens were told why).
 */
export async function enrol(
  api: EnrolmentApi<StartProblem | RegistrationStartProblem, ConfirmProblem | RegistrationConfirmProblem>,
  kind: FactorKindName,
  screens: EnrolmentScreens,
): Promise<FactorView | undefined> {
  const started = await api.start(kind);
  if (!started.ok) {
    if (started.problem.code === "reauthentication_required") {
      // The token's login is too old to add a method: sign in again, then retry.
      screens.reauthenticate(started.problem.max_age);
    } else {
      screens.showError(started.problem.detail ?? started.problem.title);
    }
    return undefined;
  }
  const { factor, setup } = started.value;
  switch (setup.kind) {
    case "totp": {
      let error: string | undefined;
      for (;;) {
        const { code, name } = await screens.showTotp(setup, error);
        const proof: Schemas["TotpConfirmation"] = { kind: "totp", code };
        if (name !== undefined) proof.name = name;
        const confirmed = await api.confirm(factor.id, proof);
        if (confirmed.ok) return confirmed.value;
        error = confirmed.problem.detail ?? confirmed.problem.title;
        if (confirmed.problem.code !== "otp_invalid" && confirmed.problem.code !== "otp_replayed") {
          screens.showError(error);
          return undefined;
        }
      }
    }
    case "recovery_code":
      // Active at once: nothing to confirm.
      await screens.showRecoveryCodes(setup.codes);
      return factor;
    case "push": {
      screens.showPushQr(setup);
      const until = Date.now() + setup.expires_in * 1000;
      while (Date.now() < until) {
        await sleep(3);
        if (await api.pushActive(factor.id)) return { ...factor, status: "active" };
      }
      screens.showError("The phone did not register in time: start again.");
      return undefined;
    }
    case "security_key":
    case "passkey":
    case "platform": {
      let credential: Schemas["RegistrationResponseJson"];
      try {
        credential = await createCredential(setup.public_key);
      } catch (e) {
        if (e instanceof WebAuthnCancelled) return undefined;
        throw e;
      }
      const name = await screens.askWebAuthnName(setup.kind);
      const proof = webauthnConfirmation(setup, credential, name);
      const confirmed = await api.confirm(factor.id, proof);
      if (confirmed.ok) return confirmed.value;
      screens.showError(confirmed.problem.detail ?? confirmed.problem.title);
      return undefined;
    }
    default: {
      const _: never = setup;
      throw new Error(`unknown factor kind ${JSON.stringify(_)}`);
    }
  }
}

/**
 * A finished login that says `offer_platform_enrolment` (the account has no biometric
 * key): the product's own UI, holding an account-API token, may offer one before
 * following `redirect_to`.
 */
export async function offerPlatformKey(
  done: Schemas["LoginDone"],
  token: string,
  screens: EnrolmentScreens,
): Promise<FactorView | undefined> {
  if (!done.offer_platform_enrolment) return undefined;
  return enrol(accountEnrolment(token), "platform", screens);
}

/** The confirmation of a WebAuthn setup, of its kind. */
function webauthnConfirmation(
  setup: Schemas["SecurityKeySetup"] | Schemas["PasskeySetup"] | Schemas["PlatformSetup"],
  credential: Schemas["RegistrationResponseJson"],
  name: string | undefined,
): FactorConfirmation {
  const named = name === undefined ? {} : { name };
  switch (setup.kind) {
    case "security_key":
      return { kind: "security_key", credential, ...named } satisfies Schemas["SecurityKeyConfirmation"];
    case "passkey":
      return { kind: "passkey", credential, ...named } satisfies Schemas["PasskeyConfirmation"];
    case "platform":
      return { kind: "platform", credential, ...named } satisfies Schemas["PlatformConfirmation"];
    default: {
      const _: never = setup;
      throw new Error(`not a WebAuthn setup: ${JSON.stringify(_)}`);
    }
  }
}

/** Every kind the document lists: a kind added to or removed from `FactorKindName` fails here. */
const FACTOR_KINDS = {
  email_otp: true,
  totp: true,
  recovery_code: true,
  push: true,
  security_key: true,
  passkey: true,
  platform: true,
  sms: true,
} as const satisfies Record<FactorKindName, true>;

/** For the places the document still types a kind as a plain string. */
export function isFactorKind(kind: string): kind is FactorKindName {
  return Object.hasOwn(FACTOR_KINDS, kind);
}

/** The settings page's list, by kind: what each method is called and whether it can be added. */
export function kindLabel(kind: FactorKindName): string {
  switch (kind) {
    case "email_otp":
      return "E-mail address";
    case "totp":
      return "Authenticator app";
    case "recovery_code":
      return "Recovery codes";
    case "push":
      return "Push notification (mobile app)";
    case "security_key":
      return "Security key";
    case "passkey":
      return "Passkey";
    case "platform":
      return "Biometric key (this device)";
    case "sms":
      return "Phone number (SMS)"; // retired: shown struck through
    default: {
      const _: never = kind;
      throw new Error(`unknown factor kind ${JSON.stringify(_)}`);
    }
  }
}

/** One row of the settings page's "Multi-factor authentication" list (scenario B). */
export interface SettingsRow {
  kind: FactorKindName;
  label: string;
  methods: FactorView[];
  /** "+ Add", or why not (`retired`: SMS, shown struck through). */
  add: { enrollable: true } | { enrollable: false; reason: string };
}

export function settingsRows(list: FactorList): SettingsRow[] {
  const rows: SettingsRow[] = [];
  for (const offer of list.kinds) {
    // `KindView.kind` and `FactorView.kind` are plain strings in the document.
    const kind = offer.kind;
    if (!isFactorKind(kind)) continue;
    rows.push({
      kind,
      label: kindLabel(kind),
      methods: list.factors.filter((f) => f.kind === kind),
      add: offer.enrollable ? { enrollable: true } : { enrollable: false, reason: offer.reason ?? "unavailable" },
    });
  }
  return rows;
}
