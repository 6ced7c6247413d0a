import { Controller, Get, Headers, Inject, NotFoundException, Res } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Public } from '../common/decorators/public.decorator.js';
import { notAuthenticated } from '../common/http/drf-errors.js';
import { metricsConfig } from '../config/metrics.config.js';
import { Metrics } from './metrics.js';
import { PrometheusMetrics } from './prometheus-metrics.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * GET /metrics in Prometheus text format, for a scraper that sends `Authorization: Bearer
 * <METRICS_TOKEN>`. Not part of the API: absent from the OpenAPI document, 404 when METRICS_TOKEN
 * is unset. Public to the JWT guard: it has its own token.
 */
@ApiExcludeController()
@Public()
@Controller()
export class MetricsController {
  private readonly expected: Buffer | undefined;

  constructor(
    private readonly metrics: Metrics,
    @Inject(metricsConfig.KEY) config: ConfigType<typeof metricsConfig>,
  ) {
    this.expected = config.token === undefined ? undefined : digest(config.token);
  }

  @Get('metrics')
  async scrape(@Headers('authorization') authorization: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    if (!this.expected || !(this.metrics instanceof PrometheusMetrics)) throw new NotFoundException();
    const presented = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
    // Compare digests: equal lengths whatever was sent, and constant time.
    if (presented === undefined || !timingSafeEqual(digest(presented), this.expected)) throw notAuthenticated();
    const { contentType, body } = await this.metrics.render();
    void reply.header('Content-Type', contentType).header('Cache-Control', 'no-store');
    return body;
  }
}
