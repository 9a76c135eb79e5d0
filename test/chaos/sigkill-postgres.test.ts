/** Chaos: SIGKILL at random moments, 3 processes standing for hosts on PostgreSQL (see storm.ts). */
import { it } from 'node:test';
import { generateEncryptionKey } from '../../src/store/encryption.js';
import { describeWithServer, PG_URL, probePostgres, uniqueName } from '../store/servers.js';
import { SHARED_STORE_WAIT_MS, storm } from './storm.js';

describeWithServer('chaos: SIGKILL on PostgreSQL', 'PostgreSQL', PG_URL, await probePostgres(), () => {
  it('3 processes standing for hosts, 30 kills', () =>
    storm({
      processes: 3,
      killsPerProcess: 10,
      maxWaitMs: SHARED_STORE_WAIT_MS,
      store: {
        TOKENKEEPER_STORE: `${PG_URL}?schema=${uniqueName('chaos')}`,
        TOKENKEEPER_KEY: generateEncryptionKey().toString('base64'),
      },
    }));
});
