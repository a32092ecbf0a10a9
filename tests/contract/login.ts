// The login screens: `/authorize` sends the browser to the UI with `?login_challenge=…`;
// the UI asks who asks (GET), takes the password (or a passkey alone), then one second
// factor, whose screen depends on its `kind`, and follows `redirect_to` at the end.

import { failed, ok, request, sleep, type Outcome, type ProblemOf, type Schemas } from "./client";
import { conditionalMediationAvailable, getCredential, WebAuthnCancelled } from "./webauthn";

export type LoginView = Schemas["LoginView"];
export type SecondFactorStep = Schemas["SecondFactorStep"];
export type FactorOffer = Schemas["FactorOfferView"];
export type FactorChallenge = Schemas["FactorChallenge"];
export type FactorProof = Schemas["FactorProof"];
export type LoginDone = Schemas["LoginDone"];
export type LoginPending = Schemas["LoginPending"];
export type ConsentView = Schemas["ConsentView"];
export type ConsentDone = Schemas["ConsentDone"];

export type LoginViewProblem = ProblemOf<"/api/v1/login/{login_challenge}", "get">;
export type PasswordProblem = ProblemOf<"/api/v1/login/{login_challenge}/password", "post">;
export type ChallengeProblem = ProblemOf<"/api/v1/login/{login_challenge}/factors/{factor}/challenge", "post">;
export type VerifyProblem = ProblemOf<"/api/v1/login/{login_challenge}/factors/{factor}/verify", "post">;
export type PasskeyChallengeProblem = ProblemOf<"/api/v1/login/{login_challenge}/passkey/challenge", "post">;
export type PasskeyVerifyProblem = ProblemOf<"/api/v1/login/{login_challenge}/passkey/verify", "post">;
export type ConsentProblem = ProblemOf<"/api/v1/login/{login_challenge}/consent", "post">;

// ----- the calls -----

/** Who asks, for what; whether a passkey may sign in alone. */
export async function getLogin(loginChallenge: string): Promise<Outcome<LoginView, LoginViewProblem>> {
  const answer = await request("get", "/api/v1/login/{login_challenge}", {
    path: { login_challenge: loginChallenge },
  });
  return answer.status === 200 ? ok(answer.body) : failed(answer);
}

/** E-mail address and password → the second step: the factors on offer. */
export async function submitPassword(
  loginChallenge: string,
  identifier: string,
  password: string,
): Promise<Outcome<SecondFactorStep, PasswordProblem>> {
  const answer = await request("post", "/api/v1/login/{login_challenge}/password", {
    path: { login_challenge: loginChallenge },
    body: { identifier, password },
  });
  return answer.status === 200 ? ok(answer.body) : failed(answer);
}

/** Starts one factor: mails the code, sends the push, or makes the WebAuthn options. */
export async function startChallenge(
  loginChallenge: string,
  factor: FactorOffer,
): Promise<Outcome<FactorChallenge, ChallengeProblem>> {
  const answer = await request("post", "/api/v1/login/{login_challenge}/factors/{factor}/challenge", {
    path: { login_challenge: loginChallenge, factor: factor.id },
  });
  return answer.status === 200 ? ok(answer.body) : failed(answer);
}

export type Verified =
  | { next: "done"; done: LoginDone }
  | { next: "pending"; pending: LoginPending };

/** Sends the proof: 200 done, 202 pending (a push not answered yet), or a problem. */
export async function verify(
  loginChallenge: string,
  factor: FactorOffer,
  proof: FactorProof,
): Promise<Outcome<Verified, VerifyProblem>> {
  const answer = await request("post", "/api/v1/login/{login_challenge}/factors/{factor}/verify", {
    path: { login_challenge: loginChallenge, factor: factor.id },
    body: proof,
  });
  switch (answer.status) {
    case 200:
      // `done` or `consent`: the second step is over either way.
      return ok({ next: "done", done: answer.body });
    case 202:
      return ok({ next: answer.body.next, pending: answer.body });
    default:
      return failed(answer);
  }
}

// ----- one screen per kind -----

/** What the second-factor screen shows for a challenge. */
export interface ChallengeScreen {
  title: string;
  hint: string;
  /** `code`: a text field of `length` characters; `push`: wait for the phone; `webauthn`: the browser's prompt. */
  input: { type: "code"; length: number; pattern: string } | { type: "push"; number: number } | { type: "webauthn" };
}

