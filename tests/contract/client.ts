// A typed client for Gatehouse's REST API, written as the example a login UI copies:
// plain `fetch`, and every path, body and answer typed from the types openapi-typescript
// generates from openapi/gatehouse.json (`npx openapi-typescript gatehouse.json -o
// gatehouse.d.ts --empty-objects-unknown`). No runtime dependency.
//
// tests/contract/run.sh compiles this file and the flows beside it (login.ts,
// webauthn.ts, registration.ts, enrolment.ts) with `tsc --strict` against the document
// of the tree, so a change to a body, a `kind` or a problem `code` they rely on fails
// the check instead of a frontend.

import type { components, paths } from "./generated/gatehouse";

/** Every named schema of the document: `Schemas["LoginView"]`, `Schemas["TotpChallenge"]`, … */
export type Schemas = components["schemas"];

type Method = "get" | "post" | "patch" | "delete";

/** The methods a path has, e.g. `"get"` for `/api/v1/login/{login_challenge}`. */
export type MethodOf<P extends keyof paths> = {
  [M in Method]: undefined extends paths[P][M] ? never : M;
}[Method];

type Operation<P extends keyof paths, M extends Method> = Exclude<paths[P][M], undefined>;

type PathParams<O> = O extends { parameters: { path: infer A } } ? A : never;
type JsonBody<O> = O extends { requestBody: { content: { "application/json": infer B } } }
  ? B
  : never;
type Query<O> = O extends { parameters: { query?: infer Q } } ? Exclude<Q, undefined> : never;

/** What a call needs besides its method and path: path parameters, query, JSON body. */
export type Init<O> = ([PathParams<O>] extends [never] ? { path?: never } : { path: PathParams<O> }) &
  ([JsonBody<O>] extends [never] ? { body?: never } : { body: JsonBody<O> }) &
  ([Query<O>] extends [never] ? { query?: never } : { query?: Query<O> }) & {
    /** A bearer access token, for the account API. */
    token?: string;
  };

type Responses<O> = O extends { responses: infer R } ? R : never;
type Content<R> = R extends { content: infer C } ? C[keyof C] : undefined;

/**
 * Every answer the document lists for an operation, as `{status, body}`: switching on
 * `status` narrows `body` to that answer's schema (`200` → `LoginDone`, `202` →
 * `LoginPending`, `422` → the 422 problem, …).
 */
export type Answer<O> = {
  [S in keyof Responses<O>]: { status: S; body: Content<Responses<O>[S]> };
}[keyof Responses<O>];

export type AnswerOf<P extends keyof paths, M extends MethodOf<P>> = Answer<Operation<P, M>>;

type IsProblemStatus<S> = S extends number
  ? `${S}` extends `4${string}` | `5${string}`
    ? true
    : false
  : false;

/** The problem answers (4xx, 5xx) of an answer union. */
export type ProblemAnswer<A> = A extends { status: infer S } ? (IsProblemStatus<S> extends true ? A : never) : never;

/** The problems (`application/problem+json` bodies) an operation documents, by `code`. */
export type ProblemOf<P extends keyof paths, M extends MethodOf<P>> = ProblemAnswer<AnswerOf<P, M>>["body"];

/** What a UI does with a finished call: the value, or the problem to show. */
export type Outcome<T, P> = { ok: true; value: T } | { ok: false; status: number; problem: P };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

/** A problem answer as an outcome, its body typed by the operation's problem schemas. */
export const failed = <A extends { status: number | string | symbol; body: unknown }>(
  answer: A,
): { ok: false; status: number; problem: A["body"] } => ({
  ok: false,
  status: Number(answer.status),
  problem: answer.body,
});

/** Where the API is: the issuer's origin, or another origin of the same site (CORS). */
export let apiBase = "";
export function setApiBase(origin: string): void {
  apiBase = origin.replace(/\/$/, "");
}

/**
 * One typed call: `request("post", "/api/v1/login/{login_challenge}/password", {path:
 * {login_challenge}, body: {identifier, password}})`. The browser's cookies go along
 * (`credentials: "include"`): they bind a login to its browser.
 */
export async function request<P extends keyof paths, M extends MethodOf<P>>(
  method: M,
  path: P,
  init: Init<Operation<P, M>>,
): Promise<AnswerOf<P, M>> {
  const params: Record<string, unknown> = init.path ?? {};
  let url =
    apiBase +
    String(path).replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params[name])));
  const query: Record<string, unknown> = init.query ?? {};
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) search.set(name, String(value));
  }
  if (search.toString() !== "") url += `?${search.toString()}`;

  const headers: Record<string, string> = { Accept: "application/json, application/problem+json" };
  if (init.token !== undefined) headers["Authorization"] = `Bearer ${init.token}`;
  const requestInit: RequestInit = { method: method.toUpperCase(), headers, credentials: "include" };
  if (init.body !== undefined) {
    headers["Content-Type"] = "application/json";
    requestInit.body = JSON.stringify(init.body);
  }

  const response = await fetch(url, requestInit);
  const type = response.headers.get("Content-Type") ?? "";
  let body: unknown = undefined;
  if (response.status !== 204) {
    if (!/^application\/(problem\+)?json\b/.test(type)) {
      // Not an answer of Gatehouse (a proxy's 502 page, …): outside the document.
      throw new Error(`${method.toUpperCase()} ${url}: HTTP ${response.status} (${type || "no body"})`);
    }
    body = await response.json();
  }
  // The one trust point: the answer is what the document says it is for this status
  // (make schemathesis holds the server to the document).
  return { status: response.status, body } as AnswerOf<P, M>;
}

/** Waits `seconds` (push polling), or less when the UI gives up (`signal`). */
export function sleep(seconds: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, seconds * 1000);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
