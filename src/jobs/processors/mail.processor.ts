import { Processor } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { Job } from 'bullmq';
import { AccountTokensService } from '../../account-links/account-tokens.service.js';
import { mailConfig } from '../../config/mail.config.js';
import { jobsConfig } from '../../config/jobs.config.js';
import { MailService } from '../../mail/mail.service.js';
import { MailTemplates } from '../../mail/mail-templates.js';
import { UsersService } from '../../users/users.service.js';
import { MAIL_QUEUE, type MailJobs } from '../job-names.js';
import { LoggedWorkerHost } from './logged-worker-host.js';

/** The payload of reset and resend jobs written before they carried ids (rows still in the outbox at deploy). */
interface LegacyAddressJob {
  email: string;
  requestedAt: number;
}

/**
 * Builds and sends the service's e-mails. Jobs carry ids and times only; links (with their tokens)
 * are made here, at send time, and never logged. A job whose user is gone is done, not failed.
 */
@Processor(MAIL_QUEUE, { concurrency: jobsConfig().mailConcurrency })
export class MailProcessor extends LoggedWorkerHost {
  protected readonly logger = new Logger(MailProcessor.name);

  constructor(
    private readonly mail: MailService,
    private readonly users: UsersService,
    private readonly tokens: AccountTokensService,
    @Inject(mailConfig.KEY) private readonly config: ConfigType<typeof mailConfig>,
  ) {
    super();
  }

  async process(job: Job): Promise<string> {
    switch (job.name) {
      case 'verify-email':
        return this.verifyEmail(job.data as MailJobs['verify-email']);
      case 'verify-email-resend':
        return this.resendVerification(job.data as MailJobs['verify-email-resend']);
      case 'password-reset':
        return this.passwordReset(job.data as MailJobs['password-reset']);
      case 'welcome':
        return this.welcome(job.data as MailJobs['welcome']);
      default:
        throw new Error(`unknown mail job ${job.name}`);
    }
  }

  private async verifyEmail({ userId, requestedAt }: MailJobs['verify-email']): Promise<string> {
    const user = await this.users.findById(userId);
    if (!user || user.emailVerifiedAt) return 'skipped: no unverified user';
    const token = this.tokens.make('verify-email', user, requestedAt);
    const link = this.link('verify-email', user.id, token);
    await this.mail.send(user.email, {
      ...MailTemplates.verifyEmail(user.username, link, Math.round(this.config.emailVerificationTimeoutSeconds / 3600)),
      apiCall: { path: '/api/email/verify/', body: { uid: AccountTokensService.encodeUid(user.id), token } },
    });
    this.logger.log(`sent verify-email to user ${user.id}`);
    return 'sent';
  }

  private async resendVerification(data: MailJobs['verify-email-resend'] | LegacyAddressJob): Promise<string> {
    const userId = await this.userIdOf(data);
    if (userId === null) return 'skipped: no such address';
    return this.verifyEmail({ userId, requestedAt: data.requestedAt });
  }

  private async passwordReset(data: MailJobs['password-reset'] | LegacyAddressJob): Promise<string> {
    const userId = await this.userIdOf(data);
    const user = userId === null ? null : await this.users.findById(userId);
    if (!user || !user.isActive) return 'skipped: no active account';
    const { requestedAt } = data;
    const token = this.tokens.make('password-reset', user, requestedAt);
    const link = this.link('reset-password', user.id, token);
    await this.mail.send(user.email, {
      ...MailTemplates.passwordReset(user.username, link, Math.round(this.config.passwordResetTimeoutSeconds / 60)),
      apiCall: { path: '/api/password/reset/confirm/', body: { uid: AccountTokensService.encodeUid(user.id), token, new_password: '<a new password>' } },
    });
    this.logger.log(`sent password-reset to user ${user.id}`);
    return 'sent';
  }

  private async welcome({ userId }: MailJobs['welcome']): Promise<string> {
    const user = await this.users.findById(userId);
    if (!user) return 'skipped: no such user';
    await this.mail.send(user.email, MailTemplates.welcome(user.username));
    this.logger.log(`sent welcome to user ${user.id}`);
    return 'sent';
  }

  /** The user of a job; jobs written by a version before ids replaced addresses carry the address. */
  private async userIdOf(data: { userId: number | null } | LegacyAddressJob): Promise<number | null> {
    if ('email' in data) return (await this.users.findByEmail(data.email))?.id ?? null;
    return data.userId;
  }

  private link(path: string, userId: number, token: string): string {
    const query = new URLSearchParams({ uid: AccountTokensService.encodeUid(userId), token });
    return `${this.config.appUrl}/${path}?${query.toString()}`;
  }
}
