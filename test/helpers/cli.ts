/** Runs the built `tokenkeeper` binary as a user would, in an isolated home and store. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { keyFileFor } from '../../src/store/open-store.js';

export const cliPath = fileURLToPath(new URL('../../cli/tokenkeeper.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliSandbox {
  home: string;
  storePath: string;
  env: NodeJS.ProcessEnv;
  run(
    args: string[],
    options?: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number },
  ): Promise<CliResult>;
  /** Runs a command line as a person would paste it into sh, with the built CLI as `tokenkeeper` on PATH. */
  shell(command: string, options?: { env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  /** The environment with the built CLI as `tokenkeeper` on PATH (for shells and completion scripts). */
  pathEnv(): Promise<NodeJS.ProcessEnv>;
  /** Everything any command printed, but what `token`, `exec` and `env` hand over on stdout, to check that no secret ever appeared. */
  transcript(): string;
  cleanup(): Promise<void>;
}

export async function createCliSandbox(baseEnv: NodeJS.ProcessEnv = {}): Promise<CliSandbox> {
  const home = await mkdtemp(join(tmpdir(), 'tk-cli-'));
  const storePath = join(home, 'store', 'tokens.db');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    TOKENKEEPER_STORE: storePath,
    ...baseEnv,
  };
  const outputs: string[] = [];
  const pathEnv = async () => ({ ...env, PATH: `${await tokenkeeperOnPath(home)}:${env.PATH}` });
  return {
    home,
    storePath,
    env,
    async run(args, options = {}) {
      const result = await runCli(args, { ...env, ...options.env }, options.input, options.timeoutMs);
      // `token`, `exec` and `env` hand a secret over on stdout on purpose; everything else must never.
      const handsOver = ['token', 'exec', 'env'].some((command) => args.includes(command));
      outputs.push(handsOver ? '' : result.stdout, result.stderr);
      return result;
    },
    async shell(command, options = {}) {
      const result = await runProcess('sh', ['-c', command], { ...(await pathEnv()), ...options.env });
      outputs.push(result.stdout, result.stderr);
      return result;
    },
    pathEnv,
    transcript: () => outputs.join('\n'),
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}

/** Puts the built CLI on PATH as `tokenkeeper`, in `home`/bin; returns that directory. */
export async function tokenkeeperOnPath(home: string): Promise<string> {
  const bin = join(home, 'bin');
  await mkdir(bin, { recursive: true });
  await writeFile(join(bin, 'tokenkeeper'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`, {
    mode: 0o755,
  });
  return bin;
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
  timeoutMs = 60_000,
): Promise<CliResult> {
  return runProcess(process.execPath, [cliPath, ...args], env, input, timeoutMs);
}

/**
 * Runs `file` with `args` and `env` to the end (killed after `timeoutMs`), `input` on its stdin:
 * its exit code and everything it wrote to stdout and stderr.
 */
export function runProcess(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

export interface InteractiveCli {
  /** Resolves with the first match of `pattern` in what the command wrote to stderr so far or later. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  write(text: string): void;
  done: Promise<CliResult>;
}

/** Starts the CLI and lets the test talk to it while it runs (a login waiting for the browser). */
export function startCli(args: string[], env: NodeJS.ProcessEnv): InteractiveCli {
  return startProcess(process.execPath, [cliPath, ...args], env);
}

/** startCli for a command line run by sh as written (`env` must put `tokenkeeper` on PATH). */
export function startShell(command: string, env: NodeJS.ProcessEnv): InteractiveCli {
  return startProcess('sh', ['-c', command], env);
}

function startProcess(file: string, args: string[], env: NodeJS.ProcessEnv): InteractiveCli {
  const child = spawn(file, args, { env, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve(match: RegExpMatchArray): void }> = [];
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    for (const waiter of [...waiters]) {
      const match = stderr.match(waiter.pattern);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return {
    waitForStderr(pattern, timeoutMs = 15_000) {
      const match = stderr.match(pattern);
      if (match) return Promise.resolve(match);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${pattern} on stderr; got:\n${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    write: (text) => child.stdin.write(text),
    done,
  };
}

/** A port that was free a moment ago, for redirect URIs that must be registered up front. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The indented authorization URL a login prints on stderr. */
export const AUTHORIZATION_URL_LINE = /\n {2}(http:\/\/127\.0\.0\.1:\d+\/\S+)\n/;

/** Starts a login that waits on its loopback redirect; returns it with the URL to "open in a browser". */
export async function startBrowserLogin(
  args: string[] | { shell: string },
  env: NodeJS.ProcessEnv,
): Promise<{ login: InteractiveCli; url: string }> {
  const login = Array.isArray(args) ? startCli(args, env) : startShell(args.shell, env);
  const [, url] = await login.waitForStderr(AUTHORIZATION_URL_LINE);
  await login.waitForStderr(/Waiting for the browser/);
  return { login, url: url! };
}

/**
 * The arguments of a Factorial login by authorization code as `name`, the browser sent back to
 * `redirectUri` (a loopback URI or the out-of-band URN) and not opened: the same nine arguments in
 * every test of the browser login, where only the name, emulator and URI change.
 */
export function factorialBrowserLoginArgs(
  name: string,
  emulator: { url: string },
  redirectUri: string,
): string[] {
  return [
    'login',
    name,
    '--provider',
    'factorial',
    '--base-url',
    emulator.url,
    '--redirect-uri',
    redirectUri,
    '--no-browser',
  ];
}

/**
 * The arguments of a Factorial login with an API key as `name` (the key read from
 * FACTORIAL_API_KEY): the same seven arguments wherever a test logs in with a key.
 */
export function factorialApiKeyLoginArgs(name: string, emulator: { url: string }): string[] {
  return ['login', name, '--provider', 'factorial', '--base-url', emulator.url, '--api-key'];
}

/** The environment a CLI needs to log in to a Factus emulator with the password grant. */
export function factusEnv(emulator: {
  credentials: { clientId: string; clientSecret: string; username: string; password: string };
}): NodeJS.ProcessEnv {
  const { clientId, clientSecret, username, password } = emulator.credentials;
  return {
    FACTUS_CLIENT_ID: clientId,
    FACTUS_CLIENT_SECRET: clientSecret,
    FACTUS_USERNAME: username,
    FACTUS_PASSWORD: password,
  };
}

/** A CLI sandbox whose store holds two Factus connections sealed under the key file the CLI made. */
export interface FactusCliWithKeyFile {
  emulator: FactusRunningEmulator;
  cli: CliSandbox;
  /** The key file beside the sandbox's store. */
  keyFile: string;
  /** The key in it, as the CLI wrote it. */
  key: string;
}

/**
 * Starts a Factus emulator and a sandbox in which `acme` and `beta` log in to it, with no
 * TOKENKEEPER_KEY, so that the CLI makes the store's key file: the tests of what becomes of that
 * file (rekey, a lost key file) all start from such a store. If a login fails, it stops the
 * emulator and removes the sandbox before it throws.
 */
export async function startFactusCliWithKeyFile(): Promise<FactusCliWithKeyFile> {
  const { emulator, cli } = await startFactusCli(['acme', 'beta']);
  const keyFile = keyFileFor(cli.storePath);
  return { emulator, cli, keyFile, key: (await readFile(keyFile, 'utf8')).trim() };
}

/**
 * A Factus emulator and a sandbox with its credentials in the environment, in which each of
 * `names` has logged in to it: where most CLI tests start. If a login fails, it stops the
 * emulator and removes the sandbox before it throws.
 */
export async function startFactusCli(
  names: readonly string[] = ['acme'],
): Promise<{ emulator: FactusRunningEmulator; cli: CliSandbox }> {
  const emulator = await startFactusEmulator();
  const cli = await createCliSandbox(factusEnv(emulator));
  try {
    for (const name of names) {
      const login = await cli.run(['login', name, '--provider', 'factus', '--base-url', emulator.url]);
      assert.equal(login.code, 0, login.stderr);
    }
    return { emulator, cli };
  } catch (error) {
    await emulator.stop();
    await cli.cleanup();
    throw error;
  }
}
