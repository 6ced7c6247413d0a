import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { MAIL_QUEUE, type MailJobName, type MailJobs } from './job-names.js';

/** The channel on which a commit that wrote outbox rows wakes the relay (PostgreSQL NOTIFY). */
export const OUTBOX_CHANNEL = 'auth_outbox';

/**
 * Transactional outbox, producer side: a job that must not be lost (an e-mail) is written to
 * PostgreSQL in the same transaction as the change that needs it, with a NOTIFY that PostgreSQL
 * delivers at commit. The worker's OutboxRelay moves it to BullMQ. The web process needs neither
 * BullMQ nor Redis for this, so a request that needs an e-mail succeeds while Redis is down.
 */
@Injectable()
export class OutboxService {
  async addMail<Name extends MailJobName>(manager: EntityManager, name: Name, payload: MailJobs[Name]): Promise<void> {
    await manager.query('INSERT INTO outbox (queue, name, payload) VALUES ($1, $2, $3::jsonb)', [MAIL_QUEUE, name, JSON.stringify(payload)]);
    await manager.query('SELECT pg_notify($1, NULL)', [OUTBOX_CHANNEL]);
  }
}
