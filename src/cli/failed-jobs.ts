import 'reflect-metadata';
import { getQueueToken } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Queue } from 'bullmq';
import { CoreModule } from '../core.module.js';
import { MAIL_QUEUE, MAINTENANCE_QUEUE } from '../jobs/job-names.js';
import { JobsModule } from '../jobs/jobs.module.js';

/**
 * `npm run jobs:failed` lists the jobs that used up their attempts; `npm run jobs:failed -- --retry`
 * puts them back in their queue (after fixing the cause, e.g. setting SMTP_URL).
 */
@Module({ imports: [CoreModule.forRoot(), JobsModule] })
class FailedJobsCommand {}

async function main(): Promise<void> {
  const retry = process.argv.includes('--retry');
  const app = await NestFactory.createApplicationContext(FailedJobsCommand, { logger: ['error', 'warn'] });
  try {
    for (const name of [MAIL_QUEUE, MAINTENANCE_QUEUE]) {
      const queue = app.get<Queue>(getQueueToken(name));
      const failed = await queue.getFailed();
      console.log(`${name}: ${failed.length} failed job(s)`);
      for (const job of failed) {
        console.log(`  ${job.id} ${job.name} attempts=${job.attemptsMade} failed=${new Date(job.finishedOn ?? 0).toISOString()} reason=${job.failedReason}`);
        if (retry) await job.retry('failed');
      }
      if (retry && failed.length > 0) console.log(`  retried ${failed.length}`);
    }
  } finally {
    await app.close();
  }
}

main().catch((error: Error) => {
  console.error(`jobs:failed: ${error.message}`);
  process.exit(1);
});
