import { describe, expect, it, jest } from '@jest/globals';
import { readAuthConfig } from '../config/auth.config.js';
import type { RedisService } from '../redis/redis.service.js';
import { DisabledMetrics } from '../metrics/metrics.js';
import type { UsersService } from '../users/users.service.js';
import type { SessionRepository } from './persistence/session.repository.js';
import { RedisRevocationRecords } from './redis-revocation-records.js';
import { RevocationStore } from './revocation-store.service.js';

/**
 * The records RevocationStore writes, with a fake Redis client that keeps what it is given. The
 * writes go through the store's compare-and-set scripts (defined on the client); what the scripts
 * do in Redis is tested on a real Redis (test/credential-change.e2e-spec.ts).
 */
function setup() {
  const defineCommand = jest.fn<(name: string, definition: { numberOfKeys: number; lua: string }) => void>();
  const authPutUserState = jest.fn<(key: string, value: string, version: number, ttl: number) => Promise<number>>().mockResolvedValue(1);
  const authPutSession = jest.fn<(key: string, value: string, state: string, ttl: number) => Promise<number>>().mockResolvedValue(1);
  const redis = { client: { defineCommand, authPutUserState, authPutSession, on: jest.fn() } } as unknown as RedisService;
  const store = new RevocationStore(
    new RedisRevocationRecords(redis),
    {} as UsersService,
    {} as SessionRepository,
    readAuthConfig({ NODE_ENV: 'test' }),
    new DisabledMetrics(),
  );
  return { store, defineCommand, authPutUserState, authPutSession };
}

describe('RevocationStore records', () => {
  it('defines its two compare-and-set scripts, each on one key (Redis Cluster)', () => {
    const { defineCommand } = setup();
    expect(defineCommand.mock.calls.map(([name, definition]) => [name, definition.numberOfKeys])).toEqual([
      ['authPutUserState', 1],
      ['authPutSession', 1],
    ]);
  });

  it('writes the user state with the cutoff in epoch seconds and its auth version, under the user hash tag', async () => {
    const { store, authPutUserState } = setup();
    await store.putUserState(42, { isActive: true, tokensValidAfter: new Date('2025-03-01T12:00:00.900Z'), authVersion: 7 });
    const [key, value, version, ttl] = authPutUserState.mock.calls[0];
    expect(key).toBe('ustate:{42}');
    expect(JSON.parse(value)).toEqual({ a: true, c: Math.floor(Date.parse('2025-03-01T12:00:00Z') / 1000), n: 7, v: expect.any(Number) });
    expect([version, ttl]).toEqual([7, 86_400 + 300]);
  });

  it('writes no cutoff as 0 and an inactive user as such', async () => {
    const { store, authPutUserState } = setup();
    await store.putUserState(7, { isActive: false, tokensValidAfter: null, authVersion: 0 });
    expect(JSON.parse(authPutUserState.mock.calls[0][1])).toMatchObject({ a: false, c: 0, n: 0 });
  });

  it('writes a session record that lives until the last token it governs has expired', async () => {
    const { store, authPutSession } = setup();
    const now = Date.now();
    await store.putSession(42, {
      id: '2b1f6a0e-58a4-4a52-9e2a-0d3f2c1b9a77',
      createdAt: new Date(now - 60_000),
      lastSeenAt: new Date(now - 1000),
      expiresAt: new Date(now + 3_600_000),
      revokedAt: new Date(now),
      ip: '203.0.113.9',
      userAgent: 'jest',
    });
    const [key, value, state, ttl] = authPutSession.mock.calls[0];
    expect(key).toBe('sess:{42}:2b1f6a0e-58a4-4a52-9e2a-0d3f2c1b9a77');
    expect(state).toBe('revoked');
    expect(JSON.parse(value)).toMatchObject({ s: 'revoked', e: Math.floor((now + 3_600_000) / 1000), ip: '203.0.113.9', ua: 'jest' });
    // one hour left + the access token lifetime (300 s) + 1
    expect(ttl).toBeGreaterThanOrEqual(3600 + 300);
    expect(ttl).toBeLessThanOrEqual(3600 + 300 + 2);
  });
});
