import { Injectable } from '@nestjs/common';
import type { SessionPrincipal } from '../common/auth/principal.js';
import type { RequestClient } from '../common/decorators/client.decorator.js';
import { DomainEvents } from '../common/events/domain-events.js';
import { drfValidationError } from '../common/http/drf-errors.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import { SessionsService } from '../session/sessions.service.js';
import { loginKey } from '../users/login-identifier.js';
import { PasswordHasher } from '../users/password/password-hasher.service.js';
import { validatePassword } from '../users/password/password-validators.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';

export const WRONG_OLD_PASSWORD = 'Your old password was entered incorrectly. Please enter it again.';

/**
 * Account-wide changes that revoke tokens: password change and reset, log out everywhere,
 * deactivation. Each is one call to SessionsService (endSessionsWith, cutOff): one PostgreSQL
 * transaction — the user row first (which also bumps its auth version), then the sessions — mirrored
 * to Redis only after it commits. The user row lock orders it against logins in flight
 * (SessionsService.openIfCurrent): a login either inserted its session before the change took the
 * lock, and the change revokes it, or it re-checks the changed row and opens nothing.
 */
@Injectable()
export class AccountService {
  constructor(
    private readonly users: UsersService,
    private readonly hasher: PasswordHasher,
    private readonly sessions: SessionsService,
    private readonly limits: RateLimitService,
    private readonly events: DomainEvents,
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
  async changePassword(caller: SessionPrincipal, oldPassword: string, newPassword: string, client: RequestClient): Promise<void> {
    const user = await this.users.findById(caller.userId);
    if (!user) throw drfValidationError({ old_password: [WRONG_OLD_PASSWORD] });
    const attempt = await this.limits.takeLoginAttempt(loginKey(user.username), client.ip);
    const { ok } = await this.hasher.verify(user.passwordHash, oldPassword);
    if (!ok) throw drfValidationError({ old_password: [WRONG_OLD_PASSWORD] });
    await attempt.succeeded();
    this.assertAcceptablePassword(newPassword, user, 'new_password');
    // A concurrent change of the same password won first: the old password is not the password any more.
    if (!(await this.setPassword(user, newPassword, caller.sessionId, 'password_change'))) {
      throw drfValidationError({ old_password: [WRONG_OLD_PASSWORD] });
    }
  }

  /**
   * Sets a new password, if `user.passwordHash` (the hash the caller checked the old password or the
   * reset link against) is still the stored one, and ends every session but `keepSessionId` (none
   * for a reset) in the same transaction (SessionsService.endSessionsWith). Tokens without a session
   * (issued by the Django system) die through the user cutoff. Returns false, changing nothing, when
   * the password had changed already: of concurrent changes checked against the same password,
   * exactly one wins.
   */
  async setPassword(user: User, newPassword: string, keepSessionId: string | null, reason: 'password_change' | 'password_reset'): Promise<boolean> {
    const newHash = await this.hasher.hash(newPassword);
    const ended = await this.sessions.endSessionsWith(user.id, reason, keepSessionId, (manager) =>
      this.users.replacePassword(user.id, user.passwordHash, newHash, manager),
    );
    if (ended === null) return false;
    this.events.emit('password.changed', { userId: user.id, reason });
    return true;
  }

  /** Log out everywhere: every session of the user ends, the caller's included. */
  async logoutEverywhere(caller: SessionPrincipal): Promise<number> {
    return (await this.sessions.cutOff(caller.userId, 'logout_all')) ?? 0;
  }

  /** Log out everywhere else: every session but the caller's ends. */
  logoutOthers(caller: SessionPrincipal): Promise<number> {
    return this.sessions.revokeAll(caller.userId, 'logout_all', caller.sessionId);
  }

  /** Deactivates a user: tokens stop working at once and every session is revoked. */
  async deactivate(userId: number): Promise<boolean> {
    return (await this.sessions.cutOff(userId, 'deactivated', { deactivate: true })) !== null;
  }
}
