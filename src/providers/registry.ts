import { ConfigError } from '../errors.js';
import { isGrantType } from '../grants/strategies.js';
import { factorialProfile } from './factorial.js';
import { factusProfile } from './factus.js';
import { genericOAuth2Profile } from './oauth2.js';
import type { ProviderProfile } from './types.js';

const builtInProfiles: ProviderProfile[] = [factusProfile, factorialProfile, genericOAuth2Profile];

export class ProviderRegistry {
  readonly #profiles = new Map<string, ProviderProfile>();

  constructor(extra: ProviderProfile[] = []) {
    for (const [index, profile] of extra.entries()) checkProfile(profile, index);
    for (const profile of [...builtInProfiles, ...extra]) this.#profiles.set(profile.id, profile);
  }

  get(id: string): ProviderProfile {
    const profile = this.#profiles.get(id);
    if (!profile) {
      throw new ConfigError(`Unknown provider "${id}". Known providers: ${this.ids().join(', ')}.`);
    }
    return profile;
  }

  ids(): string[] {
    return [...this.#profiles.keys()];
  }
}

const CLIENT_AUTH_METHODS = new Set(['client_secret_post', 'client_secret_basic', 'none']);

/**
 * A profile passed in `providers` is read field by field on every connect and request: one
 * with a field missing or of the wrong type is refused when the keeper is created, naming
 * the fields, rather than failing later as a TypeError.
 */
function checkProfile(profile: unknown, index: number): void {
  const where = `providers[${index}]`;
  if (profile === null || typeof profile !== 'object' || Array.isArray(profile)) {
    throw new ConfigError(
      `${where} must be a provider profile object; start from a built-in one: { ...genericOAuth2Profile, id: 'acme', displayName: 'Acme' }.`,
    );
  }
  const p = profile as Partial<Record<keyof ProviderProfile, unknown>>;
  const fromConnection = p.endpointsFromConnection === true;
  const isText = (value: unknown, emptyAllowed = false) =>
    typeof value === 'string' && (emptyAllowed || value !== '');
  const isPositive = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value > 0;
  const isRecord = (value: unknown): value is Record<string, unknown> =>
    value !== null && typeof value === 'object' && !Array.isArray(value);
  const wrong: string[] = [];
  if (!isText(p.id)) wrong.push('id (a non-empty string)');
  if (!isText(p.displayName)) wrong.push('displayName (a non-empty string)');
  if (
    !isRecord(p.environments) ||
    !Object.values(p.environments).every((env) => isRecord(env) && isText(env.baseUrl))
  ) {
    wrong.push('environments (an object of { baseUrl })');
  }
  if (
    !isText(p.defaultEnvironment, fromConnection) ||
    (!fromConnection &&
      isRecord(p.environments) &&
      !Object.hasOwn(p.environments, p.defaultEnvironment as string))
  ) {
    wrong.push('defaultEnvironment (one of the environments)');
  }
  if (!isText(p.tokenPath, fromConnection)) wrong.push('tokenPath (a string)');
  if (
    !Array.isArray(p.grants) ||
    p.grants.length === 0 ||
    !p.grants.every((g) => isText(g) && isGrantType(g))
  ) {
    wrong.push('grants (a non-empty array of password, authorization_code, client_credentials, api_key)');
  }
  if (!Array.isArray(p.grants) || !p.grants.includes(p.defaultGrant))
    wrong.push('defaultGrant (one of the grants)');
  if (!CLIENT_AUTH_METHODS.has(p.clientAuthMethod as string)) {
    wrong.push('clientAuthMethod (client_secret_post, client_secret_basic or none)');
  }
  if (!isPositive(p.defaultTokenLifetimeSeconds)) wrong.push('defaultTokenLifetimeSeconds (a number > 0)');
  if (typeof p.pkce !== 'boolean') wrong.push('pkce (true or false)');
  if (!isText(p.scopeDelimiter)) wrong.push('scopeDelimiter (a string)');
  if (
    !Array.isArray(p.rateLimits) ||
    !p.rateLimits.every((rule) => isRecord(rule) && isPositive(rule.limit) && isPositive(rule.windowMs))
  ) {
    wrong.push('rateLimits (an array of { label, limit, windowMs })');
  }
  if (!Array.isArray(p.errorMessageFields) || !p.errorMessageFields.every((field) => isText(field))) {
    wrong.push('errorMessageFields (an array of strings)');
  }
  if (!isRecord(p.credentialEnv)) wrong.push('credentialEnv (an object)');
  if (wrong.length > 0) {
    const named = isText(p.id) ? ` ("${p.id as string}")` : '';
    throw new ConfigError(
      `${where}${named} is not a complete provider profile: it needs ${wrong.join(', ')}. ` +
        `Start from a built-in one and change what differs: { ...genericOAuth2Profile, id: 'acme', displayName: 'Acme' } or { ...factusProfile, … }.`,
    );
  }
}
