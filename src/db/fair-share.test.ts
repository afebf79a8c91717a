import { describe, expect, it } from 'vitest';
import { FairShare } from './fair-share.js';

/** Acquires in order, recording the order in which places are granted. */
function recorder(share: FairShare) {
  const granted: string[] = [];
  const releases: (() => void)[] = [];
  const ask = (key: string, label = key) =>
    share.acquire(key).then((release) => {
      granted.push(label);
      releases.push(release);
    });
  return { granted, releases, ask };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('FairShare', () => {
  it('counts an operation over its share once the key holds or awaits as many places', async () => {
    const share = new FairShare({ capacity: 4, perKey: 2, timeoutMs: 1_000 });
    const { releases, ask } = recorder(share);
    expect(share.overShare('A')).toBe(false);
    await ask('A');
    expect(share.overShare('A')).toBe(false);
    await ask('A');
    expect(share.overShare('A')).toBe(true);
    // Another key's share is its own.
    expect(share.overShare('B')).toBe(false);
    const third = ask('A');
    releases[0]?.();
    await third;
    // Two held again, none waiting.
    expect(share.overShare('A')).toBe(true);
    releases[1]?.();
    expect(share.overShare('A')).toBe(false);
  });

  it('serves waiting keys round-robin, one operation per key per turn', async () => {
    const share = new FairShare({ capacity: 1, perKey: 1, timeoutMs: 1_000 });
    const { granted, releases, ask } = recorder(share);
    await ask('A', 'A1');
    const pending = [
      ask('A', 'A2'),
      ask('A', 'A3'),
      ask('A', 'A4'),
      ask('B', 'B1'),
      ask('C', 'C1'),
      ask('B', 'B2'),
    ];
    expect(share.waiting()).toEqual(
      new Map([
        ['A', 3],
        ['B', 2],
        ['C', 1],
      ]),
    );
    for (let i = 0; i < 6; i += 1) {
      releases[i]?.();
      await tick();
    }
    await Promise.all(pending);
    // B1 and C1 wait behind one A each, not behind all of A's queue.
    expect(granted).toEqual(['A1', 'A2', 'B1', 'C1', 'A3', 'B2', 'A4']);
  });

  it('caps one key below the capacity and lets other keys use the rest', async () => {
    const share = new FairShare({ capacity: 4, perKey: 1, timeoutMs: 1_000 });
    const { granted, ask } = recorder(share);
    void ask('A', 'A1');
    void ask('A', 'A2');
    await ask('B', 'B1');
    await tick();
    expect(granted).toEqual(['A1', 'B1']);
    expect(share.waiting()).toEqual(new Map([['A', 1]]));
  });

  it('refuses with SERVICE_UNAVAILABLE after the timeout, and forgets the waiter', async () => {
    const share = new FairShare({ capacity: 1, perKey: 1, timeoutMs: 30 });
    const release = await share.acquire('A');
    await expect(share.acquire('B')).rejects.toMatchObject({
      extensions: { code: 'SERVICE_UNAVAILABLE' },
    });
    expect(share.waiting().size).toBe(0);
    release();
    // A release twice gives back one place only.
    release();
    const [first, second] = [share.acquire('C'), share.acquire('C')];
    await first;
    const late = await Promise.race([second.then(() => 'granted'), tick().then(() => 'waiting')]);
    expect(late).toBe('waiting');
    (await first)();
    await second;
  });
});
