import { Controller, Get, Optional } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { withTimeout } from '../common/async/with-timeout.js';
import { Public } from '../common/decorators/public.decorator.js';
import { ErrorDto } from '../common/openapi/drf-error.dto.js';
import { DatabaseHealth } from '../database/database-health.service.js';
import { RedisService } from '../redis/redis.service.js';
import { LivenessDto, ReadinessDto } from './dto/health-response.dto.js';

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
    private readonly database: DatabaseHealth,
    // Absent in embedded mode without REDIS_URL: the Redis roles run in this process, nothing to probe.
    @Optional() private readonly redis?: RedisService,
  ) {}

  @Get('live/')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ type: LivenessDto, description: 'The process is up' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready/')
  // Documented below, not by terminus: its 503 schema is not the body the DRF filter sends.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness: the primary database answers (a replica or Redis down only degrades)' })
  @ApiOkResponse({ type: ReadinessDto, description: 'Ready (possibly degraded: a replica or Redis is down)' })
  @ApiServiceUnavailableResponse({ type: ErrorDto, description: 'The primary database is unreachable' })
  ready() {
    const replicas = Array.from({ length: this.database.replicaCount }, (_, index) => index);
    return this.health.check([
      () => this.indicators.check('database_primary').attempt(async () => void (await this.database.pingPrimary())).withTimeout(CHECK_TIMEOUT_MS),
      ...replicas.map((index) => () => this.optional(`database_replica_${index}`, () => this.database.pingReplica(index))),
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
