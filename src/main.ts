import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import { configureApp, createFastifyAdapter } from './app.setup.js';
import { exitGracefullyOnSignals } from './common/lifecycle/graceful-shutdown.js';
import { createAppLogger } from './common/logging/app-logger.js';
import { appConfig } from './config/app.config.js';
import { EmbeddedRuntime } from './embedded/embedded-runtime.js';

async function bootstrap(): Promise<void> {
  const config = appConfig();
  const logger = createAppLogger(config);
  // DATABASE_URL or REDIS_URL unset (development/test only): start what runs in this process first.
  const embedded = await EmbeddedRuntime.start(process.env, (line) => logger.nest.log(line, 'Embedded'));
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot({ embedded }), createFastifyAdapter(config, logger.pino), {
    logger: logger.nest,
  });
  configureApp(app, config);
  exitGracefullyOnSignals(app, config.shutdownGraceMs, 'web');
  await app.listen(config.port, config.host);
  Logger.log(`listening on ${config.host}:${config.port}`, 'Bootstrap');
  if (embedded) Logger.log(embedded.describe(), 'Embedded');
}

bootstrap().catch((error: Error) => {
  // Configuration errors name the variable; print them without a stack trace.
  console.error(error.name === 'ConfigError' ? error.message : error);
  process.exit(1);
});
