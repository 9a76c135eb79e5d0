/**
 * What every session of one keeper shares: the settings, the provider profiles,
 * the events, the refresh scheduler, and the store with its refresher, opened on
 * first use. Sessions hold a reference to this one object, not copies of it.
 */
import type { Clock } from '../clock.js';
import { type ConnectionRecord, ConnectionRepository, type VersionedRecord } from '../connection.js';
import { ConfigError } from '../errors.js';
import type { KeeperEventEmitter } from '../events.js';
import type { GrantResult, TokenRequestContext } from '../grants/token-endpoint.js';
import type { KeeperOptions, KeeperSettings } from '../options.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { Refresher, type RefreshTrigger } from '../refresh/refresher.js';
import { settledWithin } from '../settled-within.js';
import {
  createSecretBox,
  generateEncryptionKey,
  keylessSecretBox,
  parseEncryptionKey,
  parseKeyListOption,
  parseKeyOption,
  parsePreviousEncryptionKeys,
  type SecretBox,
} from '../store/encryption.js';
import { openStoreWithKeys } from '../store/open-store.js';
import type { SharedRateLimits, TokenStore } from '../store/types.js';
import { type TokenResponseFields, TokenSet, type TokenSetData } from '../token-set.js';
import { RefreshScheduler } from './refresh-scheduler.js';

/** After close()'s grace: how long a given-up refresh has to release its lock before the store closes. */
const CLOSE_RELEASE_MS = 2_000;

export interface Storage {
  repository: ConnectionRepository;
  refresher: Refresher;
  ownsStore: boolean;
}

export type SessionHttp = typeof import('./session-http.js');
/** The daemon's proxy (node:http), apart from fetch: a process that never forwards never loads it. */
export type Forwarding = typeof import('../http/forward.js');

export class SessionServices {
  readonly clock: Clock;
  /** Undefined when proactive refresh is off (the CLI: one short-lived process). */
  readonly scheduler: RefreshScheduler | undefined;
  #storage: Promise<Storage> | undefined;
  #sharedRateLimits: SharedRateLimits | undefined;
  #http: SessionHttp | undefined;
  #forwarding: Forwarding | undefined;
  /** Refreshes under way: close() lets them save what the provider already rotated. */
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Aborted when close()'s grace runs out: token requests still waiting are given up. */
  readonly #closing = new AbortController();
  readonly #store: KeeperOptions['store'];
  /** The keys given as options, checked when the keeper is created: a bad one fails at once. */
  readonly #givenKey: Buffer | undefined;
  readonly #givenPreviousKeys: Buffer[] | undefined;

  constructor(
    readonly settings: KeeperSettings,
    readonly registry: ProviderRegistry,
    readonly events: KeeperEventEmitter,
    storeOptions: Pick<KeeperOptions, 'store' | 'encryptionKey' | 'previousEncryptionKeys'>,
  ) {
    this.clock = settings.clock;
    this.#store = storeOptions.store;
    this.#givenKey =
      storeOptions.encryptionKey === undefined
        ? undefined
        : parseKeyOption(storeOptions.encryptionKey, 'encryptionKey');
    this.#givenPreviousKeys =
      storeOptions.previousEncryptionKeys === undefined
        ? undefined
        : parseKeyListOption(storeOptions.previousEncryptionKeys, 'previousEncryptionKeys');
    this.scheduler = settings.proactiveRefresh ? new RefreshScheduler(settings.clock) : undefined;
  }

  storage(): Promise<Storage> {
    this.#storage ??= this.#openStorage();
    return this.#storage;
  }

  refresh(name: string, trigger: RefreshTrigger): Promise<VersionedRecord> {
    const running = this.storage().then((storage) => storage.refresher.refresh(name, trigger));
    const tracked = running.catch(() => undefined).finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
    return running;
  }

  /**
   * The store's shared rate-limit budgets, once the store is open (a session holding a token
   * read it from there); undefined for stores without them (memory), where each process counts alone.
   */
  get sharedRateLimits(): SharedRateLimits | undefined {
    return this.#sharedRateLimits;
  }

  http(): SessionHttp | Promise<SessionHttp> {
    return this.#http ?? this.#loadHttp();
  }

