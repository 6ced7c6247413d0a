import { Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type GaugeSpec, Metrics, type LoginResult, type RateLimitScope, type RefreshResult } from './metrics.js';

/** Seconds; the service answers most requests in milliseconds, an argon2 login in ~50–100 ms. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Observer = { observe(value: number): void };

const LOGIN_RESULTS: LoginResult[] = ['success', 'failure', 'rate_limited'];
const REFRESH_RESULTS: RefreshResult[] = ['success', 'grace', 'reuse_detected', 'revoked', 'invalid'];

/** prom-client behind the Metrics port; one registry per instance (not the global one). */
export class PrometheusMetrics extends Metrics {
  readonly enabled = true;
  readonly registry = new Registry();
  private readonly logger = new Logger('Metrics');
  private readonly duration: Histogram<'method' | 'route' | 'status'>;
  private readonly logins: Counter<'result'>;
  private readonly refreshes: Counter<'result'>;
  private readonly revocations: Counter<'reason'>;
  private readonly rateLimits: Counter<'scope'>;
  private readonly fallbacks: Counter;
  /**
   * method → route → status → histogram child. prom-client hashes a label set on every observe;
   * looking the child up in nested maps keyed by the strings Fastify already holds (the method, the
   * route template) and the status number builds no string and no object per request.
   */
  private readonly observers = new Map<string, Map<string, Map<number, Observer>>>();

  constructor() {
    super();
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP requests by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.logins = new Counter({ name: 'auth_logins_total', help: 'Login attempts (POST /api/token/) by result', labelNames: ['result'], registers });
    this.refreshes = new Counter({ name: 'auth_refresh_total', help: 'Refresh-token uses by result; reuse_detected revoked a session', labelNames: ['result'], registers });
    this.revocations = new Counter({ name: 'auth_revocations_total', help: 'Sessions revoked, by reason', labelNames: ['reason'], registers });
    this.rateLimits = new Counter({ name: 'auth_rate_limited_total', help: 'Requests refused by a rate limit, by budget', labelNames: ['scope'], registers });
    this.fallbacks = new Counter({ name: 'auth_redis_fallback_total', help: 'Revocation checks answered by PostgreSQL because Redis could not be used', registers });
    // Every known result starts at 0, so a rate() over the first failure, or the first reuse, is not lost.
    for (const result of LOGIN_RESULTS) this.logins.inc({ result }, 0);
    for (const result of REFRESH_RESULTS) this.refreshes.inc({ result }, 0);
  }

  login(result: LoginResult): void {
    this.logins.inc({ result });
  }

  refresh(result: RefreshResult): void {
    this.refreshes.inc({ result });
  }

  revoked(reason: string, count = 1): void {
    if (count > 0) this.revocations.inc({ reason }, count);
  }

  rateLimited(scope: RateLimitScope): void {
    this.rateLimits.inc({ scope });
  }

  redisFallback(): void {
    this.fallbacks.inc();
  }

  httpRequest(method: string, route: string | undefined, status: number, seconds: number): void {
    // Unmatched paths share one series: a scanner's random URLs must not create new ones.
    const template = route ?? 'unmatched';
    let byRoute = this.observers.get(method);
    if (!byRoute) this.observers.set(method, (byRoute = new Map()));
    let byStatus = byRoute.get(template);
    if (!byStatus) byRoute.set(template, (byStatus = new Map()));
    let observer = byStatus.get(status);
    if (!observer) byStatus.set(status, (observer = this.duration.labels(method, template, String(status))));
    observer.observe(seconds);
  }

  gauge(spec: GaugeSpec): void {
    const logger = this.logger;
    new Gauge({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labelNames ?? [],
      registers: [this.registry],
      async collect() {
        this.reset();
        try {
          for (const reading of await spec.read()) {
            if (reading.labels) this.set(reading.labels, reading.value);
            else this.set(reading.value);
          }
        } catch (error) {
          // A backing service that does not answer leaves the gauge empty; the scrape still succeeds.
          logger.warn(`gauge ${spec.name}: ${(error as Error).message}`);
        }
      },
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
