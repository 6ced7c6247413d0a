import { Controller, Get, Optional } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Pool } from 'pg';
import { withTimeout } from '../common/async/with-timeout.js';
import { Public } from '../common/decorators/public.decorator.js';
import { RedisService } from '../redis/redis.service.js';

const CHECK_TIMEOUT_MS = 2000;

/**
 * Liveness (the process answers) and readiness (its backing services). The primary is required;
 * a replica or Redis that is down makes the service `degraded`, not unready, because it keeps
 * serving from the primary.
 */
@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @InjectDataSource() private readonly dataSource: DataSource,
    // Absent in embedded mode (REDIS_URL unset): the Redis roles run in this process, nothing to probe.
    @Optional() private readonly redis?: RedisService,
  ) {}

  @Get('live/')
  @ApiOkResponse({ description: 'The process is up' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready/')
  @HealthCheck()
  @ApiOkResponse({ description: 'Ready (possibly degraded: a replica or Redis is down)' })
  @ApiServiceUnavailableResponse({ description: 'The primary database is unreachable' })
  ready() {
    const driver = this.dataSource.driver as unknown as { master: Pool; slaves?: Pool[] };
    const replicas = driver.slaves ?? [];
    return this.health.check([
      () => this.indicators.check('database_primary').attempt(async () => void (await driver.master.query('SELECT 1'))).withTimeout(CHECK_TIMEOUT_MS),
      ...replicas.map((pool, index) => () => this.optional(`database_replica_${index}`, () => pool.query('SELECT 1'))),
      ...(this.redis ? [() => this.optional('redis', () => this.redis!.client.ping())] : []),
    ]);
  }

  private async optional<Key extends string>(key: Key, probe: () => Promise<unknown>): Promise<HealthIndicatorResult<Key>> {
    const session = this.indicators.check(key);
    try {
      await withTimeout(probe(), CHECK_TIMEOUT_MS);
      return session.up();
    } catch (error) {
      return session.degraded({ message: (error as Error).message });
    }
  }
}
