/**
 * Who owns a credential, asked of the provider's identity endpoints in order
 * (Factorial: the credentials endpoint, then the legacy /api/v1/me; OpenID
 * Connect: userinfo). A 404 moves on to the next endpoint.
 */
import { TokenkeeperError } from './errors.js';
import { BodyTooLargeError, readBodyWithLimit } from './http/bounded-body.js';
import { providerText } from './http/provider-text.js';

/** Who owns a credential, as the provider's identity endpoint said. */
export interface Identity {
  /** The path or URL that answered. */
  endpoint: string;
  body: unknown;
}

export async function requestIdentity(
  send: (path: string) => Promise<Response>,
  endpoints: string[],
): Promise<Identity> {
  let lastStatus = 0;
  for (const endpoint of endpoints) {
    const response = await send(endpoint);
    if (response.status === 404) {
      await response.body?.cancel();
      lastStatus = 404;
      continue;
    }
    const text = await readIdentityBody(response, endpoint);
    if (!response.ok) {
      throw new TokenkeeperError(
        'HTTP',
        `The identity endpoint ${endpoint} answered HTTP ${response.status}.`,
        {
          status: response.status,
        },
      );
    }
    try {
      return { endpoint, body: JSON.parse(text) };
    } catch {
      throw new TokenkeeperError('HTTP', `The identity endpoint ${endpoint} did not answer with JSON.`);
    }
  }
  throw new TokenkeeperError('HTTP', `No identity endpoint answered (tried ${endpoints.join(', ')}).`, {
    status: lastStatus,
  });
}

/** An identity is a few hundred bytes; a body past this is a download or a hostile server. */
const MAX_IDENTITY_BYTES = 1024 * 1024;

async function readIdentityBody(response: Response, endpoint: string): Promise<string> {
  try {
    return Buffer.from(await readBodyWithLimit(response, MAX_IDENTITY_BYTES)).toString('utf8');
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    throw new TokenkeeperError(
      'HTTP',
      `The identity endpoint ${endpoint} answered HTTP ${response.status} with more than ${
        MAX_IDENTITY_BYTES / 1024
      } KiB, which is not an identity. Check the connection's base URL.`,
      { status: response.status },
    );
  }
}

/** The handful of fields people want to see, from the shapes providers use, made printable. */
export function summariseIdentity(body: unknown): Record<string, string> {
  const first = (value: unknown): unknown =>
    value && typeof value === 'object' && Array.isArray((value as { data?: unknown }).data)
      ? (value as { data: unknown[] }).data[0]
      : value && typeof value === 'object' && 'data' in value && !Array.isArray(value)
        ? (value as { data: unknown }).data
        : value;
  const source = first(body);
  if (!source || typeof source !== 'object') return {};
  const summary: Record<string, string> = {};
  // Factorial's credentials endpoint answers a user with email/login_email/full_name/role
  // and a company (token or API key) with name/legal_name/tin; show whichever is there.
  const fields = [
    'email',
    'login_email',
    'full_name',
    'name',
    'legal_name',
    'tin',
    'preferred_username',
    'sub',
    'id',
    'employee_id',
    'company_id',
    'role',
  ];
  for (const field of fields) {
    const value = (source as Record<string, unknown>)[field];
    // Printed as lines on a terminal: the provider's text is made printable.
    if (typeof value === 'string' || typeof value === 'number') summary[field] = providerText(String(value));
  }
  return summary;
}

/**
 * One line naming who owns a credential, for `tokenkeeper status`: a person's email or
 * name, or a company's name. Undefined when the answer names nobody.
 */
export function ownerOf(body: unknown): string | undefined {
  const summary = summariseIdentity(body);
  const person = summary.email ?? summary.login_email ?? summary.preferred_username;
  const name = summary.full_name ?? summary.name ?? summary.legal_name;
  if (person && name && name !== person) return `${name} <${person}>`;
  return person ?? name;
}
