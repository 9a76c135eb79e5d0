/**
 * The CLI's stdout. process.stdout is a stream Node builds on first use, and for a pipe or a
 * socket that loads Node's net and stream modules: several ms of `tokenkeeper token`, whose
 * whole output is one line. So text goes straight to descriptor 1 with fs.writeSync when it
 * is a pipe, a socket or a file, the way Node itself writes to them on Linux (synchronously,
 * in order). process.stdout takes over for a terminal, on Windows, and from the first write
 * that would block (a descriptor some other process left non-blocking): the rest of that write
 * and every later one go through it, so nothing is lost or reordered.
 */
import { fstatSync, writeSync } from 'node:fs';

export interface TextOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface StandardOutputOptions {
  /** 1, or another descriptor in tests. */
  fd?: number;
  /** The stream that takes over: process.stdout. */
  stream?: () => NodeJS.WritableStream & { isTTY?: boolean };
  /** A write that failed (EPIPE: the reader went away); later writes are dropped, as a stream drops them. */
  onError: (error: NodeJS.ErrnoException) => void;
}

export class StandardOutput implements TextOutput {
  readonly #fd: number;
  readonly #openStream: () => NodeJS.WritableStream & { isTTY?: boolean };
  readonly #onError: (error: NodeJS.ErrnoException) => void;
  /** Undefined until the first use decides; then direct writes, the stream, or nothing (failed). */
  #mode: 'direct' | 'stream' | 'failed' | undefined;

  constructor(options: StandardOutputOptions) {
    this.#fd = options.fd ?? 1;
    this.#openStream = options.stream ?? (() => process.stdout);
    this.#onError = options.onError;
  }

  get isTTY(): boolean {
    return this.#decide() === 'stream' && Boolean(this.#openStream().isTTY);
  }

  write(text: string): boolean {
    const mode = this.#decide();
    if (mode === 'stream') return this.#openStream().write(text);
    if (mode === 'failed') return false;
    const bytes = Buffer.from(text, 'utf8');
    let offset = 0;
    while (offset < bytes.length) {
      try {
        offset += writeSync(this.#fd, bytes, offset);
      } catch (error) {
        // Only the system's refusals are failures to write; anything else is a bug, for the caller.
        if (!isSystemError(error)) throw error;
        const code = error.code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          this.#mode = 'stream';
          return this.#openStream().write(bytes.subarray(offset));
        }
        this.#mode = 'failed';
        this.#onError(error);
        return false;
      }
    }
    return true;
  }

  #decide(): 'direct' | 'stream' | 'failed' {
    if (this.#mode === undefined) this.#mode = writesDirectly(this.#fd) ? 'direct' : 'stream';
    return this.#mode;
  }
}

function isSystemError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/** A pipe, a socket or a file on a POSIX system; never a terminal, which Node's stream handles. */
function writesDirectly(fd: number): boolean {
  if (process.platform === 'win32') return false;
  try {
    const stats = fstatSync(fd);
    return stats.isFIFO() || stats.isSocket() || stats.isFile();
  } catch {
    return false; // a closed descriptor: the stream reports it as Node always has
  }
}
