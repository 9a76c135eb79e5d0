/**
 * Who may talk to the daemon: the bearer of the access secret, and a browser that
 * proved it knows the secret (a one-time link printed at start, or the login form) and
 * holds the session cookie it got in exchange.
 *
 * The secret comes from TOKENKEEPER_SERVE_SECRET, or else from a file created with mode
 * 0600 beside the store. Comparisons are constant-time.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { defaultDataDir, parseStoreLocation } from '../store/open-store.js';

export const SECRET_ENV = 'TOKENKEEPER_SERVE_SECRET';
const SECRET_FILE_NAME = 'serve-secret';
const MIN_SECRET_LENGTH = 16;

export interface AccessSecret {
  value: string;
  /** Where it came from: the environment, or this file. */
  file?: string;
}

/** The secret file lives beside a SQLite store; for other stores, in the data directory. */
export function secretFilePath(storeLocation: string | undefined, env: NodeJS.ProcessEnv): string {
  const target = parseStoreLocation(storeLocation, { env });
  const dir = target.kind === 'sqlite' ? path.dirname(target.path) : defaultDataDir({ env });
  return path.join(dir, SECRET_FILE_NAME);
}

export async function loadAccessSecret(
  storeLocation: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<AccessSecret> {
  const given = env[SECRET_ENV];
  if (given !== undefined && given !== '') {
    if (given.trim().length < MIN_SECRET_LENGTH) {
      throw new ConfigError(
        `${SECRET_ENV} is too short to protect tokens: use at least ${MIN_SECRET_LENGTH} characters, e.g. \`openssl rand -base64 32\`.`,
      );
    }
    return { value: given.trim() };
  }
  const file = secretFilePath(storeLocation, env);
  return { value: await readOrCreateSecretFile(file), file };
}

async function readOrCreateSecretFile(file: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    const handle = await open(file, 'wx', 0o600);
    const secret = randomBytes(32).toString('base64url');
    await handle.writeFile(`${secret}\n`);
    await handle.close();
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(
      `The access secret file ${file} can be read by other users; run \`chmod 600 ${file}\` and start again.`,
    );
  }
  const secret = (await readFile(file, 'utf8')).trim();
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(
      `The access secret file ${file} is empty or too short; delete it to get a new one.`,
    );
  }
  return secret;
}

/** Constant-time string comparison: both sides are hashed first, so their lengths leak nothing. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digestOf(a), digestOf(b));
}

// The one-shot hash, cheaper than createHash for a short string.
function digestOf(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}

/**
 * The access secret, kept as its digest: what a request presents is the only thing hashed
 * per request (one hash is a few µs, a visible part of a proxied request's cost).
 */
export class SecretDigest {
  readonly #digest: Buffer;

  constructor(secret: string) {
    this.#digest = digestOf(secret);
  }

  /** Constant-time: `given` is hashed first, so its length leaks nothing. */
  matches(given: string): boolean {
    return timingSafeEqual(digestOf(given), this.#digest);
  }

  /** `Authorization: Bearer <secret>` with this secret. */
  inBearer(authorization: string | undefined): boolean {
    if (!authorization) return false;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match !== null && this.matches(match[1] as string);
  }
}

export const SESSION_COOKIE = 'tokenkeeper_session';
const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const LINK_TTL_MS = 15 * 60 * 1000;

/** Browser sessions of the dashboard, in memory: a restart asks for the secret again. */
export class DashboardSessions {
  readonly #codes = new Map<string, number>();
  readonly #sessions = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A code for the one-time link; it works once, within 15 minutes. */
  oneTimeCode(): string {
    this.#forgetExpired();
    const code = randomBytes(24).toString('base64url');
    this.#codes.set(code, this.now() + LINK_TTL_MS);
    return code;
  }

  /** A new session id for a valid one-time code (which is then spent), else undefined. */
  redeem(code: string): string | undefined {
    for (const [known, until] of this.#codes) {
      if (!sameSecret(known, code)) continue;
      this.#codes.delete(known);
      return until > this.now() ? this.open() : undefined;
    }
    return undefined;
  }

  open(): string {
    this.#forgetExpired();
    const id = randomBytes(32).toString('base64url');
    this.#sessions.set(id, this.now() + SESSION_TTL_MS);
    return id;
  }

  isValid(cookieHeader: string | undefined): boolean {
    const id = cookieValue(cookieHeader, SESSION_COOKIE);
    if (!id) return false;
    const until = this.#sessions.get(id);
    if (until === undefined) return false;
    if (until <= this.now()) {
      this.#sessions.delete(id);
      return false;
    }
    return true;
  }

  #forgetExpired(): void {
    const now = this.now();
    for (const map of [this.#codes, this.#sessions]) {
      for (const [key, until] of map) if (until <= now) map.delete(key);
    }
  }

  cookie(id: string): string {
    return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}`;
  }
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}
