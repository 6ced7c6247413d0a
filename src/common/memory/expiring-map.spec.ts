import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ExpiringMap } from './expiring-map.js';

describe('ExpiringMap', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('forgets an entry when its TTL has passed, like a Redis key', () => {
    jest.useFakeTimers({ now: Date.now() });
    const map = new ExpiringMap();
    map.set('a', '1', 10);
    jest.advanceTimersByTime(9_999);
    expect(map.get('a')).toBe('1');
    jest.advanceTimersByTime(1);
    expect(map.get('a')).toBeNull();
  });

  it('sweeps expired entries on a write once a minute, so memory follows the live entries', () => {
    jest.useFakeTimers({ now: Date.now() });
    const map = new ExpiringMap();
    for (let index = 0; index < 100; index++) map.set(`short:${index}`, 'x', 1);
    map.set('long', 'y', 3600);
    jest.advanceTimersByTime(30_000);
    map.set('other', 'z', 3600);
    expect(map.size).toBe(102); // not yet a minute since the last sweep
    jest.advanceTimersByTime(30_000);
    map.set('another', 'w', 3600);
    expect(map.size).toBe(3);
    expect([map.get('long'), map.get('other'), map.get('another')]).toEqual(['y', 'z', 'w']);
  });

  it('deletes several keys at once', () => {
    const map = new ExpiringMap();
    map.set('a', '1', 60);
    map.set('b', '2', 60);
    map.delete('a', 'b', 'c');
    expect([map.get('a'), map.get('b')]).toEqual([null, null]);
  });
});
