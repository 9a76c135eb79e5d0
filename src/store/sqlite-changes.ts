/**
 * SQLite's side of TokenStore.watchChanges. SQLite has no notifications between processes,
 * so the file keeps a short log of changes instead: triggers on `connections` append
 * `{name, version, deleted}` in the transaction that makes the change (a write refused by its
 * checks changes no row, so it logs nothing), and keep only the newest CHANGE_LOG_ROWS entries.
 * A watcher reads the log past the last entry it saw, a few times a second: one indexed read
 * that finds nothing most of the time. A watcher that falls more than the log's length behind
 * misses the oldest changes: it sees a gap in the sequence numbers (AUTOINCREMENT numbers
 * every entry one above the last, and a rolled-back write rolls its number back too) and
 * says so, and the watcher's own read of the store catches up.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { ChangeFeed, StoreChange } from './types.js';

/** Entries kept: 5 s of changes at 740 writes a second (bench serve-10k), 50 reads of the watcher. */
export const CHANGE_LOG_ROWS = 4_096;
/** How often a watcher reads the log. */
const CHANGE_POLL_MS = 100;
/** Entries read at a time: a longer run of them is read over the next reads. */
const CHANGES_PER_READ = 1_000;

/** A trigger's body: log the change of `row` (NEW or OLD), and drop what fell off the log. */
const logChange = (row: 'NEW' | 'OLD', deleted: 0 | 1) => `
    INSERT INTO changes (name, version, deleted) VALUES (${row}.name, ${row}.version, ${deleted});
    DELETE FROM changes WHERE seq <= last_insert_rowid() - ${CHANGE_LOG_ROWS};`;

/** Schema 3 → 4: the log and the triggers that write it (AUTOINCREMENT: never a seq again). */
export const CHANGE_LOG_MIGRATION = `
  CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL
  );
  CREATE TRIGGER IF NOT EXISTS connection_inserted AFTER INSERT ON connections
  BEGIN ${logChange('NEW', 0)} END;
  CREATE TRIGGER IF NOT EXISTS connection_updated AFTER UPDATE OF version ON connections
  BEGIN ${logChange('NEW', 0)} END;
  CREATE TRIGGER IF NOT EXISTS connection_deleted AFTER DELETE ON connections
  BEGIN ${logChange('OLD', 1)} END;`;

interface ChangeRow {
  seq: number;
  name: string;
  version: number;
  deleted: number;
}

/** Tells `onChange` of each change logged after this call, until the feed is closed. */
export function watchChangeLog(
  db: BetterSqlite3.Database,
  onChange: (change: StoreChange) => void,
  onMissed: (() => void) | undefined,
  onClose: (feed: ChangeFeed) => void,
): ChangeFeed {
  const newer = db.prepare(
    `SELECT seq, name, version, deleted FROM changes WHERE seq > ? ORDER BY seq LIMIT ${CHANGES_PER_READ}`,
  );
  // The last number given out, whether or not its entry is still in the log.
  let lastSeq = db
    .prepare("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)")
    .pluck()
    .get() as number;
  // Echoes wait for the next read of the log that succeeds: the log is in the file every
  // process writes, so a watcher that reads it hears every write logged before that read.
  let echoes: Array<(heard: boolean) => void> = [];
  const read = () => {
    if (!db.open) return;
    let rows: ChangeRow[];
    try {
      rows = newer.all(lastSeq) as ChangeRow[];
    } catch {
      return; // busy for a moment: the next read picks up from the same entry
    }
    const heard = echoes;
    echoes = [];
    if (rows.length > 0 && (rows[0] as ChangeRow).seq > lastSeq + 1) onMissed?.(); // pruned before it was read
    for (const row of rows) {
      lastSeq = row.seq;
      onChange({ name: row.name, version: row.version, deleted: row.deleted === 1 });
    }
    for (const answer of heard) answer(true);
  };
  const timer = setInterval(read, CHANGE_POLL_MS);
  // A watcher never holds its process open by itself.
  timer.unref();
  const feed: ChangeFeed = {
    echo(withinMs) {
      return new Promise((resolve) => {
        // Not unref'd: it keeps the process up until the next read (withinMs at most).
        const timer = setTimeout(() => answer(false), withinMs);
        const answer = (heard: boolean) => {
          clearTimeout(timer);
          echoes = echoes.filter((waiting) => waiting !== answer);
          resolve(heard);
        };
        echoes.push(answer);
      });
    },
    async close() {
      for (const answer of echoes) answer(false);
      clearInterval(timer);
      onClose(feed);
    },
  };
  return feed;
}
