export {
  createSecretBox,
  ENCRYPTION_KEY_BYTES,
  encryptionKeyId,
  generateEncryptionKey,
  parseEncryptionKey,
  parsePreviousEncryptionKeys,
  type ResolveEncryptionKeyOptions,
  resolveEncryptionKey,
  type SecretBox,
  sealedKeyId,
} from './encryption.js';
export { MemoryTokenStore, type MemoryTokenStoreOptions } from './memory-store.js';
export {
  type DataDirOptions,
  DEFAULT_DATABASE_NAME,
  defaultDataDir,
  keyFileFor,
  type OpenedStore,
  type OpenStoreOptions,
  openStore,
  parseStoreLocation,
  type StoreLocation,
} from './open-store.js';
export {
  POSTGRES_SCHEMA_VERSION,
  PostgresTokenStore,
  type PostgresTokenStoreOptions,
} from './postgres-store.js';
export { redactConnectionUrl } from './redact-url.js';
export { RedisTokenStore, type RedisTokenStoreOptions } from './redis-store.js';
export { SQLITE_SCHEMA_VERSION, SqliteTokenStore, type SqliteTokenStoreOptions } from './sqlite-store.js';
export type {
  ConnectionMeta,
  DueIndex,
  SharedRateLimits,
  StoredConnection,
  StoredConnectionMeta,
  TokenStore,
} from './types.js';
export { MAX_NAME_LENGTH } from './validate.js';
