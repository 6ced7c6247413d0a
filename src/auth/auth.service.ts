import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { authConfig } from '../config/auth.config.js';
import { OutboxService } from '../jobs/outbox.service.js';
import type { SessionPrincipal } from '../common/auth/principal.js';
import type { RequestClient } from '../common/decorators/client.decorator.js';
import { DomainEvents } from '../common/events/domain-events.js';
import { nowSeconds } from '../common/time.js';
import { DrfException, drfValidationError, noActiveAccount, tokenNotValid } from '../common/http/drf-errors.js';
import { Metrics, type RefreshResult } from '../metrics/metrics.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import { RevocationStore } from '../session/revocation-store.service.js';
import { SessionsService } from '../session/sessions.service.js';
import type { RegisterDto } from './dto/register.dto.js';
import { loginKey } from '../users/login-identifier.js';
import { PasswordHasher } from '../users/password/password-hasher.service.js';
import { validatePassword } from '../users/password/password-validators.js';
import type { User } from '../users/user.entity.js';
import { DuplicateUserError, UsersService } from '../users/users.service.js';
import { type TokenClaims, TokensService } from './tokens.service.js';
import { Transactions } from '../database/transactions.service.js';

export const DUPLICATE_MESSAGES = {
  username: 'A user with that username already exists.',
  email: 'A user with that email address already exists.',
} as const;

const REFRESH_RESULTS = { rotated: 'success', grace: 'grace', reuse: 'reuse_detected', invalid: 'invalid' } as const satisfies Record<
  Awaited<ReturnType<SessionsService['rotate']>>['kind'],
  RefreshResult
>;

export interface TokenPair {
  refresh: string;
  access: string;
}

