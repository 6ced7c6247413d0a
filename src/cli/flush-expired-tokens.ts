import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module.js';
import { SessionsService } from '../session/sessions.service.js';

/** `npm run tokens:flush`: Django's flushexpiredtokens — deletes expired sessions and blacklist rows. */
async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule.forRoot({ worker: false }), { logger: ['error', 'warn'] });
  try {
    const removed = await app.get(SessionsService).flushExpired();
    console.log(`removed ${removed.sessions} expired sessions and ${removed.blacklisted} expired blacklist rows`);
  } finally {
    await app.close();
  }
}

main().catch((error: Error) => {
  console.error(`tokens:flush failed: ${error.message}`);
  process.exit(1);
});
