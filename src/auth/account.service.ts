import { Injectable } from '@nestjs/common';
import type { AuthenticatedUser } from '../common/decorators/authenticated-user.js';
import type { RequestClient } from '../common/decorators/client.decorator.js';
import { drfValidationError } from '../common/http/drf-errors.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import { RevocationStore } from '../session/revocation-store.service.js';
import { type RevocationReason, SessionsService } from '../session/sessions.service.js';
import { loginKey } from '../users/login-identifier.js';
import { PasswordHasher } from '../users/password/password-hasher.service.js';
import { validatePassword } from '../users/password/password-validators.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';

export const WRONG_OLD_PASSWORD = 'Your old password was entered incorrectly. Please enter it again.';

/**
 * Account-wide changes that revoke tokens: password change and reset, log out everywhere,
 * deactivation. Each writes PostgreSQL first (the truth), then mirrors to Redis.
 */
@Injectable()
export class AccountService {
  constructor(
    private readonly users: UsersService,
    private readonly hasher: PasswordHasher,
    private readonly sessions: SessionsService,
    private readonly revocation: RevocationStore,
    private readonly limits: RateLimitService,
  ) {}

  /** Django's validators on a new password, as a 400 under `field`. */
  assertAcceptablePassword(password: string, user: Pick<User, 'username' | 'email'>, field: string): void {
    const problems = validatePassword(password, { username: user.username, email: user.email });
    if (problems.length > 0) throw drfValidationError({ [field]: problems });
  }

  /**
   * Changes the caller's password; every other session ends, the caller's continues. The old
   * password is a password check like a login's (a stolen access token must not buy unlimited
   * guesses): it takes its point of the login budgets of the caller's username first.
   */
  async changePassword(caller: AuthenticatedUser, oldPassword: string, newPassword: string, client: RequestClient): Promise<void> {
    const user = await this.users.findById(caller.id);
    if (!user) throw drfValidationError({ old_password: [WRONG_OLD_PASSWORD] });
    const attempt = await this.limits.takeLoginAttempt(loginKey(user.username), client.ip);
    const { ok } = await this.hasher.verify(user.passwordHash, oldPassword);
    if (!ok) throw drfValidationError({ old_password: [WRONG_OLD_PASSWORD] });
    await attempt.succeeded();
    this.assertAcceptablePassword(newPassword, user, 'new_password');
    await this.setPassword(user, newPassword, caller.sid, 'password_change');
  }

  /**
   * Sets a new password and ends every session but `keepSessionId` (none for a reset). Tokens
   * without a session (issued by the Django system) die through the user cutoff.
   */
  async setPassword(user: User, newPassword: string, keepSessionId: string | null, reason: RevocationReason): Promise<void> {
    await this.users.setPasswordHash(user, await this.hasher.hash(newPassword));
    await this.cutOff(user);
    await this.sessions.revokeAll(user.id, reason, keepSessionId);
  }

  /** Log out everywhere: every session of the user ends, the caller's included. */
  async logoutEverywhere(caller: AuthenticatedUser): Promise<number> {
    const user = await this.users.findById(caller.id);
    if (user) await this.cutOff(user);
    return this.sessions.revokeAll(caller.id, 'logout_all');
  }

  /** Log out everywhere else: every session but the caller's ends. */
  logoutOthers(caller: AuthenticatedUser): Promise<number> {
    return this.sessions.revokeAll(caller.id, 'logout_all', caller.sid);
  }

  /** Deactivates a user: tokens stop working at once and every session is revoked. */
  async deactivate(userId: number): Promise<boolean> {
    const user = await this.users.findById(userId);
    if (!user) return false;
    await this.cutOff(user, true);
    await this.sessions.revokeAll(user.id, 'deactivated');
    return true;
  }

  private async cutOff(user: User, deactivate = false): Promise<void> {
    await this.users.cutOffTokens(user, { deactivate });
    await this.revocation.putUserState(user.id, user);
  }
}
