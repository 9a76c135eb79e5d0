/**
 * PostgreSQL's side of TokenStore.watchChanges: a connection of its own that LISTENs on the
 * store's channel. Writes NOTIFY in the statement that makes them (postgres-store.ts), so a
 * change is announced when it commits, and a write that failed its checks announces nothing.
 * A lost connection is opened again, backing off up to 30 s; once it listens again, `onMissed`
 * tells the watcher to read the store for what changed meanwhile. An echo (ChangeFeed.echo)
 * is a NOTIFY sent the way writes send theirs, from the store's pool, so behind a pooler that
 * loses LISTEN it goes unheard as their announcements do.
 */
import type { Client } from 'pg';
import { Echoes, parseStoreChange } from './change-feed.js';
import { STORE_CLOSE_TIMEOUT_MS, settlesWithin } from './deadlines.js';
import type { ChangeFeed, StoreChange } from './types.js';

const FIRST_RETRY_MS = 1_000;
const LAST_RETRY_MS = 30_000;

export async function listenForChanges(
  newClient: () => Client,
  channel: string,
  onChange: (change: StoreChange) => void,
  onMissed: () => void,
  /** Sends a payload on the channel from a connection of the store's pool. */
  notify: (payload: string) => Promise<void>,
): Promise<Required<ChangeFeed>> {
  const echoes = new Echoes();
  let current: Client | undefined;
  let closed = false;
  /** A connection listened before: the next one comes after a gap. */
  let listened = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryMs = FIRST_RETRY_MS;

  const retryLater = () => {
    if (closed) return;
    retryTimer = setTimeout(() => void open(), retryMs);
    retryTimer.unref();
    retryMs = Math.min(retryMs * 2, LAST_RETRY_MS);
  };
  const lost = (client: Client) => {
    if (client !== current) return;
    current = undefined;
    client.end().catch(() => undefined);
    retryLater();
  };
  const open = async (): Promise<void> => {
    const client = newClient();
    client.on('notification', (message) => {
      if (message.channel !== channel || echoes.take(message.payload)) return;
      const change = parseStoreChange(message.payload);
      if (change) onChange(change);
    });
    // Unheard, a dropped connection's error would end the process.
    client.on('error', () => lost(client));
    client.on('end', () => lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN "${channel}"`);
    } catch {
      client.end().catch(() => undefined);
      return retryLater();
    }
    if (closed) {
      await client.end().catch(() => undefined);
      return;
    }
    current = client;
    retryMs = FIRST_RETRY_MS;
    if (listened) onMissed();
    listened = true;
  };

  await open();
  return {
    async echo(withinMs) {
      const { payload, heard, unsent } = echoes.expect(withinMs);
      // Not listening now: it could not be heard.
      if (current === undefined) unsent();
      else notify(payload).catch(unsent);
      return heard;
    },
    async close() {
      closed = true;
      echoes.close();
      clearTimeout(retryTimer);
      const client = current;
      current = undefined;
      if (!client) return;
      // end() waits for the server to close its side, which a paused server never does.
      if (!(await settlesWithin(client.end(), STORE_CLOSE_TIMEOUT_MS))) client.connection.stream.destroy();
    },
  };
}
