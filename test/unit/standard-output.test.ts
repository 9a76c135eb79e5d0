/**
 * The CLI's stdout (src/cli/standard-output.ts) on real descriptors: a named pipe opened
 * non-blocking, so that a full pipe refuses a write (EAGAIN) and a pipe nobody reads refuses
 * every write (EPIPE), as they do for a CLI whose stdout another process left non-blocking.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StandardOutput } from '../../src/cli/standard-output.js';

/** Stands in for process.stdout: keeps what it is given. */
function fakeStream(isTTY = false) {
  const chunks: Buffer[] = [];
  const stream = {
    isTTY,
    write(chunk: string | Uint8Array) {
      chunks.push(Buffer.from(chunk));
      return true;
    },
  } as unknown as NodeJS.WritableStream & { isTTY?: boolean };
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

const notMade = (): never => {
  throw new Error('process.stdout was made');
};

describe('the CLI’s stdout', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tk-stdout-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Both ends of a new named pipe, non-blocking; `drain` reads all it holds. */
  function pipe() {
    const path = join(dir, `fifo-${Math.random().toString(36).slice(2)}`);
    execFileSync('mkfifo', [path]);
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    const drain = () => {
      const parts: Buffer[] = [];
      const buffer = Buffer.alloc(64 * 1024);
      for (;;) {
        try {
          const read = readSync(reader, buffer);
          if (read === 0) break;
          parts.push(Buffer.from(buffer.subarray(0, read)));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw error;
        }
      }
      return Buffer.concat(parts).toString('utf8');
    };
    return { reader, writer, drain };
  }

  it('writes to a pipe straight away, in order, without making process.stdout', () => {
    const { reader, writer, drain } = pipe();
    const errors: unknown[] = [];
    const output = new StandardOutput({ fd: writer, stream: notMade, onError: (e) => errors.push(e) });
    assert.equal(output.isTTY, false);
    assert.equal(output.write('first line\n'), true);
    assert.equal(output.write('ñandú, €\n'), true);
    assert.equal(drain(), 'first line\nñandú, €\n');
    assert.deepEqual(errors, []);
    closeSync(reader);
    closeSync(writer);
  });

  it('hands the rest of a write that would block, and every later write, to process.stdout', () => {
    const { reader, writer, drain } = pipe();
    const taken = fakeStream();
    const output = new StandardOutput({ fd: writer, stream: () => taken.stream, onError: assert.fail });
    const whole = Array.from({ length: 10_000 }, (_, i) => `line ${String(i).padStart(6, '0')}\n`).join('');
    assert.ok(whole.length > 64 * 1024, 'more than the pipe holds');
    output.write(whole);
    output.write('after\n');

    const inPipe = drain();
    assert.ok(inPipe.length > 0, 'what fitted went straight to the pipe');
    assert.ok(taken.text().length > 0, 'the rest went to the stream');
    assert.equal(inPipe + taken.text(), `${whole}after\n`, 'nothing lost, nothing reordered');
    closeSync(reader);
    closeSync(writer);
  });

  it('reports a reader that went away once, and drops what follows', () => {
    const { reader, writer } = pipe();
    closeSync(reader);
    const errors: NodeJS.ErrnoException[] = [];
    const output = new StandardOutput({ fd: writer, stream: notMade, onError: (e) => errors.push(e) });
    assert.equal(output.write('nobody reads this\n'), false);
    assert.equal(output.write('nor this\n'), false);
    assert.deepEqual(
      errors.map((e) => e.code),
      ['EPIPE'],
    );
    closeSync(writer);
  });

  it('leaves a terminal, or any character device, to process.stdout', () => {
    const device = openSync('/dev/null', 'w');
    const taken = fakeStream(true);
    const output = new StandardOutput({ fd: device, stream: () => taken.stream, onError: assert.fail });
    assert.equal(output.isTTY, true, 'as the stream says');
    output.write('to the stream\n');
    assert.equal(taken.text(), 'to the stream\n');
    closeSync(device);
  });
});
