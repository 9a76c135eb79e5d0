import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCommit } from '../../src/store/group-commit.js';

/** A committer that records what it was asked to commit, and can refuse chosen writes. */
function recorder(refuse: (value: number) => boolean = () => false) {
  const commits: Array<{ kind: 'all' | 'one'; values: number[] }> = [];
  const commitOne = (value: number) => {
    if (refuse(value)) throw new Error(`refused ${value}`);
    return value * 10;
  };
  const group = new GroupCommit<number, number>(
    (batch) => {
      commits.push({ kind: 'all', values: [...batch] });
      return batch.map(commitOne); // throws for the whole batch, as a failed transaction does
    },
    (value) => {
      commits.push({ kind: 'one', values: [value] });
      return commitOne(value);
    },
  );
  return { group, commits };
}

describe('GroupCommit', () => {
  it('commits the writes of one turn together, and gives each its own result', async () => {
    const { group, commits } = recorder();
    const results = await Promise.all([group.submit(1), group.submit(2), group.submit(3)]);
    assert.deepEqual(results, [10, 20, 30]);
    assert.deepEqual(commits, [{ kind: 'all', values: [1, 2, 3] }]);
  });

  it('commits a lone write on its own, and writes of later turns in commits of their own', async () => {
    const { group, commits } = recorder();
    assert.equal(await group.submit(1), 10);
    assert.deepEqual(await Promise.all([group.submit(2), group.submit(3)]), [20, 30]);
    assert.deepEqual(commits, [
      { kind: 'one', values: [1] },
      { kind: 'all', values: [2, 3] },
    ]);
  });

  it('tries each write alone when the shared commit fails: only the failing one fails', async () => {
    const { group, commits } = recorder((value) => value === 2);
    const results = await Promise.allSettled([group.submit(1), group.submit(2), group.submit(3)]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      [10, 'refused 2', 30],
    );
    assert.deepEqual(commits, [
      { kind: 'all', values: [1, 2, 3] },
      { kind: 'one', values: [1] },
      { kind: 'one', values: [2] },
      { kind: 'one', values: [3] },
    ]);
  });

  it('commits what waits when flushed, before the turn ends', async () => {
    const { group, commits } = recorder();
    let turnEnded = false;
    setImmediate(() => {
      turnEnded = true;
    });
    const pending = [group.submit(1), group.submit(2)];
    await group.flush();
    assert.equal(turnEnded, false);
    assert.deepEqual(commits, [{ kind: 'all', values: [1, 2] }]);
    assert.deepEqual(await Promise.all(pending), [10, 20]);
    await group.flush(); // nothing waits: nothing is committed
    assert.equal(commits.length, 1);
  });

  it('runs a commit that takes several turns to the end before the next, in the order submitted', async () => {
    const started: number[] = [];
    const finish = new Map<number, () => void>();
    const group = new GroupCommit<number, number>(
      async (batch) => {
        started.push(...batch);
        return batch.map((value) => value * 10);
      },
      (value) => {
        started.push(value);
        return new Promise<number>((resolve) => finish.set(value, () => resolve(value * 10)));
      },
    );
    const first = group.submit(1);
    await new Promise((resolve) => setImmediate(resolve));
    const second = group.submit(2);
    const flushed = group.flush(); // asked for while the first commit is still under way
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, [1], 'the second commit waits for the first');
    finish.get(1)?.();
    assert.equal(await first, 10);
    for (let turn = 0; turn < 5 && !finish.has(2); turn++)
      await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, [1, 2]);
    finish.get(2)?.();
    await flushed;
    assert.equal(await second, 20);
  });

  it('fails the whole batch when the failure would meet each write alone', async () => {
    const commits: string[] = [];
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const group = new GroupCommit<number, number>(
      () => {
        commits.push('all');
        throw busy;
      },
      (value) => {
        commits.push(`one ${value}`);
        return value;
      },
      (error) => error !== busy,
    );
    const results = await Promise.allSettled([group.submit(1), group.submit(2)]);
    assert.deepEqual(
      results.map((r) => r.status === 'rejected' && r.reason),
      [busy, busy],
    );
    assert.deepEqual(commits, ['all']);
  });
});
