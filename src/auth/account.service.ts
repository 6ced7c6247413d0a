import { Injectable } from '@nestjs/common';
import type { AuthenticatedUser } from '../common/decorators/authenticated-user.js';
import type { RequestClient } from '../common/decorators/client.decorator.js';
import { drfValidationError } from '../common/http/drf-errors.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import { RevocationStore } from '../session/revocation-store.service.js';
import type { Session } from '../session/session.entity.js';
import { type RevocationReason, SessionsService } from '../session/sessions.service.js';
import { loginKey } from '../users/login-identifier.js';
import { PasswordHasher } from '../users/password/password-hasher.service.js';
import { validatePassword } from '../users/password/password-validators.js';
import type { User } from '../users/user.entity.js';
import { type ChangedAuthState, UsersService } from '../users/users.service.js';
import { Transactions } from '../database/transactions.service.js';

export const WRONG_OLD_PASSWORD = 'Your old password was entered incorrectly. Please enter it again.';

/**
 * Account-wide changes that revoke tokens: password change and reset, log out everywhere,
 * deactivation. Each is one PostgreSQL transaction — the user row first (which also bumps its auth
 * version), then the sessions — and only after it commits is the result mirrored to Redis. The user
 * row lock orders it against logins in flight (SessionsService.openIfCurrent): a login either
 * inserted its session before the change took the lock, and the change revokes it, or it re-checks
 * the changed row and opens nothing.
 */
@Injectable()
export class AccountService {
  constructor(
    private readonly transactions: Transactions,
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
    // A concurrent change of the same password won first: the old password is not the password any more.
    if (!(await this.setPassword(user, newPassword, caller.sid, 'password_change'))) {
      throw drfValidationError({ old_password: [WRONG_OLD_PASSWORD] });
    }
  }

  /**
   * Sets a new password, if `user.passwordHash` (the hash the caller checked the old password or the
   * reset link against) is still the stored one, and ends every session but `keepSessionId` (none
   * for a reset) in the same transaction. Tokens without a session (issued by the Django system) die
   * through the user cutoff. Returns false, changing nothing, when the password had changed already:
   * of concurrent changes checked against the same password, exactly one wins.
   */
  async setPassword(user: User, newPassword: string, keepSessionId: string | null, reason: RevocationReason): Promise<boolean> {
    const newHash = await this.hasher.hash(newPassword);
    const changed = await this.transactions.run(async (manager) => {
      const state = await this.users.replacePassword(user.id, user.passwordHash, newHash, manager);
      if (!state) return null;
      return { state, revoked: await this.sessions.revokeAllRows(user.id, reason, keepSessionId, manager) };
    });
    if (!changed) return false;
    await this.publish(changed.state, changed.revoked);
    return true;
  }

  /** Log out everywhere: every session of the user ends, the caller's included. */
  async logoutEverywhere(caller: AuthenticatedUser): Promise<number> {
    return (await this.cutOff(caller.id, 'logout_all', false)) ?? 0;
  }

  /** Log out everywhere else: every session but the caller's ends. */
  logoutOthers(caller: AuthenticatedUser): Promise<number> {
    return this.sessions.revokeAll(caller.id, 'logout_all', caller.sid);
  }

  /** Deactivates a user: tokens stop working at once and every session is revoked. */
  async deactivate(userId: number): Promise<boolean> {
    return (await this.cutOff(userId, 'deactivated', true)) !== null;
  }

  /** Moves the cutoff (and maybe deactivates) and revokes every session, in one transaction. */
  private async cutOff(userId: number, reason: RevocationReason, deactivate: boolean): Promise<number | null> {
    const changed = await this.transactions.run(async (manager) => {
      const state = await this.users.cutOffTokens(userId, { deactivate }, manager);
      if (!state) return null;
      return { state, revoked: await this.sessions.revokeAllRows(userId, reason, null, manager) };
    });
    if (!changed) return null;
    await this.publish(changed.state, changed.revoked);
    return changed.revoked.length;
  }

  /** After the commit: drop the caches, then mirror the new state and the revoked sessions to Redis. */
  private async publish(state: ChangedAuthState, revoked: Session[]): Promise<void> {
    await this.users.invalidate(state);
    await Promise.all([this.revocation.putUserState(state.id, state), this.sessions.mirror(state.id, revoked)]);
  }
}
