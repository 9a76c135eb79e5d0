/** tokenkeeper's public API. Anything not exported here is internal and may change. */
import type { OpenStoreOptions as StoreLocationOptions } from './store/index.js';

export { type Clock, FakeClock, systemClock, type TimerHandle } from './clock.js';
export type { ConnectionInfo, ConnectionState } from './connection.js';
export {
  ConfigError,
  type ErrorCode,
  isTokenkeeperError,
  KeeperClosedError,
  LockTimeoutError,
  ReauthRequiredError,
  StoreError,
  TokenkeeperError,
} from './errors.js';
export type { KeeperEventName, KeeperEvents } from './events.js';
export {
  type AuthorizationRequest,
  type AuthorizationRequestOptions,
  type AuthorizationResponseContext,
  checkAuthorizationRequest,
  createAuthorizationRequest,
  OUT_OF_BAND_REDIRECT_URI,
  readAuthorizationResponse,
} from './grants/authorization-code.js';
export {
  type LoopbackReceiver,
  type LoopbackReceiverOptions,
  startLoopbackReceiver,
} from './grants/loopback-receiver.js';
export type { AuthorizationCodeResult } from './grants/strategies.js';
export type { ForwardedResponse, ForwardRequest } from './http/forward.js';
export type { Identity } from './identity.js';
export {
  type AuthorizationPrompt,
  type CloseOptions,
  type ConnectionDetails,
  type ConnectionSpec,
  type ConnectOptions,
  createKeeper,
  type Keeper,
  type KeeperCredential,
  type KeeperOptions,
  type LogoutResult,
  type RekeyFailure,
  type RekeyResult,
} from './keeper.js';
export { factorialProfile } from './providers/factorial.js';
export { factusProfile } from './providers/factus.js';
export { genericOAuth2Profile } from './providers/oauth2.js';
export type {
  ClientAuthMethod,
  CredentialEnvNames,
  GrantType,
  PaginationStyle,
  ProviderEnvironment,
  ProviderProfile,
  RateLimitRule,
} from './providers/types.js';
export {
  createSecretBox,
  type DueIndex,
  defaultDataDir,
  generateEncryptionKey,
  MemoryTokenStore,
  type MemoryTokenStoreOptions,
  type OpenedStore,
  openStore,
  PostgresTokenStore,
  type PostgresTokenStoreOptions,
  RedisTokenStore,
  type RedisTokenStoreOptions,
  type SecretBox,
  type SharedRateLimits,
  SqliteTokenStore,
  type SqliteTokenStoreOptions,
  type StoredConnection,
  sealedKeyId,
  type TokenStore,
} from './store/index.js';
export { TokenSet, type TokenSetData } from './token-set.js';

/**
 * What `openStore` needs besides the location: where environment variables are read, the
 * data directory and working directory, and settings of each backend that a location
 * string does not carry.
 */
export type OpenStoreOptions = StoreLocationOptions;
