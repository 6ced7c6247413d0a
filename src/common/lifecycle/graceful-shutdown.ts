import { type INestApplicationContext, Logger } from '@nestjs/common';

/**
 * On SIGTERM (Heroku's restart, scale-down, deploy) or SIGINT: stop taking new work, let what is in
 * flight finish, close pools and connections (Nest's onModuleDestroy hooks), and exit 0. If that
 * takes longer than `graceMs`, exit 1 anyway — Heroku sends SIGKILL 30 s after SIGTERM.
 */
export function exitGracefullyOnSignals(app: INestApplicationContext, graceMs: number, name: string): void {
  const logger = new Logger('Shutdown');
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.log(`${signal} received: ${name} is shutting down`);
    const timer = setTimeout(() => {
      logger.error(`${name} did not shut down within ${graceMs} ms; exiting`);
      process.exit(1);
    }, graceMs);
    timer.unref();
    app
      .close()
      .then(() => process.exit(0))
      .catch((error: Error) => {
        logger.error(`shutdown failed: ${error.message}`);
        process.exit(1);
      });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
