/** Queues and the jobs they carry. Payloads hold ids and times, never a token or a link. */
export const MAIL_QUEUE = 'mail';
export const MAINTENANCE_QUEUE = 'maintenance';

export interface MailJobs {
  /** Send the e-mail-verification link to a user. */
  'verify-email': { userId: number; requestedAt: number };
  /** Send a new verification link to whoever owns this address, if not yet confirmed. */
  'verify-email-resend': { email: string; requestedAt: number };
  /** Send a password-reset link to whoever owns this address (nothing if nobody does). */
  'password-reset': { email: string; requestedAt: number };
  /** Welcome a user whose address was just confirmed. */
  welcome: { userId: number };
}

export type MailJobName = keyof MailJobs;

export const FLUSH_EXPIRED_JOB = 'flush-expired';
