/**
 * Factorial API keys are JWT-shaped: three base64url segments separated by dots, sent as
 * is in `x-api-key`. The emulator's key is a real HS256 JWT signed with a fixed emulator
 * secret, so it is the same on every run (docs and scripts can quote it), and a key is
 * accepted only when it has that shape AND is one the emulator issued.
 */
import { createHmac } from 'node:crypto';
import { safeEqual } from '../core/token-authority.js';

const SEGMENT = '[A-Za-z0-9_-]+';
const JWT_SHAPE = new RegExp(`^${SEGMENT}\\.${SEGMENT}\\.${SEGMENT}$`);

/** Three non-empty base64url segments whose first one decodes to a JSON object (a JOSE header). */
export function isJwtShaped(key: string): boolean {
  if (!JWT_SHAPE.test(key)) return false;
  try {
    const header: unknown = JSON.parse(
      Buffer.from(key.split('.')[0] as string, 'base64url').toString('utf8'),
    );
    return header !== null && typeof header === 'object' && !Array.isArray(header);
  } catch {
    return false;
  }
}

/** Not a secret: it only makes the emulator's key look and verify like a signed token. */
const EMULATOR_SIGNING_SECRET = 'factorial-emulator-api-key-signing-secret';

/** An HS256 JWT naming the key and its company; `issuedAtSeconds` fixed so the key never changes. */
export function emulatorApiKey(keyId: number, companyId: number, issuedAtSeconds = 1767225600): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  const signingInput = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({
    iss: 'factorial-emulator',
    sub: `api_key:${keyId}`,
    company_id: companyId,
    iat: issuedAtSeconds,
  })}`;
  const signature = createHmac('sha256', EMULATOR_SIGNING_SECRET).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

/** Accepts `presented` when it is JWT-shaped and equals `issued` (compared in constant time). */
export function apiKeyMatches(presented: string, issued: string): boolean {
  return isJwtShaped(presented) && safeEqual(presented, issued);
}
