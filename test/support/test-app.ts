import 'reflect-metadata';
import type { INestApplication, LoggerService, ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from '../../src/app.module.js';
import { configureApp, createFastifyAdapter } from '../../src/app.setup.js';
import { readAppConfig } from '../../src/config/app.config.js';
import { EmbeddedRuntime } from '../../src/embedded/embedded-runtime.js';
import { typescriptMigrations } from './migrations.js';

export interface TestApp {
  app: INestApplication;
  baseUrl: string;
  /** Every line the app logged (all levels), to check that no secret reaches the log. */
  logs: string[];
  close(): Promise<void>;
}

/** Records every log line instead of printing it (errors are printed too, to help a failing run). */
class RecordingLogger implements LoggerService {
  readonly lines: string[] = [];
  private record(level: string, message: unknown, rest: unknown[]) {
    const line = [level, message, ...rest].map((part) => (part instanceof Error ? part.stack : String(part))).join(' ');
    this.lines.push(line);
    return line;
  }
  log(message: unknown, ...rest: unknown[]) { this.record('log', message, rest); }
  warn(message: unknown, ...rest: unknown[]) { this.record('warn', message, rest); }
  debug(message: unknown, ...rest: unknown[]) { this.record('debug', message, rest); }
  verbose(message: unknown, ...rest: unknown[]) { this.record('verbose', message, rest); }
  fatal(message: unknown, ...rest: unknown[]) { console.error(this.record('fatal', message, rest)); }
  error(message: unknown, ...rest: unknown[]) {
    const line = this.record('error', message, rest);
    if (process.env.E2E_PRINT_ERRORS !== 'false') console.error(line);
  }
}

/**
 * Boots the real AppModule (real PostgreSQL, real Redis) on an ephemeral loopback port.
 * `options.customize` may override providers that leave the machine (SMTP) — nothing else.
 */
export async function startApp(
  env: Record<string, string> = {},
  options: {
    /** Load the BullMQ consumers in this process (RUN_WORKER_IN_WEB). */
    worker?: boolean;
    customize?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
    /** Modules loaded next to AppModule, as a deployment adds one (a strategy, a listener). */
    imports?: NonNullable<ModuleMetadata['imports']>;
  } = {},
): Promise<TestApp> {
  const customize = options.customize ?? ((builder: TestingModuleBuilder) => builder);
  // The embedded run (npm run test:e2e:embedded) starts PGlite per app, which points DATABASE_URL at it: restored after.
  const embeddedRun = process.env.E2E_EMBEDDED === 'true';
  const touched = [...Object.keys(env), ...(embeddedRun ? ['DATABASE_URL', 'DATABASE_POOL_SIZE'] : [])];
  const saved = Object.fromEntries(touched.map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  let app: INestApplication | undefined;
  let embedded: EmbeddedRuntime | undefined;
  try {
    embedded = embeddedRun ? await EmbeddedRuntime.start(process.env, () => undefined, await typescriptMigrations()) : undefined;
    const moduleRef = await customize(
      Test.createTestingModule({ imports: [AppModule.forRoot({ worker: options.worker ?? false, embedded }), ...(options.imports ?? [])] }),
    ).compile();
    const config = readAppConfig(process.env);
    const logger = new RecordingLogger();
    app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(config), { logger });
    configureApp(app, config);
    try {
      await app.listen(0, '127.0.0.1');
    } catch (error) {
      // Close what the failed start opened (pools, Redis, the embedded database), or Jest cannot exit.
      await app.close().catch(() => undefined);
      throw error;
    }
    const address = app.getHttpServer().address() as { port: number };
    const started = app;
    return {
      app: started,
      baseUrl: `http://127.0.0.1:${address.port}`,
      logs: logger.lines,
      close: () => started.close(),
    };
  } catch (error) {
    if (!app) await embedded?.close().catch(() => undefined);
    throw error;
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}
