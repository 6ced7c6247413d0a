import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';

/**
 * The service's domain events: what happened, after it committed, for any module that must know
 * (`@OnEvent(name, { async: true })` on a provider). Payloads carry ids and reasons, never a secret.
 *
 * They are in-process and best effort: listeners run after the current work (the emitter does not
 * wait for them) and a failure is logged, never answered to the client. Listen with a plain
 * `@OnEvent(name)`: `{ async: true, suppressErrors: false }` would leave a failure unhandled. What must not be lost — an e-mail — is not an event but an
 * outbox row written in the change's own transaction (OutboxService), relayed to BullMQ by the worker.
 */
export interface DomainEventMap {
  'user.registered': { userId: number };
  'user.logged_in': { userId: number; sessionId: string };
  /** Sessions ended (logout, revoke, reuse detected, password change, …). */
  'session.revoked': { userId: number; sessionIds: string[]; reason: string };
  /** Every token of the user issued before now is dead (log out everywhere, deactivation, logout of a Django token). */
  'user.cut_off': { userId: number; reason: string; deactivated: boolean };
  'password.changed': { userId: number; reason: 'password_change' | 'password_reset' };
  'email.verified': { userId: number };
}

export type DomainEventName = keyof DomainEventMap;

@Injectable()
export class DomainEvents {
  private readonly logger = new Logger(DomainEvents.name);

  constructor(private readonly emitter: EventEmitter2) {}

  /**
   * Tells the listeners on the next turn of the event loop, without waiting for them; never throws.
   * Whatever a listener throws or rejects with is logged (here, or by @nestjs/event-emitter when the
   * listener keeps its default suppressErrors), so the request that caused the event never fails
   * nor waits because of a listener.
   */
  emit<Name extends DomainEventName>(name: Name, payload: DomainEventMap[Name]): void {
    setImmediate(() => {
      const failed = (error: unknown) => this.logger.error(`a listener of ${name} failed: ${(error as Error).message}`);
      // Each listener on its own: one that throws does not stop the others (emitAsync stops at the
      // first throw), and every failure is logged (emitAsync's Promise.all reports only the first).
      for (const listener of this.emitter.listeners(name)) {
        try {
          Promise.resolve(listener.call(this.emitter, payload)).catch(failed);
        } catch (error) {
          failed(error);
        }
      }
    });
  }
}
