// The registration link (scenario A): "Set your password" with a live checklist, then
// the second factor ("I'll do this later" = e-mail codes, or set one up now), then
// "Registration completed". The link is `…?token=…` from the mail.

import { failed, ok, request, type Outcome, type ProblemOf, type Schemas } from "./client";
import { enrol, isFactorKind, registrationEnrolment, type EnrolmentScreens } from "./enrolment";

export type RegistrationView = Schemas["RegistrationView"];
export type PasswordRuleView = Schemas["PasswordRuleView"];
export type SecondFactorChoice = Schemas["SecondFactorChoice"];
export type RegistrationCompleted = Schemas["RegistrationCompleted"];

export type RegistrationViewProblem = ProblemOf<"/api/v1/registration/{token}", "get">;
export type SetPasswordProblem = ProblemOf<"/api/v1/registration/{token}/password", "post">;
export type CompleteProblem = ProblemOf<"/api/v1/registration/{token}/complete", "post">;
export type ResendProblem = ProblemOf<"/api/v1/registration/resend", "post">;

export async function getRegistration(token: string): Promise<Outcome<RegistrationView, RegistrationViewProblem>> {
  const answer = await request("get", "/api/v1/registration/{token}", { path: { token } });
  return answer.status === 200 ? ok(answer.body) : failed(answer);
}

export async function setPassword(
  token: string,
  password: string,
  passwordConfirmation: string,
): Promise<Outcome<SecondFactorChoice, SetPasswordProblem>> {
  const answer = await request("post", "/api/v1/registration/{token}/password", {
    path: { token },
    body: { password, password_confirmation: passwordConfirmation },
  });
  return answer.status === 200 ? ok(answer.body) : failed(answer);
}

export async function complete(
  token: string,
  secondFactor: Schemas["CompleteRegistration"]["second_factor"],
): Promise<Outcome<RegistrationCompleted, CompleteProblem>> {
  const answer = await request("post", "/api/v1/registration/{token}/complete", {
    path: { token },
    body: { second_factor: secondFactor },
  });
  return answer.status === 200 ? ok(answer.body) : failed(answer);
}

/** "Send me a new link": accepted whatever the address (no account enumeration). */
export async function resendLink(email: string): Promise<Outcome<Schemas["ResendAccepted"], ResendProblem>> {
  const answer = await request("post", "/api/v1/registration/resend", { body: { email } });
  return answer.status === 202 ? ok(answer.body) : failed(answer);
}

// ----- the live checklist -----

export interface ChecklistLine {
  code: PasswordRuleView["code"];
  text: string;
  met: boolean;
}

/**
 * The checklist under the password fields, ticked as the user types. The server checks
 * again on submit; a rule the browser cannot judge stays unticked until then.
 */
export function checklist(policy: PasswordRuleView[], password: string, confirmation: string): ChecklistLine[] {
  const count = (re: RegExp): number => (password.match(re) ?? []).length;
  const length = [...password].length;
  return policy.map((rule) => {
    const n = rule.value ?? 1;
    let met: boolean;
    switch (rule.code) {
      case "too_short":
        met = length >= n;
        break;
      case "too_long":
        met = length > 0 && length <= n;
        break;
      case "needs_uppercase":
        met = count(/\p{Lu}/gu) >= n;
        break;
      case "needs_lowercase":
        met = count(/\p{Ll}/gu) >= n;
        break;
      case "needs_digit":
        met = count(/\p{Nd}/gu) >= n;
        break;
      case "needs_special":
        met = count(/[^\p{L}\p{Nd}\s]/gu) >= n;
        break;
      case "forbidden_character":
        met = length > 0 && !/\p{Cc}/u.test(password);
        break;
      case "mismatch":
        met = password.length > 0 && password === confirmation;
        break;
      default: {
        const _: never = rule.code;
        throw new Error(`unknown password rule ${JSON.stringify(_)}`);
      }
    }
    return { code: rule.code, text: rule.text, met };
  });
}

/** The server's verdict (`violations`: the codes of the broken rules), in checklist words. */
export function brokenRules(policy: PasswordRuleView[], violations: string[] | undefined): string {
  const broken = new Set(violations ?? []);
  const lines = policy.filter((rule) => broken.has(rule.code)).map((rule) => rule.text);
  return lines.length > 0 ? `Not yet: ${lines.join("; ")}.` : "The password does not meet every rule.";
}

// ----- the walk -----

export interface RegistrationScreens extends EnrolmentScreens {
  /** The link has expired: offer "Send me a new link". */
  showExpired(view: RegistrationView): void;
  /** The link was used: offer to sign in. */
  showUsed(): void;
  /** "Set your password" with the checklist; resolves on "Continue". */
  askPassword(
    view: RegistrationView,
    error?: string,
  ): Promise<{ password: string; confirmation: string }>;
  /** "Two-step verification": `later` ("I'll do this later") or a kind to set up now. */
  chooseSecondFactor(choice: SecondFactorChoice): Promise<SecondFactorChoice["choices"][number]>;
  showCompleted(completed: RegistrationCompleted): void;
}

export async function runRegistration(token: string, screens: RegistrationScreens): Promise<void> {
  const view = await getRegistration(token);
  if (!view.ok) return screens.showError(view.problem.detail ?? view.problem.title);
  if (view.value.status === "expired") return screens.showExpired(view.value);
  if (view.value.status === "used") return screens.showUsed();

  let choice: SecondFactorChoice | undefined;
  let error: string | undefined;
  while (choice === undefined) {
    const { password, confirmation } = await screens.askPassword(view.value, error);
    const answer = await setPassword(token, password, confirmation);
    if (answer.ok) choice = answer.value;
    else if (answer.problem.code === "password_policy") error = brokenRules(view.value.password_policy, answer.problem.violations);
    else if (answer.problem.code === "registration_link_expired") return screens.showExpired(view.value);
    else error = answer.problem.detail ?? answer.problem.title;
  }

  for (;;) {
    const picked = await screens.chooseSecondFactor(choice);
    if (picked !== "later" && isFactorKind(picked)) {
      const factor = await enrol(registrationEnrolment(token), picked, screens);
      if (factor === undefined) continue; // back to the choice
    }
    const completed = await complete(token, picked);
    if (completed.ok) return screens.showCompleted(completed.value);
    screens.showError(completed.problem.detail ?? completed.problem.title);
  }
}
