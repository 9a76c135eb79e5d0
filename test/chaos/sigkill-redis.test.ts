/** Chaos: SIGKILL at random moments, 3 processes standing for hosts on Redis (see storm.ts). */
import { it } from 'node:test';
import { generateEncryptionKey } from '../../src/store/encryption.js';
import { describeWithServer, probeRedis, REDIS_URL, uniqueName } from '../store/servers.js';
import { SHARED_STORE_WAIT_MS, storm } from './storm.js';

describeWithServer('chaos: SIGKILL on Redis', 'Redis', REDIS_URL, await probeRedis(), () => {
  it('3 processes standing for hosts, 30 kills', () =>
    storm({
      processes: 3,
      killsPerProcess: 10,
      maxWaitMs: SHARED_STORE_WAIT_MS,
      store: {
        TOKENKEEPER_STORE: `${REDIS_URL}?prefix=${uniqueName('chaos')}:`,
        TOKENKEEPER_KEY: generateEncryptionKey().toString('base64'),
      },
    }));
});
