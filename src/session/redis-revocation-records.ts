import { Injectable } from '@nestjs/common';
import type { ChainableCommander } from 'ioredis';
import { type RedisClient, RedisService } from '../redis/redis.service.js';
import { RevocationRecords, type SessionRecordWrite } from './revocation-records.js';
import type { SessionRecord } from './revocation-store.service.js';

/**
 * Compare-and-set writes of the records, as Lua scripts (one atomic step in Redis; each touches one
 * key, so they run on Redis Cluster too). A user state record is not replaced by one of a lower
 * auth version; a session record that says revoked is not set back to active. So a request that
 * read its data before a credential change cannot, by writing late, undo what the change wrote.
 * Both answer 1 when they wrote, 0 when the record in place won.
 */
const PUT_USER_STATE_LUA = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, record = pcall(cjson.decode, current)
  if ok and type(record) == 'table' and type(record.n) == 'number' and record.n > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1`;

const PUT_SESSION_LUA = `
if ARGV[2] == 'active' then
  local current = redis.call('GET', KEYS[1])
  if current then
    local ok, record = pcall(cjson.decode, current)
    if ok and type(record) == 'table' and record.s == 'revoked' then
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1`;

/** The scripts as ioredis commands (defineCommand), on the client and in pipelines. */
interface RecordCommands<Result> {
  authPutUserState(key: string, record: string, version: number, ttlSeconds: number): Result;
  authPutSession(key: string, record: string, state: SessionRecord['s'], ttlSeconds: number): Result;
}
type RecordClient = RedisClient & RecordCommands<Promise<number>>;
type RecordPipeline = ChainableCommander & RecordCommands<ChainableCommander>;

/**
 * The revocation records in Redis, shared by every instance. Keys carry the user's hash tag, so one
 * MGET reads a user's records (and the response cache entry) on Redis Cluster too.
 */
@Injectable()
export class RedisRevocationRecords extends RevocationRecords {
  private readonly client: RecordClient;

  constructor(redis: RedisService) {
    super();
    redis.client.defineCommand('authPutUserState', { numberOfKeys: 1, lua: PUT_USER_STATE_LUA });
    redis.client.defineCommand('authPutSession', { numberOfKeys: 1, lua: PUT_SESSION_LUA });
    this.client = redis.client as RecordClient;
  }

  override onTrouble(listener: () => void): void {
    this.client.on('error', listener);
    this.client.on('node error', listener);
  }

  /** One MGET for the records and `alsoRead` (the hot path's single round trip). */
  async read(keys: readonly string[], alsoRead: readonly string[] = []): Promise<{ records: Array<string | null>; also?: Array<string | null> }> {
    const values = await this.client.mget(...keys, ...alsoRead);
    return alsoRead.length > 0 ? { records: values.slice(0, keys.length), also: values.slice(keys.length) } : { records: values };
  }

  async putUserState(key: string, value: string, version: number, ttlSeconds: number): Promise<void> {
    await this.client.authPutUserState(key, value, version, ttlSeconds);
  }

  async putSession({ key, value, state, ttlSeconds }: SessionRecordWrite): Promise<void> {
    await this.client.authPutSession(key, value, state, ttlSeconds);
  }

  async rewriteUser(
    userKey: string,
    userState: { value: string; version: number; ttlSeconds: number } | null,
    sessions: SessionRecordWrite[],
  ): Promise<void> {
    // One user's keys share a hash tag, so this pipeline stays on one Redis Cluster node.
    const pipeline = this.client.pipeline() as RecordPipeline;
    if (userState) pipeline.authPutUserState(userKey, userState.value, userState.version, userState.ttlSeconds);
    else pipeline.del(userKey);
    for (const { key, value, state, ttlSeconds } of sessions) pipeline.authPutSession(key, value, state, ttlSeconds);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
  }
}
