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

  it('commits what waits at once when flushed, before the turn ends', async () => {
    const { group, commits } = recorder();
    const pending = [group.submit(1), group.submit(2)];
    group.flush();
    assert.deepEqual(commits, [{ kind: 'all', values: [1, 2] }]);
    assert.deepEqual(await Promise.all(pending), [10, 20]);
    group.flush(); // nothing waits: nothing is committed
    assert.equal(commits.length, 1);
  });
});
