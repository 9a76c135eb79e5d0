/** The CLI's exit codes: a contract scripts rely on. Only cli/ maps error codes to them. */
import type { ErrorCode } from '../errors.js';

export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  reauthRequired: 3,
  unreachable: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeFor(code: ErrorCode, status?: number): ExitCodeValue {
  switch (code) {
    case 'CONFIG':
    case 'USAGE':
    case 'STORE_KEY':
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
