import { getQueueToken } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AccountLinksModule } from '../account-links/account-links.module.js';
import { MAINTENANCE_QUEUE } from '../jobs/job-names.js';
import { MailProcessor } from '../jobs/processors/mail.processor.js';
import { MaintenanceProcessor } from '../jobs/processors/maintenance.processor.js';
import { MailModule } from '../mail/mail.module.js';
import { SessionModule } from '../session/session.module.js';
import { UsersModule } from '../users/users.module.js';
import { InProcessJobRunner } from './in-process-job-runner.service.js';
import { InProcessScheduler } from './in-process-scheduler.js';

/**
 * WorkerModule's processors without BullMQ: embedded mode runs them in the web process from the
 * outbox (InProcessJobRunner). No BullMQ queue or worker is created, so nothing connects to Redis.
 */
@Module({
  imports: [MailModule, AccountLinksModule, SessionModule, UsersModule],
  providers: [
    MailProcessor,
    MaintenanceProcessor,
    InProcessScheduler,
    // MaintenanceProcessor injects its BullMQ queue to upsert its schedule: the scheduler stands in.
    { provide: getQueueToken(MAINTENANCE_QUEUE), useExisting: InProcessScheduler },
    InProcessJobRunner,
  ],
})
export class InProcessJobsModule {}