/** Renders a challenge by its `kind`; a new kind in the document breaks this switch. */
export function challengeScreen(challenge: FactorChallenge): ChallengeScreen {
  switch (challenge.kind) {
    case "email_otp":
      return {
        title: `Email on ${challenge.sent_to}`,
        hint: `Enter the ${challenge.code_length}-digit code we sent; it works for ${minutes(challenge.expires_in)}.`,
        input: { type: "code", length: challenge.code_length, pattern: "[0-9]*" },
      };
    case "totp":
      return {
        title: "Authenticator app",
        hint: `Enter the ${challenge.code_length}-digit code your authenticator app shows.`,
        input: { type: "code", length: challenge.code_length, pattern: "[0-9]*" },
      };
    case "recovery_code":
      return {
        title: "Recovery code",
        hint: `Enter one of your recovery codes (${challenge.format}); ${challenge.remaining} left.`,
        input: { type: "code", length: challenge.format.length, pattern: "[0-9A-Za-z -]*" },
      };
    case "push":
      return {
        title: "Approve on your phone",
        hint: `Pick ${challenge.number} on your phone within ${minutes(challenge.expires_in)}.`,
        input: { type: "push", number: challenge.number },
      };
    case "security_key":
      return { title: "Security key", hint: "Insert your security key and touch it.", input: { type: "webauthn" } };
    case "passkey":
      return { title: "Passkey", hint: "Use the passkey saved for this site.", input: { type: "webauthn" } };
    case "platform":
      return { title: "This device", hint: "Confirm with your fingerprint, face or screen lock.", input: { type: "webauthn" } };
    default: {
      const _: never = challenge;
      throw new Error(`unknown factor kind ${JSON.stringify(_)}`);
    }
  }
}

/** The proof for a code the user typed, of the challenge's kind. */
export function codeProof(
  challenge: Schemas["EmailOtpChallenge"] | Schemas["TotpChallenge"] | Schemas["RecoveryCodeChallenge"],
  code: string,
): FactorProof {
  switch (challenge.kind) {
    case "email_otp":
      return { kind: "email_otp", code } satisfies Schemas["EmailOtpProof"];
    case "totp":
      return { kind: "totp", code } satisfies Schemas["TotpProof"];
    case "recovery_code":
      return { kind: "recovery_code", code } satisfies Schemas["RecoveryCodeProof"];
    default: {
      const _: never = challenge;
      throw new Error(`not a code challenge: ${JSON.stringify(_)}`);
    }
  }
}

/** The proof for a WebAuthn challenge: the browser's answer, of the challenge's kind. */
export async function webauthnProof(
  challenge: Schemas["SecurityKeyChallenge"] | Schemas["PasskeyChallenge"] | Schemas["PlatformChallenge"],
): Promise<FactorProof> {
  const credential = await getCredential(challenge.public_key);
  switch (challenge.kind) {
    case "security_key":
      return { kind: "security_key", credential } satisfies Schemas["SecurityKeyProof"];
    case "passkey":
      return { kind: "passkey", credential } satisfies Schemas["PasskeyProof"];
    case "platform":
      return { kind: "platform", credential } satisfies Schemas["PlatformProof"];
    default: {
      const _: never = challenge;
      throw new Error(`not a WebAuthn challenge: ${JSON.stringify(_)}`);
    }
  }
}

/**
 * Push: after the challenge, poll `verify` with `{kind: "push"}` every `poll_interval`
 * seconds; 202 while the phone has not answered, then 200 (approved) or a problem
 * (`push_denied`, `push_number_mismatch`, `push_expired`).
 */
export async function waitForPush(
  loginChallenge: string,
  factor: FactorOffer,
  challenge: Schemas["PushChallenge"],
  signal?: AbortSignal,
): Promise<Outcome<LoginDone, VerifyProblem>> {
  let interval = challenge.poll_interval;
  for (;;) {
    await sleep(interval, signal);
    const proof: Schemas["PushProof"] = { kind: "push" };
    const answer = await verify(loginChallenge, factor, proof);
    if (!answer.ok) return answer;
    switch (answer.value.next) {
      case "done":
        return ok(answer.value.done);
      case "pending":
        interval = answer.value.pending.poll_interval;
        break;
      default: {
        const _: never = answer.value;
        throw new Error(`unknown step ${JSON.stringify(_)}`);
      }
    }
  }
}

