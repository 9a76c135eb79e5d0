/**
 * RS256 JSON Web Tokens with a key pair generated at start (what Laravel Passport issues
 * as access tokens). Only the emulator signs; `verify` exists for the emulator's own use
 * and for tests, callers should verify with `publicKeyPem` like any client would.
 */
import { createSign, createVerify, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface RsaJwtSigner {
  /** SPKI PEM of the public key. */
  readonly publicKeyPem: string;
  sign(claims: Record<string, unknown>): string;
  /** The claims when the signature is good and the header says RS256, otherwise undefined. */
  verify(token: string): Record<string, unknown> | undefined;
}

export async function createRsaJwtSigner(): Promise<RsaJwtSigner> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  return rsaJwtSigner(privateKey, publicKey);
}

function rsaJwtSigner(privateKey: KeyObject, publicKey: KeyObject): RsaJwtSigner {
  const header = base64UrlJson({ typ: 'JWT', alg: 'RS256' });
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign(claims) {
      const signingInput = `${header}.${base64UrlJson(claims)}`;
      const signature = createSign('RSA-SHA256').update(signingInput).sign(privateKey);
      return `${signingInput}.${signature.toString('base64url')}`;
    },
    verify(token) {
      const parts = token.split('.');
      if (parts.length !== 3) return undefined;
      const [encodedHeader, encodedClaims, signature] = parts as [string, string, string];
      try {
        const parsedHeader = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8')) as {
          alg?: unknown;
        };
        if (parsedHeader.alg !== 'RS256') return undefined;
        const valid = createVerify('RSA-SHA256')
          .update(`${encodedHeader}.${encodedClaims}`)
          .verify(publicKey, Buffer.from(signature, 'base64url'));
        if (!valid) return undefined;
        const claims = JSON.parse(Buffer.from(encodedClaims, 'base64url').toString('utf8')) as unknown;
        return claims !== null && typeof claims === 'object' && !Array.isArray(claims)
          ? (claims as Record<string, unknown>)
          : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}
