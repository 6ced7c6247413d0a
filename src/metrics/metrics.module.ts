import { Global, Module } from '@nestjs/common';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { metricsConfig } from '../config/metrics.config.js';
import { MetricsController } from './metrics.controller.js';
import { DisabledMetrics, Metrics } from './metrics.js';
import { PrometheusMetrics } from './prometheus-metrics.js';

/**
 * Prometheus metrics. Global, like configuration: the services that count something inject
 * `Metrics` and stay free of prom-client; with METRICS_TOKEN unset they get a no-op.
 */
@Global()
@Module({
  imports: [ConfigModule.forFeature(metricsConfig)],
  controllers: [MetricsController],
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
