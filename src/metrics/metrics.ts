/**
 * What the services report, without knowing how it is exported: feature modules inject `Metrics`
 * (the abstract class is the DI token) and never import prom-client. Two implementations:
 * PrometheusMetrics when METRICS_TOKEN is set, DisabledMetrics (every call a no-op) otherwise.
 */
export type LoginResult = 'success' | 'failure' | 'rate_limited';
/** `reuse_detected`: a rotated-out refresh token came back after the grace window; its session was revoked. */
export type RefreshResult = 'success' | 'grace' | 'reuse_detected' | 'revoked' | 'invalid';
/** Which budget refused: a per-IP route group (`ip_login`, …), a login budget, or the per-address mail budget. */
export type RateLimitScope = `ip_${string}` | 'login_account_ip' | 'login_account' | 'mail_address';

export interface GaugeReading {
  labels?: Record<string, string>;
  value: number;
}

/** A gauge read when /metrics is scraped (nothing is computed between scrapes). */
export interface GaugeSpec {
  name: string;
  help: string;
  labelNames?: string[];
  read(): Promise<GaugeReading[]>;
}

export abstract class Metrics {
  abstract readonly enabled: boolean;
  abstract login(result: LoginResult): void;
  abstract refresh(result: RefreshResult): void;
  /** Sessions revoked, by the reason stored on them (logout, refresh_reuse, password_change, …). */
  abstract revoked(reason: string, count?: number): void;
  abstract rateLimited(scope: RateLimitScope): void;
  /** The revocation check asked PostgreSQL because Redis did not answer, or has not taken a write yet. */
  abstract redisFallback(): void;
  /** One HTTP request: its route template (undefined when no route matched), status and duration. */
  abstract httpRequest(method: string, route: string | undefined, status: number, seconds: number): void;
  abstract gauge(spec: GaugeSpec): void;
}

/** METRICS_TOKEN unset: nothing is kept, /metrics answers 404. */
export class DisabledMetrics extends Metrics {
  readonly enabled = false;
  login(): void {}
  refresh(): void {}
  revoked(): void {}
  rateLimited(): void {}
  redisFallback(): void {}
  httpRequest(): void {}
  gauge(): void {}
}
