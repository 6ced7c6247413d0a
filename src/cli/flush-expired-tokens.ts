import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CoreModule } from '../core.module.js';
import { SessionModule } from '../session/session.module.js';
import { SessionsService } from '../session/sessions.service.js';

@Module({ imports: [CoreModule.forRoot(), SessionModule] })
class FlushExpiredTokensCommand {}

/** `npm run tokens:flush`: Django's flushexpiredtokens — deletes expired sessions and blacklist rows. */
async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(FlushExpiredTokensCommand, { logger: ['error', 'warn'] });
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
