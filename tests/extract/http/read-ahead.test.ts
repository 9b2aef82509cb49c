import { describe, expect, it } from 'vitest';
import { ReadAhead } from '../../../src/extract/http/read-ahead.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ReadAhead', () => {
  it('keeps order, holds the producer at the byte budget, and always fits one item', async () => {
    const queue = new ReadAhead<number>(100);
    const pushed: number[] = [];
    const producer = (async () => {
      for (const n of [1, 2, 3]) {
        await queue.push(n, 60);
        pushed.push(n);
      }
      await queue.push(4, 500); // larger than the budget: waits for an empty queue, then fits
      pushed.push(4);
      queue.end();
    })();
    await tick();
    expect(pushed).toEqual([1]); // 1 + 2 would be 120 bytes > 100
    expect(await queue.shift()).toBe(1);
    await tick();
    expect(pushed).toEqual([1, 2]);
    expect(await queue.shift()).toBe(2);
    expect(await queue.shift()).toBe(3);
    expect(await queue.shift()).toBe(4);
    expect(await queue.shift()).toBeUndefined();
    await producer;
  });

  it('hands the producer error over after the items queued before it', async () => {
    const queue = new ReadAhead<string>(1000);
    await queue.push('a', 1);
    queue.end(new Error('page 2 failed'));
    expect(await queue.shift()).toBe('a');
    await expect(queue.shift()).rejects.toThrow('page 2 failed');
  });

  it('releases a waiting producer when the consumer closes', async () => {
    const queue = new ReadAhead<string>(10);
    await queue.push('a', 10);
    const waiting = queue.push('b', 10);
    queue.close();
    await waiting;
    expect(queue.closed).toBe(true);
  });
});
