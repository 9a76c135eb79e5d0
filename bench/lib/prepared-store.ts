/**
 * A SQLite store filled with many connections without running a grant for each:
 * one real login against the Factus emulator gives a template record (metadata,
 * a JWT access token, a Passport refresh token), and every other row is that
 * record under another name, sealed for its name and written through the same
 * ConnectionRepository.save → store.put path the keeper uses.
 */
import { performance } from 'node:perf_hooks';
import { ConnectionRepository } from '../../src/connection.js';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { createKeeper } from '../../src/keeper.js';
import { openStore } from '../../src/store/open-store.js';
import { BENCH_CREDENTIALS } from './factus.js';

export const TEMPLATE_NAME = 'template';

export function connectionName(index: number): string {
  return `conn-${String(index).padStart(6, '0')}`;
}

/** Logs in once for real and saves the connection under `name` (tokens live an hour). */
export async function loginOnce(storePath: string, name: string): Promise<void> {
  const emulator = await startFactusEmulator();
  const keeper = createKeeper({ store: storePath, proactiveRefresh: false, env: {} });
  try {
    await keeper.connect(name, { provider: 'factus', baseUrl: emulator.url, ...BENCH_CREDENTIALS });
  } finally {
    await keeper.close();
    await emulator.stop();
  }
}

export interface PreparedStore {
  repository: ConnectionRepository;
  count: number;
  /** Time to seal and write the `count` rows, one CAS write each (ms). */
  writeMs: number;
  close(): Promise<void>;
}

export async function prepareStore(storePath: string, count: number): Promise<PreparedStore> {
  await loginOnce(storePath, TEMPLATE_NAME);
  const { store, secretBox } = await openStore(storePath, { env: {} });
  const repository = new ConnectionRepository(store, secretBox);
  const template = await repository.load(TEMPLATE_NAME);
  if (!template) throw new Error('the template connection was not saved');
  const begin = performance.now();
  for (let i = 0; i < count; i++) {
    const name = connectionName(i);
    const version = await repository.save({ ...template.record, name }, 0);
    if (version === undefined) throw new Error(`${name} already existed`);
  }
  const writeMs = performance.now() - begin;
  await repository.delete(TEMPLATE_NAME);
  return { repository, count, writeMs, close: () => store.close() };
}
