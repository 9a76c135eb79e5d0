/** Chaos: SIGKILL at random moments, 4 processes on one SQLite store (see storm.ts). */
import { describe, it } from 'node:test';
import { LEASE_MS, storm } from './storm.js';

describe('chaos: SIGKILL at random moments (Factus, strict rotation, 2 s tokens)', () => {
  it('4 processes on one SQLite store, 100 kills', () =>
    storm({ processes: 4, killsPerProcess: 25, maxWaitMs: LEASE_MS }));
});
