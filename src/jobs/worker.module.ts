import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AccountLinksModule } from '../account-links/account-links.module.js';
import { jobsConfig } from '../config/jobs.config.js';
import { mailConfig } from '../config/mail.config.js';
import { MailModule } from '../mail/mail.module.js';
import { SessionModule } from '../session/session.module.js';
import { UsersModule } from '../users/users.module.js';
import { JobsModule } from './jobs.module.js';
import { MailProcessor } from './processors/mail.processor.js';
import { MaintenanceProcessor } from './processors/maintenance.processor.js';
import { WorkerShutdown } from './worker-shutdown.service.js';

/** The BullMQ consumers: loaded by the worker root (WorkerAppModule), or by the API root with RUN_WORKER_IN_WEB=true. */
@Module({
  imports: [ConfigModule.forFeature(jobsConfig), ConfigModule.forFeature(mailConfig), JobsModule, MailModule, AccountLinksModule, SessionModule, UsersModule],
  providers: [MailProcessor, MaintenanceProcessor, WorkerShutdown],
})
export class WorkerModule {}
