/**
 * A real, independent OAuth 2.0 / OpenID Connect authorization server for conformance tests:
 * `oidc-provider` (v9, panva) on 127.0.0.1, in memory, with a scripted "browser" that logs in
 * and grants consent so the authorization code flow runs without a human.
 *
 * What it enforces (so that a client that gets it wrong fails):
 * - PKCE (S256 only) is required for every authorization request;
 * - refresh tokens rotate on every use; reusing a consumed one is `invalid_grant` and, as in
 *   oidc-provider, also revokes the whole grant (every token from that authorization);
 * - clients must authenticate with the method they are registered for
 *   (`client_secret_basic` vs `client_secret_post`);
 * - redirect URIs are matched exactly, except the port of a loopback URI (RFC 8252 §7.3:
 *   the clients are registered as native apps), so a CLI may listen on any free port.
 */
import { generateKeyPair as generateKeyPairCb, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import Provider, {
  type Adapter,
  type AdapterPayload,
  type ClientMetadata,
  type Configuration,
  errors,
  type KoaContextWithOIDC,
} from 'oidc-provider';

const generateKeyPair = promisify(generateKeyPairCb);

export interface OidcServerOptions {
  /** Port to listen on (127.0.0.1 only); 0, the default, picks a free port. */
  port?: number;
  /** Lifetime of access tokens, both user (authorization code / refresh) and client_credentials. Default 60. */
  accessTokenTtlSeconds?: number;
  /** Lifetime of refresh tokens (each rotation issues a new one with a fresh lifetime). Default 86400. */
  refreshTokenTtlSeconds?: number;
  /** Lifetime of authorization codes. Default 60. */
  authorizationCodeTtlSeconds?: number;
  /**
   * Redirect URI registered for the `confidential`, `basic` and `public` clients.
   * Default `http://127.0.0.1:8765/callback`. Loopback URIs match on any port.
   */
  redirectUri?: string;
  /** Scopes the server knows besides `openid`, `offline_access`, `profile` and `email`. Default `['api']`. */
  extraScopes?: string[];
  /**
   * oidc-provider accepts `client_secret_basic` and `client_secret_post` interchangeably for a client
   * registered with either. By default the fixture is stricter: a client must use the method it is
   * registered for, or get `invalid_client` (401). Set false for the library's own leniency.
   */
  strictClientAuthMethod?: boolean;
}

export interface OidcClientWithRedirect {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export interface OidcServerStats {
  /** Successful token endpoint requests by `grant_type`. */
  grants: Record<string, number>;
  /** Refresh tokens consumed by rotation. */
  rotations: number;
  /** Successful (HTTP 200) requests to the revocation endpoint. RFC 7009 answers 200 for unknown tokens too. */
  revocations: number;
  /** Token endpoint requests answered with `invalid_grant`. */
  invalidGrant: number;
  /** Token endpoint errors by `error` code (includes `invalid_grant`, `invalid_client`, `server_error`...). */
  errors: Record<string, number>;
}

export interface OidcServer {
  /** e.g. `http://127.0.0.1:43123`; discovery is at `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  clients: {
    /** authorization_code + refresh_token, `client_secret_basic`. */
    confidential: OidcClientWithRedirect;
    /** authorization_code + refresh_token, `client_secret_post`. */
    basic: OidcClientWithRedirect;
    /** client_credentials only, `client_secret_basic`. */
    machine: { clientId: string; clientSecret: string };
    /** authorization_code + refresh_token, no secret (`none`): a public client relying on PKCE alone. */
    public: { clientId: string; redirectUri: string };
  };
  /** The single test user `authorize()` logs in as (`sub` of its tokens is `accountId`). */
  account: { accountId: string; username: string; password: string };
  /**
   * Plays the user's browser: GETs the authorization URL, logs in as the test user, grants consent
   * (or, with `deny`, refuses) and returns the final redirect URL, the one to the client's
   * redirect_uri carrying `code` & `state` (or `error`), WITHOUT requesting it.
   * Errors the server shows to the user instead of redirecting (unknown client, unregistered
   * redirect_uri...) reject with the page's text. Each call is a fresh browser (no session reuse).
   */
  authorize(authorizationUrl: string, options?: { deny?: boolean }): Promise<URL>;
  /** A snapshot of what the server has seen so far. */
  stats(): OidcServerStats;
  /** Is this token still usable (found, not expired, not consumed/revoked, its grant still alive)? */
  isActive(token: string, kind: 'access' | 'refresh'): Promise<boolean>;
  /** The underlying oidc-provider instance, for anything the helpers above don't cover. */
  provider: Provider;
  /** Closes the server and every open connection. */
  stop(): Promise<void>;
}

const TEST_ACCOUNT = { accountId: 'tk-test-user', username: 'tester', password: 'tester-password' };

/**
 * Per-instance in-memory storage for oidc-provider models. (The library's own memory adapter is
 * shared module-wide and evicts entries past an LRU limit; this one is neither.)
 * Expired entries are dropped lazily on read, so it holds no timers.
 */
function createMemoryAdapterFactory(): (model: string) => Adapter {
  const entries = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  const grants = new Map<string, Set<string>>();
  const sessionUids = new Map<string, string>();
  const userCodes = new Map<string, string>();
  const grantable = new Set([
    'AccessToken',
    'AuthorizationCode',
    'RefreshToken',
    'DeviceCode',
    'BackchannelAuthenticationRequest',
  ]);

  const read = (key: string): AdapterPayload | undefined => {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  return (model: string): Adapter => {
    const key = (id: string) => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        const k = key(id);
        const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
        entries.set(k, { payload, expiresAt });
        if (model === 'Session' && payload.uid) sessionUids.set(payload.uid, id);
        if (payload.userCode) userCodes.set(payload.userCode, id);
        if (grantable.has(model) && payload.grantId) {
          const members = grants.get(payload.grantId) ?? new Set<string>();
          members.add(k);
          grants.set(payload.grantId, members);
        }
      },
      async find(id) {
        return read(key(id));
      },
      async findByUid(uid) {
        const id = sessionUids.get(uid);
        return id === undefined ? undefined : read(key(id));
      },
      async findByUserCode(userCode) {
        const id = userCodes.get(userCode);
        return id === undefined ? undefined : read(key(id));
      },
      async consume(id) {
        const payload = read(key(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        entries.delete(key(id));
      },
      async revokeByGrantId(grantId) {
        for (const member of grants.get(grantId) ?? []) entries.delete(member);
        grants.delete(grantId);
      },
    };
  };
}

function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function interactionPage(uid: string, prompt: string, clientId: string, message?: string): string {
  const u = escapeHtml(uid);
  const form =
    prompt === 'login'
      ? `<form method="post" action="/interaction/${u}/login">
  <label>Username <input name="username" autofocus></label>
  <label>Password <input name="password" type="password"></label>
  <button type="submit">Sign in</button>
</form>`
      : `<form method="post" action="/interaction/${u}/confirm"><button type="submit">Allow</button></form>`;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>tokenkeeper test authorization server</title></head>
<body>
<main data-prompt="${escapeHtml(prompt)}" data-uid="${u}">
<h1>${prompt === 'login' ? 'Sign in' : 'Authorize'} ${escapeHtml(clientId)}</h1>
${message ? `<p role="alert">${escapeHtml(message)}</p>` : ''}
${form}
<form method="post" action="/interaction/${u}/abort"><button type="submit">Deny</button></form>
</main>
</body></html>`;
}

/**
 * Login, consent and abort pages, mounted in front of the provider's own routes
 * (`interactions.url` points here; devInteractions is off).
 */
function interactionRoutes(provider: Provider) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    const match = /^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/.exec(ctx.path);
    if (!match) return next();
    const uid = match[1]!;
    const action = match[2];
    ctx.set('cache-control', 'no-store');
    try {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== uid) throw new Error('interaction cookie does not match the URL');
      const prompt = details.prompt.name;
      const clientId = String(details.params.client_id);

      if (action === undefined && ctx.method === 'GET') {
        ctx.type = 'html';
        ctx.body = interactionPage(uid, prompt, clientId);
        return;
      }
      if (ctx.method !== 'POST' || action === undefined) {
        ctx.status = 405;
        return;
      }
      const form = await readForm(ctx.req);

      if (action === 'abort') {
        ctx.respond = false;
        await provider.interactionFinished(
          ctx.req,
          ctx.res,
          { error: 'access_denied', error_description: 'End-User aborted interaction' },
          { mergeWithLastSubmission: false },
        );
        return;
      }

      if (action === 'login') {
        if (prompt !== 'login') throw new Error(`expected the login prompt, got ${prompt}`);
        if (
          form.get('username') !== TEST_ACCOUNT.username ||
          form.get('password') !== TEST_ACCOUNT.password
        ) {
          ctx.status = 401;
          ctx.type = 'html';
          ctx.body = interactionPage(uid, prompt, clientId, 'Invalid username or password.');
          return;
        }
        ctx.respond = false;
        await provider.interactionFinished(
          ctx.req,
          ctx.res,
          { login: { accountId: TEST_ACCOUNT.accountId } },
          { mergeWithLastSubmission: false },
        );
        return;
      }

      // action === 'confirm': grant whatever the consent prompt says is missing.
      if (prompt !== 'consent') throw new Error(`expected the consent prompt, got ${prompt}`);
      const promptDetails = details.prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session!.accountId, clientId });
      if (!grant) throw new Error('grant not found');
      if (promptDetails.missingOIDCScope) grant.addOIDCScope(promptDetails.missingOIDCScope.join(' '));
      if (promptDetails.missingOIDCClaims) grant.addOIDCClaims(promptDetails.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(promptDetails.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      ctx.respond = false;
      await provider.interactionFinished(
        ctx.req,
        ctx.res,
        { consent: details.grantId ? {} : { grantId } },
        { mergeWithLastSubmission: true },
      );
    } catch (error) {
      ctx.respond = true;
      ctx.status = 400;
      ctx.type = 'text';
      ctx.body = `interaction failed: ${(error as Error).message}`;
    }
  };
}

/**
 * Makes client authentication fail when a client uses `client_secret_basic` while registered for
 * `client_secret_post`, or the reverse. oidc-provider has no setting for this, so the lookup of the
 * authenticating client is wrapped: it runs inside the request (`Provider.ctx`), after the body is
 * parsed and before any grant is processed, and errors thrown there are answered like the library's
 * own client authentication errors.
 */
function enforceRegisteredClientAuthMethod(provider: Provider): void {
  const routes = new Set(['token', 'revocation', 'introspection', 'pushed_authorization_request']);
  const ClientModel = provider.Client;
  const find = ClientModel.find.bind(ClientModel);
  ClientModel.find = async (...args: Parameters<typeof find>) => {
    const client = await find(...args);
    const ctx = Provider.ctx;
    // Only the lookup of the client that is authenticating (none assigned yet on this request).
    if (!client || !ctx?.oidc || !routes.has(ctx.oidc.route) || ctx.oidc.entities.Client) return client;
    const registered = client.clientAuthMethod;
    if (registered !== 'client_secret_basic' && registered !== 'client_secret_post') return client;
    const used = /^basic\s/i.test(ctx.get('authorization'))
      ? 'client_secret_basic'
      : ctx.oidc.params?.client_secret !== undefined
        ? 'client_secret_post'
        : undefined;
    if (used !== undefined && used !== registered) {
      throw new errors.InvalidClientAuth(`client is registered for ${registered}, not ${used}`);
    }
    return client;
  };
}

/** A minimal cookie jar (name, value, path; expiry only as deletion) for one origin. */
class CookieJar {
  #cookies = new Map<string, { name: string; value: string; path: string }>();

  store(url: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = url.pathname.slice(0, url.pathname.lastIndexOf('/')) || '/';
      let expired = false;
      for (const attribute of attributes) {
        const [rawKey = '', ...rest] = attribute.split('=');
        const key = rawKey.trim().toLowerCase();
        const attrValue = rest.join('=').trim();
        if (key === 'path' && attrValue.startsWith('/')) path = attrValue;
        if (key === 'max-age' && Number(attrValue) <= 0) expired = true;
        if (key === 'expires' && Date.parse(attrValue) <= Date.now()) expired = true;
      }
      const id = `${name}\0${path}`;
      if (expired || value === '') this.#cookies.delete(id);
      else this.#cookies.set(id, { name, value, path });
    }
  }

  header(url: URL): string {
    const matches = (cookiePath: string) =>
      url.pathname === cookiePath ||
      (url.pathname.startsWith(cookiePath) &&
        (cookiePath.endsWith('/') || url.pathname[cookiePath.length] === '/'));
    return [...this.#cookies.values()]
      .filter((c) => matches(c.path))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

export async function startOidcServer(options: OidcServerOptions = {}): Promise<OidcServer> {
  const accessTokenTtl = options.accessTokenTtlSeconds ?? 60;
  const refreshTokenTtl = options.refreshTokenTtlSeconds ?? 86_400;
  const authorizationCodeTtl = options.authorizationCodeTtlSeconds ?? 60;
  const redirectUri = options.redirectUri ?? 'http://127.0.0.1:8765/callback';
  const extraScopes = options.extraScopes ?? ['api'];

  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const secret = () => randomBytes(32).toString('base64url');
  const clients = {
    confidential: { clientId: 'tk-confidential', clientSecret: secret(), redirectUri },
    basic: { clientId: 'tk-basic', clientSecret: secret(), redirectUri },
    machine: { clientId: 'tk-machine', clientSecret: secret() },
    public: { clientId: 'tk-public', redirectUri },
  };
  const userClient = {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [redirectUri],
    // Native: a loopback redirect URI matches on any port (RFC 8252 §7.3).
    application_type: 'native',
  } satisfies Partial<ClientMetadata>;
  const clientMetadata: ClientMetadata[] = [
    {
      ...userClient,
      client_id: clients.confidential.clientId,
      client_secret: clients.confidential.clientSecret,
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      ...userClient,
      client_id: clients.basic.clientId,
      client_secret: clients.basic.clientSecret,
      token_endpoint_auth_method: 'client_secret_post',
    },
    {
      ...userClient,
      client_id: clients.public.clientId,
      token_endpoint_auth_method: 'none',
    },
    {
      client_id: clients.machine.clientId,
      client_secret: clients.machine.clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ];

  const { privateKey } = await generateKeyPair('rsa', { modulusLength: 2048 });
  const signingKey = {
    ...privateKey.export({ format: 'jwk' }),
    kid: 'tk-test-rs256',
    alg: 'RS256',
    use: 'sig',
  };

  const configuration: Configuration = {
    adapter: createMemoryAdapterFactory(),
    clients: clientMetadata,
    jwks: { keys: [signingKey] },
    cookies: { keys: [secret()] },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    responseTypes: ['code'],
    scopes: ['openid', 'offline_access', ...extraScopes],
    claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
    async findAccount(_ctx, sub) {
      if (sub !== TEST_ACCOUNT.accountId) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, name: 'Test User', email: 'tester@example.test', email_verified: true };
        },
      };
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Confidential clients may introspect any token (the default, minus its "change me" notice).
        allowedPolicy: async (_ctx, client, token) =>
          client.clientAuthMethod !== 'none' || token.clientId === client.clientId,
      },
      revocation: {
        enabled: true,
        // A client may only revoke its own tokens (the default, minus its "change me" notice).
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      // No `resource` parameter: opaque access tokens for the userinfo endpoint (client_credentials:
      // an opaque token with the requested scope). With one: an opaque token for that audience.
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => ({
          audience: resourceIndicator,
          scope: extraScopes.join(' '),
          accessTokenFormat: 'opaque',
          accessTokenTTL: accessTokenTtl,
        }),
      },
    },
    pkce: { required: () => true },
    // Refresh tokens for every client allowed the refresh_token grant, `offline_access` or not,
    // as plain OAuth 2.0 servers do; and they outlive the browser session.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    rotateRefreshToken: true,
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!doctype html><html><body><pre>${escapeHtml(JSON.stringify(out))}</pre></body></html>`;
    },
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      AuthorizationCode: authorizationCodeTtl,
      RefreshToken: refreshTokenTtl,
      IdToken: accessTokenTtl,
      Interaction: 600,
      Session: 3600,
      // Outlives any refresh token, so a refresh token's own expiry is what ends a rotation chain.
      Grant: Math.max(refreshTokenTtl, 14 * 86_400),
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.use(interactionRoutes(provider));
  if (options.strictClientAuthMethod ?? true) enforceRegisteredClientAuthMethod(provider);

  const counters: OidcServerStats = { grants: {}, rotations: 0, revocations: 0, invalidGrant: 0, errors: {} };
  const countError = (code: string) => {
    counters.errors[code] = (counters.errors[code] ?? 0) + 1;
    if (code === 'invalid_grant') counters.invalidGrant += 1;
  };
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const grantType = String(ctx.oidc.params?.grant_type);
    counters.grants[grantType] = (counters.grants[grantType] ?? 0) + 1;
  });
  provider.on('grant.error', (_ctx: KoaContextWithOIDC, error: { error?: string }) =>
    countError(error.error ?? 'unknown'),
  );
  provider.on('server_error', (ctx: KoaContextWithOIDC, error: Error) => {
    if (ctx.oidc?.route === 'token') countError('server_error');
    console.error(`oidc-server: server_error on ${ctx.method} ${ctx.path}:`, error);
  });
  provider.on('refresh_token.consumed', () => {
    counters.rotations += 1;
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'revocation' && ctx.status === 200) counters.revocations += 1;
  });

  server.on('request', provider.callback());

  const issuerOrigin = new URL(issuer).origin;
  const registeredRedirects = new Set(clientMetadata.flatMap((c) => c.redirect_uris ?? []));
  const isClientRedirect = (url: URL) =>
    url.origin !== issuerOrigin || registeredRedirects.has(`${url.origin}${url.pathname}`);

  async function authorize(authorizationUrl: string, authorizeOptions: { deny?: boolean } = {}) {
    const jar = new CookieJar();
    let url = new URL(authorizationUrl);
    if (url.origin !== issuerOrigin) throw new Error(`authorize: ${url.origin} is not this server`);
    let request: { method: 'GET' | 'POST'; body?: URLSearchParams } = { method: 'GET' };
    for (let hop = 0; hop < 20; hop += 1) {
      const headers: Record<string, string> = { accept: 'text/html' };
      const cookie = jar.header(url);
      if (cookie) headers.cookie = cookie;
      const response = await fetch(url, {
        method: request.method,
        headers,
        redirect: 'manual',
        ...(request.body ? { body: request.body } : {}),
      });
      jar.store(url, response.headers.getSetCookie());
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.arrayBuffer();
        const next = new URL(location, url);
        if (isClientRedirect(next)) return next;
        url = next;
        request = { method: 'GET' };
        continue;
      }
      const text = await response.text();
      const page = /data-prompt="([^"]+)" data-uid="([^"]+)"/.exec(text);
      if (response.status !== 200 || !page) {
        throw new Error(`authorize: ${request.method} ${url.pathname} answered ${response.status}: ${text}`);
      }
      const [, prompt, uid] = page;
      if (authorizeOptions.deny) {
        url = new URL(`/interaction/${uid}/abort`, issuer);
        request = { method: 'POST', body: new URLSearchParams() };
      } else if (prompt === 'login') {
        url = new URL(`/interaction/${uid}/login`, issuer);
        request = {
          method: 'POST',
          body: new URLSearchParams({ username: TEST_ACCOUNT.username, password: TEST_ACCOUNT.password }),
        };
      } else {
        url = new URL(`/interaction/${uid}/confirm`, issuer);
        request = { method: 'POST', body: new URLSearchParams() };
      }
    }
    throw new Error('authorize: too many redirects');
  }

  async function isActive(token: string, kind: 'access' | 'refresh'): Promise<boolean> {
    // The same checks as the introspection endpoint, without needing a client to ask.
    const found =
      kind === 'refresh'
        ? await provider.RefreshToken.find(token)
        : ((await provider.AccessToken.find(token)) ?? (await provider.ClientCredentials.find(token)));
    if (!found?.isValid) return false;
    const grantId = 'grantId' in found ? found.grantId : undefined;
    if (grantId) {
      const grant = await provider.Grant.find(grantId, { ignoreExpiration: true });
      if (!grant || grant.isExpired || grant.clientId !== found.clientId) return false;
      if ('accountId' in found && grant.accountId !== found.accountId) return false;
    }
    return true;
  }

  let stopped: Promise<void> | undefined;
  return {
    issuer,
    clients,
    account: { ...TEST_ACCOUNT },
    provider,
    authorize,
    isActive,
    stats: () => structuredClone(counters),
    stop() {
      stopped ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
