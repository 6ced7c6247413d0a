import { createHmac, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { authConfig } from '../config/auth.config.js';
import { MAX_USER_ID, type User } from '../users/user.entity.js';

export type AccountTokenPurpose = 'password-reset' | 'verify-email';

/**
 * Single-purpose links in the style of Django's PasswordResetTokenGenerator: `<timestamp>-<hmac>`,
 * where the HMAC covers the parts of the user that the link must outlive. Nothing is stored:
 * - a reset link dies when the password (hash) changes — so it works once — or the address changes,
 *   or the account is deactivated (unlike Django, a later login does not kill it: last_login is
 *   written in the background, so it cannot be part of the signed state);
 * - a verification link dies once the address is confirmed or changed.
 */
@Injectable()
export class AccountTokensService {
  private readonly keys: Record<AccountTokenPurpose, Buffer>;

  constructor(@Inject(authConfig.KEY) config: ConfigType<typeof authConfig>) {
    const derive = (purpose: string) => createHmac('sha256', config.signingKey).update(`auth-service.account-token.${purpose}`).digest();
    this.keys = { 'password-reset': derive('password-reset'), 'verify-email': derive('verify-email') };
  }

  /** The user id as it appears in links (Django's urlsafe_base64_encode of the pk). */
  static encodeUid(id: number): string {
    return Buffer.from(String(id)).toString('base64url');
  }

  /** The user id of a link, or null; never an id PostgreSQL's integer column could not take. */
  static decodeUid(uid: string): number | null {
    const decoded = Buffer.from(uid, 'base64url').toString('utf8');
    const id = Number(decoded);
    return /^\d{1,10}$/.test(decoded) && id >= 1 && id <= MAX_USER_ID ? id : null;
  }

  make(purpose: AccountTokenPurpose, user: User, issuedAt: number): string {
    const timestamp = issuedAt.toString(36);
    return `${timestamp}-${this.signature(purpose, user, timestamp)}`;
  }

  check(purpose: AccountTokenPurpose, user: User, token: string, maxAgeSeconds: number): boolean {
    const match = /^([0-9a-z]{1,10})-([0-9a-f]{40})$/.exec(token);
    if (!match) return false;
    const [, timestamp, signature] = match;
    const expected = this.signature(purpose, user, timestamp);
    if (!timingSafeEqual(Buffer.from(signature), Buffer.from(expected))) return false;
    const age = Math.floor(Date.now() / 1000) - parseInt(timestamp, 36);
    return age >= 0 && age <= maxAgeSeconds;
  }

  private signature(purpose: AccountTokenPurpose, user: User, timestamp: string): string {
    const state =
      purpose === 'password-reset'
        ? [user.id, user.passwordHash, user.email, user.isActive]
        : [user.id, user.email, user.emailVerifiedAt?.getTime() ?? ''];
    return createHmac('sha256', this.keys[purpose]).update(`${state.join('|')}|${timestamp}`).digest('hex').slice(0, 40);
  }
}
