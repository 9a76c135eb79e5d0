/**
 * A connection: one set of credentials for one provider account, under a name
 * the user chose ("acme"). This module is its shape and the mapping to what a
 * store persists: non-secret metadata in clear, every secret sealed together.
 */
import { ConfigError, TokenkeeperError } from './errors.js';
import type { LoginInput } from './grants/strategies.js';
import type { ClientConfig } from './grants/token-endpoint.js';
import type { ClientAuthMethod, GrantType } from './grants/types.js';
import { providerText } from './http/provider-text.js';
import { validateServiceUrl } from './http/urls.js';
import { type SecretBox, sealedKeyId } from './store/encryption.js';
import type { ConnectionMeta, StoredConnection, TokenStore } from './store/types.js';
import type { TokenSetData } from './token-set.js';

/** `ok`, or `reauth_required` when only a new `tokenkeeper login` can fix the connection. */
export type ConnectionState = 'ok' | 'reauth_required';

/** Everything about a connection that is safe to show. */
export interface ConnectionInfo {
  name: string;
  provider: string;
  environment?: string;
  baseUrl: string;
  grant: GrantType;
  scope?: string;
  /** The OAuth client id (public by design). */
  clientId?: string;
  /** Issuer identifier, for connections set up by discovery. */
  issuer?: string;
  /** The redirect URI the authorization code was obtained with. */
  redirectUri?: string;
  state: ConnectionState;
  /** Absolute expiry of the current access token (ms since the epoch); null: never expires. */
  expiresAt?: number | null;
  /** When the current tokens were requested. */
  obtainedAt?: number;
  lastRefreshAt?: number;
  hasRefreshToken: boolean;
  /** Why the connection is not ok, in words (never a secret). */
  lastError?: { code: string; message: string; at: number };
  createdAt: number;
  /**
   * The id (a fingerprint, never the key) of the key its secrets are sealed under. Set by
   * info() and details(), which read the row; list() reads no sealed data and leaves it out.
   */
  keyId?: string;
}

export interface ConnectionSecrets {
  clientSecret?: string;
  username?: string;
  password?: string;
  apiKey?: string;
  tokens?: TokenSetData;
  /**
   * Who owns the credential, as the provider's identity endpoint last said (a person's
   * email, a company's name). Sealed with the secrets: it is personal data.
   */
  owner?: string;
}

/** Kept in the store after a transient failure, so every process (a cold one too) waits it out. */
export interface RefreshBackoff {
  /** Consecutive transient failures. */
  failures: number;
  /** No token request before this instant (ms since the epoch), unless forced. */
  until: number;
  code: string;
  /** Shown by older versions only: this field is not authenticated (refresh/shared-backoff.ts). */
  message: string;
}

export interface ConnectionRecord
  extends Omit<ConnectionInfo, 'expiresAt' | 'obtainedAt' | 'hasRefreshToken'> {
  /**
   * Identifies one login. A refresh never writes into another generation than the one
   * it read, so a late refresh cannot undo a newer login. Absent on records saved
   * before generations existed.
   */
  generation?: string;
  backoff?: RefreshBackoff;
  tokenUrl: string;
  authorizationUrl?: string;
  revocationUrl?: string;
  userinfoUrl?: string;
  clientAuthMethod: ClientAuthMethod;
  secrets: ConnectionSecrets;
}

export interface VersionedRecord {
  record: ConnectionRecord;
  version: number;
  /** The key its secrets were sealed under when read (see ConnectionInfo.keyId). */
  keyId?: string;
  /**
   * Sealed before its settings were sealed with its secrets: nothing vouches for its clear
   * settings. Its next write binds them, as they are; `rekey` writes every such row.
   */
  unbound?: true;
}

/** Public view of a record: the metadata plus facts about its tokens, never the tokens. */
export function infoOf(record: ConnectionRecord): ConnectionInfo {
  const { secrets, ...rest } = record;
  const tokens = secrets.tokens;
  return {
    ...publicFields(rest),
    ...(tokens ? { expiresAt: tokens.expiresAt, obtainedAt: tokens.obtainedAt } : {}),
    hasRefreshToken: Boolean(tokens?.refreshToken),
  };
}

/** How the connection's OAuth client talks to its token endpoint. */
export function clientConfigOf(record: ConnectionRecord): ClientConfig {
  if (!record.clientId) {
    throw new ConfigError(
      `Connection "${record.name}" has no client id; run \`tokenkeeper login ${record.name}\`.`,
    );
  }
  return {
    tokenUrl: record.tokenUrl,
    clientId: record.clientId,
    ...(record.secrets.clientSecret ? { clientSecret: record.secrets.clientSecret } : {}),
    clientAuthMethod: record.clientAuthMethod,
    ...(record.issuer ? { issuer: record.issuer } : {}),
  };
}

