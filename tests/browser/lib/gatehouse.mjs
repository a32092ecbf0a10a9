// The real `gatehouse serve` binary as the browser tests' server: its own TOML
// configuration in a temp dir, a free port on 127.0.0.1 under the issuer
// http://localhost:<port> (the WebAuthn RP ID is `localhost`), cheap argon2, mail
// written as .eml files, on SQLite or on a fresh PostgreSQL schema. Accounts and
// clients are set up with the `gatehouse` command, as an operator would.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const POSTGRES_VAR = 'GATEHOUSE_TEST_POSTGRES_URL';
export const REDIRECT = 'https://app.example.com/callback';
export const PASSWORD = 'Tanaka-Rie#2026!';
export const ACCOUNT_SCOPE = 'openid email gatehouse:account';

/** The `gatehouse` binary: $GATEHOUSE_TEST_BIN, else the debug build of the target dir. */
export function binary() {
  if (process.env.GATEHOUSE_TEST_BIN) return process.env.GATEHOUSE_TEST_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? resolve(import.meta.dirname, '../../../target');
  return join(target, 'debug', 'gatehouse');
}

/** A port nobody listens on right now. */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/** The environment of the `gatehouse` processes: the config file says everything, so
 * no GATEHOUSE_* variable of the caller's may override it (nor be refused as unknown). */
function childEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GATEHOUSE_')));
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** The backends to run on: SQLite always, PostgreSQL when its URL is given. */
export function backends() {
  const pg = process.env[POSTGRES_VAR];
  return [
    { name: 'SQLite', kind: 'sqlite' },
    {
      name: 'PostgreSQL',
      kind: 'postgres',
      base: pg,
      // In CI the PostgreSQL half may not be skipped (the test then fails instead).
      skip: !pg && !process.env.CI ? `${POSTGRES_VAR} is not set` : false,
    },
  ];
}

async function psql(url, sql) {
  await run('psql', [url, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql]);
}

/** A fresh database: a SQLite file in `dir`, or a new PostgreSQL schema. */
async function database(backend, dir) {
  if (backend.kind === 'sqlite') {
    return { url: `sqlite://${join(dir, 'gatehouse.db')}`, drop: async () => {} };
  }
  if (!backend.base) {
    throw new Error(`${POSTGRES_VAR} must be set in CI: the PostgreSQL run may not be skipped there`);
  }
  const schema = `browser_${randomBytes(8).toString('hex')}`;
  await psql(backend.base, `CREATE SCHEMA ${schema}`);
  const separator = backend.base.includes('?') ? '&' : '?';
  return {
    url: `${backend.base}${separator}options=-csearch_path%3D${schema}`,
    drop: () => psql(backend.base, `DROP SCHEMA IF EXISTS ${schema} CASCADE`),
  };
}

