import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

/**
 * Runs a read on a read replica when one is configured, and falls back to the primary when the
 * replica is down, errors, or has not caught up yet (`isStale` says whether the replica's answer
 * may be lagging, e.g. a row that was just written is missing). Reads that decide authentication
 * never come here: they use the primary directly.
 */
@Injectable()
export class ReplicaReader {
  private readonly logger = new Logger(ReplicaReader.name);

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  get hasReplicas(): boolean {
    const options = this.dataSource.options as { replication?: { slaves: unknown[] } };
    return (options.replication?.slaves.length ?? 0) > 0;
  }

  async read<T>(work: (manager: EntityManager) => Promise<T>, isStale: (result: T) => boolean = () => false): Promise<T> {
    if (this.hasReplicas) {
      const runner = this.dataSource.createQueryRunner('slave');
      let failure: Error | undefined;
      try {
        const result = await work(runner.manager);
        if (!isStale(result)) return result;
      } catch (error) {
        failure = error as Error;
        this.logger.warn(`replica read failed, using the primary: ${failure.message}`);
      } finally {
        await release(runner, failure).catch(() => undefined);
      }
    }
    return work(this.dataSource.manager);
  }
}

/**
 * Returns the replica connection to its pool, or, after an error, discards it: a connection whose
 * query timed out on a hung replica still waits for that answer, and every query given to it
 * would queue behind. (PostgresQueryRunner's releasePostgresConnection(error) is what makes
 * pg-pool drop the connection; release() alone would pool it again.)
 */
function release(runner: QueryRunner, failure: Error | undefined): Promise<void> {
  const discard = (runner as QueryRunner & { releasePostgresConnection?: (error: Error) => Promise<void> }).releasePostgresConnection;
  return failure && typeof discard === 'function' ? discard.call(runner, failure) : runner.release();
}