/** What a grant strategy needs to run the connection's grant again. */
export function loginInputOf(record: ConnectionRecord, now: number): LoginInput {
  return {
    client: () => clientConfigOf(record),
    credentials: record.secrets,
    ...(record.scope ? { scope: record.scope } : {}),
    connection: record.name,
    now,
  };
}

/** Reads and writes connection records, sealing secrets on the way in. */
export class ConnectionRepository {
  constructor(
    readonly store: TokenStore,
    private readonly secretBox: SecretBox,
  ) {}

  /** The id of the key every write seals under; see requireKey. */
  get keyId(): string {
    return this.requireKey();
  }

  /**
   * The id of the key every write seals under. Throws STORE_KEY, saying what to do, when the
   * store's key is lost: there is nothing to seal under, and a new key is never made silently.
   */
  requireKey(): string {
    return this.secretBox.keyId;
  }

  async load(name: string): Promise<VersionedRecord | undefined> {
    const stored = await this.store.get(name);
    return stored ? this.#decode(stored) : undefined;
  }

  /** The stored version of `name` (0: none), without opening its secrets, for a write that replaces it. */
  async currentVersion(name: string): Promise<number> {
    return (await this.store.get(name))?.version ?? 0;
  }

  /** What is safe to show, from the clear metadata alone: no key is needed, nothing is opened. */
  async loadInfo(name: string): Promise<ConnectionInfo | undefined> {
    const stored = await this.store.get(name);
    if (!stored) return undefined;
    // The key id is read from the sealed header, never taken from the clear part.
    const { keyId: _clear, ...shown } = publicFields(stored.meta) as Omit<ConnectionInfo, 'name'>;
    const keyId = sealedKeyId(stored.sealed);
    return { ...shown, name: stored.name, ...(keyId ? { keyId } : {}) };
  }

