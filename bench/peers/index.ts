/** Every contender by id, in the order the tables list them. */
import { createAxiosAuthRefreshPeer } from './axios-auth-refresh.js';
import { createOpenidClientPeer } from './openid-client.js';
import { createRawFetchPeer } from './raw-fetch.js';
import { createSeedPeer } from './seed-token-js.js';
import { createSimpleOauth2Peer } from './simple-oauth2.js';
import { createTokenkeeperPeer } from './tokenkeeper.js';
import type { Peer, PeerOptions } from './types.js';

export const PEERS = {
  tokenkeeper: { label: 'tokenkeeper', create: createTokenkeeperPeer },
  'raw-fetch': { label: 'raw fetch (static token)', create: createRawFetchPeer },
  seed: { label: 'seed token.js (axios, fixed timer)', create: createSeedPeer },
  'axios-auth-refresh': { label: 'axios + axios-auth-refresh', create: createAxiosAuthRefreshPeer },
  'openid-client': { label: 'openid-client', create: createOpenidClientPeer },
  'simple-oauth2': { label: 'simple-oauth2 + fetch', create: createSimpleOauth2Peer },
} as const satisfies Record<string, { label: string; create: (options: PeerOptions) => Peer }>;

export type PeerId = keyof typeof PEERS;

export const PEER_IDS = Object.keys(PEERS) as PeerId[];

/** The contenders that renew tokens at all (raw fetch keeps its first token forever). */
export const REFRESHING_PEER_IDS = PEER_IDS.filter((id) => id !== 'raw-fetch');

export function createPeer(id: PeerId, options: PeerOptions): Peer {
  return PEERS[id].create(options);
}

export function peerLabel(id: PeerId): string {
  return PEERS[id].label;
}
