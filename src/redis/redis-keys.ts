/**
 * Every Redis key of the service, in one place. Keys that one command or one round trip reads
 * together share a hash tag (`{<user id>}`), so multi-key commands keep working on Redis Cluster.
 * (The per-user response cache keys its entries itself: `src/cache/response-cache.service.ts`.)
 * The deployment-wide prefix (REDIS_KEY_PREFIX) is added by the client, not here.
 */
export const RedisKeys = {
  /** Session record: JSON of SessionRecord (state active or revoked). */
  session: (userId: number, sessionId: string) => `sess:{${userId}}:${sessionId}`,
  /** User-wide auth state: JSON of UserAuthState (active flag and revocation cutoff). */
  userState: (userId: number) => `ustate:{${userId}}`,
  /** A blacklisted refresh token id. */
  blacklistedJti: (userId: number, jti: string) => `bl:{${userId}}:${jti}`,
  /** The Django system's user lookup cache key: login identifier (as `loginKey` spells it) → user id. */
  userLookup: (identifier: string) => `user_lookup:${identifier}`,
  /** Read-your-writes: the primary's WAL position (pg_lsn text) after the last write of a scope (ReplicaReader). */
  lastWrite: (scope: string) => `lastwrite:${scope}`,
} as const;