// ----- passkey sign-in (no password) -----

/**
 * A passkey alone (`LoginView.passkey_sign_in`): options for the identifier field's
 * autofill (`mediation: "conditional"`), the browser's answer, and the login is done.
 * Start it when the page loads; abort `signal` once the user submits a password.
 */
export async function passkeySignIn(
  loginChallenge: string,
  signal?: AbortSignal,
): Promise<Outcome<LoginDone, PasskeyChallengeProblem | PasskeyVerifyProblem>> {
  const started = await request("post", "/api/v1/login/{login_challenge}/passkey/challenge", {
    path: { login_challenge: loginChallenge },
  });
  if (started.status !== 200) return failed(started);
  const challenge: Schemas["WebauthnChallenge"] = started.body;
  const credential = await getCredential(challenge.public_key, signal);
  const body: Schemas["PasskeySignIn"] = { credential };
  const answer = await request("post", "/api/v1/login/{login_challenge}/passkey/verify", {
    path: { login_challenge: loginChallenge },
    body,
  });
  return answer.status === 200 ? ok(answer.body) : failed(answer);
}

// ----- problems, by code -----

/** What to do about a refused step: what to tell the user, and what comes next. */
export interface ProblemAdvice {
  message: string;
  /**
   * `retry`: ask again (same factor, same code screen); `challenge_again`: a new challenge
   * of the same factor; `another_method`: offer "Try another method"; `restart`: this
   * login is over (the user starts again from the application).
   */
  then: "retry" | "challenge_again" | "another_method" | "restart";
}

export function verifyProblemAdvice(problem: VerifyProblem): ProblemAdvice {
  switch (problem.code) {
    case "otp_invalid":
      return { message: `Wrong code. ${attemptsLeft(problem)}`, then: "retry" };
    case "otp_replayed":
      return { message: "That code was used already: wait for the next one.", then: "retry" };
    case "otp_expired":
    case "otp_exhausted":
      return { message: "The code is no longer valid: get a new one.", then: "challenge_again" };
    case "rate_limited":
      return { message: `Too many tries. ${retryAfter(problem)} Or try another method.`, then: "another_method" };
    case "push_denied":
      return { message: "The sign-in was denied on your phone.", then: "another_method" };
    case "push_number_mismatch":
      return { message: "A different number was picked on your phone.", then: "challenge_again" };
    case "push_expired":
      return { message: "Your phone did not answer in time.", then: "challenge_again" };
    case "webauthn_ceremony_expired":
      return { message: "That took too long: try again.", then: "challenge_again" };
    case "webauthn_invalid":
    case "webauthn_counter_regression":
      return { message: "This security key or passkey was not accepted.", then: "another_method" };
    case "login_request_expired":
    case "login_request_completed":
    case "login_request_not_found":
    case "browser_mismatch":
      return { message: "This sign-in has ended: start again from the application.", then: "restart" };
    default:
      return { message: problem.detail ?? problem.title, then: "another_method" };
  }
}

export function passwordProblemAdvice(problem: PasswordProblem): ProblemAdvice {
  switch (problem.code) {
    case "invalid_credentials":
      return { message: "Wrong e-mail address or password.", then: "retry" };
    case "identifier_invalid":
      return { message: "Enter your e-mail address.", then: "retry" };
    case "username_login_disabled":
      return { message: "Usernames no longer sign in: use your e-mail address.", then: "retry" };
    case "rate_limited":
    case "busy":
      return { message: `Too many tries. ${retryAfter(problem)}`, then: "retry" };
    case "account_locked":
    case "account_disabled":
      return { message: "This account cannot sign in now: contact support.", then: "restart" };
    case "login_request_expired":
    case "login_request_completed":
    case "login_request_not_found":
    case "browser_mismatch":
      return { message: "This sign-in has ended: start again from the application.", then: "restart" };
    default:
      return { message: problem.detail ?? problem.title, then: "retry" };
  }
}

function attemptsLeft(problem: VerifyProblem): string {
  const left = problem.attempts_left;
  return left === undefined ? "" : `${left} attempts left.`;
}

function retryAfter(problem: VerifyProblem | PasswordProblem | ChallengeProblem): string {
  const seconds = problem.retry_after;
  return seconds === undefined ? "Try again later." : `Try again in ${minutes(seconds)}.`;
}

