import { ConfigError } from '../errors.js';
import { factorialProfile } from './factorial.js';
import { factusProfile } from './factus.js';
import { genericOAuth2Profile } from './oauth2.js';
import type { ProviderProfile } from './types.js';

const builtInProfiles: ProviderProfile[] = [factusProfile, factorialProfile, genericOAuth2Profile];

export class ProviderRegistry {
  readonly #profiles = new Map<string, ProviderProfile>();

  constructor(extra: ProviderProfile[] = []) {
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
