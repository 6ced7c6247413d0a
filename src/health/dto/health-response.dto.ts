import { ApiProperty, ApiPropertyOptional, type ApiPropertyOptions } from '@nestjs/swagger';

/** GET /health/live/. */
export class LivenessDto {
  @ApiProperty({ enum: ['ok'] })
  status: 'ok';
}

/** One check of GET /health/ready/ (terminus' HealthIndicatorResult): `status`, plus a `message` when it failed. */
const CHECKS_SCHEMA: ApiPropertyOptions = {
  type: 'object',
  description: 'By check name (`database_primary`, `database_replica_<n>`, `redis`)',
  additionalProperties: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['up', 'degraded', 'down'] }, message: { type: 'string' } },
  },
};

/** GET /health/ready/ when the primary answers (terminus' HealthCheckResult). */
export class ReadinessDto {
  @ApiProperty({ enum: ['ok', 'degraded'], description: '`degraded`: a replica or Redis is down; the service keeps serving from the primary' })
  status: 'ok' | 'degraded';

  @ApiPropertyOptional({ ...CHECKS_SCHEMA, description: 'The checks that are up or degraded' })
  info?: Record<string, { status: string; message?: string }>;

  @ApiPropertyOptional({ ...CHECKS_SCHEMA, description: 'The checks that are down' })
  error?: Record<string, { status: string; message?: string }>;

  @ApiProperty({ ...CHECKS_SCHEMA, description: 'Every check' })
  details: Record<string, { status: string; message?: string }>;
}
