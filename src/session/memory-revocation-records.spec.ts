import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { MemoryRevocationRecords } from './memory-revocation-records.js';

/** The in-memory records of embedded mode keep the Redis scripts' compare-and-set rules and TTLs. */
describe('MemoryRevocationRecords', () => {
  const records = new MemoryRevocationRecords();
  afterEach(() => {
    jest.useRealTimers();
  });

  it('answers null for a missing record, and never prefetches another key (the cache is elsewhere)', async () => {
    expect(await records.read(['ustate:{1}', 'sess:{1}:a'], ['resp:{1}:/api/me'])).toEqual({ records: [null, null] });
  });

  it('does not replace a user state record by one of a lower auth version', async () => {
    await records.putUserState('ustate:{2}', '{"n":5}', 5, 60);
    await records.putUserState('ustate:{2}', '{"n":4}', 4, 60);
    expect((await records.read(['ustate:{2}'])).records).toEqual(['{"n":5}']);
    await records.putUserState('ustate:{2}', '{"n":6}', 6, 60);
    expect((await records.read(['ustate:{2}'])).records).toEqual(['{"n":6}']);
  });

  it('never sets a revoked session record back to active, but takes a newer revoked one', async () => {
    await records.putSession({ key: 'sess:{3}:a', value: '{"s":"revoked","v":1}', state: 'revoked', ttlSeconds: 60 });
    await records.putSession({ key: 'sess:{3}:a', value: '{"s":"active","v":2}', state: 'active', ttlSeconds: 60 });
    expect((await records.read(['sess:{3}:a'])).records).toEqual(['{"s":"revoked","v":1}']);
    await records.rewriteUser('ustate:{3}', null, [{ key: 'sess:{3}:a', value: '{"s":"active","v":3}', state: 'active', ttlSeconds: 60 }]);
    expect((await records.read(['sess:{3}:a'])).records).toEqual(['{"s":"revoked","v":1}']);
    await records.putSession({ key: 'sess:{3}:a', value: '{"s":"revoked","v":4}', state: 'revoked', ttlSeconds: 60 });
    expect((await records.read(['sess:{3}:a'])).records).toEqual(['{"s":"revoked","v":4}']);
  });

  it('forgets a record when its TTL has passed, like a Redis key', async () => {
    jest.useFakeTimers({ now: Date.now() });
    await records.putSession({ key: 'sess:{4}:a', value: '{"s":"active"}', state: 'active', ttlSeconds: 10 });
    jest.advanceTimersByTime(9_000);
    expect((await records.read(['sess:{4}:a'])).records).toEqual(['{"s":"active"}']);
    jest.advanceTimersByTime(1_001);
    expect((await records.read(['sess:{4}:a'])).records).toEqual([null]);
  });

  it('deletes the user state when the user is gone', async () => {
    await records.putUserState('ustate:{5}', '{"n":1}', 1, 60);
    await records.rewriteUser('ustate:{5}', null, []);
    expect((await records.read(['ustate:{5}'])).records).toEqual([null]);
  });
});
