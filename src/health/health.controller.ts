import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { withTimeout } from '../common/async/with-timeout.js';
import { Public } from '../common/decorators/public.decorator.js';
import { DatabaseHealth } from '../database/database-health.service.js';
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
    private readonly redis: RedisService,
    private readonly database: DatabaseHealth,
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
    const replicas = Array.from({ length: this.database.replicaCount }, (_, index) => index);
    return this.health.check([
      () => this.indicators.check('database_primary').attempt(async () => void (await this.database.pingPrimary())).withTimeout(CHECK_TIMEOUT_MS),
      ...replicas.map((index) => () => this.optional(`database_replica_${index}`, () => this.database.pingReplica(index))),
      () => this.optional('redis', () => this.redis.client.ping()),
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
