/**
 * The grants the emulators share (an empty field counts as missing), written against TokenAuthority and worded as
 * OAuthFailures (the provider's ErrorStyle turns those into bodies).
 */
import type { AuthorizationCodeStore } from './authorization-codes.js';
import type { GrantHandler } from './token-endpoint.js';

/** `grant_type=password`: username + password of a registered user. */
export const passwordGrant: GrantHandler = ({ params, client, authority }) => {
  if (!params.username) return { ok: false, failure: { kind: 'invalid_request', parameter: 'username' } };
  if (!params.password) return { ok: false, failure: { kind: 'invalid_request', parameter: 'password' } };
  const user = authority.authenticateUser(params.username, params.password);
  if (!user) return { ok: false, failure: { kind: 'invalid_user_credentials' } };
  return { ok: true, tokens: authority.issueTokens(client.id, user.id) };
};

/** `grant_type=refresh_token`: rotation as configured on the authority. */
export const refreshTokenGrant: GrantHandler = ({ params, client, authority }) => {
  if (!params.refresh_token) {
    return { ok: false, failure: { kind: 'invalid_request', parameter: 'refresh_token' } };
  }
  const requested = params.scope === undefined ? undefined : params.scope.split(' ').filter(Boolean);
  const outcome = authority.refresh(client.id, params.refresh_token, requested);
  if (!outcome.ok) {
    if (outcome.reason === 'invalid_scope') {
      return { ok: false, failure: { kind: 'invalid_scope', scope: outcome.scope } };
    }
    return { ok: false, failure: { kind: 'invalid_refresh_token', reason: outcome.reason } };
  }
  return { ok: true, tokens: outcome.tokens };
};

/**
 * `grant_type=authorization_code`: a code from `codes`, presented by the client it was
 * issued to, with the redirect URI it was requested with.
 */
export function authorizationCodeGrant(codes: AuthorizationCodeStore): GrantHandler {
  return ({ params, client, authority }) => {
    if (!params.code) return { ok: false, failure: { kind: 'invalid_request', parameter: 'code' } };
    if (!params.redirect_uri) {
      return { ok: false, failure: { kind: 'invalid_request', parameter: 'redirect_uri' } };
    }
    const outcome = codes.exchange(authority, {
      code: params.code,
      clientId: client.id,
      redirectUri: params.redirect_uri,
    });
    if (!outcome.ok)
      return { ok: false, failure: { kind: 'invalid_authorization_code', reason: outcome.reason } };
    return { ok: true, tokens: outcome.tokens };
  };
}