/** The token and account flows behind AuthController. */
@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly hasher: PasswordHasher,
    private readonly sessions: SessionsService,
    private readonly revocation: RevocationStore,
    private readonly tokens: TokensService,
    private readonly limits: RateLimitService,
    private readonly outbox: OutboxService,
    private readonly metrics: Metrics,
    private readonly events: DomainEvents,
    private readonly transactions: Transactions,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {}

  async register(input: RegisterDto): Promise<User> {
    const errors: Record<string, string[]> = {};
    for (const field of await this.users.findTakenFields(input.username, input.email)) {
      errors[field] = [DUPLICATE_MESSAGES[field]];
    }
    const passwordProblems = validatePassword(input.password, { username: input.username, email: input.email });
    if (passwordProblems.length > 0) errors.password = passwordProblems;
    if (Object.keys(errors).length > 0) throw drfValidationError(errors);

    const passwordHash = await this.hasher.hash(input.password);
    let created: User;
    try {
      // The user and the intent to send the verification e-mail commit together (outbox): the
      // e-mail must not be lost, so it is not left to an event listener.
      created = await this.transactions.run(async (manager) => {
        const user = await this.users.create({ username: input.username, email: input.email, passwordHash }, manager);
        await this.outbox.addMail(manager, 'verify-email', { userId: user.id, requestedAt: nowSeconds() });
        return user;
      });
    } catch (error) {
      // Lost a race with a concurrent registration of the same name or address.
      if (error instanceof DuplicateUserError) {
        throw drfValidationError(Object.fromEntries(error.fields.map((field) => [field, [DUPLICATE_MESSAGES[field]]])));
      }
      throw error;
    }
    this.events.emit('user.registered', { userId: created.id });
    return created;
  }

  /**
   * Logs in with a username or an e-mail address. A wrong password, an unknown user and an inactive
   * account all get the same answer, after the same amount of work (an argon2 verify), and cost the
   * same point of the login budgets — taken before anything is looked up or checked, and given back
   * only for a login that succeeds (see RateLimitService.takeLoginAttempt).
   */
  async login(identifier: string, password: string, client: RequestClient): Promise<TokenPair> {
    try {
      const pair = await this.checkAndOpen(identifier, password, client);
      this.metrics.login('success');
      return pair;
    } catch (error) {
      this.metrics.login(error instanceof DrfException && error.getStatus() === HttpStatus.TOO_MANY_REQUESTS ? 'rate_limited' : 'failure');
      throw error;
    }
  }

  private async checkAndOpen(identifier: string, password: string, client: RequestClient): Promise<TokenPair> {
    const attempt = await this.limits.takeLoginAttempt(loginKey(identifier), client.ip);
    const user = await this.users.findByLoginIdentifier(identifier);
    if (!user) {
      await this.hasher.burn(password);
      throw noActiveAccount();
    }
    const { ok, needsRehash } = await this.hasher.verify(user.passwordHash, password);
    if (!ok || !user.isActive) throw noActiveAccount();
    // Unconfirmed addresses may log in unless ALLOW_UNVERIFIED_LOGIN=false (then: as if inactive).
    // The point stays taken, as for a wrong password: giving it back would tell the password was right.
    if (!this.auth.allowUnverifiedLogin && !user.emailVerifiedAt) throw noActiveAccount();
    // The session opens only if the hash just verified is still the stored one (SessionsService.openIfCurrent).
    let checkedHash = user.passwordHash;
    if (needsRehash) {
      // e.g. a Django pbkdf2_sha256 hash: upgrade it to argon2id now that we know the password.
      const upgraded = await this.hasher.hash(password);
      if (await this.users.rehashPassword(user.id, user.passwordHash, upgraded)) checkedHash = upgraded;
    }
    const opened = await this.openSession(user.id, client, { passwordHash: checkedHash });
    // The password changed (or the account was deactivated) since it was checked: the change wins.
    if (!opened) throw noActiveAccount();
    await attempt.succeeded();
    // last_login is written by a listener (users/LastLoginRecorder), after the answer.
    this.events.emit('user.logged_in', { userId: user.id, sessionId: opened.sessionId });
    return opened.pair;
  }

  private async openSession(
    userId: number,
    client: RequestClient,
    credential: Parameters<SessionsService['openIfCurrent']>[2],
  ): Promise<{ pair: TokenPair; sessionId: string } | null> {
    const head = await this.sessions.openIfCurrent(userId, client, credential);
    if (!head) return null;
    const pair = { refresh: this.tokens.refreshTokenFor(head), access: this.tokens.issueAccess(userId, head.sessionId).token };
    return { pair, sessionId: head.sessionId };
  }

  /** Refresh with rotation: the presented refresh token is consumed; see SessionsService.rotate. */
  async refresh(token: string, client: RequestClient): Promise<{ access: string; refresh: string }> {
    let claims: TokenClaims;
    try {
      claims = this.tokens.verify(token, 'refresh');
      await this.assertNotRevoked(claims);
    } catch (error) {
      this.metrics.refresh(error instanceof DrfException && (error.body as { detail?: string }).detail === 'Token is blacklisted' ? 'revoked' : 'invalid');
      throw error;
    }
    if (!claims.sid) return this.adoptLegacyRefresh(claims, client);
    const result = await this.sessions.rotate(claims.user_id, claims.sid, claims.jti, client);
    this.metrics.refresh(REFRESH_RESULTS[result.kind]);
    if (result.kind === 'rotated' || result.kind === 'grace') {
      return {
        access: this.tokens.issueAccess(claims.user_id, claims.sid).token,
        refresh: this.tokens.refreshTokenFor(result.head),
      };
    }
    throw tokenNotValid('Token is blacklisted');
  }

  /**
   * A refresh token issued by the Django system (no `sid`): consume it once (blacklist insert is the
   * atomic step) and open a session for it, so migrated clients keep their login.
   */
  private async adoptLegacyRefresh(claims: TokenClaims, client: RequestClient): Promise<{ access: string; refresh: string }> {
    if (!(await this.sessions.blacklist(claims.user_id, claims.jti, claims.exp))) {
      this.metrics.refresh('revoked');
      throw tokenNotValid('Token is blacklisted');
    }
    // Opens only for an active user whose cutoff the token still outlives, checked in the insert itself.
    const opened = await this.openSession(claims.user_id, client, { issuedAt: claims.iat });
    this.metrics.refresh(opened ? 'success' : 'invalid');
    if (!opened) throw tokenNotValid();
    return { access: opened.pair.access, refresh: opened.pair.refresh };
  }

  private async assertNotRevoked(claims: TokenClaims): Promise<void> {
    const verdict = await this.revocation.check(claims.user_id, claims.sid ?? null, claims.iat);
    if (verdict === 'revoked') throw tokenNotValid('Token is blacklisted');
    if (verdict !== 'ok') throw tokenNotValid();
  }

  /** simplejwt's verify: any token type; here it also says whether the token was revoked. */
  async verify(token: string): Promise<void> {
    const claims = this.tokens.verify(token);
    await this.assertNotRevoked(claims);
    if (claims.token_type !== 'refresh') return;
    if (claims.sid) {
      const session = await this.sessions.findSession(claims.user_id, claims.sid);
      if (!session || session.refreshJti !== claims.jti) {
        // A rotated-out refresh token is dead (simplejwt's BLACKLIST_AFTER_ROTATION).
        throw tokenNotValid('Token is blacklisted');
      }
    } else if (await this.sessions.isBlacklisted(claims.jti)) {
      throw tokenNotValid('Token is blacklisted');
    }
  }

  /** simplejwt's blacklist view; here the token's session ends too, access tokens included. */
  async blacklist(token: string): Promise<void> {
    const claims = this.tokens.verify(token, 'refresh');
    if (!(await this.sessions.blacklist(claims.user_id, claims.jti, claims.exp))) {
      throw tokenNotValid('Token is blacklisted');
    }
    if (claims.sid) await this.sessions.revoke(claims.user_id, claims.sid, 'blacklist');
  }

  /**
   * Ends the caller's session at once; a refresh token sent along ends its session too. A token of
   * the Django system has no session to end: its logout moves the user's cutoff for such tokens to
   * now, so it (and every other sid-less token of the user, down to those issued in this very second)
   * stops working.
   */
  async logout(caller: SessionPrincipal, refresh: string | undefined): Promise<void> {
    if (caller.sessionId) {
      await this.sessions.revoke(caller.userId, caller.sessionId, 'logout');
    } else {
      await this.sessions.cutOff(caller.userId, 'logout', { endSessions: false });
    }
    if (refresh) {
      let claims: TokenClaims | undefined;
      try {
        claims = this.tokens.verify(refresh, 'refresh');
      } catch {
        claims = undefined; // an unusable refresh token has nothing left to end
      }
      if (claims && claims.user_id === caller.userId) {
        await this.sessions.blacklist(claims.user_id, claims.jti, claims.exp);
        if (claims.sid && claims.sid !== caller.sessionId) await this.sessions.revoke(caller.userId, claims.sid, 'logout');
      }
    }
  }
}
