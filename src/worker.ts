import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { exitGracefullyOnSignals } from './common/lifecycle/graceful-shutdown.js';
import { createAppLogger } from './common/logging/app-logger.js';
import { appConfig } from './config/app.config.js';
import { ConfigError } from './config/env.js';
import { isEmbedded, readEmbeddedMode } from './embedded/embedded-mode.js';
import { WorkerAppModule } from './worker-app.module.js';

/** The worker process (Procfile `worker:`): the BullMQ consumers (WorkerAppModule: no controllers), on the same core and config as web. */
async function bootstrap(): Promise<void> {
  const config = appConfig();
  const embedded = readEmbeddedMode(process.env); // in production, a missing variable is refused here
  if (isEmbedded(embedded)) {
    // Embedded mode (development/test): the web process runs the jobs itself and owns the embedded database.
    throw new ConfigError(embedded.database ? 'DATABASE_URL' : 'REDIS_URL', 'is unset: in embedded mode the web process runs the jobs, there is no worker');
  }
  const app = await NestFactory.createApplicationContext(WorkerAppModule, {
    logger: createAppLogger(config).nest,
  });
  exitGracefullyOnSignals(app, config.shutdownGraceMs, 'worker');
  await app.init();
  Logger.log('worker started', 'Bootstrap');
}

bootstrap().catch((error: Error) => {
  console.error(error.name === 'ConfigError' ? error.message : error);
  process.exit(1);
});
