/** The emulators' public surface. */
export type { ApiAuth, ApiGuard, ApiHandler } from './core/api-guard.js';
export type { ErrorStyle, OAuthFailure, UnauthenticatedReason } from './core/error-style.js';
export { leagueErrorStyle } from './core/error-style.js';
export type { FaultInjector, FaultPoint } from './core/faults.js';
export { noFaults } from './core/faults.js';
export { passwordGrant, refreshTokenGrant } from './core/grants.js';
export type {
  OAuthEmulatorConfig,
  OAuthEmulatorServer,
  PasswordGrantCredentials,
  RunningEmulator,
} from './core/oauth-emulator.js';
export { startOAuthEmulator } from './core/oauth-emulator.js';
export type { EmulatorRequest, EmulatorResponse, RouteHandler } from './core/router.js';
export type { EmulatorStats } from './core/stats.js';
export type { RotationMode, TokenAuthorityOptions } from './core/token-authority.js';
export { ROTATION_MODES, TokenAuthority } from './core/token-authority.js';
export type { GrantContext, GrantHandler, GrantOutcome } from './core/token-endpoint.js';
export type {
  FactusCredentials,
  FactusEmulatorOptions,
  FactusRunningEmulator,
} from './factus/factus-emulator.js';
export {
  FACTUS_EMULATOR_CREDENTIALS,
  FACTUS_EMULATOR_DEFAULTS,
  startFactusEmulator,
} from './factus/factus-emulator.js';
