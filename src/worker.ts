import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { exitGracefullyOnSignals } from './common/lifecycle/graceful-shutdown.js';
import { createAppLogger } from './common/logging/app-logger.js';
import { appConfig } from './config/app.config.js';

/** The worker process (Procfile `worker:`): the BullMQ consumers, with the same modules and config as web. */
async function bootstrap(): Promise<void> {
  const config = appConfig();
  const app = await NestFactory.createApplicationContext(AppModule.forRoot({ worker: true }), {
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
