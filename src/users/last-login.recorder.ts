import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import type { DomainEventMap } from '../common/events/domain-events.js';
import { UsersService } from './users.service.js';

/** last_login writes of this window go to PostgreSQL in one UPDATE. */
export const LAST_LOGIN_BATCH_MS = 250;

/**
 * Keeps `users.last_login` (Django's column) up to date from `user.logged_in` events, without making
 * the login wait: the logins of the next LAST_LOGIN_BATCH_MS are written together in one UPDATE (one
 * PostgreSQL transaction instead of one per login under load). Pending ones are written at shutdown.
 * A failed write is logged and dropped: last_login is informational, never a security decision.
 */
@Injectable()
export class LastLoginRecorder implements OnModuleDestroy {
  private readonly logger = new Logger(LastLoginRecorder.name);
  private readonly pending = new Set<number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly users: UsersService) {}

  @OnEvent('user.logged_in')
  onLoggedIn({ userId }: DomainEventMap['user.logged_in']): void {
    this.pending.add(userId);
    this.timer ??= setTimeout(() => void this.flush(), LAST_LOGIN_BATCH_MS);
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const ids = [...this.pending];
    this.pending.clear();
    if (ids.length === 0) return;
    await this.users
      .recordLogins(ids)
      .catch((error: Error) => this.logger.warn(`last_login update failed for ${ids.length} user(s): ${error.message}`));
  }

  async onModuleDestroy(): Promise<void> {
    await this.flush();
  }
}