/** Decodes a quoted-printable, UTF-8 mail body. */
function quotedPrintable(text) {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    if (joined[i] === '=' && /^[0-9A-F]{2}$/i.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** One .eml file: {to, subject, body} with the body decoded. */
function parseEml(text) {
  const split = text.indexOf('\r\n\r\n') >= 0 ? '\r\n\r\n' : '\n\n';
  const at = text.indexOf(split);
  const head = text.slice(0, at);
  let body = text.slice(at + split.length);
  const header = (name) =>
    head
      .split(/\r?\n/)
      .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}: `))
      ?.slice(name.length + 2);
  const encoding = (header('Content-Transfer-Encoding') ?? '').toLowerCase();
  if (encoding === 'quoted-printable') body = quotedPrintable(body);
  if (encoding === 'base64') body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return { to: header('To') ?? '', subject: header('Subject') ?? '', body };
}

/** The reference UI's files in this checkout (served from disk with `[ui] assets_dir`). */
export const UI_ASSETS = resolve(import.meta.dirname, '../../../crates/gatehouse-ui/assets');

export class Site {
  /** Starts `gatehouse serve` on `backend` with `tweak` applied to the TOML sections.
   * With `{ ui: true }`, the UI URLs keep their defaults (the reference UI at /ui/ on
   * the issuer's origin), served as the binary embedded it (run.sh builds it from this
   * checkout); with GATEHOUSE_UI_ASSETS=disk, from this checkout's files instead
   * (`[ui] assets_dir`), for working on the pages with a binary built earlier. */
  static async start(backend, tweak = {}, { ui = false } = {}) {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-browser-'));
    const db = await database(backend, dir);
    const port = await freePort();
    const origin = `http://localhost:${port}`;
    const key = (await run(binary(), ['secrets', 'generate-key'], { cwd: dir, env: childEnv() })).stdout.trim();
    // The login and registration UIs are pages of the server's own origin: the
    // browser lands there from /authorize and from the mailed links.
    const page = `${origin}/healthz`;
    const sections = {
      server: { bind: `127.0.0.1:${port}`, issuer: origin, workers: 2 },
      database: { url: db.url, max_connections: 4 },
      logging: { format: 'json', level: 'info' },
      secrets: { key },
      password_hashing: { memory_kib: 64, iterations: 1, parallelism: 1 },
      login: ui ? {} : { ui_url: page },
      migration: ui ? {} : { registration_ui_url: page },
      ui: ui && process.env.GATEHOUSE_UI_ASSETS === 'disk' ? { assets_dir: UI_ASSETS } : {},
      mail: { transport: 'file', file_dir: join(dir, 'mail'), poll_interval_seconds: 1, linger_ms: 0 },
      // The RP ID and origin follow the issuer: rp_id = "localhost", origin = the
      // issuer's, and no other port of localhost is accepted.
      webauthn: { allow_any_port: false },
    };
    for (const [section, values] of Object.entries(tweak)) {
      sections[section] = { ...(sections[section] ?? {}), ...values };
    }
    const config = join(dir, 'gatehouse.toml');
    await writeFile(config, toml(sections));
    const site = new Site(dir, db, config, origin, sections);
    await site.#serve();
    return site;
  }

  constructor(dir, db, config, origin, sections) {
    this.dir = dir;
    this.db = db;
    this.config = config;
    this.origin = origin;
    this.sections = sections;
    this.mailDir = join(dir, 'mail');
    this.log = [];
  }

  async #serve() {
    const child = spawn(binary(), ['serve', '--config', this.config], {
      cwd: this.dir,
      env: childEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    let buffered = '';
    child.stderr.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      this.log.push(...lines);
    });
    const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
    this.exited = exited;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (this.log.some((l) => l.includes('"gatehouse listening"'))) return;
      const done = await Promise.race([exited, sleep(50).then(() => null)]);
      if (done || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`gatehouse serve did not start (${JSON.stringify(done)}):\n${this.log.join('\n')}`);
      }
    }
  }

  url(path) {
    return `${this.origin}${path}`;
  }

  /** Runs `gatehouse --config <this site's> ...args`; its stdout. */
  async cli(...args) {
    try {
      const { stdout } = await run(binary(), ['--config', this.config, ...args], {
        cwd: this.dir,
        env: childEnv(),
      });
      return stdout;
    } catch (e) {
      throw new Error(`gatehouse ${args.join(' ')}: ${e.stderr ?? e.message}`);
    }
  }

  /** Registers the first-party client `app` allowed the account scope; its secret. */
  async addClient(id = 'app') {
    const out = await this.cli(
      'clients', 'add', '--id', id, '--name', id, '--redirect-uri', REDIRECT, '--first-party',
      '--scope', 'openid', '--scope', 'email', '--scope', 'gatehouse:account',
    );
    const client = JSON.parse(out);
    this.clients = { ...(this.clients ?? {}), [id]: client.client_secret };
    return client.client_secret;
  }

  /** Registers a third-party client (its users are asked for consent) allowed
   * `scopes`; its secret. */
  async addThirdPartyClient(id, scopes) {
    const out = await this.cli(
      'clients', 'add', '--id', id, '--name', id, '--redirect-uri', REDIRECT,
      ...scopes.flatMap((scope) => ['--scope', scope]),
    );
    const client = JSON.parse(out);
    this.clients = { ...(this.clients ?? {}), [id]: client.client_secret };
    return client.client_secret;
  }

  /** Imports a pending account for `email` and mails it its registration link; the token. */
  async invite(email) {
    const file = join(this.dir, `${createHash('sha256').update(email).digest('hex').slice(0, 12)}.jsonl`);
    await writeFile(file, `${JSON.stringify({ legacy_subject: `legacy-${email}`, email })}\n`);
    await this.cli('accounts', 'import', file);
    await this.cli('invitations', 'send', '--all-pending');
    const mail = await this.waitForMail(email, (m) => m.subject.includes('SSO Registration'));
    return new URL(this.registrationLink(mail)).searchParams.get('token');
  }

  /** The "Complete Registration" link of a mail (on this server's origin). */
  registrationLink(mail) {
    const link = mail.body.split(/\s+/).find((w) => w.startsWith(this.origin) && w.includes('?token='));
    if (!link) throw new Error(`no registration link in ${mail.body}`);
    return link;
  }

  /** Runs one SQL statement on the server's database (sqlite3 or psql), as the Rust
   * tests do to age a row. */
  async sql(statement) {
    if (this.db.url.startsWith('sqlite://')) {
      await run('sqlite3', [this.db.url.slice('sqlite://'.length), statement]);
    } else {
      await psql(this.db.url, statement);
    }
  }

  /** The mails to `to` so far, oldest first. */
  async mails(to) {
    let names = [];
    try {
      names = (await readdir(this.mailDir)).filter((n) => n.endsWith('.eml')).sort();
    } catch {
      return [];
    }
    const mails = [];
    for (const name of names) {
      const mail = parseEml(await readFile(join(this.mailDir, name), 'utf8'));
      if (mail.to.toLowerCase() === to.toLowerCase()) mails.push(mail);
    }
    return mails;
  }

  /** Waits for the mail to `to` that `match`es after the first `skip` such mails. */
  async waitForMail(to, match, skip = 0) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = (await this.mails(to)).filter(match);
      if (found.length > skip) return found[skip];
      if (Date.now() > deadline) throw new Error(`no mail to ${to} (${skip} seen before)`);
      await sleep(100);
    }
  }

  /** The one-time codes mailed to `to` so far. */
  async codes(to) {
    return (await this.mails(to))
      .map((m) => m.body.split(/\r?\n/).map((l) => l.trim()).find((l) => /^\d{6}$/.test(l)))
      .filter(Boolean);
  }

  async waitForCode(to, skip) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const codes = await this.codes(to);
      if (codes.length > skip) return codes[skip];
      if (Date.now() > deadline) throw new Error(`no one-time code #${skip} mailed to ${to}`);
      await sleep(100);
    }
  }

  /** The relying party's half: the code of a finished login goes to /token. */
  async redeem(redirectTo, verifier, client = 'app') {
    const code = new URL(redirectTo).searchParams.get('code');
    if (!code) throw new Error(`no code in ${redirectTo}`);
    const basic = Buffer.from(`${client}:${this.clients[client]}`).toString('base64');
    const res = await fetch(this.url('/token'), {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      }),
    });
    const body = await res.json();
    if (res.status !== 200) throw new Error(`/token: ${res.status} ${JSON.stringify(body)}`);
    return body;
  }

  /** Stops the server (SIGTERM, then SIGKILL) and drops its database. */
  async stop() {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const done = await Promise.race([this.exited, sleep(10_000).then(() => null)]);
      if (!done) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    await this.db.drop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The payload of a JWT, unverified (the tests read what the server put there). */
export function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

/** A PKCE pair (S256). */
export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

function toml(sections) {
  const value = (v) => (typeof v === 'string' ? JSON.stringify(v) : String(v));
  return Object.entries(sections)
    .filter(([, values]) => Object.keys(values).length > 0)
    .map(([name, values]) => `[${name}]\n${Object.entries(values).map(([k, v]) => `${k} = ${value(v)}`).join('\n')}\n`)
    .join('\n');
}
