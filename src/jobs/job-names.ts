/**
 * Queues and the jobs they carry. Payloads hold ids and times, never an address, a token or a link:
 * completed and failed jobs stay in Redis for a while, and anyone who can read Redis could read them.
 */
export const MAIL_QUEUE = 'mail';
export const MAINTENANCE_QUEUE = 'maintenance';

export interface MailJobs {
  /** Send the e-mail-verification link to a user. */
  'verify-email': { userId: number; requestedAt: number };
  /**
   * Send a new verification link to the user who had the requested address at request time, if not
   * yet confirmed; null when nobody had it (the job is written anyway: the same work either way).
   */
  'verify-email-resend': { userId: number | null; requestedAt: number };
  /** Send a password-reset link to the user who had the requested address (nothing for null). */
  'password-reset': { userId: number | null; requestedAt: number };
  /** Welcome a user whose address was just confirmed. */
  welcome: { userId: number };
}

export type MailJobName = keyof MailJobs;

export const FLUSH_EXPIRED_JOB = 'flush-expired';