function minutes(seconds: number): string {
  return seconds < 90 ? `${seconds} seconds` : `${Math.round(seconds / 60)} minutes`;
}

// ----- consent (a client that is not first-party) -----

/** The consent step again (a page reloaded while `next` is `consent`). */
export async function getConsent(
  loginChallenge: string,
): Promise<Outcome<ConsentView, ProblemOf<"/api/v1/login/{login_challenge}/consent", "get">>> {
  const answer = await request("get", "/api/v1/login/{login_challenge}/consent", {
    path: { login_challenge: loginChallenge },
  });
  return answer.status === 200 ? ok(answer.body) : failed(answer);
}

/** Allow with the scopes the user kept (`openid` is kept anyway), or deny. */
export async function answerConsent(
  loginChallenge: string,
  answer: { grant: string[] } | { deny: true },
): Promise<Outcome<ConsentDone, ConsentProblem>> {
  const res = await request("post", "/api/v1/login/{login_challenge}/consent", {
    path: { login_challenge: loginChallenge },
    body: answer,
  });
  return res.status === 200 ? ok(res.body) : failed(res);
}

/** Where a finished second step goes: the client, or the consent step first. */
async function afterSignIn(loginChallenge: string, done: LoginDone, screens: LoginScreens): Promise<void> {
  switch (done.next) {
    case "done":
      if (done.redirect_to !== undefined) window.location.assign(done.redirect_to);
      return;
    case "consent": {
      if (done.consent === undefined) return screens.showEnded("This sign-in has ended: start again from the application.");
      const kept = await screens.askConsent(done.consent);
      const answered = await answerConsent(loginChallenge, kept === "deny" ? { deny: true } : { grant: kept });
      if (!answered.ok) return screens.showEnded(answered.problem.detail ?? answered.problem.title);
      // `done`: the code; `return_to_client`: `error=access_denied`.
      return window.location.assign(answered.value.redirect_to);
    }
    default: {
      const _: never = done.next;
      throw new Error(`unknown step ${JSON.stringify(_)}`);
    }
  }
}

// ----- the walk: password, then one factor, "try another method" -----

/** What the login UI shows; each method resolves when the user acts. */
export interface LoginScreens {
  askPassword(view: LoginView, error?: string): Promise<{ identifier: string; password: string }>;
  /** The code screen; `"another_method"` when the user clicks "Try another method". */
  askCode(screen: ChallengeScreen, error?: string): Promise<string | "another_method">;
  /** The push waiting screen, or the WebAuthn prompt's. */
  showWaiting(screen: ChallengeScreen, error?: string): void;
  /** "Try another method": every offer, the current one marked. */
  chooseFactor(factors: FactorOffer[], current: FactorOffer, error?: string): Promise<FactorOffer>;
  showEnded(message: string): void;
  /** Ask to use the e-mail address next time (`identifier_deprecated`: a legacy username signed in). */
  noteUseEmail(): void;
  /** The consent screen: the scopes the user keeps, or `"deny"`. */
  askConsent(consent: ConsentView): Promise<string[] | "deny">;
}

/** The whole login, from `?login_challenge=` to `redirect_to`. */
export async function runLogin(loginChallenge: string, screens: LoginScreens): Promise<void> {
  const view = await getLogin(loginChallenge);
  if (!view.ok) return screens.showEnded(view.problem.detail ?? view.problem.title);

  // A passkey may finish the login on its own, from the identifier field's autofill.
  const autofill = new AbortController();
  if (view.value.passkey_sign_in && (await conditionalMediationAvailable())) {
    void passkeySignIn(loginChallenge, autofill.signal)
      .then((signedIn) => (signedIn.ok ? afterSignIn(loginChallenge, signedIn.value, screens) : undefined))
      .catch((e: unknown) => {
        if (!(e instanceof WebAuthnCancelled)) throw e;
      });
  }

  let step: SecondFactorStep | undefined;
  let error: string | undefined;
  while (step === undefined) {
    const { identifier, password } = await screens.askPassword(view.value, error);
    const answer = await submitPassword(loginChallenge, identifier, password);
    if (answer.ok) {
      step = answer.value;
    } else {
      const advice = passwordProblemAdvice(answer.problem);
      if (advice.then === "restart") return screens.showEnded(advice.message);
      error = advice.message;
    }
  }
  autofill.abort();
  if (step.identifier_deprecated) screens.noteUseEmail();
  switch (step.next) {
    case "return_to_client":
      // A phishing-resistant login was asked for and the account has no such method.
      if (step.redirect_to) window.location.assign(step.redirect_to);
      return;
    case "second_factor":
      break;
    default: {
      const _: never = step.next;
      throw new Error(`unknown step ${JSON.stringify(_)}`);
    }
  }

  const factors = step.factors;
  const first = factors.find((f) => f.id === step.default_factor) ?? factors[0];
  if (first === undefined) return screens.showEnded("No sign-in method is available for this account.");
  let factor = first;
  for (;;) {
    const result = await secondFactor(loginChallenge, factor, screens);
    switch (result.then) {
      case "done":
        // `offer_platform_enrolment`: the settings UI may offer a biometric key first.
        return afterSignIn(loginChallenge, result.done, screens);
      case "ended":
        return screens.showEnded(result.message);
      case "another_method":
        factor = await screens.chooseFactor(factors, factor, result.message);
        break;
    }
  }
}

