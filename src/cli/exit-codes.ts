/** The CLI's exit codes: a contract scripts rely on. Only cli/ maps error codes to them. */
import type { ErrorCode } from '../errors.js';

export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  reauthRequired: 3,
  unreachable: 4,
  /** Ctrl-C, as shells report a process ended by SIGINT (128 + 2). */
  interrupted: 130,
  /** SIGTERM, by the shell convention 128 + 15. */
  terminated: 143,
  /** The reader of the output went away (`| head`): 128 + 13, as for a program SIGPIPE stopped. */
  brokenPipe: 141,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeFor(code: ErrorCode, status?: number): ExitCodeValue {
  switch (code) {
    case 'CONFIG':
      // A setting the provider refused (an API key it rejected) is its refusal, not a usage error.
      return status === 401 || status === 403 ? ExitCode.failure : ExitCode.usage;
    case 'USAGE':
    case 'STORE_KEY':
    case 'STORE_TAMPERED':
      return ExitCode.usage;
    case 'REAUTH_REQUIRED':
      return ExitCode.reauthRequired;
    case 'NETWORK':
      return ExitCode.unreachable;
    case 'TOKEN_RESPONSE':
      return status !== undefined && status >= 500 ? ExitCode.unreachable : ExitCode.failure;
    default:
      return ExitCode.failure;
  }
}
