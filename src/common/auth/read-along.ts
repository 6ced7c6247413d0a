/**
 * Keys read in the same Redis round trip as a credential's revocation check. The global guard sets
 * one on the request (from whatever feature wants it — today the per-user response cache) before
 * the strategy runs; a strategy that checks revocation in Redis reads `keysFor(userId)` in the same
 * MGET and hands the values back. Keys must carry the user's hash tag (`{<user id>}`) so that MGET
 * works on Redis Cluster.
 */
export interface ReadAlong {
  keysFor(userId: number): readonly string[];
  /** The values of `keysFor` (null: no such key), or undefined when Redis did not answer. */
  received(values: ReadonlyArray<string | null> | undefined): void;
}

const READ_ALONG = Symbol('readAlong');
type WithReadAlong = { [READ_ALONG]?: ReadAlong };

export const setReadAlong = (request: object, readAlong: ReadAlong): void => {
  (request as WithReadAlong)[READ_ALONG] = readAlong;
};

export const readAlongOf = (request: object): ReadAlong | undefined => (request as WithReadAlong)[READ_ALONG];