type FactorResult =
  | { then: "done"; done: LoginDone }
  | { then: "another_method"; message?: string }
  | { then: "ended"; message: string };

/** Why a factor could not be started: another method, or the login is over. */
export function challengeProblemAdvice(problem: ChallengeProblem): ProblemAdvice {
  switch (problem.code) {
    case "otp_send_limit":
    case "push_send_limit":
      return { message: `Too many codes or pushes. ${retryAfter(problem)} Or try another method.`, then: "another_method" };
    case "login_request_expired":
    case "login_request_completed":
    case "login_request_not_found":
    case "browser_mismatch":
    case "password_required":
      return { message: "This sign-in has ended: start again from the application.", then: "restart" };
    default:
      // factor_not_found, factor_retired, factor_disabled, factor_not_active, factor_not_allowed, webauthn_unavailable
      return { message: problem.detail ?? problem.title, then: "another_method" };
  }
}

/** One factor, from its challenge to done, or to another method. */
async function secondFactor(loginChallenge: string, factor: FactorOffer, screens: LoginScreens): Promise<FactorResult> {
  let error: string | undefined;
  for (;;) {
    // One challenge (a mailed code, a push, WebAuthn options) …
    const started = await startChallenge(loginChallenge, factor);
    if (!started.ok) {
      const advice = challengeProblemAdvice(started.problem);
      return advice.then === "restart"
        ? { then: "ended", message: advice.message }
        : { then: "another_method", message: advice.message };
    }
    const challenge = started.value;
    const screen = challengeScreen(challenge);
    // … and the proofs that answer it: a wrong code may be typed again.
    for (;;) {
      let outcome: Outcome<Verified, VerifyProblem>;
      switch (challenge.kind) {
        case "email_otp":
        case "totp":
        case "recovery_code": {
          const code = await screens.askCode(screen, error);
          if (code === "another_method") return { then: "another_method" };
          outcome = await verify(loginChallenge, factor, codeProof(challenge, code));
          break;
        }
        case "push": {
          screens.showWaiting(screen, error);
          const approved = await waitForPush(loginChallenge, factor, challenge);
          outcome = approved.ok ? ok({ next: "done", done: approved.value }) : approved;
          break;
        }
        case "security_key":
        case "passkey":
        case "platform": {
          screens.showWaiting(screen, error);
          let proof: FactorProof;
          try {
            proof = await webauthnProof(challenge);
          } catch (e) {
            if (e instanceof WebAuthnCancelled) return { then: "another_method" };
            throw e;
          }
          outcome = await verify(loginChallenge, factor, proof);
          break;
        }
        default: {
          const _: never = challenge;
          throw new Error(`unknown factor kind ${JSON.stringify(_)}`);
        }
      }
      if (outcome.ok) {
        if (outcome.value.next === "done") return { then: "done", done: outcome.value.done };
        // Only a push answers 202, and waitForPush polls until it is settled.
        throw new Error("unexpected pending answer");
      }
      const advice = verifyProblemAdvice(outcome.problem);
      error = advice.message;
      switch (advice.then) {
        case "retry":
          continue;
        case "challenge_again":
          break;
        case "another_method":
          return { then: "another_method", message: advice.message };
        case "restart":
          return { then: "ended", message: advice.message };
      }
      break; // challenge again
    }
  }
}
