import { registerAs } from '@nestjs/config';
import { ConfigError, type Env, envInt, envOptionalString, envString, isProduction } from './env.js';

export function readMailConfig(env: Env) {
  const smtpUrl = envOptionalString(env, 'SMTP_URL');
  if (smtpUrl && !/^smtps?:\/\//.test(smtpUrl)) throw new ConfigError('SMTP_URL', 'must start with smtp:// or smtps://');
  const appUrl = envString(env, 'APP_URL', 'http://localhost:3000').replace(/\/+$/, '');
  try {
    new URL(appUrl);
  } catch {
    throw new ConfigError('APP_URL', 'is not a valid URL');
  }
  return {
    /** smtp://user:pass@host:587 or smtps://…; unset in development = messages go to the log. */
    smtpUrl,
    production: isProduction(env),
    from: envString(env, 'MAIL_FROM', 'Auth service <no-reply@localhost>'),
    /** Base of the links in e-mails (the front end that handles /verify-email and /reset-password). */
    appUrl,
    /** This service on this machine, for the curl commands printed with development e-mails. */
    localApiUrl: `http://localhost:${envInt(env, 'PORT', 3000, { min: 0, max: 65535 })}`,
    passwordResetTimeoutSeconds: envInt(env, 'PASSWORD_RESET_TIMEOUT_SECONDS', 3600, { min: 60, max: 7 * 86_400 }),
    emailVerificationTimeoutSeconds: envInt(env, 'EMAIL_VERIFICATION_TIMEOUT_SECONDS', 3 * 86_400, { min: 60, max: 30 * 86_400 }),
  };
}

export const mailConfig = registerAs('mail', () => readMailConfig(process.env));
export type MailConfig = ReturnType<typeof readMailConfig>;
