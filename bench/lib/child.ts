/**
 * A child process spoken to in lines: we write commands to its stdin and read
 * one line per answer from its stdout. Every wait has a timeout, and a child
 * that does not exit when asked is killed by its own pid, so a stuck child can
 * never hang the benchmark.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Path of a compiled script under dist/bench/children/. */
export function childScript(name: string): string {
  return fileURLToPath(new URL(`../children/${name}.js`, import.meta.url));
}

export interface LineChildOptions {
  args?: string[];
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
}

export class LineChild {
  readonly #process: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  #waiting: ((line: string | undefined) => void) | undefined;
  #ended = false;
  #stderr = '';
  readonly #exited: Promise<number | null>;

  constructor(script: string, options: LineChildOptions = {}) {
    this.#process = spawn(process.execPath, [...(options.execArgv ?? []), script, ...(options.args ?? [])], {
      stdio: 'pipe',
      env: options.env ?? process.env,
    });
    // Keep the end of stderr to explain a failure; never echo it (a child may print secrets by mistake).
    this.#process.stderr.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-4000);
    });
    const reader = createInterface({ input: this.#process.stdout });
    reader.on('line', (line) => {
      if (this.#waiting) {
        const resolve = this.#waiting;
        this.#waiting = undefined;
        resolve(line);
      } else {
        this.#lines.push(line);
      }
    });
    reader.on('close', () => {
      this.#ended = true;
      this.#waiting?.(undefined);
      this.#waiting = undefined;
    });
    this.#exited = new Promise((resolve) => this.#process.once('exit', (code) => resolve(code)));
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  send(line: string): void {
    this.#process.stdin.write(`${line}\n`);
  }

  /** The next line the child prints; rejects after `timeoutMs` or if the child ends first. */
  async next(timeoutMs: number): Promise<string> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return queued;
    if (this.#ended) throw this.#failure('ended before answering');
    let timer: NodeJS.Timeout | undefined;
    const line = await new Promise<string | undefined>((resolve) => {
      this.#waiting = resolve;
      timer = setTimeout(() => {
        this.#waiting = undefined;
        resolve(undefined);
      }, timeoutMs);
    }).finally(() => clearTimeout(timer));
    if (line === undefined) {
      throw this.#failure(this.#ended ? 'ended before answering' : `gave no answer within ${timeoutMs} ms`);
    }
    return line;
  }

  /** Waits for a line equal to `expected`. */
  async expect(expected: string, timeoutMs: number): Promise<void> {
    const line = await this.next(timeoutMs);
    if (line !== expected) throw this.#failure(`said ${JSON.stringify(line)} instead of "${expected}"`);
  }

  /** Ends stdin (the child's cue to exit) and waits; kills the child if it lingers. */
  async close(timeoutMs = 5000): Promise<void> {
    this.#process.stdin.end();
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      this.#exited.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (!exited) {
      this.#process.kill('SIGKILL');
      await this.#exited;
    }
  }

  #failure(what: string): Error {
    const tail = this.#stderr.trim().split('\n').slice(-8).join('\n');
    return new Error(`Child process ${this.#process.pid} ${what}.${tail ? `\n${tail}` : ''}`);
  }
}

/** Asks a child that answers `cpu` (serve-child, serve-daemon) for the CPU it has used (ms). */
export async function askCpuMs(child: LineChild): Promise<number> {
  child.send('cpu');
  return (JSON.parse(await child.next(10_000)) as { cpuMs: number }).cpuMs;
}

export interface SpawnTiming {
  ms: number;
  code: number | null;
  stdoutBytes: number;
  stderr: string;
}

/** Runs a command to completion, timing it from spawn to exit; stdout is drained and counted, not kept. */
export function runTimed(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<SpawnTiming> {
  return new Promise((resolve, reject) => {
    const begin = process.hrtime.bigint();
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    let stdoutBytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: Number(process.hrtime.bigint() - begin) / 1e6, code, stdoutBytes, stderr });
    });
  });
}
