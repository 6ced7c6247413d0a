import { registerAs } from '@nestjs/config';
import { ConfigError, type Env, envBool, envInt, envString } from './env.js';

export function readJobsConfig(env: Env) {
  const prefix = envString(env, 'BULLMQ_PREFIX', '{auth-jobs}');
  if (!/\{[^{}]+\}/.test(prefix)) {
    throw new ConfigError('BULLMQ_PREFIX', 'must contain a hash tag such as {auth-jobs} (Redis Cluster keeps a queue in one slot)');
  }
  return {
    /** Run the BullMQ consumers inside the web process too (single-dyno deploys). */
    runWorkerInWeb: envBool(env, 'RUN_WORKER_IN_WEB', false),
    prefix,
    attempts: envInt(env, 'JOB_ATTEMPTS', 6, { min: 1, max: 50 }),
    /** First retry delay; each next one doubles (exponential backoff). */
    backoffMs: envInt(env, 'JOB_BACKOFF_MS', 2000, { min: 10, max: 3_600_000 }),
    /** How often the maintenance job (expired sessions and blacklist rows) runs. */
    maintenanceIntervalMs: envInt(env, 'MAINTENANCE_INTERVAL_MS', 3_600_000, { min: 1000 }),
    /** How often pending outbox rows are relayed to the queue (each write also relays at once). */
    outboxRelayIntervalMs: envInt(env, 'OUTBOX_RELAY_INTERVAL_MS', 2000, { min: 100, max: 600_000 }),
    /** Concurrent mail jobs per worker process. */
    mailConcurrency: envInt(env, 'MAIL_CONCURRENCY', 5, { min: 1, max: 100 }),
  };
}

export const jobsConfig = registerAs('jobs', () => readJobsConfig(process.env));
export type JobsConfig = ReturnType<typeof readJobsConfig>;
