import { Module } from '@nestjs/common';
import { AccountLinksModule } from '../account-links/account-links.module.js';
import { MailModule } from '../mail/mail.module.js';
import { SessionModule } from '../session/session.module.js';
import { UsersModule } from '../users/users.module.js';
import { JobsModule } from './jobs.module.js';
import { MailProcessor } from './processors/mail.processor.js';
import { MaintenanceProcessor } from './processors/maintenance.processor.js';
import { WorkerShutdown } from './worker-shutdown.service.js';

/** The BullMQ consumers: loaded by the worker root (WorkerAppModule), or by the API root with RUN_WORKER_IN_WEB=true. */
@Module({
  imports: [JobsModule, MailModule, AccountLinksModule, SessionModule, UsersModule],
  providers: [MailProcessor, MaintenanceProcessor, WorkerShutdown],
})
export class WorkerModule {}