  /** Metadata only: no decryption, so listing thousands of connections stays cheap. */
  async listInfo(): Promise<ConnectionInfo[]> {
    const rows = this.store.listMeta ? await this.store.listMeta() : await this.store.list();
    return rows
      .map((row) => ({ ...(publicFields(row.meta) as Omit<ConnectionInfo, 'name'>), name: row.name }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Compare-and-set write; undefined when someone else wrote since `expectedVersion`,
   * or, with `fence`, when that lock owner's lease is gone.
   */
  save(
    record: ConnectionRecord,
    expectedVersion: number | null,
    fence?: string,
  ): Promise<number | undefined> {
    // The fields that decide where a secret goes are sealed with the secrets: see #decode.
    const sealed = this.secretBox.seal(
      JSON.stringify({ ...record.secrets, [BOUND]: boundFieldsOf(record) }),
      record.name,
    );
    return this.store.put(record.name, metaOf(record), sealed, expectedVersion, fence);
  }

  /** With `fence`, only while that lock owner's lease is live; see TokenStore.delete. */
  delete(name: string, fence?: string): Promise<boolean> {
    return this.store.delete(name, fence);
  }

  #decode(stored: StoredConnection): VersionedRecord {
    const { [BOUND]: bound, ...secrets } = JSON.parse(
      this.secretBox.open(stored.sealed, stored.name),
    ) as ConnectionSecrets & { [BOUND]?: Record<string, unknown> };
    const meta = stored.meta as Omit<ConnectionRecord, 'secrets' | 'name'>;
    const {
      expiresAt: _e,
      obtainedAt: _o,
      hasRefreshToken: _h,
      ...rest
    } = meta as typeof meta & {
      expiresAt?: unknown;
      obtainedAt?: unknown;
      hasRefreshToken?: unknown;
    };
    const record = { ...rest, name: stored.name, secrets } as ConnectionRecord;
    // The clear copy is what status shows; the sealed copy is what a refresh may trust. A row
    // sealed before binding existed has none: it still opens (a store written by an older
    // version, or by a host not upgraded yet, must keep working) and is bound on its next write.
    if (bound !== undefined) {
      // A field sealed only by later versions is checked once a write has sealed it.
      const changed = BOUND_FIELDS.filter(
        (field) => Object.hasOwn(bound, field) && !sameValue(bound[field], record[field]),
      );
      if (changed.length > 0) throw tampered(stored.name, changed);
    }
    // Binding proves tokenkeeper wrote a URL, not that today's rules accept it: an older version
    // took names such as 127.0.0.1.nip.io for loopback, and a row without a sealed copy proves nothing.
    assertUrlsAccepted(record);
    const keyId = sealedKeyId(stored.sealed);
    return {
      record,
      version: stored.version,
      ...(keyId ? { keyId } : {}),
      ...(bound === undefined ? { unbound: true as const } : {}),
    };
  }
}

/** Where the sealed copy of the bound fields sits in the sealed JSON. */
const BOUND = '$bound';

/** Every field that decides where a secret is sent, or how. */
const BOUND_FIELDS = [
  'provider',
  'environment',
  'baseUrl',
  'tokenUrl',
  'authorizationUrl',
  'revocationUrl',
  'userinfoUrl',
  'issuer',
  'grant',
  'clientId',
  'clientAuthMethod',
  'scope',
  'redirectUri',
  'generation',
  // Not where secrets go, but what status and errors tell a person: a writer of the store
  // must not mark a connection for a new login, nor put its own words (a command to run) there.
  'state',
  'lastError',
] as const satisfies ReadonlyArray<keyof ConnectionRecord>;

function boundFieldsOf(record: ConnectionRecord): Record<string, unknown> {
  return Object.fromEntries(BOUND_FIELDS.map((field) => [field, record[field] ?? null]));
}

function sameValue(sealed: unknown, clear: unknown): boolean {
  if (typeof sealed === 'object' && sealed !== null && typeof clear === 'object' && clear !== null) {
    // lastError: a store may give its keys back in another order (PostgreSQL's jsonb does).
    const fields = new Set([...Object.keys(sealed), ...Object.keys(clear)]);
    return [...fields].every(
      (key) => (sealed as Record<string, unknown>)[key] === (clear as Record<string, unknown>)[key],
    );
  }
  return (sealed ?? null) === (clear ?? null);
}

function tampered(name: string, fields: readonly string[]): TokenkeeperError {
  return new TokenkeeperError(
    'STORE_TAMPERED',
    `The stored settings of connection "${name}" were changed outside tokenkeeper (${fields.join(', ')}); ` +
      'nothing was sent anywhere. If you did not change them, treat the store as compromised. ' +
      `Run \`tokenkeeper login ${name}\` to set the connection up again.`,
    { connection: name },
  );
}

/** Every URL a record sends something to or checks against, as connect names it. */
const RECORD_URLS = [
  ['baseUrl', 'base URL'],
  ['tokenUrl', 'token URL'],
  ['authorizationUrl', 'authorization URL'],
  ['revocationUrl', 'revocation URL'],
  ['userinfoUrl', 'userinfo URL'],
  ['issuer', 'issuer'],
] as const satisfies ReadonlyArray<readonly [keyof ConnectionRecord, string]>;

/** The checks connect makes on the URLs it is given, made again on every load. */
function assertUrlsAccepted(record: ConnectionRecord): void {
  for (const [field, what] of RECORD_URLS) {
    const value: unknown = record[field];
    if (value === undefined || value === null) continue;
    try {
      validateServiceUrl(String(value), what);
    } catch (error) {
      throw refusedUrl(record.name, error as TokenkeeperError);
    }
  }
}

function refusedUrl(name: string, reason: TokenkeeperError): TokenkeeperError {
  // The reason may quote the stored value, which anyone who can write the store chose.
  return new TokenkeeperError(
    'STORE_TAMPERED',
    `Connection "${name}" was saved with a URL tokenkeeper no longer sends anything to: ${providerText(reason.message)} ` +
      'Nothing was sent anywhere. ' +
      `Run \`tokenkeeper login ${name}\` to set the connection up again (its URLs must be https); ` +
      'if nobody saved that URL on purpose, treat the store as compromised.',
    { connection: name, cause: reason },
  );
}

function metaOf(record: ConnectionRecord): ConnectionMeta {
  const { name: _n, secrets: _s, ...rest } = record;
  const info = infoOf(record);
  // The info fields derived from tokens are kept in clear so status needs no key.
  return {
    ...rest,
    ...(info.expiresAt !== undefined ? { expiresAt: info.expiresAt } : {}),
    ...(info.obtainedAt !== undefined ? { obtainedAt: info.obtainedAt } : {}),
    hasRefreshToken: info.hasRefreshToken,
  };
}

type InternalField =
  | 'tokenUrl'
  | 'authorizationUrl'
  | 'revocationUrl'
  | 'userinfoUrl'
  | 'clientAuthMethod'
  | 'generation'
  | 'backoff';

/** Drops the fields that are not for display (endpoints, client auth method, bookkeeping). */
function publicFields<T extends object>(value: T): Omit<T, InternalField> {
  const {
    tokenUrl: _t,
    authorizationUrl: _a,
    revocationUrl: _r,
    userinfoUrl: _u,
    clientAuthMethod: _m,
    generation: _g,
    backoff: _b,
    ...rest
  } = value as T & Record<string, unknown>;
  return rest;
}
