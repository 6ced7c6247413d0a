import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import { type RedisEndpoint, redisConfig } from '../config/redis.config.js';

export type RedisClient = Redis | Cluster;

/**
 * The one Redis connection factory of the service (standalone or Cluster, TLS for rediss://).
 * `client` is shared by the cache, the revocation store and the rate limiter; BullMQ asks for its
 * own connections with `createConnection`, since blocking commands need a dedicated socket.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  readonly client: RedisClient;
  private readonly extraConnections: RedisClient[] = [];

  constructor(@Inject(redisConfig.KEY) private readonly config: ConfigType<typeof redisConfig>) {
    this.client = this.build('main', {
      keyPrefix: config.keyPrefix,
      commandTimeout: config.commandTimeoutMs,
      // Fail fast while disconnected instead of queueing: callers fall back to PostgreSQL.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Commands issued in the same tick by concurrent requests leave in one write (fewer syscalls).
      enableAutoPipelining: config.autoPipelining,
    });
  }

  get isReady(): boolean {
    return this.client.status === 'ready';
  }

  /**
   * What BullMQ connects with. Standalone: connection options, so BullMQ owns (and closes) its
   * connections. Cluster: a Cluster instance (BullMQ only takes clusters as instances), closed here.
   */
  bullConnection(): RedisOptions | Cluster {
    if (this.config.cluster) return this.createConnection('bullmq') as Cluster;
    return {
      ...this.endpointOptions(this.config.endpoints[0]),
      connectionName: 'auth-bullmq',
      connectTimeout: this.config.connectTimeoutMs,
      maxRetriesPerRequest: null,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    };
  }

  /** ioredis options for one endpoint of REDIS_URL (parsed once, by the config). */
  private endpointOptions(endpoint: RedisEndpoint): RedisOptions {
    return {
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.username,
      password: endpoint.password,
      db: endpoint.db,
      ...(endpoint.tls ? { tls: { rejectUnauthorized: this.config.tlsRejectUnauthorized } } : {}),
    };
  }

  /** A new connection (no key prefix, no command timeout, retries forever), closed at shutdown. */
  createConnection(name: string): RedisClient {
    const connection = this.build(name, { maxRetriesPerRequest: null, enableOfflineQueue: true });
    this.extraConnections.push(connection);
    return connection;
  }

  private build(name: string, extra: RedisOptions): RedisClient {
    const [first] = this.config.endpoints;
    const base: RedisOptions = {
      connectionName: `auth-${name}`,
      connectTimeout: this.config.connectTimeoutMs,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
      ...extra,
    };
    let client: RedisClient;
    if (this.config.cluster) {
      const nodes: ClusterNode[] = this.config.endpoints.map(({ host, port }) => ({ host, port }));
      // The seed nodes share the first URL's credentials and TLS; a cluster has no database number.
      const { host: _host, port: _port, db: _db, ...credentials } = this.endpointOptions(first);
      client = new Cluster(nodes, {
        keyPrefix: extra.keyPrefix,
        enableOfflineQueue: extra.enableOfflineQueue,
        enableAutoPipelining: extra.enableAutoPipelining,
        clusterRetryStrategy: (attempt) => Math.min(attempt * 200, 2000),
        redisOptions: { ...base, keyPrefix: undefined, ...credentials },
      });
    } else {
      client = new Redis({ ...base, ...this.endpointOptions(first) });
    }
    let lastError = '';
    client.on('error', (error: Error) => {
      // ioredis repeats the same error on every reconnect attempt; log each distinct one once.
      if (error.message !== lastError) this.logger.warn(`redis (${name}): ${error.message}`);
      lastError = error.message;
    });
    client.on('ready', () => {
      if (lastError) this.logger.log(`redis (${name}) is back`);
      lastError = '';
    });
    return client;
  }

  /** Last phase of shutdown: in-flight requests and jobs have finished with Redis by then. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all(
      [this.client, ...this.extraConnections].map((connection) =>
        connection.quit().catch(() => connection.disconnect()),
      ),
    );
  }
}
