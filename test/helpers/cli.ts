/** Runs the built `tokenkeeper` binary as a user would, in an isolated home and store. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const cliPath = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

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
  /** Everything any command printed, to check that no secret ever appeared. */
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
  return {
    home,
    storePath,
    env,
    async run(args, options = {}) {
      const result = await runCli(args, { ...env, ...options.env }, options.input, options.timeoutMs);
      outputs.push(result.stdout, result.stderr);
      return result;
    },
    transcript: () => outputs.join('\n'),
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: 'pipe' });
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
