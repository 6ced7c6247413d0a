import { Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller.js';

/** GET /metrics (Prometheus text), for the API root; the Metrics provider itself is in MetricsModule (core). */
@Module({ controllers: [MetricsController] })
export class MetricsApiModule {}
