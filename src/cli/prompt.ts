/**
 * Asking a person for a value on the terminal; secrets with hidden input.
 * Never used when there is no terminal: then the value must come from the environment.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { CancelledError } from './args.js';
import type { CliIO } from './output.js';

export function canPrompt(io: CliIO): boolean {
  return Boolean(io.stdin.isTTY && io.stderr.isTTY);
}

export function ask(io: CliIO, question: string, options: { hidden?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    let muted = false;
    // Readline echoes what is typed through `output`; muting it hides a secret as it is typed.
    const echo = new Writable({
      write(chunk, _encoding, done) {
        if (!muted) io.stderr.write(chunk);
        done();
      },
    });
    const rl = createInterface({ input: io.stdin, output: echo, terminal: true });
    rl.on('SIGINT', () => {
      rl.close();
      io.stderr.write('\n');
      reject(new CancelledError());
    });
    rl.question(question, (answer) => {
      rl.close();
      if (options.hidden) io.stderr.write('\n');
      resolve(answer.trim());
    });
    muted = Boolean(options.hidden);
  });
}

/** A yes/no question on the terminal; anything but y or yes is no. */
export async function confirm(io: CliIO, question: string): Promise<boolean> {
  const answer = await ask(io, `${question} [y/N] `);
  return /^y(es)?$/i.test(answer);
}
