/** The emulators' public surface. */
export type {
  ApiAuth,
  ApiGuard,
  ApiHandler,
  ApiKeyAuthentication,
  RateLimitBucket,
} from './core/api-guard.js';
export type {
  AuthorizationCodeFailure,
  AuthorizationCodeStoreOptions,
  ReusedCodeMode,
} from './core/authorization-codes.js';
export { AuthorizationCodeStore, REUSED_CODE_MODES } from './core/authorization-codes.js';
export { EmulatorClock } from './core/emulator-clock.js';
export type { ErrorStyle, OAuthFailure, UnauthenticatedReason } from './core/error-style.js';
export { leagueErrorStyle } from './core/error-style.js';
export type { FaultBody, FaultRule } from './core/fault-rule.js';
export { FAULT_BODIES } from './core/fault-rule.js';
export type { EmulatorFaults, FaultRuleView } from './core/fault-rules.js';
export type { FaultInjector, FaultPoint } from './core/faults.js';
export { FAULT_POINTS, noFaults } from './core/faults.js';
export { authorizationCodeGrant, passwordGrant, refreshTokenGrant } from './core/grants.js';
export type {
  OAuthEmulatorConfig,
  OAuthEmulatorServer,
  PasswordGrantCredentials,
  RunningEmulator,
} from './core/oauth-emulator.js';
export { startOAuthEmulator } from './core/oauth-emulator.js';
export type { RedirectUriMatching } from './core/redirect-uris.js';
export { REDIRECT_URI_MATCHINGS } from './core/redirect-uris.js';
export type { EmulatorRequest, EmulatorResponse, RouteHandler } from './core/router.js';
export type { EmulatorStats, OptionalCounter } from './core/stats.js';
export type { IssueTokenOptions, RotationMode, TokenAuthorityOptions } from './core/token-authority.js';
export { ROTATION_MODES, TokenAuthority } from './core/token-authority.js';
export type { GrantContext, GrantHandler, GrantOutcome } from './core/token-endpoint.js';
export type { RetiredVersionMode } from './factorial/api-versions.js';
export { FACTORIAL_DEFAULT_API_VERSIONS, RETIRED_VERSION_MODES } from './factorial/api-versions.js';
export type { ConsentMode } from './factorial/authorize-endpoint.js';
export { CONSENT_MODES } from './factorial/authorize-endpoint.js';
export { doorkeeperErrorStyle } from './factorial/doorkeeper-error-style.js';
export type {
  FactorialApplication,
  FactorialCredentials,
  FactorialEmulatorOptions,
  FactorialEmulatorStats,
  FactorialRunningEmulator,
  FactorialUser,
} from './factorial/factorial-emulator.js';
export {
  FACTORIAL_DEFAULT_REDIRECT_URIS,
  FACTORIAL_EMULATOR_CREDENTIALS,
  FACTORIAL_EMULATOR_DEFAULTS,
  startFactorialEmulator,
} from './factorial/factorial-emulator.js';
export { FACTORIAL_LEGACY_SCOPES, FACTORIAL_RESOURCE_SCOPES, FACTORIAL_SCOPES } from './factorial/scopes.js';
export type {
  FactusCredentials,
  FactusEmulatorOptions,
  FactusRunningEmulator,
  FactusUserRights,
} from './factus/factus-emulator.js';
export {
  FACTUS_EMULATOR_CREDENTIALS,
  FACTUS_EMULATOR_DEFAULTS,
  FACTUS_USER_RIGHTS,
  startFactusEmulator,
} from './factus/factus-emulator.js';