  /** A TokenSet from a grant result, with the provider's expiry rules. */
  toTokenSet(record: ConnectionRecord, result: GrantResult, previous?: TokenSetData): TokenSet {
    const profile = this.registry.get(record.provider);
    return TokenSet.fromTokenResponse(result.response as unknown as TokenResponseFields, {
      requestStartedAt: result.requestStartedAt,
      ...(previous ? { previous } : {}),
      defaultLifetimeSeconds: profile.defaultTokenLifetimeSeconds,
      ...(profile.missingExpiryMeansNever ? { missingExpiryMeansNever: true } : {}),
    });
  }

  requestContext(connection: string): TokenRequestContext {
    return {
      authServerFetch: this.settings.authServerFetch,
      now: () => this.clock.now(),
      timeoutMs: this.settings.requestTimeoutMs,
      closing: this.#closing.signal,
      connection,
      loginHint: `tokenkeeper login ${connection}`,
    };
  }

  /**
   * Stops the schedule, lets refreshes under way finish (at most `graceMs`: a refresh the
   * provider already answered must be saved, or its rotated refresh token is lost). Token
   * requests still unanswered after that are given up, so that their refreshes release their
   * locks, which would otherwise be renewed until the request timed out. Then it closes the
   * store if this keeper opened it.
   */
  async close(graceMs: number): Promise<void> {
    this.scheduler?.close();
    if (this.#inFlight.size > 0) await settledWithin([...this.#inFlight], graceMs);
    if (this.#inFlight.size > 0) {
      this.#closing.abort();
      await settledWithin([...this.#inFlight], CLOSE_RELEASE_MS);
    }
    const storage = await this.#storage?.catch(() => undefined);
    if (storage?.ownsStore) await storage.repository.store.close();
  }

  async #loadHttp(): Promise<SessionHttp> {
    this.#http ??= await import('./session-http.js');
    return this.#http;
  }

  /** Held once loaded: import() of a loaded module still costs about 2 µs, on every proxied request. */
  forwarding(): Forwarding | Promise<Forwarding> {
    return this.#forwarding ?? this.#loadForwarding();
  }

  async #loadForwarding(): Promise<Forwarding> {
    this.#forwarding ??= await import('../http/forward.js');
    return this.#forwarding;
  }

  async #openStorage(): Promise<Storage> {
    const { env } = this.settings;
    const given = this.#store;
    let store: TokenStore;
    let secretBox: SecretBox;
    let ownsStore = false;
    if (given === undefined || typeof given === 'string') {
      const opened = await openStoreWithKeys(
        given ?? (env.TOKENKEEPER_STORE || undefined),
        {
          env,
          ...(this.#givenKey ? { encryptionKey: this.#givenKey } : {}),
          ...(this.#givenPreviousKeys ? { previousEncryptionKeys: this.#givenPreviousKeys } : {}),
        },
        // A lost key file still lets the metadata be read and connections be forgotten.
        { keyMayBeMissing: true },
      );
      store = opened.store;
      secretBox = opened.key
        ? createSecretBox(opened.key, opened.previousKeys)
        : keylessSecretBox(opened.missingKey!);
      ownsStore = true;
    } else {
      store = given;
      secretBox = createSecretBox(
        keyFor(given, this.#givenKey, env),
        this.#givenPreviousKeys ?? parsePreviousEncryptionKeys(env.TOKENKEEPER_PREVIOUS_KEYS),
      );
    }
    this.#sharedRateLimits = store.rateLimits;
    const repository = new ConnectionRepository(store, secretBox);
    const refresher = new Refresher({
      repository,
      settings: this.settings,
      events: this.events,
      toTokenSet: (record, result, previous) => this.toTokenSet(record, result, previous),
      requestContext: (record) => this.requestContext(record.name),
    });
    return { repository, refresher, ownsStore };
  }
}

function keyFor(store: TokenStore, given: Buffer | undefined, env: NodeJS.ProcessEnv): Buffer {
  if (given) return given;
  if (env.TOKENKEEPER_KEY !== undefined) return parseEncryptionKey(env.TOKENKEEPER_KEY, 'TOKENKEEPER_KEY');
  if (store.kind === 'memory') return generateEncryptionKey();
  throw new ConfigError(
    'A store passed as an object needs an encryption key: pass `encryptionKey` or set TOKENKEEPER_KEY (32 random bytes, base64: `openssl rand -base64 32`).',
  );
}
