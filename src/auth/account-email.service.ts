import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { DomainEvents } from '../common/events/domain-events.js';
import { drfFieldError } from '../common/http/drf-errors.js';
import { nowSeconds } from '../common/time.js';
import { mailConfig } from '../config/mail.config.js';
import { OutboxService } from '../jobs/outbox.service.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { AccountService } from './account.service.js';
import { type AccountTokenPurpose, AccountTokensService } from '../account-links/account-tokens.service.js';
import { Transactions } from '../database/transactions.service.js';

export const INVALID_LINK = 'The link is invalid or has expired.';
export const INVALID_RESET_LINK = 'The password reset link was invalid, possibly because it has already been used.';

/**
 * E-mail verification and password reset. A request resolves the address to a user id and writes an
 * outbox row with it — with a null id when nobody has the address, so both paths do the same work and
 * neither the answer nor its timing tells; the worker sends the link. Past the per-address budget
 * (RATE_LIMIT_MAIL_PER_ADDRESS) nothing is written, and the answer is still the same 202.
 */
@Injectable()
export class AccountEmailService {
  constructor(
    private readonly transactions: Transactions,
    private readonly users: UsersService,
    private readonly account: AccountService,
    private readonly tokens: AccountTokensService,
    private readonly outbox: OutboxService,
    private readonly limits: RateLimitService,
    private readonly events: DomainEvents,
    @Inject(mailConfig.KEY) private readonly config: ConfigType<typeof mailConfig>,
  ) {}

  async requestPasswordReset(email: string): Promise<void> {
    if (!(await this.limits.allowMail('password-reset', email))) return;
    const userId = await this.users.findIdByEmail(email);
    await this.outbox.addMail(this.transactions.none, 'password-reset', { userId, requestedAt: nowSeconds() });
  }

  async resendVerification(email: string): Promise<void> {
    if (!(await this.limits.allowMail('verify-email', email))) return;
    const userId = await this.users.findIdByEmail(email);
    await this.outbox.addMail(this.transactions.none, 'verify-email-resend', { userId, requestedAt: nowSeconds() });
  }

  /** Confirms the address; the welcome e-mail is queued in the same transaction. */
  async confirmEmail(uid: string, token: string): Promise<void> {
    const user = await this.userForLink('verify-email', uid, token, this.config.emailVerificationTimeoutSeconds);
    if (!user) throw drfFieldError('token', INVALID_LINK);
    await this.transactions.run(async (manager) => {
      if (!(await this.users.markEmailVerified(user.id, manager))) throw drfFieldError('token', INVALID_LINK); // confirmed concurrently
      await this.outbox.addMail(manager, 'welcome', { userId: user.id });
    });
    await this.users.invalidate(user);
    this.events.emit('email.verified', { userId: user.id });
  }

  /** Sets the new password; every session of the user ends, and the link cannot be used again. */
  async confirmPasswordReset(uid: string, token: string, newPassword: string): Promise<void> {
    const user = await this.userForLink('password-reset', uid, token, this.config.passwordResetTimeoutSeconds);
    if (!user || !user.isActive) throw drfFieldError('token', INVALID_RESET_LINK);
    this.account.assertAcceptablePassword(newPassword, user, 'new_password');
    // The update is conditional on the hash the link was checked against: of concurrent confirms of
    // one link, the first to commit changes it and the others find the link dead.
    if (!(await this.account.setPassword(user, newPassword, null, 'password_reset'))) {
      throw drfFieldError('token', INVALID_RESET_LINK);
    }
  }

  private async userForLink(purpose: AccountTokenPurpose, uid: string, token: string, maxAge: number): Promise<User | null> {
    const id = AccountTokensService.decodeUid(uid);
    const user = id === null ? null : await this.users.findById(id);
    return user && this.tokens.check(purpose, user, token, maxAge) ? user : null;
  }
}
