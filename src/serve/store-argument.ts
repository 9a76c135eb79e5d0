/**
 * The commands the daemon tells a person to run (`tokenkeeper login NAME` for a connection
 * that needs a new login, on the dashboard, in the reauth_required webhook and in error
 * messages) must reach the daemon's store. A shell finds the default store by itself; any
 * other one is named with `--store`, as the daemon resolved it (a SQLite path made absolute:
 * the shell's directory is not the daemon's). A URL with a password is never shown: the
 * person is told to set TOKENKEEPER_STORE to it instead.
 */

import { shellWord } from '../shell-word.js';
import { parseStoreLocation } from '../store/open-store.js';
import { isSecretParam, redactConnectionUrl } from '../store/redact-url.js';

export interface StoreArgument {
  /** `tokenkeeper <rest>`, with `--store …` when the daemon's store is not the default one. */
  command(rest: string): string;
  /** What must hold before the command reaches the store, when the command cannot say it. */
  readonly note: string | undefined;
  /** An error message with every `tokenkeeper …` command in it pointed at the daemon's store. */
  inMessage(message: string): string;
}

const DEFAULT: StoreArgument = {
  command: (rest) => `tokenkeeper ${rest}`,
  note: undefined,
  inMessage: (message) => message,
};

/** `location`: what the daemon opened (`--store` or TOKENKEEPER_STORE); undefined for the default. */
export function storeArgumentFor(location: string | undefined, env: NodeJS.ProcessEnv): StoreArgument {
  if (location === undefined || location.trim() === '') return DEFAULT;
  let target: ReturnType<typeof parseStoreLocation>;
  try {
    target = parseStoreLocation(location, { env });
  } catch {
    return DEFAULT;
  }
  // A memory store lives in the daemon alone: no command of another process reaches it.
  if (target.kind === 'memory') return DEFAULT;
  if (target.kind === 'sqlite') {
    const { TOKENKEEPER_STORE: _ignored, ...shell } = env;
    const usual = parseStoreLocation(undefined, { env: shell });
    if (usual.kind === 'sqlite' && target.path === usual.path) return DEFAULT;
    return named(target.path);
  }
  const url = new URL(location.trim());
  const secret = url.password !== '' || [...url.searchParams.keys()].some(isSecretParam);
  if (!secret) return named(location.trim());
  const note = `with TOKENKEEPER_STORE set to this daemon's store (${redactConnectionUrl(location.trim())}, with its password)`;
  return {
    command: DEFAULT.command,
    note,
    inMessage: (message) => (message.includes('`tokenkeeper ') ? `${message} Run it ${note}.` : message),
  };
}

/**
 * A command a message tells a person to run: `tokenkeeper` then one of the commands that open
 * the store, in backquotes, on a line of its own, or after a colon ("To log in to it again:
 * tokenkeeper login acme"). Prose ("tokenkeeper refreshes it") and commands that already
 * name a store are left alone.
 */
const SUGGESTED_COMMAND =
  /(^|[\s`(:])tokenkeeper (?=(?:login|logout|status|token|request|whoami|refresh|rekey|env|exec|serve|completion)\b)/gm;

function named(location: string): StoreArgument {
  const store = `--store ${shellWord(location)} `;
  return {
    command: (rest) => `tokenkeeper ${store}${rest}`,
    note: undefined,
    inMessage: (message) => message.replace(SUGGESTED_COMMAND, `$1tokenkeeper ${store}`),
  };
}
