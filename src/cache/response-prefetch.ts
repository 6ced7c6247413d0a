/**
 * What the JWT guard and the response cache share on the request: the route whose per-user cache
 * entry the guard should read along with the revocation records, and what it found.
 */
export interface ResponsePrefetch {
  /** Set by the guard on GET routes marked @CachePerUser(): the route path. */
  responseCacheRoute?: string;
  /**
   * Set by the JWT strategy when Redis answered: the raw cache entry, or null for a miss.
   * Undefined when nothing was prefetched (Redis down): the interceptor then asks the cache itself.
   */
  prefetchedResponse?: string | null;
}

/**
 * Decodes an entry as cache-manager wrote it (cache-manager-ioredis-yet stores the JSON of Keyv's
 * serialized `{"value": …}` envelope). Anything unexpected reads as a miss, never as an error.
 */
export function decodeCacheEntry(raw: string): unknown {
  try {
    const envelope: unknown = JSON.parse(JSON.parse(raw) as string);
    if (typeof envelope !== 'object' || envelope === null || !('value' in envelope)) return undefined;
    const { value, expires } = envelope as { value: unknown; expires?: number | null };
    if (typeof expires === 'number' && expires < Date.now()) return undefined;
    return value ?? undefined;
  } catch {
    return undefined;
  }
}
