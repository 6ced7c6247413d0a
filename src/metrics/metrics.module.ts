import { Global, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { metricsConfig } from '../config/metrics.config.js';
import { DisabledMetrics, Metrics } from './metrics.js';
import { PrometheusMetrics } from './prometheus-metrics.js';

/**
 * Prometheus metrics. Global, like configuration: the services that count something inject
 * `Metrics` and stay free of prom-client; with METRICS_TOKEN unset they get a no-op. Part of the core
 * (the worker counts too); the scrape endpoint is MetricsApiModule, loaded by the API root only.
 */
@Global()
@Module({
  providers: [
    {
      provide: Metrics,
      inject: [metricsConfig.KEY],
      useFactory: (config: ConfigType<typeof metricsConfig>): Metrics => (config.token ? new PrometheusMetrics() : new DisabledMetrics()),
    },
  ],
  exports: [Metrics],
})
export class MetricsModule {}
